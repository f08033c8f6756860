"""The store port: one behavioural suite run against MemoryStore, SQLiteStore and PostgresStore
(a throwaway server, tests/conftest.py), plus the SQLite file itself and `open_store` URL
parsing. PostgreSQL's own behaviour (pool, outages, migrations) is in test_postgres_store.py."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psycopg
import pytest

from core.errors import StoreUnavailable
from core.stores import (
    BadDatabaseURL,
    DuplicateItem,
    MemoryStore,
    PostgresStore,
    SQLiteStore,
    UserStore,
    open_store,
)
from core.stores import base as store_base
from core.stores import postgresql as postgresql_store
from core.stores import sqlite as sqlite_store
from core.stores.base import Attempts
from core.stores.sqlite import SCHEMA_VERSION
from core.users import DEMO_USERS, Item, UnknownUser, User, UserExists
from deploy.postgres import TempPostgres

BOB = User("bob", "hash-bob", "bob@example.com", "Bob B", False, ("me",))
CAROL = User("carol", "hash-carol")


@pytest.fixture(scope="session")
def suite_database(postgres_server: TempPostgres) -> str:
    """The suite's PostgreSQL database: created once (a new database per test costs ~0.3 s)."""
    return postgres_server.create_database("store_suite")


def _emptied(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute("SELECT to_regclass('users') IS NOT NULL").fetchone()
        if found and found[0]:  # migrated by an earlier test: its tables, emptied
            conn.execute("TRUNCATE users, items, login_attempts")
    return url


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UserStore]:
    made: UserStore
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite":
        made = SQLiteStore(tmp_path / "s.db")
    else:  # one database of the session's throwaway server, emptied for each test
        made = PostgresStore(_emptied(request.getfixturevalue("suite_database")), timeout=10)
    try:
        yield made
    finally:
        await made.close()


async def test_empty_store(store: UserStore) -> None:
    assert await store.is_empty() is True
    assert await store.list_users() == []
    assert await store.get_user("bob") is None
    assert await store.items_for("bob") == []


async def test_add_get_list(store: UserStore) -> None:
    await store.add_user(CAROL)
    await store.add_user(BOB)
    await store.add_user(DEMO_USERS[1])
    assert await store.is_empty() is False
    assert await store.get_user("bob") == BOB
    assert await store.get_user("carol") == CAROL
    assert await store.get_user("alice") == DEMO_USERS[1]
    assert await store.get_user("Bob") is None
    assert [user.username for user in await store.list_users()] == ["alice", "bob", "carol"]
    assert await store.list_users() == [DEMO_USERS[1], BOB, CAROL]


async def test_add_existing_user(store: UserStore) -> None:
    await store.add_user(BOB)
    with pytest.raises(UserExists) as caught:
        await store.add_user(User("bob", "other"))
    assert str(caught.value) == "bob"
    assert await store.get_user("bob") == BOB


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"disabled": True}, User("bob", "hash-bob", "bob@example.com", "Bob B", True, ("me",))),
        (
            {"scopes": ("items", "me")},
            User("bob", "hash-bob", BOB.email, BOB.full_name, False, ("items", "me")),
        ),
        ({"scopes": ()}, User("bob", "hash-bob", BOB.email, BOB.full_name, False, ())),
        ({"hashed_password": "new"}, User("bob", "new", BOB.email, BOB.full_name, False, ("me",))),
        ({}, BOB),
        (
            {"disabled": False, "scopes": ("items",), "hashed_password": "h2"},
            User("bob", "h2", BOB.email, BOB.full_name, False, ("items",)),
        ),
    ],
)
async def test_update_user(store: UserStore, changes: dict[str, object], expected: User) -> None:
    await store.add_user(BOB)
    await store.add_user(CAROL)
    await store.update_user("bob", **changes)  # type: ignore[arg-type]
    assert await store.get_user("bob") == expected
    assert await store.get_user("carol") == CAROL


async def test_enable_after_disable(store: UserStore) -> None:
    await store.add_user(BOB)
    await store.update_user("bob", disabled=True)
    await store.update_user("bob", disabled=False)
    assert await store.get_user("bob") == BOB


async def test_replace_hash_only_replaces_the_hash_it_was_given(store: UserStore) -> None:
    # F2: a rehash on login is a compare-and-set; a password changed meanwhile stays.
    await store.add_user(BOB)
    assert await store.replace_hash("bob", "hash-bob", "rehashed") is True
    assert await store.get_user("bob") == dataclasses.replace(BOB, hashed_password="rehashed")
    assert await store.replace_hash("bob", "hash-bob", "stale") is False
    assert (await store.get_user("bob")).hashed_password == "rehashed"  # type: ignore[union-attr]
    assert await store.replace_hash("nobody", "hash-bob", "x") is False


