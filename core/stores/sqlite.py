"""`sqlite:///path`: the default store, a real file in WAL mode, schema created on first use.

Every query runs on one dedicated worker thread that owns the connection, so nothing blocks
the event loop. (Not aiosqlite: its worker is a non-daemon thread that keeps the interpreter
alive when an app is never shut down, e.g. served without lifespan events, H10.
ThreadPoolExecutor's worker is joined at interpreter exit.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from core import usernames
from core.errors import StoreUnavailable
from core.stores.base import (
    PURGE_BATCH,
    SCHEMA_VERSION,
    Attempts,
    SchemaStatus,
    SchemaTooNew,
    current,
    refuse_over,
)
from core.users import DuplicateItem, Item, UnknownUser, User, UserExists

T = TypeVar("T")
logger = logging.getLogger(__name__)
#: Schema versions, in order: MIGRATIONS[n] takes a database from version n to n + 1 (kept in
#: PRAGMA user_version; 0 is a new file). Each runs in one transaction, so a file is never half
#: upgraded, and two processes opening one file at once upgrade it once.
MIGRATIONS = (
    """
    CREATE TABLE IF NOT EXISTS users (
        username        TEXT PRIMARY KEY,
        email           TEXT,
        full_name       TEXT,
        disabled        INTEGER NOT NULL DEFAULT 0,
        hashed_password TEXT NOT NULL,
        scopes          TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE IF NOT EXISTS items (
        owner   TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
        item_id TEXT NOT NULL,
        PRIMARY KEY (owner, item_id)
    );
    """,
    # H13: tokens issued before this second are refused.
    "ALTER TABLE users ADD COLUMN tokens_valid_after INTEGER NOT NULL DEFAULT 0;",
    # H12: brute-force counters, one row per key (a username or a client address).
    """
    CREATE TABLE IF NOT EXISTS login_attempts (
        key          TEXT PRIMARY KEY,
        window_start REAL NOT NULL,
        count        INTEGER NOT NULL
    );
    """,
    # H12: the purge finds expired counters through an index, in batches (F8).
    """
    CREATE INDEX IF NOT EXISTS login_attempts_window_start ON login_attempts (window_start);
    """,
)
assert len(MIGRATIONS) == SCHEMA_VERSION  # one list of versions for every store
_SELECT_USER = (
    "SELECT username, email, full_name, disabled, hashed_password, scopes, tokens_valid_after"
    " FROM users"
)
#: One batch of the purge: the oldest expired counters, found through the window-start index.
PURGE_STATEMENT = (
    "DELETE FROM login_attempts WHERE rowid IN (SELECT rowid FROM login_attempts"
    " WHERE window_start < ? ORDER BY window_start LIMIT ?)"
)


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "NoSuchDatabase", "SQLiteStore", "SchemaTooNew"]


class NoSuchDatabase(StoreUnavailable):
    """A store opened with `create=False` whose file does not exist."""


def _user(row: tuple[object, ...]) -> User:
    username, email, full_name, disabled, hashed_password, scopes, valid_after = row
    return User(
        username=str(username),
        email=None if email is None else str(email),
        full_name=None if full_name is None else str(full_name),
        disabled=bool(disabled),
        hashed_password=str(hashed_password),
        scopes=tuple(str(scopes).split()),
        tokens_valid_after=int(valid_after),  # type: ignore[call-overload]
    )


def migrate(conn: sqlite3.Connection, where: str = "") -> int:
    """Bring the schema to SCHEMA_VERSION; the version found before."""
    conn.execute("BEGIN IMMEDIATE")  # one writer: a second process waits, then sees it done
    try:
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(found, where)
        for script in MIGRATIONS[found:]:
            for statement in filter(str.strip, script.split(";")):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found


def _wal(conn: sqlite3.Connection, patience: float = 5.0) -> None:
    """PRAGMA journal_mode=WAL, waiting for other connections: switching a new file to WAL
    while another connection opens it can fail with "database is locked" at once, the busy
    timeout notwithstanding (two instances starting together)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # on the store's worker thread, not the event loop


def _private(path: Path, *, create: bool = True) -> None:
    """The database holds password hashes: create it 0600 (SQLite gives its -wal and -shm files
    the database's mode), and tighten an existing one readable by others, with one warning."""
    if create:
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = file.stat().st_mode
            if not (stat.S_ISREG(mode) and mode & 0o077):
                continue
            file.chmod(stat.S_IMODE(mode) & 0o700)
        except FileNotFoundError:
            continue
        except OSError as exc:  # not ours: warn; SQLite reports what keeps it from working
            logger.warning("%s is readable by group or others and stays so: %s", file, exc)
            continue
        logger.warning(
            "%s was readable by group or others (mode %04o): made it %04o",
            file, stat.S_IMODE(mode), stat.S_IMODE(mode) & 0o700,
        )  # fmt: skip


class SQLiteStore:
    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        #: False: open an existing file only (a reader must not leave an empty database behind).
        self.create = create
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        #: The schema version the file had when this store opened it (for `db upgrade`).
        self._found: int | None = None

    def _connection(self) -> sqlite3.Connection:
        # Runs on the worker thread, which owns the connection for its whole life.
        if self._conn is None:
            if self.create:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            elif not self.path.is_file():
                raise NoSuchDatabase(f"no database at {self.path}")
            _private(self.path, create=self.create)
            # mode=rw: should the file vanish right now, SQLite must not create it either.
            target = self.path if self.create else f"file:{quote(str(self.path))}?mode=rw"
            conn = sqlite3.connect(target, timeout=5.0, isolation_level=None, uri=not self.create)
            try:
                _wal(conn)
                conn.execute("PRAGMA foreign_keys=ON")
                self._found = migrate(conn, str(self.path))
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="arena-sqlite")

        def job() -> T:
            return work(self._connection())

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, job)
        except (sqlite3.IntegrityError, StoreUnavailable):
            raise
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc

    async def close(self) -> None:
        if self._executor is None:
            return
        executor, self._executor = self._executor, None

        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(executor, close)
        executor.shutdown(wait=False)

    async def get_user(self, username: str) -> User | None:
        row = await self._run(
            lambda db: db.execute(f"{_SELECT_USER} WHERE username = ?", (username,)).fetchone()
        )
        return None if row is None else _user(row)

    async def list_users(self) -> list[User]:
        rows = await self._run(
            lambda db: db.execute(f"{_SELECT_USER} ORDER BY username").fetchall()
        )
        return [_user(row) for row in rows]

    async def add_user(self, user: User) -> None:
        usernames.check(user.username)  # the last guard: every way in checks before
        try:
            await self._run(
                lambda db: db.execute(
                    "INSERT INTO users (username, email, full_name, disabled, hashed_password,"
                    " scopes, tokens_valid_after) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        user.username,
                        user.email,
                        user.full_name,
                        int(user.disabled),
                        user.hashed_password,
                        " ".join(user.scopes),
                        user.tokens_valid_after,
                    ),
                )
            )
        except sqlite3.IntegrityError as exc:
            raise UserExists(user.username) from exc

    async def update_user(
        self,
        username: str,
        *,
        disabled: bool | None = None,
        scopes: tuple[str, ...] | None = None,
        hashed_password: str | None = None,
        tokens_valid_after: int | None = None,
    ) -> None:
        changed = await self._run(
            lambda db: (
                db.execute(
                    "UPDATE users SET disabled = COALESCE(?, disabled),"
                    " scopes = COALESCE(?, scopes),"
                    " hashed_password = COALESCE(?, hashed_password),"
                    " tokens_valid_after = COALESCE(?, tokens_valid_after) WHERE username = ?",
                    (
                        None if disabled is None else int(disabled),
                        None if scopes is None else " ".join(scopes),
                        hashed_password,
                        tokens_valid_after,
                        username,
                    ),
                ).rowcount
            )
        )
        if changed == 0:
            raise UnknownUser(username)

    async def replace_hash(self, username: str, old: str, new: str) -> bool:
        changed = await self._run(
            lambda db: (
                db.execute(
                    "UPDATE users SET hashed_password = ?"
                    " WHERE username = ? AND hashed_password = ?",
                    (new, username, old),
                ).rowcount
            )
        )
        return bool(changed)

    async def delete_user(self, username: str) -> None:
        deleted = await self._run(
            lambda db: db.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount
        )
        if deleted == 0:
            raise UnknownUser(username)

    async def add_item(self, item: Item) -> None:
        if await self.get_user(item.owner) is None:
            raise UnknownUser(item.owner)
        try:
            await self._run(
                lambda db: db.execute(
                    "INSERT INTO items (owner, item_id) VALUES (?, ?)", (item.owner, item.item_id)
                )
            )
        except sqlite3.IntegrityError as exc:
            raise DuplicateItem(f"{item.owner} already has item {item.item_id}") from exc

    async def items_for(self, owner: str) -> list[Item]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT item_id FROM items WHERE owner = ? ORDER BY item_id", (owner,)
            ).fetchall()
        )
        return [Item(str(row[0]), owner) for row in rows]

    async def is_empty(self) -> bool:
        row = await self._run(lambda db: db.execute("SELECT 1 FROM users LIMIT 1").fetchone())
        return row is None

    async def seed(self, users: Sequence[User], items: Sequence[Item]) -> bool:
        for user in users:
            usernames.check(user.username)

        def seed(db: sqlite3.Connection) -> bool:
            with _transaction(db):
                if db.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None:
                    return False
                db.executemany(
                    "INSERT INTO users (username, email, full_name, disabled, hashed_password,"
                    " scopes, tokens_valid_after) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (u.username, u.email, u.full_name, int(u.disabled), u.hashed_password,
                         " ".join(u.scopes), u.tokens_valid_after)
                        for u in users
                    ],
                )  # fmt: skip
                db.executemany(
                    "INSERT INTO items (owner, item_id) VALUES (?, ?)",
                    [(item.owner, item.item_id) for item in items],
                )
            return True

        try:
            return await self._run(seed)
        except sqlite3.IntegrityError as exc:
            raise DuplicateItem(str(exc)) from exc

    async def schema_status(self) -> SchemaStatus:
        def status() -> SchemaStatus:
            if not self.path.is_file():  # nothing there yet; nothing created
                return SchemaStatus(str(self.path), 0)
            uri = f"file:{quote(str(self.path))}?mode=ro"
            conn = sqlite3.connect(uri, timeout=5.0, isolation_level=None, uri=True)
            try:
                return SchemaStatus(
                    str(self.path), int(conn.execute("PRAGMA user_version").fetchone()[0])
                )
            finally:
                conn.close()

        try:
            return await asyncio.get_running_loop().run_in_executor(None, status)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc

    async def upgrade(self) -> SchemaStatus:
        def upgrade(db: sqlite3.Connection) -> int:
            # Opening migrated it (and noted what it found); an open one is migrated again.
            found, self._found = self._found, None
            return migrate(db, str(self.path)) if found is None else found

        return SchemaStatus(str(self.path), await self._run(upgrade))

    async def add_attempt(
        self,
        keys: Sequence[str],
        now: float,
        window: float,
        limits: Sequence[int] | None = None,
    ) -> list[Attempts]:
        def counters(db: sqlite3.Connection) -> list[Attempts]:
            return [
                current(None if row is None else Attempts(int(row[0]), float(row[1])), now, window)
                for row in (
                    db.execute(
                        "SELECT count, window_start FROM login_attempts WHERE key = ?", (key,)
                    ).fetchone()
                    for key in keys
                )
            ]

        def add(db: sqlite3.Connection) -> list[Attempts]:
            # A refusal is told by a read alone: no write lock taken, nothing written (F8).
            refuse_over(counters(db), limits)
            # One transaction, under the write lock: read again (another process may have
            # counted meanwhile), then count; the upsert is atomic per row.
            with _transaction(db):
                refuse_over(counters(db), limits)
                return [
                    Attempts(int(count), float(start))
                    for count, start in (
                        db.execute(
                            "INSERT INTO login_attempts (key, window_start, count) VALUES (?, ?, 1)"
                            " ON CONFLICT(key) DO UPDATE SET"
                            " count = CASE WHEN window_start <= ? THEN 1 ELSE count + 1 END,"
                            " window_start = CASE WHEN window_start <= ? THEN ?"
                            " ELSE window_start END"
                            " RETURNING count, window_start",
                            (key, now, now - window, now - window, now),
                        ).fetchone()
                        for key in keys
                    )
                ]

        return await self._run(add)

    async def remove_attempt(self, keys: Sequence[str], window_starts: Sequence[float]) -> None:
        pairs = list(zip(keys, window_starts, strict=True))

        def remove(db: sqlite3.Connection) -> None:
            with _transaction(db):
                # A counter back at 0 is no row: the table holds failures only (F8).
                db.executemany(
                    "DELETE FROM login_attempts WHERE key = ? AND window_start = ? AND count <= 1",
                    pairs,
                )
                db.executemany(
                    "UPDATE login_attempts SET count = count - 1"
                    " WHERE key = ? AND window_start = ? AND count > 1",
                    pairs,
                )

        await self._run(remove)

    async def purge_attempts(self, before: float, batch: int = PURGE_BATCH) -> int:
        # Batch by batch, each its own statement on the worker thread: the store's other
        # queries get their turn between them.
        purged = 0
        while True:
            deleted = await self._run(
                lambda db: db.execute(PURGE_STATEMENT, (before, batch)).rowcount
            )
            purged += deleted
            if deleted < batch:
                return purged


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT (the connection is in autocommit mode): the write lock is
    taken at once, so two processes never interleave their read-modify-write."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
