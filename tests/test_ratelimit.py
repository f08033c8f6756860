"""H12 brute-force protection (core.ratelimit, Arena.login): the exact limits per username and per
address, unknown users alike, the window (an injected clock, a real SQLite file), successes
that reset nothing, X-Forwarded-For only from trusted proxies, `off`, two instances sharing one
database, 50 concurrent wrong logins against the real password checks, a counter table that
cannot be written (503), and the purge."""

from __future__ import annotations

import asyncio
import ipaddress
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from conformance.runner import Setup, _probe
from core.errors import InvalidCredentials, StoreUnavailable, TooManyAttempts
from core.forms import TokenRequest
from core.passwords import PasswordService, Verification
from core.ratelimit import (
    PURGE_INTERVAL,
    LoginLimiter,
    Peer,
    address_key,
    client_address,
    parse_address,
)
from core.server import uvicorn_config
from core.service import Arena
from core.settings import Settings
from core.stores import SQLiteStore
from core.users import User
from impl_litestar.app import create_app as create_litestar_app
from impl_starlette.app import create_app

KEY = "r" * 32
CHEAP = PasswordService("cheap")
BOB = User("bob", CHEAP.hash_sync("bob-password"), scopes=("me",))
RIGHT = TokenRequest("bob", "bob-password")
A = Peer("192.0.2.10")
B = Peer("192.0.2.20")


def wrong(username: str = "bob") -> TokenRequest:
    return TokenRequest(username, "wrong")


