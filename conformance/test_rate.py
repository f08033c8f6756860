"""RATE: brute-force protection (CONTRACT.md H12): after N failed logins for one username (known
or not, alike) or M from one client address within a window, /token answers 429 with
Retry-After, before any password check, until the window passes.

The rest of the suite runs with the limit off (it makes many failed logins from one address).
These checks build their own instances, in-process with small limits and a SQLite file (the
counters live in the store's database), one httpx client per simulated peer address
(`ASGITransport(client=...)`); RATE-008 needs a real TCP peer and starts a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from conformance.checks import MUST, check
from conformance.conftest import ASGIApp, Target
from conformance.servers import IMPLEMENTATIONS, serve, server_env
from conformance.support import assert_error, build_app, describe, login, skip_if_live
from core.settings import Settings

INCORRECT = "Incorrect username or password"
TOO_MANY = "Too Many Requests"
WINDOW = 60.0
#: Peers of the simulated clients (TEST-NET addresses, RFC 5737).
PEER_A = "192.0.2.10"
PEER_B = "192.0.2.20"
LOOPBACK = "127.0.0.1"


def rate_app(
    request: pytest.FixtureRequest, target: Target, data_dir: Path, **limits: Any
) -> ASGIApp:
    """An instance of the target with H12 on and the given limits (generous where not given)."""
    skip_if_live(target, "builds instances with small brute-force limits")
    settings = Settings(
        secret_key=SecretStr(target.secret_key),
        database_url=f"sqlite:///{data_dir / 'arena.db'}",
        data_dir=data_dir,
        demo_users=True,
        password_profile="cheap",
        **{
            "login_rate_limit": True,
            "login_failures_per_username": 1000,
            "login_failures_per_address": 1000,
            "login_failure_window": WINDOW,
            **limits,
        },
    )
    return build_app(request.config, target.name, settings)


@contextlib.asynccontextmanager
async def peer(app: ASGIApp, address: str = LOOPBACK) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` whose TCP peer is `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", timeout=30.0
    ) as client:
        yield client


def assert_throttled(response: httpx.Response, window: float = WINDOW) -> int:
    """429 {"detail": "Too Many Requests"} with a Retry-After of 1..window seconds; no token."""
    assert_error(response, 429, TOO_MANY)
    value = response.headers.get("retry-after", "")
    assert value.isdigit(), f"expected Retry-After in seconds, got {value!r}: {response.headers}"
    assert 1 <= int(value) <= window, f"expected Retry-After within the window, got {value}"
    return int(value)


def assert_refused(response: httpx.Response) -> None:
    assert_error(response, 400, INCORRECT)


async def logged_in(client: httpx.AsyncClient, username: str = "johndoe") -> None:
    """A successful login. The first one also rehashes the demo user's password at the
    instance's cheap cost, so that the wrong passwords after it are quick to check."""
    password = {"johndoe": "secret", "alice": "secretalice"}[username]
    response = await login(client, username, password)
    assert response.status_code == 200, f"expected 200 for {username}, got {describe(response)}"


@check(
    "RATE-001",
    MUST,
    "CONTRACT H12",
    "after N failed logins for a username, /token answers 429 with Retry-After, even with "
    "the right password; other usernames are not affected",
)
async def test_username_limit(
    request: pytest.FixtureRequest, target: Target, tmp_path: Path
) -> None:
    app = rate_app(request, target, tmp_path, login_failures_per_username=3)
    async with peer(app) as client:
        await logged_in(client)  # not a failure
        for _ in range(3):
            assert_refused(await login(client, "johndoe", "wrong"))
        assert_throttled(await login(client, "johndoe", "secret"))
        assert_throttled(await login(client, "johndoe", "wrong"))
        await logged_in(client, "alice")  # the limit is the username's, not the address's


#: Usernames that are no user, as sent (url-encoded): unknown, outside the canonical form
#: (case, a Cyrillic letter, bytes that are no UTF-8), and 20,000 characters long.
UNKNOWN = {
    "unknown": "nobody",
    "non-canonical": "JohnDoe",
    "cyrillic": "johnd%D0%B5e",
    "not-utf-8": "john%ED%B3%BFdoe",
    "huge": "j" * 20_000,
}


async def wrong_login(client: httpx.AsyncClient, raw_username: str) -> httpx.Response:
    body = f"username={raw_username}&password=wrong".encode()
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return await client.post("/token", content=body, headers=headers)