async def test_update_unknown_user(store: UserStore) -> None:
    with pytest.raises(UnknownUser) as caught:
        await store.update_user("nobody", disabled=True)
    assert str(caught.value) == "nobody"
    assert await store.is_empty() is True


async def test_items_ordered_by_item_id(store: UserStore) -> None:
    await store.add_user(BOB)
    await store.add_user(CAROL)
    for item_id in ("b", "Foo", "a", "10", "2"):
        await store.add_item(Item(item_id, "bob"))
    await store.add_item(Item("a", "carol"))  # the same id under another owner
    assert await store.items_for("bob") == [
        Item("10", "bob"),
        Item("2", "bob"),
        Item("Foo", "bob"),
        Item("a", "bob"),
        Item("b", "bob"),
    ]
    assert await store.items_for("carol") == [Item("a", "carol")]


async def test_duplicate_item(store: UserStore) -> None:
    await store.add_user(BOB)
    await store.add_item(Item("Foo", "bob"))
    with pytest.raises(DuplicateItem) as caught:
        await store.add_item(Item("Foo", "bob"))
    assert str(caught.value) == "bob already has item Foo"
    assert await store.items_for("bob") == [Item("Foo", "bob")]


async def test_item_for_unknown_owner(store: UserStore) -> None:
    with pytest.raises(UnknownUser) as caught:
        await store.add_item(Item("Foo", "nobody"))
    assert str(caught.value) == "nobody"
    assert await store.items_for("nobody") == []


async def test_delete_cascades_items(store: UserStore) -> None:
    await store.add_user(BOB)
    await store.add_user(CAROL)
    await store.add_item(Item("Foo", "bob"))
    await store.add_item(Item("Bar", "carol"))
    await store.delete_user("bob")
    assert await store.get_user("bob") is None
    assert await store.items_for("bob") == []
    assert await store.list_users() == [CAROL]
    assert await store.items_for("carol") == [Item("Bar", "carol")]
    # A new user of the same name starts with no items.
    await store.add_user(BOB)
    assert await store.items_for("bob") == []


async def test_delete_unknown_user(store: UserStore) -> None:
    await store.add_user(BOB)
    with pytest.raises(UnknownUser) as caught:
        await store.delete_user("nobody")
    assert str(caught.value) == "nobody"
    assert await store.list_users() == [BOB]


async def test_close_is_idempotent(store: UserStore) -> None:
    await store.close()
    await store.close()


# SQLite specifics.


async def test_sqlite_file_created_on_first_use_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "arena.db"
    store = SQLiteStore(path)
    assert not path.parent.exists()
    try:
        assert await store.is_empty() is True
    finally:
        await store.close()
    assert path.exists()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    db.close()


async def test_sqlite_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "arena.db"
    first = SQLiteStore(path)
    await first.add_user(BOB)
    await first.add_item(Item("Foo", "bob"))
    await first.close()
    second = SQLiteStore(path)
    try:
        assert await second.list_users() == [BOB]
        assert await second.items_for("bob") == [Item("Foo", "bob")]
    finally:
        await second.close()


async def test_sqlite_store_usable_after_close(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "arena.db")
    await store.add_user(BOB)
    await store.close()
    try:
        assert await store.get_user("bob") == BOB
    finally:
        await store.close()


def _under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "file").write_text("")
    return tmp_path / "file" / "arena.db"


def _a_directory(tmp_path: Path) -> Path:
    return tmp_path


def _not_a_database(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not an SQLite database, not even close" * 100)
    return path


@pytest.mark.parametrize("where", [_under_a_file, _a_directory, _not_a_database])
async def test_sqlite_unopenable_path(tmp_path: Path, where: Callable[[Path], Path]) -> None:
    path = where(tmp_path)
    store = SQLiteStore(path)
    try:
        with pytest.raises(StoreUnavailable) as caught:
            await store.get_user("bob")
        assert str(caught.value).startswith(f"{path}: ")
        # Still unavailable, still the same error, on the next call.
        with pytest.raises(StoreUnavailable):
            await store.is_empty()
    finally:
        await store.close()


async def test_sqlite_close_without_use_touches_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "arena.db")
    await store.close()
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240 (a tmp dir listing; nothing to block)