class Clock:
    """Wall-clock seconds that move only when told to."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_arena(database_url: str, clock: Clock | None = None, **limits: Any) -> Arena:
    values: dict[str, Any] = {
        "secret_key": KEY,
        "database_url": database_url,
        "password_profile": "cheap",
        "login_failures_per_username": 1000,
        "login_failures_per_address": 1000,
        "login_failure_window": 60.0,
        **limits,
    }
    arena = Arena(Settings(**values))
    if clock is not None:
        arena.limiter.clock = clock
    return arena


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'arena.db'}"


@pytest.fixture
async def arenas(db: str) -> AsyncIterator[Callable[..., Arena]]:
    """Arenas on one SQLite file with bob in it; each closed at the end."""
    made: list[Arena] = []

    def build(clock: Clock | None = None, **limits: Any) -> Arena:
        made.append(make_arena(db, clock, **limits))
        return made[-1]

    store = await build().store()
    await store.add_user(BOB)
    try:
        yield build
    finally:
        for arena in made:
            await arena.close()


async def outcome(arena: Arena, form: TokenRequest, peer: Peer | None = A) -> int:
    """The status /token would answer."""
    try:
        await arena.login(form, peer)
    except Exception as exc:  # the rendering is what is compared
        return arena.render(exc).status
    return 200


# --- the limits, exactly ----------------------------------------------------------------------


async def test_the_username_limit_is_exact(arenas: Callable[..., Arena]) -> None:
    arena = arenas(login_failures_per_username=3)
    assert [await outcome(arena, wrong()) for _ in range(3)] == [400, 400, 400]
    assert await outcome(arena, RIGHT) == 429  # the fourth, right password or not
    assert await outcome(arena, RIGHT, B) == 429  # from any address
    assert await outcome(arena, TokenRequest("nobody", "x")) == 400  # another username


async def test_the_address_limit_is_exact(arenas: Callable[..., Arena]) -> None:
    arena = arenas(login_failures_per_address=3)
    assert [await outcome(arena, wrong(f"guess{n}")) for n in range(3)] == [400, 400, 400]
    assert await outcome(arena, RIGHT) == 429
    assert await outcome(arena, RIGHT, B) == 200


async def test_a_refusal_is_no_failure(arenas: Callable[..., Arena]) -> None:
    """429s leave the counters as they were: a throttled address does not add to a username's
    count (bob is not locked out by an address that is refused anyway)."""
    arena = arenas(login_failures_per_address=1, login_failures_per_username=2)
    assert await outcome(arena, wrong("guess")) == 400
    for _ in range(5):
        assert await outcome(arena, wrong(), A) == 429
    assert await outcome(arena, wrong(), B) == 400  # bob's first failure, not his sixth
    assert await outcome(arena, RIGHT, Peer("192.0.2.30")) == 200


async def test_a_refusal_writes_nothing(arenas: Callable[..., Arena], db: str) -> None:
    """F8: one address at its limit, a new username each time: the 429s leave the table as it
    was (no row per username) and take no write transaction."""
    arena = arenas(login_failures_per_address=2)
    for n in range(2):
        assert await outcome(arena, wrong(f"guess{n}")) == 400
    store = await arena.store()
    assert isinstance(store, SQLiteStore)
    statements: list[str] = []
    await store._run(lambda conn: conn.set_trace_callback(statements.append))

    def table() -> list[tuple[Any, ...]]:
        with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
            return conn.execute("SELECT * FROM login_attempts ORDER BY key").fetchall()

    before = table()
    assert len(before) == 3  # guess0, guess1, the address
    for n in range(50):
        assert await outcome(arena, wrong(f"other{n}")) == 429
    assert table() == before
    writes = [s for s in statements if not s.startswith("SELECT")]
    assert writes == []


async def test_retry_after_is_when_the_window_passes(arenas: Callable[..., Arena]) -> None:
    clock = Clock()
    arena = arenas(clock, login_failures_per_username=2, login_failure_window=60.0)
    await outcome(arena, wrong())
    clock.now += 10.5
    await outcome(arena, wrong())
    clock.now += 20.0
    with pytest.raises(TooManyAttempts) as refused:
        await arena.login(RIGHT, A)
    assert refused.value.retry_after == 30  # 60 - 30.5, rounded up
    response = arena.render(refused.value)
    assert (response.status, response.body) == (429, {"detail": "Too Many Requests"})
    assert response.headers == {"Retry-After": "30"}
    clock.now += 29.4
    with pytest.raises(TooManyAttempts) as refused:
        await arena.login(RIGHT, A)
    assert refused.value.retry_after == 1  # never 0 while refused
    clock.now += 0.1  # the window has passed
    assert await outcome(arena, RIGHT) == 200


async def test_the_window_passes_on_the_real_clock(arenas: Callable[..., Arena]) -> None:
    arena = arenas(login_failures_per_username=1, login_failure_window=0.3)
    assert await outcome(arena, wrong()) == 400
    assert await outcome(arena, RIGHT) == 429
    await asyncio.sleep(0.35)
    assert await outcome(arena, RIGHT) == 200


# --- unknown users alike ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["nobody", "Bob", "bob ", "b" * 60_000, "bo\udcffb", "\u0431ob", ""]
)
async def test_unknown_users_are_throttled_alike(arenas: Callable[..., Arena], name: str) -> None:
    arena = arenas(login_failures_per_username=2)
    answers = {}
    for username in ("bob", name):
        for _ in range(2):
            assert await outcome(arena, wrong(username)) == 400
        with pytest.raises(TooManyAttempts) as refused:
            await arena.login(wrong(username), A)
        answers[username] = arena.render(refused.value)
    assert answers[name] == answers["bob"]


def test_username_keys_reveal_nothing() -> None:
    settings = Settings(secret_key=SecretStr(KEY), database_url="memory://")
    limiter = LoginLimiter(settings, lambda: KEY.encode())
    keys = [limiter.username_key(name) for name in ("bob", "nobody", "x" * 60_000, "\udcff")]
    assert len(set(keys)) == 4
    assert {len(key) for key in keys} == {len("user:") + 64}
    assert all("bob" not in key and "nobody" not in key for key in keys)
    # Keyed by the app's secret: another key, other counters; the same key, the same ones.
    other = LoginLimiter(settings, lambda: b"o" * 32)
    assert other.username_key("bob") != keys[0]
    assert LoginLimiter(settings, lambda: KEY.encode()).username_key("bob") == keys[0]


# --- successes reset nothing ------------------------------------------------------------------


async def test_a_success_resets_no_counter(arenas: Callable[..., Arena]) -> None:
    arena = arenas(login_failures_per_address=3, login_failures_per_username=3)
    assert await outcome(arena, wrong("x1"), A) == 400
    assert await outcome(arena, wrong("x2"), A) == 400
    assert await outcome(arena, RIGHT, B) == 200  # another address's success
    assert await outcome(arena, RIGHT, A) == 200  # A's own (an attacker with an account)
    assert await outcome(arena, wrong("x3"), A) == 400
    assert await outcome(arena, wrong("x4"), A) == 429
    # bob: two failures, a success, a third failure, then refused.
    assert await outcome(arena, wrong(), B) == 400
    assert await outcome(arena, wrong(), B) == 400
    assert await outcome(arena, RIGHT, B) == 200
    assert await outcome(arena, wrong(), B) == 400
    assert await outcome(arena, RIGHT, B) == 429


# --- the client address -----------------------------------------------------------------------

PROXIES = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("10.0.0.0/8"))


@pytest.mark.parametrize(
    ("peer", "trusted", "expected"),
    [
        (Peer("192.0.2.1", ("198.51.100.7",)), (), "192.0.2.1"),  # no proxies: never read
        (Peer("192.0.2.1", ("198.51.100.7",)), PROXIES, "192.0.2.1"),  # untrusted peer
        (Peer("127.0.0.1", ("198.51.100.7",)), PROXIES, "198.51.100.7"),
        (Peer("127.0.0.1", ("6.6.6.6, 198.51.100.7",)), PROXIES, "198.51.100.7"),  # spoofed left
        (Peer("127.0.0.1", ("6.6.6.6", "198.51.100.7, 10.1.2.3")), PROXIES, "198.51.100.7"),
        (Peer("127.0.0.1", ("10.0.0.2, 10.1.2.3",)), PROXIES, "10.0.0.2"),  # all trusted
        (Peer("127.0.0.1", ("garbage, 10.1.2.3",)), PROXIES, "10.1.2.3"),  # stops at garbage
        (Peer("127.0.0.1", ("198.51.100.7:4711",)), PROXIES, "198.51.100.7"),
        (Peer("127.0.0.1", ("[2001:db8::1]:443",)), PROXIES, "2001:db8::1"),
        (Peer("127.0.0.1", (" , ",)), PROXIES, "127.0.0.1"),
        (Peer("127.0.0.1"), PROXIES, "127.0.0.1"),
        (Peer("::ffff:127.0.0.1", ("198.51.100.7",)), PROXIES, "198.51.100.7"),  # mapped
        (Peer("testclient"), PROXIES, "testclient"),
        (Peer(None, ("198.51.100.7",)), PROXIES, None),
    ],
)
def test_client_address(peer: Peer, trusted: tuple[Any, ...], expected: str | None) -> None:
    assert client_address(peer, trusted) == expected


def test_peer_of_what_adapters_give() -> None:
    assert Peer.of(("192.0.2.1", 5000), ["a", "b"]) == Peer("192.0.2.1", ("a", "b"))
    assert Peer.of(None) == Peer(None, ())
    assert Peer.of(()) == Peer(None, ())


def test_address_keys() -> None:
    assert address_key("192.0.2.1") == "addr:192.0.2.1"
    # One IPv6 host holds a /64: all of it is one client.
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff:1") == "addr:2001:db8::/64"
    assert address_key("2001:db8:0:1::1") != address_key("2001:db8::1")
    assert address_key("::ffff:192.0.2.1") == "addr:192.0.2.1"
    assert address_key("x" * 10_000).startswith("addr:name:")
    assert len(address_key("x" * 10_000)) == len("addr:name:") + 64
    assert parse_address("not an address") is None


async def test_forwarded_for_counts_only_from_trusted_proxies(
    arenas: Callable[..., Arena],
) -> None:
    direct = arenas(login_failures_per_address=2)
    for n in range(2):
        assert await outcome(direct, wrong(f"g{n}"), Peer("127.0.0.1", (f"198.51.100.{n}",))) == 400
    assert await outcome(direct, RIGHT, Peer("127.0.0.1", ("198.51.100.9",))) == 429

    proxied = arenas(login_failures_per_address=2, trusted_proxies="127.0.0.1/32")
    client = Peer("127.0.0.1", ("198.51.100.1",))
    for n in range(2):
        assert await outcome(proxied, wrong(f"h{n}"), client) == 400
    assert await outcome(proxied, RIGHT, client) == 429
    assert await outcome(proxied, RIGHT, Peer("127.0.0.1", ("6.6.6.6, 198.51.100.1",))) == 429
    assert await outcome(proxied, RIGHT, Peer("127.0.0.1", ("198.51.100.2",))) == 200


async def test_no_address_known_limits_the_username_only(arenas: Callable[..., Arena]) -> None:
    arena = arenas(login_failures_per_address=1, login_failures_per_username=3)
    assert [await outcome(arena, wrong(), None) for _ in range(3)] == [400, 400, 400]
    assert await outcome(arena, RIGHT, None) == 429


def test_the_server_does_not_rewrite_the_peer() -> None:
    """uvicorn's --proxy-headers would take scope["client"] from any X-Forwarded-For sent over
    loopback: core.server turns it off, so ARENA_TRUSTED_PROXIES is the only way in."""
    assert uvicorn_config("impl_fastapi.app:app").proxy_headers is False


# --- settings ---------------------------------------------------------------------------------


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().login_rate_limit is True
    assert Settings().trusted_proxies == ()
    monkeypatch.setenv("ARENA_LOGIN_RATE_LIMIT", "off")
    monkeypatch.setenv("ARENA_TRUSTED_PROXIES", "127.0.0.1/32, 10.0.0.0/8,::1")
    monkeypatch.setenv("ARENA_LOGIN_FAILURES_PER_USERNAME", "5")
    settings = Settings()
    assert settings.login_rate_limit is False
    assert [str(net) for net in settings.trusted_proxies] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]
    assert settings.login_failures_per_username == 5
    monkeypatch.setenv("ARENA_TRUSTED_PROXIES", "10.0.0.1/8")
    with pytest.raises(ValueError, match=r"expected networks such as 10\.0\.0\.0/8"):
        Settings()


async def test_off_counts_nothing(db: str) -> None:
    arena = make_arena(db, login_rate_limit=False, login_failures_per_username=1)
    try:
        store = await arena.store()
        await store.add_user(BOB)
        assert [await outcome(arena, wrong()) for _ in range(5)] == [400] * 5
        assert await outcome(arena, RIGHT) == 200
        with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
            assert conn.execute("SELECT COUNT(*) FROM login_attempts").fetchone() == (0,)
    finally:
        await arena.close()


# --- shared, atomic ---------------------------------------------------------------------------


async def test_two_instances_share_the_counters(arenas: Callable[..., Arena]) -> None:
    first = arenas(login_failures_per_username=3, login_failures_per_address=1000)
    second = arenas(login_failures_per_username=3, login_failures_per_address=1000)
    assert await outcome(first, wrong(), A) == 400
    assert await outcome(second, wrong(), B) == 400
    assert await outcome(first, wrong(), B) == 400
    assert await outcome(second, RIGHT, A) == 429
    assert await outcome(first, RIGHT, A) == 429


async def test_two_apps_on_one_database_share_the_counters(tmp_path: Path) -> None:
    """Two implementations, two processes' worth of state, one SQLite file: one limit."""
    settings = Settings(
        secret_key=SecretStr(KEY),
        database_url=f"sqlite:///{tmp_path / 'shared.db'}",
        demo_users=True,
        password_profile="cheap",
        login_failures_per_username=2,
    )
    apps: list[Any] = [create_app(settings), create_litestar_app(settings)]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        for app in apps
    ]
    wrong_form = {"username": "nobody", "password": "wrong"}
    try:
        assert (await clients[0].post("/token", data=wrong_form)).status_code == 400
        assert (await clients[1].post("/token", data=wrong_form)).status_code == 400
        for client in clients:
            refused = await client.post("/token", data=wrong_form)
            assert refused.status_code == 429, refused.text
            assert refused.json() == {"detail": "Too Many Requests"}
            assert refused.headers["retry-after"] == "900"
    finally:
        for client in clients:
            await client.aclose()