@check(
    "RATE-002",
    MUST,
    "CONTRACT H12, Usernames",
    "an unknown or non-canonical username is throttled exactly as a known one: same status, "
    "body and headers",
)
async def test_unknown_alike(
    request: pytest.FixtureRequest, target: Target, tmp_path: Path
) -> None:
    app = rate_app(request, target, tmp_path, login_failures_per_username=2)
    async with peer(app) as client:
        await logged_in(client)
        names = {"known": "johndoe", **UNKNOWN}
        answers: dict[str, list[httpx.Response]] = {kind: [] for kind in names}
        for _ in range(3):  # interleaved: the counters run side by side
            for kind, username in names.items():
                answers[kind].append(await wrong_login(client, username))
        known = answers["known"][2]
        for kind, got in answers.items():
            assert_refused(got[0])
            assert_refused(got[1])
            assert_throttled(got[2])
            assert got[2].json() == known.json(), kind
            assert sorted(got[2].headers) == sorted(known.headers), kind


@check(
    "RATE-003",
    MUST,
    "CONTRACT H12",
    "after M failed logins from one client address (any usernames), that address gets 429 "
    "for every username; another address logs in",
)
async def test_address_limit(
    request: pytest.FixtureRequest, target: Target, tmp_path: Path
) -> None:
    app = rate_app(request, target, tmp_path, login_failures_per_address=3)
    async with peer(app, PEER_A) as a, peer(app, PEER_B) as b:
        for n in range(3):
            assert_refused(await login(a, f"guess{n}", "wrong"))
        assert_throttled(await login(a, "johndoe", "secret"))
        assert_throttled(await login(a, "someone-else", "wrong"))
        response = await login(b, "johndoe", "secret")
        assert response.status_code == 200, describe(response)


@check(
    "RATE-004",
    MUST,
    "CONTRACT H12",
    "a successful login is not a failure and resets nothing: not another address's counter, "
    "not its own address's, not the username's",
)
async def test_success_resets_nothing(
    request: pytest.FixtureRequest, target: Target, tmp_path: Path
) -> None:
    app = rate_app(
        request, target, tmp_path, login_failures_per_address=3, login_failures_per_username=3
    )
    async with peer(app, PEER_A) as a, peer(app, PEER_B) as b:
        # Address A: two failures; johndoe logs in from B and from A (an attacker's own account).
        assert_refused(await login(a, "guess1", "wrong"))
        assert_refused(await login(a, "guess2", "wrong"))
        assert (await login(b, "johndoe", "secret")).status_code == 200
        assert (await login(a, "johndoe", "secret")).status_code == 200
        assert_refused(await login(a, "guess3", "wrong"))  # A's third failure: still counted
        assert_throttled(await login(a, "guess4", "wrong"))
        # Username alice: two failures from B, a success from B, then a third failure.
        await logged_in(b, "alice")
        assert_refused(await login(b, "alice", "wrong"))
        assert_refused(await login(b, "alice", "wrong"))
        await logged_in(b, "alice")
        assert_refused(await login(b, "alice", "wrong"))
        assert_throttled(await login(b, "alice", "secretalice"))


@check(
    "RATE-005",
    MUST,
    "CONTRACT H12",
    "the 429 lasts until the window passes (Retry-After), then logins are checked again",
)
async def test_window_passes(
    request: pytest.FixtureRequest, target: Target, tmp_path: Path
) -> None:
    window = 1.0
    app = rate_app(
        request, target, tmp_path, login_failures_per_username=2, login_failure_window=window
    )
    async with peer(app) as client:
        await logged_in(client)
        assert_refused(await login(client, "johndoe", "wrong"))
        assert_refused(await login(client, "johndoe", "wrong"))
        assert assert_throttled(await login(client, "johndoe", "secret"), window) == 1
        await asyncio.sleep(window + 0.2)
        response = await login(client, "johndoe", "secret")
        assert response.status_code == 200, describe(response)