# open_store.


def test_open_memory() -> None:
    assert isinstance(open_store("memory://"), MemoryStore)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///arena.db", Path("arena.db")),
        ("sqlite:///var/arena.db", Path("var/arena.db")),
        ("sqlite:////srv/arena/arena.db", Path("/srv/arena/arena.db")),
    ],
)
def test_open_sqlite(url: str, path: Path) -> None:
    store = open_store(url)
    assert isinstance(store, SQLiteStore)
    assert store.path == path


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_open_postgresql_connects_to_nothing_yet(scheme: str) -> None:
    # An address nothing listens on, and no event loop: building the store opens nothing (H10).
    store = open_store(f"{scheme}://arena:pa%40ss-w0rd@192.0.2.1:5432/arena", pool_size=3)
    assert isinstance(store, PostgresStore)
    assert store.pool_size == 3
    assert store.timeout == 5.0
    assert store.where == f"{scheme}://arena:***@192.0.2.1:5432/arena"
    assert repr(store) == f"PostgresStore('{scheme}://arena:***@192.0.2.1:5432/arena')"


def test_open_store_touches_no_disk(tmp_path: Path) -> None:
    open_store(f"sqlite:///{tmp_path}/arena.db")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (  # libpq's message quotes the password: shown as *** like in the URL
            "postgresql://arena:s3%zz@localhost/arena",
            "bad PostgreSQL URL 'postgresql://arena:***@localhost/arena': "
            'invalid percent-encoded token: "***"',
        ),
        (
            "postgres://localhost/arena?bogus=1",
            "bad PostgreSQL URL 'postgres://localhost/arena?bogus=1': "
            'invalid URI query parameter: "bogus"',
        ),
        (
            "sqlite:///",
            "bad SQLite URL 'sqlite:///': use sqlite:///relative/path.db or sqlite:////abs/path.db",
        ),
        (
            "sqlite://host/arena.db",
            "bad SQLite URL 'sqlite://host/arena.db': use sqlite:///relative/path.db or "
            "sqlite:////abs/path.db",
        ),
        (
            "sqlite:arena.db",
            "bad SQLite URL 'sqlite:arena.db': use sqlite:///relative/path.db or "
            "sqlite:////abs/path.db",
        ),
        (
            "memory://x",
            "unsupported database URL 'memory://x': expected memory://, sqlite:///path or "
            "postgresql://",
        ),
        (
            "",
            "unsupported database URL '': expected memory://, sqlite:///path or postgresql://",
        ),
        (
            "arena.db",
            "unsupported database URL 'arena.db': expected memory://, sqlite:///path or "
            "postgresql://",
        ),
        (
            "mysql://localhost/arena",
            "unsupported database URL 'mysql://localhost/arena': expected memory://, "
            "sqlite:///path or postgresql://",
        ),
    ],
)
def test_open_store_refuses(url: str, message: str) -> None:
    with pytest.raises(BadDatabaseURL) as caught:
        open_store(url)
    assert str(caught.value) == message


async def test_tokens_valid_after_is_kept_and_updated(store: UserStore) -> None:
    await store.add_user(dataclasses.replace(DEMO_USERS[0], tokens_valid_after=1000))
    assert (await store.get_user("johndoe")).tokens_valid_after == 1000  # type: ignore[union-attr]
    await store.update_user("johndoe", disabled=True)
    assert (await store.get_user("johndoe")).tokens_valid_after == 1000  # type: ignore[union-attr]
    await store.update_user("johndoe", tokens_valid_after=2000)
    user = await store.get_user("johndoe")
    assert user == dataclasses.replace(DEMO_USERS[0], disabled=True, tokens_valid_after=2000)


V1_SCHEMA = """
CREATE TABLE users (username TEXT PRIMARY KEY, email TEXT, full_name TEXT,
    disabled INTEGER NOT NULL DEFAULT 0, hashed_password TEXT NOT NULL,
    scopes TEXT NOT NULL DEFAULT '');
CREATE TABLE items (owner TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    item_id TEXT NOT NULL, PRIMARY KEY (owner, item_id));
INSERT INTO users VALUES ('bob', 'b@example.com', 'Bob', 1, 'hash', 'me items');
INSERT INTO items VALUES ('bob', 'Foo');
PRAGMA user_version=1;
"""