class CountingPasswords(PasswordService):
    """The real password service, counting the checks that run."""

    checks = 0

    async def verify(self, password: str, stored_hash: str | None) -> Verification:
        CountingPasswords.checks += 1
        return await super().verify(password, stored_hash)


@pytest.mark.parametrize("instances", [1, 2])
async def test_concurrent_wrong_logins_meet_at_most_n_checks(
    arenas: Callable[..., Arena], instances: int
) -> None:
    built = [arenas(login_failures_per_username=5) for _ in range(instances)]
    for arena in built:
        arena.passwords.close()
        arena.passwords = CountingPasswords("cheap", queue=100)
    CountingPasswords.checks = 0
    attempts = [outcome(built[n % instances], wrong(), Peer(f"192.0.2.{n}")) for n in range(50)]
    statuses = await asyncio.gather(*attempts)
    assert CountingPasswords.checks <= 5
    assert statuses.count(400) == CountingPasswords.checks
    assert statuses.count(429) == 50 - CountingPasswords.checks
    assert await outcome(built[0], RIGHT, B) == 429
    for arena in built:
        arena.passwords.close()


# --- the store down, the purge ----------------------------------------------------------------


async def test_counters_that_cannot_be_written_answer_503(
    arenas: Callable[..., Arena], db: str
) -> None:
    arena = arenas()
    assert await outcome(arena, wrong()) == 400
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:  # the table gone: never open
        conn.execute("DROP TABLE login_attempts")
    fresh = arenas()  # its first login tries a purge first, which meets the fault too
    for instance in (arena, fresh):
        for form in (wrong(), RIGHT):
            with pytest.raises(StoreUnavailable) as fault:
                await instance.login(form, A)
            response = instance.render(fault.value)
            assert (response.status, response.headers.get("Retry-After")) == (503, "5")