@pytest.mark.parametrize("proxy", ["untrusted", "trusted"])
@check(
    "RATE-006",
    MUST,
    "CONTRACT H12 (client address), Settings (ARENA_TRUSTED_PROXIES)",
    "X-Forwarded-For is ignored from a peer that is no trusted proxy; from a trusted one its "
    "right-most untrusted address is the client",
)
async def test_forwarded_for(
    request: pytest.FixtureRequest, target: Target, tmp_path: Path, proxy: str
) -> None:
    trusted = "127.0.0.0/8" if proxy == "trusted" else ""
    app = rate_app(request, target, tmp_path, login_failures_per_address=2, trusted_proxies=trusted)

    def forwarded(value: str) -> dict[str, str]:
        return {"X-Forwarded-For": value}

    async with peer(app, LOOPBACK) as client:
        for n in range(2):
            form = {"username": f"guess{n}", "password": "wrong"}
            sent = forwarded("198.51.100.1" if proxy == "trusted" else f"198.51.100.{n + 1}")
            assert_refused(await client.post("/token", data=form, headers=sent))
        form = {"username": "johndoe", "password": "secret"}
        if proxy == "untrusted":
            # A new address in the header changes nothing: the peer is the client.
            assert_throttled(await client.post("/token", data=form, headers=forwarded("6.6.6.6")))
            return
        # The client named by the proxy is throttled, whatever it put left of its address.
        assert_throttled(await client.post("/token", data=form, headers=forwarded("198.51.100.1")))
        spoofed = forwarded("6.6.6.6, 198.51.100.1")
        assert_throttled(await client.post("/token", data=form, headers=spoofed))
        response = await client.post("/token", data=form, headers=forwarded("198.51.100.2"))
        assert response.status_code == 200, describe(response)


@check(
    "RATE-007",
    MUST,
    "CONTRACT H12",
    "30 concurrent wrong logins for one username with a limit of 3: at most 3 are checked "
    "(400), every other one is 429",
)
async def test_concurrent_logins(
    request: pytest.FixtureRequest, target: Target, tmp_path: Path
) -> None:
    app = rate_app(request, target, tmp_path, login_failures_per_username=3)
    async with peer(app) as client:
        await logged_in(client)
        answers = await asyncio.gather(*(login(client, "johndoe", "wrong") for _ in range(30)))
    statuses = sorted(response.status_code for response in answers)
    refused = statuses.count(400)
    assert 1 <= refused <= 3, f"expected 1-3 answers 400 and the rest 429, got {statuses}"
    assert statuses.count(429) == 30 - refused, f"expected only 400 and 429, got {statuses}"


@check(
    "RATE-008",
    MUST,
    "CONTRACT H12 (client address), Limits below the app",
    "served by the project's server, a client's own X-Forwarded-For does not dodge the "
    "address limit (the server does not rewrite the peer from it)",
)
async def test_served_peer_is_the_tcp_peer(target: Target) -> None:
    if not target.live:
        pytest.skip("live only: needs a real TCP peer (runs with make conformance)")
    if target.name not in IMPLEMENTATIONS:
        pytest.skip(f"starts impl_{target.name} itself with small limits: not one of this repo's")
    with tempfile.TemporaryDirectory(prefix="rate-") as tmp:
        env = server_env(
            Path(tmp),
            ARENA_PASSWORD_PROFILE="cheap",
            ARENA_LOGIN_RATE_LIMIT="on",
            ARENA_LOGIN_FAILURES_PER_ADDRESS="2",
            ARENA_LOGIN_FAILURE_WINDOW=str(WINDOW),
        )
        with serve(target.name, env=env) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=30.0) as client:
                answers = []
                for n in range(3):
                    form = {"username": f"guess{n}", "password": "wrong"}
                    sent = {"X-Forwarded-For": f"198.51.100.{n + 1}"}
                    answers.append(await client.post("/token", data=form, headers=sent))
    assert_refused(answers[0])
    assert_refused(answers[1])
    assert_throttled(answers[2])


@check(
    "RATE-009",
    MUST,
    "CONTRACT H12, Settings (ARENA_LOGIN_RATE_LIMIT)",
    "with the limit off (ARENA_LOGIN_RATE_LIMIT=off) failed logins are never refused with 429",
)
async def test_off(request: pytest.FixtureRequest, target: Target, tmp_path: Path) -> None:
    app = rate_app(
        request,
        target,
        tmp_path,
        login_rate_limit=False,
        login_failures_per_username=1,
        login_failures_per_address=1,
    )
    async with peer(app) as client:
        await logged_in(client)
        for _ in range(4):
            assert_refused(await login(client, "johndoe", "wrong"))
        await logged_in(client)
