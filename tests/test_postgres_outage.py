"""Outages of a real PostgreSQL under every implementation (in-process): the database
stopped, or a statement slower than ARENA_DB_TIMEOUT, is 503 {"detail": "Service Unavailable"}
with Retry-After within the timeout, never a 500 or a hang; when the database is back every app
recovers by itself, without a restart (the pool reconnects)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from core import registry
from core.settings import Settings
from deploy.postgres import TempPostgres
from tests.conftest import new_postgres

IMPLS = registry.IMPLEMENTATIONS
TIMEOUT = 1.0
#: Waiting for a connection, then a statement: each bounded by the timeout; plus slack for a
#: shared machine.
BOUND = 2 * TIMEOUT + 1.0
UNAVAILABLE = {"detail": "Service Unavailable"}


@pytest.fixture(scope="module")
def outage_pg() -> Iterator[TempPostgres]:
    """A server of this module's own: its tests stop it."""
    server = new_postgres()
    try:
        yield server.start()
    finally:
        server.close()


class Lifespan:
    """The ASGI lifespan, as a server runs it: startup opens the store, shutdown closes it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _call(self, kind: str) -> None:
        await self.inbox.put({"type": f"lifespan.{kind}"})
        message = await asyncio.wait_for(self.outbox.get(), 30)
        assert message["type"] == f"lifespan.{kind}.complete", message

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self.task = asyncio.create_task(self.app(scope, self.inbox.get, self.outbox.put))
        await self._call("startup")

    async def shutdown(self) -> None:
        await self._call("shutdown")
        assert self.task is not None
        await self.task


@pytest.fixture
async def clients(outage_pg: TempPostgres) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    made: dict[str, httpx.AsyncClient] = {}
    lifespans: list[Lifespan] = []
    try:
        for impl in IMPLS:
            settings = Settings(
                secret_key="k" * 32,
                database_url=outage_pg.url,
                demo_users=True,
                password_profile="cheap",
                db_timeout=TIMEOUT,
                user_cache_ttl=0,  # every request asks the store: the outage is seen at once
            )
            app = importlib.import_module(f"impl_{impl}.app").create_app(settings)
            lifespans.append(Lifespan(app))
            await lifespans[-1].startup()
            made[impl] = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=30
            )
        yield made
    finally:
        for client in made.values():
            await client.aclose()
        for lifespan in lifespans:
            await lifespan.shutdown()


async def _token(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post(
        "/token", data={"username": "johndoe", "password": "secret", "scope": "me items"}
    )


async def _all_routes(client: httpx.AsyncClient, token: str) -> list[httpx.Response]:
    auth = {"Authorization": f"Bearer {token}"}
    return [
        await _token(client),
        await client.get("/users/me/", headers=auth),
        await client.get("/users/me/items/", headers=auth),
    ]


async def _timed_routes(
    client: httpx.AsyncClient, token: str
) -> list[tuple[float, httpx.Response]]:
    out = []
    auth = {"Authorization": f"Bearer {token}"}
    for call in (
        lambda: _token(client),
        lambda: client.get("/users/me/", headers=auth),
        lambda: client.get("/users/me/items/", headers=auth),
    ):
        started = time.monotonic()
        response = await call()
        out.append((time.monotonic() - started, response))
    return out


def _assert_unavailable(timed: list[tuple[float, httpx.Response]]) -> None:
    for elapsed, response in timed:
        assert (response.status_code, response.json()) == (503, UNAVAILABLE), response.text
        assert response.headers["retry-after"].isdigit()
        assert elapsed < BOUND, f"{response.request.url.path}: {elapsed:.2f} s"


async def _tokens(clients: dict[str, httpx.AsyncClient]) -> dict[str, str]:
    tokens = {}
    for impl, client in clients.items():
        response = await _token(client)
        assert response.status_code == 200, (impl, response.text)
        tokens[impl] = response.json()["access_token"]
    return tokens


async def test_database_stopped_is_503_then_recovers_without_restart(
    outage_pg: TempPostgres,
    clients: dict[str, httpx.AsyncClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = await _tokens(clients)
    for impl, client in clients.items():
        assert [r.status_code for r in await _all_routes(client, tokens[impl])] == [200] * 3
    outage_pg.stop()
    try:
        timed = await asyncio.gather(
            *(_timed_routes(client, tokens[impl]) for impl, client in clients.items())
        )
        for each in timed:
            _assert_unavailable(each)
    finally:
        outage_pg.start()
    started = time.monotonic()
    recovered: dict[str, float] = {}
    while len(recovered) < len(clients) and time.monotonic() - started < 15:
        for impl, client in clients.items():
            if impl not in recovered and all(
                r.status_code == 200 for r in await _all_routes(client, tokens[impl])
            ):
                recovered[impl] = time.monotonic() - started
        await asyncio.sleep(0.05)
    assert sorted(recovered) == sorted(IMPLS), recovered
    slowest = max(elapsed for each in timed for elapsed, _ in each)
    print(f"\noutage: slowest 503 {slowest:.2f} s; recovered after restart in", recovered)
    assert outage_pg.password not in caplog.text
    assert "Internal Server Error" not in caplog.text


async def test_a_statement_slower_than_the_timeout_is_503(
    outage_pg: TempPostgres, clients: dict[str, httpx.AsyncClient]
) -> None:
    tokens = await _tokens(clients)
    # Another session holds the users table: every query on it waits, longer than the timeout.
    with psycopg.connect(outage_pg.url) as blocker:
        blocker.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        timed = await asyncio.gather(
            *(_timed_routes(client, tokens[impl]) for impl, client in clients.items())
        )
        for each in timed:
            for elapsed, _ in each:
                assert elapsed >= TIMEOUT * 0.9  # it did wait: the server's statement_timeout
            _assert_unavailable(each)
        blocker.rollback()
    for impl, client in clients.items():
        assert [r.status_code for r in await _all_routes(client, tokens[impl])] == [200] * 3


async def test_an_instance_started_while_the_database_is_down_serves_once_it_is_up(
    outage_pg: TempPostgres,
) -> None:
    outage_pg.stop()
    settings = Settings(
        secret_key="k" * 32,
        database_url=outage_pg.url,
        demo_users=True,
        password_profile="cheap",
        db_timeout=TIMEOUT,
    )
    app = importlib.import_module("impl_starlette.app").create_app(settings)
    lifespan = Lifespan(app)
    try:
        await lifespan.startup()  # the start does not fail: requests get 503 until it is up (H8)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=30
        ) as client:
            started = time.monotonic()
            response = await _token(client)
            assert (response.status_code, response.json()) == (503, UNAVAILABLE)
            assert time.monotonic() - started < BOUND
            outage_pg.start()
            deadline = time.monotonic() + 15
            while (response := await _token(client)).status_code != 200:
                assert response.status_code == 503, response.text
                assert time.monotonic() < deadline, "never recovered"
                await asyncio.sleep(0.1)
    finally:
        outage_pg.start()
        await lifespan.shutdown()