async def test_expired_counters_are_purged_now_and_then(
    arenas: Callable[..., Arena], db: str
) -> None:
    clock = Clock()
    start = clock.now
    arena = arenas(clock, login_failure_window=PURGE_INTERVAL)
    path = db.removeprefix("sqlite:///")

    def rows() -> int:
        with sqlite3.connect(path) as conn:
            count: int = conn.execute("SELECT COUNT(*) FROM login_attempts").fetchone()[0]
            return count

    async def fail_at(offset: float, username: str) -> None:
        clock.now = start + offset
        assert await outcome(arena, wrong(username)) == 400

    await fail_at(0, "old0")  # the first login purges (nothing yet)
    await fail_at(30, "old1")
    assert rows() == 3  # old0, old1 and the address
    await fail_at(70, "mid")  # a purge is due: old0 and the address's first window go
    assert rows() == 3  # old1, mid, the address's new window
    await fail_at(95, "late")  # old1's window has passed, but no purge is due: not per request
    assert rows() == 4
    await fail_at(131, "last")  # due again: old1 and mid go (and the address's window)
    assert rows() == 3  # late, last, the address


async def test_a_login_that_meets_no_check_is_not_counted(arenas: Callable[..., Arena]) -> None:
    """A login the queue turns away (H11's 503) ran no password check: not a failure."""
    arena = arenas(login_failures_per_username=1)
    arena.passwords.close()
    # One thread, no queue, the full cost: an unknown user's dummy check holds the thread.
    arena.passwords = PasswordService("recommended", workers=1, queue=0)
    first = asyncio.create_task(outcome(arena, wrong("nobody"), A))
    await asyncio.sleep(0.02)
    assert await outcome(arena, wrong(), B) == 503
    assert await first == 400
    assert await outcome(arena, wrong(), B) == 400  # so bob's first failure is this one
    assert await outcome(arena, wrong(), B) == 429
    arena.passwords.close()


async def test_invalid_credentials_is_what_keeps_the_count() -> None:
    arena = make_arena("memory://", login_failures_per_username=1)
    try:
        with pytest.raises(InvalidCredentials):
            await arena.login(wrong("nobody"), A)
        with pytest.raises(TooManyAttempts):
            await arena.login(wrong("nobody"), A)
    finally:
        await arena.close()


# --- the suite against a target with H12 on -------------------------------------------------


async def test_the_setup_probe_says_what_to_do_about_a_429() -> None:
    settings = Settings(
        secret_key=SecretStr(KEY),
        database_url="memory://",
        demo_users=True,
        password_profile="cheap",
        login_failures_per_address=1,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mine") as client:
        await client.post("/token", data={"username": "nobody", "password": "x"})
        setup = Setup("mine")
        await _probe(client, setup, KEY, "given by --secret-key")
    notes = [note for note in setup.notes if "429" in note]
    assert len(notes) == 2, setup.notes  # johndoe and alice
    assert "restart the target with it off" in notes[0]
    assert "ARENA_LOGIN_RATE_LIMIT=off" in notes[0]
    assert "Retry-After: 900" in notes[0]