async def test_a_version_1_file_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
    store = SQLiteStore(path)
    try:
        assert await store.get_user("bob") == User(
            "bob", "hash", "b@example.com", "Bob", True, ("me", "items"), tokens_valid_after=0
        )
        assert await store.items_for("bob") == [Item("Foo", "bob")]
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    reopened = SQLiteStore(path)  # upgrades nothing twice
    try:
        assert (await reopened.get_user("bob")) is not None
    finally:
        await reopened.close()


async def test_a_file_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    store = SQLiteStore(path)
    with pytest.raises(StoreUnavailable, match=r"schema version \d+ is newer than this code's"):
        await store.get_user("bob")
    await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION + 1,)


# H12's counters: the same behaviour in every store.
async def test_attempts_count_within_a_window_and_restart_after_it(store: UserStore) -> None:
    keys = ["user:bob", "addr:10.0.0.1"]
    assert await store.add_attempt(keys, 100.0, 60.0) == [Attempts(1, 100.0), Attempts(1, 100.0)]
    assert await store.add_attempt(keys[:1], 130.0, 60.0) == [Attempts(2, 100.0)]
    assert await store.add_attempt(keys, 159.5, 60.0) == [Attempts(3, 100.0), Attempts(2, 100.0)]
    # At now - window the old window is over: a new one starts at `now`.
    assert await store.add_attempt(keys, 160.0, 60.0) == [Attempts(1, 160.0), Attempts(1, 160.0)]


async def test_remove_attempt_undoes_one_count_of_the_same_window_only(store: UserStore) -> None:
    for now in (10.0, 11.0):
        await store.add_attempt(["user:bob"], now, 60.0)
    await store.remove_attempt(["user:bob", "user:nobody"], [10.0, 10.0])
    assert await store.add_attempt(["user:bob"], 12.0, 60.0) == [Attempts(2, 10.0)]
    # A window that has been replaced since is left alone.
    await store.add_attempt(["user:bob"], 100.0, 60.0)
    await store.remove_attempt(["user:bob"], [10.0])
    assert await store.add_attempt(["user:bob"], 101.0, 60.0) == [Attempts(2, 100.0)]
    # Back at zero, the counter is gone (F8: rows are failures), and never below zero: the next
    # failure starts a new window.
    for _ in range(4):
        await store.remove_attempt(["user:bob"], [100.0])
    assert await attempt_rows(store) == []
    assert await store.add_attempt(["user:bob"], 102.0, 60.0) == [Attempts(1, 102.0)]


async def attempt_rows(store: UserStore) -> list[tuple[str, int, float]]:
    """The counters table as it is, whatever the store."""
    if isinstance(store, MemoryStore):
        return sorted((key, a.count, a.window_start) for key, a in store._attempts.items())
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.path) as db:
            rows = db.execute("SELECT key, count, window_start FROM login_attempts").fetchall()
    else:
        assert isinstance(store, PostgresStore)
        with psycopg.connect(store._url) as conn:
            rows = conn.execute("SELECT key, count, window_start FROM login_attempts").fetchall()
    return sorted((str(key), int(count), float(start)) for key, count, start in rows)


async def test_a_counter_at_its_limit_refuses_and_writes_nothing(store: UserStore) -> None:
    # F8: one address at its limit, a new username each time (the 1,990 429s): no row
    # for any of those usernames, nothing counted.
    for now in (10.0, 11.0):
        await store.add_attempt(["user:bob", "addr:1"], now, 60.0, [10, 2])
    before = await attempt_rows(store)
    assert before == [("addr:1", 2, 10.0), ("user:bob", 2, 10.0)]
    for n in range(20):
        with pytest.raises(store_base.AttemptsRefused) as refused:
            await store.add_attempt([f"user:guess{n}", "addr:1"], 12.0 + n, 60.0, [10, 2])
        assert refused.value.attempts == (Attempts(0, 12.0 + n), Attempts(2, 10.0))
    assert await attempt_rows(store) == before
    # Under the limit it counts as before; a window over counts from zero again.
    assert await store.add_attempt(["user:bob"], 40.0, 60.0, [3]) == [Attempts(3, 10.0)]
    with pytest.raises(store_base.AttemptsRefused):
        await store.add_attempt(["user:bob"], 41.0, 60.0, [3])
    assert await store.add_attempt(["user:bob", "addr:1"], 70.0, 60.0, [3, 2]) == [
        Attempts(1, 70.0),
        Attempts(1, 70.0),
    ]


