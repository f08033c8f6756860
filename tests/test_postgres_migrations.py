"""Schema migrations on both stores: applied once even when instances start together, an old
database upgraded in place, a newer one refused; `scopes-arena db status` / `db upgrade`."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from core.stores import PostgresStore, SchemaTooNew, SQLiteStore
from core.stores.base import SCHEMA_VERSION
from core.stores.postgresql import MIGRATIONS
from core.users import Item, User
from deploy.postgres import free_port
from tests.test_cli import ok, refused
from tests.test_stores import V1_SCHEMA

ROOT = Path(__file__).resolve().parent.parent
PENDING_ALL = (
    "v1: users and items, v2: users.tokens_valid_after: tokens issued before it are refused "
    "(H13), v3: login_attempts: brute-force counters (H12), v4: login_attempts(window_start) "
    "index: the purge of expired counters (H12)"
)


def _versions(url: str) -> list[tuple[int]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()


async def test_concurrent_first_starts_migrate_once(postgres_url: str) -> None:
    stores = [PostgresStore(postgres_url, timeout=20) for _ in range(5)]
    try:
        # Five instances' first queries at the same moment: one migrates, four wait and see.
        await asyncio.gather(*(store.is_empty() for store in stores))
        assert _versions(postgres_url) == [(n,) for n in range(1, SCHEMA_VERSION + 1)]
        statuses = await asyncio.gather(*(store.upgrade() for store in stores))
        assert {status.found for status in statuses} == {SCHEMA_VERSION}
    finally:
        for store in stores:
            await store.close()
    assert _versions(postgres_url) == [(n,) for n in range(1, SCHEMA_VERSION + 1)]


def test_concurrent_cli_upgrades_in_processes_migrate_once(postgres_url: str) -> None:
    env = {"ARENA_DATABASE_URL": postgres_url, "PATH": "/usr/bin:/bin", "ARENA_DB_TIMEOUT": "30"}
    procs = [
        subprocess.Popen(  # noqa: S603 (our own CLI)
            [str(Path(sys.executable).parent / "scopes-arena"), "db", "upgrade"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], outputs
    said = sorted(out.split(":")[0] for out, _ in outputs)
    assert said == [
        "schema up to date (version 4)",
        "schema up to date (version 4)",
        "upgraded the schema from version 0 to 4 (v1",
    ]
    assert _versions(postgres_url) == [(1,), (2,), (3,), (4,)]


async def test_a_version_1_postgresql_database_is_upgraded_in_place(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY,"
                     " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")  # fmt: skip
        for statement in filter(str.strip, MIGRATIONS[0].split(";")):
            conn.execute(statement.encode())
        conn.execute("INSERT INTO schema_version (version) VALUES (1)")
        conn.execute("INSERT INTO users VALUES ('bob', 'b@example.com', 'Bob', true, 'hash', 'me')")
        conn.execute("INSERT INTO items VALUES ('bob', 'Foo')")
    store = PostgresStore(postgres_url, timeout=10)
    try:
        assert (await store.schema_status()).pending == (
            "v2: users.tokens_valid_after: tokens issued before it are refused (H13)",
            "v3: login_attempts: brute-force counters (H12)",
            "v4: login_attempts(window_start) index: the purge of expired counters (H12)",
        )
        assert await store.get_user("bob") == User(
            "bob", "hash", "b@example.com", "Bob", True, ("me",), tokens_valid_after=0
        )
        assert await store.items_for("bob") == [Item("Foo", "bob")]
        assert (await store.schema_status()).pending == ()
    finally:
        await store.close()
    assert _versions(postgres_url) == [(1,), (2,), (3,), (4,)]


async def test_a_postgresql_database_newer_than_the_code_is_refused(postgres_url: str) -> None:
    store = PostgresStore(postgres_url, timeout=10)
    try:
        await store.is_empty()
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
        await store.close()
        with pytest.raises(SchemaTooNew) as caught:
            await store.get_user("bob")
        assert str(caught.value) == (
            f"{store.where}: database schema version 5 is newer than this code's (4): "
            "upgrade scopes-arena"
        )
        with pytest.raises(SchemaTooNew):
            await store.upgrade()
    finally:
        await store.close()
    assert _versions(postgres_url) == [
        (1,),
        (2,),
        (3,),
        (4,),
        (5,),
    ]  # nothing undone, nothing added


# The CLI, on both stores.


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    made = (
        f"sqlite:///{tmp_path / 'arena.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    monkeypatch.setenv("ARENA_DATABASE_URL", made)
    monkeypatch.setenv("ARENA_PASSWORD_PROFILE", "cheap")
    return made


def _where(url: str) -> str:
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///")
    return PostgresStore(url).where


def test_db_status_then_upgrade(url: str, tmp_path: Path) -> None:
    where = _where(url)
    assert ok("db", "status") == (
        f"database: {where}\nschema version: 0 (this code: 4)\npending migrations: {PENDING_ALL}\n"
    )
    assert not (tmp_path / "arena.db").exists()  # status creates nothing
    assert ok("db", "upgrade") == (
        f"upgraded the schema from version 0 to 4 ({PENDING_ALL}): {where}\n"
    )
    assert ok("db", "upgrade") == f"schema up to date (version 4): {where}\n"
    assert ok("db", "status") == (
        f"database: {where}\nschema version: 4 (this code: 4)\npending migrations: none\n"
    )
    assert "***" in where or url.startswith("sqlite")


def test_db_commands_refuse_a_newer_database(url: str, tmp_path: Path) -> None:
    ok("db", "upgrade")
    if url.startswith("sqlite"):
        with sqlite3.connect(tmp_path / "arena.db") as db:
            db.execute("PRAGMA user_version=5")
        db.close()
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO schema_version (version) VALUES (5)")
    newer = "database schema version 5 is newer than this code's (4): upgrade scopes-arena"
    assert refused("db", "status") == newer
    assert refused("db", "upgrade") == f"{_where(url)}: {newer}"
    assert refused("users", "list") == f"{_where(url)}: {newer}"


def test_db_commands_refuse_the_memory_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_DATABASE_URL", "memory://")
    for command in ("status", "upgrade"):
        assert refused("db", command) == (
            "ARENA_DATABASE_URL is memory://: it has no schema (nothing to migrate)"
        )


@pytest.mark.parametrize(
    "args",
    [("db", "status"), ("db", "upgrade"), ("users", "list"), ("users", "disable", "bob"),
     ("demo",)],
    ids=" ".join,
)  # fmt: skip
def test_cli_with_postgresql_down_is_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    secret = "cli-Secret-9f8e7d"
    monkeypatch.setenv(
        "ARENA_DATABASE_URL", f"postgresql://arena:{secret}@127.0.0.1:{free_port()}/x"
    )
    monkeypatch.setenv("ARENA_DB_TIMEOUT", "0.5")
    message = refused(*args)
    assert message.startswith("the store cannot be reached: postgresql://arena:***@127.0.0.1:")
    assert "Connection refused" in message
    assert secret not in message


def test_sqlite_upgrade_in_place_via_the_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
    db.close()
    monkeypatch.setenv("ARENA_DATABASE_URL", f"sqlite:///{path}")
    assert "schema version: 1 (this code: 4)" in ok("db", "status")
    assert ok("db", "upgrade").startswith("upgraded the schema from version 1 to 4 (v2: ")
    store = SQLiteStore(path)
    try:
        assert asyncio.run(store.get_user("bob")) is not None
    finally:
        asyncio.run(store.close())
