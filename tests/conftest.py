"""Shared fixtures: every test starts from an environment without ARENA_* variables; a
throwaway PostgreSQL server for the tests that need one."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from deploy.postgres import PostgresNotFound, TempPostgres

#: `make test` sets it: in CI the PostgreSQL tests must run, so a missing server fails them.
REQUIRE_POSTGRES_ENV = "SCOPES_ARENA_REQUIRE_POSTGRES"


@pytest.fixture(autouse=True)
def _clean_arena_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own ARENA_* settings must not change what the tests see.
    for name in list(os.environ):
        if name.startswith("ARENA_"):
            monkeypatch.delenv(name)


def new_postgres() -> TempPostgres:
    """A TempPostgres, not started; skips the test when PostgreSQL is not installed, unless
    $SCOPES_ARENA_REQUIRE_POSTGRES=1, where that fails it."""
    try:
        return TempPostgres()
    except PostgresNotFound as exc:
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(f"{exc} ({REQUIRE_POSTGRES_ENV}=1: these tests must run)", pytrace=False)
        pytest.skip(f"PostgreSQL is not installed: {exc}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TempPostgres]:
    """One throwaway server for the whole run (about a second to start)."""
    server = new_postgres()
    try:
        yield server.start()
    finally:
        server.close()


_database_numbers = itertools.count(1)


@pytest.fixture
def postgres_url(postgres_server: TempPostgres) -> Iterator[str]:
    """The URL of a fresh, empty database on the session's server, dropped afterwards."""
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)