async def test_a_success_leaves_no_row(store: UserStore) -> None:
    counted = await store.add_attempt(["user:bob", "addr:1"], 10.0, 60.0, [10, 100])
    await store.remove_attempt(["user:bob", "addr:1"], [a.window_start for a in counted])
    assert await attempt_rows(store) == []


async def test_purge_deletes_in_batches(store: UserStore, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(25):
        await store.add_attempt([f"old{n}"], 10.0 + n, 60.0)
    await store.add_attempt(["new"], 100.0, 60.0)
    statements: list[str] = []
    if isinstance(store, SQLiteStore):
        await store._run(lambda db: db.set_trace_callback(statements.append))
    elif isinstance(store, PostgresStore):
        rowcount = store._rowcount

        async def counted(query: str, params: object = ()) -> int:
            statements.append(query)
            return await rowcount(query, params)  # type: ignore[arg-type]

        monkeypatch.setattr(store, "_rowcount", counted)
    assert await store.purge_attempts(50.0, batch=10) == 25
    assert [key for key, _, _ in await attempt_rows(store)] == ["new"]
    if not isinstance(store, MemoryStore):  # 10, 10, 5: three statements, each bounded
        deletes = [q for q in statements if q.startswith("DELETE FROM login_attempts")]
        assert len(deletes) == 3, deletes


async def test_sqlite_purge_uses_the_window_start_index(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        await store.is_empty()  # opened and migrated
        plan = await store._run(
            lambda db: db.execute(
                "EXPLAIN QUERY PLAN " + sqlite_store.PURGE_STATEMENT, (1.0, 1000)
            ).fetchall()
        )
    finally:
        await store.close()
    details = " | ".join(str(row[-1]) for row in plan)
    assert "INDEX login_attempts_window_start (window_start<?)" in details, details
    assert "SCAN login_attempts" not in details, details


async def test_postgresql_purge_uses_the_window_start_index(postgres_url: str) -> None:
    store = PostgresStore(postgres_url, timeout=10)
    try:
        await store.is_empty()  # opened and migrated
    finally:
        await store.close()
    with psycopg.connect(postgres_url) as conn:
        # A table this small is cheapest to scan whatever its indexes: scans are priced out, so
        # the plan shows whether an index can serve the purge at all.
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(
            str(row[0])
            for row in conn.execute(
                b"EXPLAIN " + postgresql_store.PURGE_STATEMENT.encode(), (1.0, 1000)
            ).fetchall()
        )
    assert "login_attempts_window_start" in plan, plan
    assert "Seq Scan" not in plan, plan


async def test_purge_attempts_deletes_old_windows(store: UserStore) -> None:
    await store.add_attempt(["a"], 10.0, 60.0)
    await store.add_attempt(["b"], 50.0, 60.0)
    assert await store.purge_attempts(50.0) == 1
    assert await store.add_attempt(["a", "b"], 51.0, 60.0) == [Attempts(1, 51.0), Attempts(2, 50.0)]


async def test_attempts_are_atomic_across_connections(tmp_path: Path) -> None:
    # Two stores on one file (two instances): every increment is counted once.
    first, second = SQLiteStore(tmp_path / "s.db"), SQLiteStore(tmp_path / "s.db")
    try:
        results = await asyncio.gather(
            *((first if n % 2 else second).add_attempt(["user:bob"], 1.0, 60.0) for n in range(40))
        )
        assert sorted(result[0].count for result in results) == list(range(1, 41))
    finally:
        await first.close()
        await second.close()


async def test_postgresql_attempts_are_atomic_across_connections(postgres_url: str) -> None:
    # Two stores on one database (two instances), each with its own pool of connections.
    first = PostgresStore(postgres_url, pool_size=4, timeout=10)
    second = PostgresStore(postgres_url, pool_size=4, timeout=10)
    try:
        results = await asyncio.gather(
            *(
                (first if n % 2 else second).add_attempt(["user:bob", "addr:1"], 1.0, 60.0)
                for n in range(40)
            )
        )
        assert sorted(result[0].count for result in results) == list(range(1, 41))
        assert sorted(result[1].count for result in results) == list(range(1, 41))
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_limits_hold_across_connections(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Two instances, 40 concurrent attempts with a limit of 7 on the address: exactly 7 counted,
    # the rest refused with nothing written (the other keys have no row).
    if kind == "sqlite":
        first, second = SQLiteStore(tmp_path / "s.db"), SQLiteStore(tmp_path / "s.db")
    else:
        url = request.getfixturevalue("postgres_url")
        first, second = (PostgresStore(url, pool_size=4, timeout=10) for _ in range(2))  # type: ignore[assignment]
    try:
        results = await asyncio.gather(
            *(
                (first if n % 2 else second).add_attempt(
                    [f"user:{n}", "addr:1"], 1.0, 60.0, [10, 7]
                )
                for n in range(40)
            ),
            return_exceptions=True,
        )
        counted = [r for r in results if isinstance(r, list)]
        assert sorted(result[1].count for result in counted) == list(range(1, 8))
        assert all(isinstance(r, store_base.AttemptsRefused | list) for r in results), results
        assert len(await attempt_rows(first)) == 8
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_count_made_after_the_read_is_caught_under_the_lock(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The read that tells a refusal without a write comes before the lock: another instance
    # may count in between. Here that read is made to see nothing; the check under the lock
    # (SQLite's second read, PostgreSQL's ON CONFLICT ... WHERE) still refuses, and the
    # transaction leaves nothing behind (no row for the new key, even where it was counted first).
    store: UserStore
    if kind == "sqlite":
        store, module = SQLiteStore(tmp_path / "s.db"), sqlite_store
    else:
        store = PostgresStore(request.getfixturevalue("postgres_url"), timeout=10)
        module = postgresql_store  # type: ignore[assignment]
    try:
        await store.add_attempt(["addr:1"], 1.0, 60.0, [1])
        before = await attempt_rows(store)
        real = module.refuse_over
        calls: list[int] = []

        def late(attempts: object, limits: object) -> None:
            calls.append(1)
            if len(calls) > 1:  # the first read saw nothing (it came too early)
                real(attempts, limits)  # type: ignore[arg-type]

        monkeypatch.setattr(module, "refuse_over", late)
        with pytest.raises(store_base.AttemptsRefused) as refused:
            # "aaa:new" sorts first: PostgreSQL counts it before it meets the address's limit.
            await store.add_attempt(["aaa:new", "addr:1"], 2.0, 60.0, [10, 1])
        assert refused.value.attempts == (Attempts(0, 2.0), Attempts(1, 1.0))
        assert await attempt_rows(store) == before
    finally:
        await store.close()


async def test_attempt_keys_are_kept_apart_byte_for_byte(store: UserStore) -> None:
    # PostgreSQL text holds no NUL: its store escapes keys, one-to-one.
    keys = ["a\x00b", "a\\0b", "a\\\x00b", "a"]
    assert await store.add_attempt(keys, 1.0, 60.0) == [Attempts(1, 1.0)] * 4
    assert await store.add_attempt(keys[:2], 2.0, 60.0) == [Attempts(2, 1.0)] * 2
    await store.remove_attempt(["a\x00b"], [1.0])
    assert await store.add_attempt(keys, 3.0, 60.0) == [
        Attempts(2, 1.0), Attempts(3, 1.0), Attempts(2, 1.0), Attempts(2, 1.0)
    ]  # fmt: skip


async def test_seed_adds_everything_once(store: UserStore) -> None:
    assert await store.seed(DEMO_USERS, [Item("Foo", "johndoe")]) is True
    assert await store.list_users() == sorted(DEMO_USERS, key=lambda user: user.username)
    assert await store.items_for("johndoe") == [Item("Foo", "johndoe")]
    assert await store.seed([BOB], []) is False
    assert await store.get_user("bob") is None


async def test_seed_is_all_or_nothing(store: UserStore) -> None:
    with pytest.raises(DuplicateItem):
        await store.seed([BOB], [Item("Foo", "bob"), Item("Foo", "bob")])
    assert await store.is_empty() is True
    assert await store.items_for("bob") == []


async def test_concurrent_seeds_on_postgresql_add_once(postgres_url: str) -> None:
    stores = [PostgresStore(postgres_url, timeout=10) for _ in range(4)]
    try:
        done = await asyncio.gather(*(s.seed(DEMO_USERS, [Item("Foo", "alice")]) for s in stores))
        assert sorted(done) == [False, False, False, True]
        assert len(await stores[0].list_users()) == len(DEMO_USERS)
    finally:
        for made in stores:
            await made.close()


async def test_attempts_with_no_key_or_a_key_twice(store: UserStore) -> None:
    assert await store.add_attempt([], 1.0, 60.0) == []
    await store.remove_attempt([], [])
    # The same key twice in one call: counted twice, in order.
    assert await store.add_attempt(["a", "a"], 1.0, 60.0) == [Attempts(1, 1.0), Attempts(2, 1.0)]
    assert await store.purge_attempts(0.0) == 0
