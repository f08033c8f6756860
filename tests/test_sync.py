"""core.sync: Arena's use cases from a WSGI worker thread. A read on warm caches stays in the
thread; a cold one is handed to the loop where the core first waits; a login runs on the loop;
answers and errors are Arena's own; lifespan starts and closes the Arena."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from core.cache import TTLCache
from core.credentials import Credentials
from core.errors import InactiveUser, InsufficientScope, InvalidToken, MalformedCredentials
from core.forms import TokenRequest
from core.service import Arena
from core.settings import Settings, SettingsError
from core.stores import MemoryStore
from core.sync import READ_THREADS, SyncArena
from core.tokens import TokenService
from core.users import User

T = TypeVar("T")
KEY = "s" * 32


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "secret_key": KEY,
        "database_url": "memory://",
        "password_profile": "cheap",
        "demo_users": True,
        **overrides,
    }
    return Settings(**values)


def bearer(token: str, body: bytes = b"") -> Credentials:
    async def read() -> bytes:
        READS.append(threading.get_ident())
        return body

    return Credentials.of([f"Bearer {token}"], b"", read)


#: The threads that read a request body (the strict profile reads it).
READS: list[int] = []


class Hops:
    """Counts the calls handed to the loop, and the threads the store was read from."""

    def __init__(self, sync: SyncArena, monkeypatch: pytest.MonkeyPatch) -> None:
        self.handed = 0
        self.store_threads: list[int] = []
        on_loop = sync._on_loop

        def counted(call: Any) -> Any:
            self.handed += 1
            return on_loop(call)

        monkeypatch.setattr(sync, "_on_loop", counted)
        get_user = MemoryStore.get_user

        async def spied(store: MemoryStore, username: str) -> User | None:
            self.store_threads.append(threading.get_ident())
            return await get_user(store, username)

        monkeypatch.setattr(MemoryStore, "get_user", spied)


async def in_worker(sync: SyncArena, work: Callable[[], T]) -> T:
    """Run `work` in a worker thread of an app served through `sync.asgi`, as a2wsgi does."""
    done: list[T] = []

    async def wsgi_bridge(scope: Any, receive: Any, send: Any) -> None:
        done.append(await asyncio.to_thread(work))

    async def nothing() -> dict[str, Any]:
        return {}

    async def ignore(message: Any) -> None:
        return None

    await sync.asgi(wsgi_bridge)({"type": "http"}, nothing, ignore)
    return done[0]


@pytest.fixture
async def sync() -> AsyncIterator[SyncArena]:
    made = SyncArena(Arena(settings()))
    try:
        yield made
    finally:
        await made.arena.close()


def token(arena: Arena, subject: str = "johndoe", scopes: tuple[str, ...] = ("me",)) -> str:
    return arena.tokens.issue(subject, scopes).access_token


async def test_warm_read_stays_in_the_thread(
    sync: SyncArena, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops = Hops(sync, monkeypatch)
    credentials = bearer(token(sync.arena))
    user = await in_worker(sync, lambda: sync.authenticate(credentials, ("me",)))
    assert user.username == "johndoe"
    # Cold: handed to the loop, which read the store on its own thread.
    assert hops.handed == 1
    assert hops.store_threads == [threading.get_ident()]
    again = await in_worker(sync, lambda: sync.authenticate(credentials, ("me",)))
    assert again == user
    assert hops.handed == 1  # warm: no thread crossed
    items = await in_worker(sync, lambda: sync.items(user))
    assert items == [{"item_id": "Foo", "owner": "johndoe"}]
    assert hops.handed == 2
    assert await in_worker(sync, lambda: sync.items(user)) == items
    assert hops.handed == 2


async def test_arena_errors_from_the_thread_and_from_the_loop(sync: SyncArena) -> None:
    arena = sync.arena
    with pytest.raises(InvalidToken):  # refused in the thread, before any wait
        await in_worker(sync, lambda: sync.authenticate(bearer("x.y.z"), ("me",)))
    alice = bearer(token(arena, "alice", ("me",)))
    with pytest.raises(InactiveUser):  # refused on the loop, after the store read
        await in_worker(sync, lambda: sync.authenticate(alice, ("me",), active=True))
    with pytest.raises(InsufficientScope):  # and now in the thread, the user cached
        await in_worker(sync, lambda: sync.authenticate(alice, ("me", "items")))


async def test_login_runs_on_the_loop(sync: SyncArena) -> None:
    form = TokenRequest(username="johndoe", password="secret", scope="me")
    body = await in_worker(sync, lambda: sync.login(form))
    assert body["scope"] == "me"
    claims = TokenService(KEY.encode, 60).verify(body["access_token"])
    assert claims.subject == "johndoe"


async def test_strict_body_is_read_in_the_calling_thread() -> None:
    strict = SyncArena(Arena(settings(profile="strict")))
    try:
        tokens = strict.arena.tokens
        READS.clear()
        worker: list[int] = []

        def call() -> User:
            worker.append(threading.get_ident())
            # Cold user cache: the call is handed to the loop, after the body was read here.
            return strict.authenticate(bearer(token(strict.arena), b"a=1"), ("me",))

        assert (await in_worker(strict, call)).username == "johndoe"
        assert worker == READS
        body = f"access_token={tokens.issue('johndoe', ('me',)).access_token}".encode()
        with pytest.raises(MalformedCredentials):  # a token in the body too (RFC 6750)
            await in_worker(strict, lambda: strict.authenticate(bearer("t", body), ("me",)))
    finally:
        await strict.arena.close()


async def test_refuses_to_deadlock(sync: SyncArena) -> None:
    form = TokenRequest(username="johndoe", password="secret")
    with pytest.raises(RuntimeError, match="worker thread"):
        await asyncio.to_thread(sync.login, form)  # no request has told it the loop yet
    assert (await in_worker(sync, lambda: sync.login(form)))["token_type"] == "bearer"
    with pytest.raises(RuntimeError, match="worker thread"):
        sync.login(form)  # on the loop's own thread: it would wait for itself


async def test_refuses_a_thread_with_a_loop_of_its_own(sync: SyncArena) -> None:
    # Here, on the loop's thread, the call gets as far as a future: refused, not awaited.
    with pytest.raises(RuntimeError, match="without an event loop"):
        sync._read(asyncio.sleep(0.01))


def test_threads_cover_the_login_queue() -> None:
    made = SyncArena(Arena(settings(password_workers=3, login_queue=5)))
    assert made.threads == 3 + 5 + READ_THREADS


async def lifespan(app: Any, *events: str) -> list[dict[str, Any]]:
    """Drive `app`'s lifespan through `events`; the messages it sent, also when it raised."""
    inbox = [{"type": f"lifespan.{event}"} for event in events]
    replies: list[dict[str, Any]] = []

    async def receive() -> dict[str, str]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        replies.append(message)

    with contextlib.suppress(SettingsError):
        await app({"type": "lifespan"}, receive, send)
    return replies


async def no_http(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("lifespan only")


async def test_lifespan_starts_and_closes(tmp_path: Path) -> None:
    made = SyncArena(Arena(settings(secret_key=None, data_dir=tmp_path)))
    replies = await lifespan(made.asgi(no_http), "startup", "shutdown")
    assert replies == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]
    assert (tmp_path / "secret.key").exists()  # resolved at start, not on first use


async def test_lifespan_tells_why_the_start_failed(tmp_path: Path) -> None:
    key = tmp_path / "secret.key"
    key.write_text("short")
    key.chmod(0o600)
    made = SyncArena(Arena(settings(secret_key=None, data_dir=tmp_path)))
    [reply] = await lifespan(made.asgi(no_http), "startup")
    assert reply["type"] == "lifespan.startup.failed"
    assert "fewer than 32 bytes" in reply["message"]


class Evicting(OrderedDict[Any, Any]):
    """An LRU whose entry vanishes right after it is read: another thread evicted it."""

    def get(self, key: Any, default: Any = None) -> Any:
        value = super().get(key, default)
        self.pop(key, None)
        return value


def test_cache_hit_evicted_meanwhile_is_no_error() -> None:
    cache: TTLCache[str, int] = TTLCache(60, 10)
    cache._entries = Evicting({"a": (float("inf"), 1)})
    assert cache.fresh("a") == (1,)


def test_token_hit_evicted_meanwhile_is_no_error() -> None:
    tokens = TokenService(KEY.encode, 60, cache_size=10)
    issued = tokens.issue("johndoe", ("me",)).access_token
    claims = tokens.verify(issued)
    tokens._cache = Evicting(tokens._cache)
    assert tokens.verify(issued) == claims


def test_expired_token_removed_meanwhile_is_no_error() -> None:
    tokens = TokenService(KEY.encode, 60, cache_size=10)
    issued = tokens.issue("johndoe", ("me",), now=1000.0).access_token
    tokens.verify(issued, now=1001.0)
    tokens._cache = Evicting(tokens._cache)
    with pytest.raises(InvalidToken):
        tokens.verify(issued, now=2000.0)
