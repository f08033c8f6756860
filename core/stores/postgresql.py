"""`postgresql://user:password@host:port/db`: one database shared by every instance.

psycopg 3, async, through a bounded psycopg_pool.AsyncConnectionPool: nothing blocks the event
loop (psycopg's async connections resolve and connect without blocking), and nothing is opened
at construction (H10): the pool opens, and the schema is migrated, on first use.

Timeouts (ARENA_DB_TIMEOUT, `timeout` here) bound every call, so an outage is a 503, never a
hang: waiting for a pooled connection (PoolTimeout), connecting (connect_timeout), a statement
on the server (statement_timeout, which counts lock waits too) and unacknowledged data on a
dead link (tcp_user_timeout). Every connection is checked as it leaves the pool (one empty
query), so after a restart of the server the first request finds a live connection instead of
failing on a dead one; the pool keeps reconnecting in the background, and when its attempts
give up (after `timeout`) the next request starts new ones: the store recovers by itself.

The password in the URL (in its userinfo, or as a `password`, `sslpassword` or
`oauth_client_secret` parameter of its query) is only ever given to libpq: messages, errors and
repr() show the URL with `***` in its place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from core import usernames
from core.errors import StoreUnavailable
from core.stores.base import (
    PURGE_BATCH,
    SCHEMA_VERSION,
    Attempts,
    AttemptsRefused,
    SchemaStatus,
    SchemaTooNew,
    current,
    refuse_over,
)
from core.stores.redaction import SECRET_PARAMETERS, redact, secrets_of, unparsable
from core.users import DuplicateItem, Item, UnknownUser, User, UserExists

T = TypeVar("T")
Conn = psycopg.AsyncConnection[tuple[Any, ...]]
logger = logging.getLogger(__name__)

#: Schema versions, in order, the same as SQLite's (core.stores.base.MIGRATION_NOTES):
#: MIGRATIONS[n] takes a database from version n to n + 1. Applied in one transaction under an
#: advisory lock, each recorded as one row of schema_version: all at once or not at all, once,
#: however many instances start together. Text columns compare bytewise (COLLATE "C"), as
#: SQLite's do, so that names and items sort the same in both stores whatever the server's
#: locale.
MIGRATIONS = (
    """
    CREATE TABLE users (
        username        TEXT COLLATE "C" PRIMARY KEY,
        email           TEXT,
        full_name       TEXT,
        disabled        BOOLEAN NOT NULL DEFAULT FALSE,
        hashed_password TEXT NOT NULL,
        scopes          TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE items (
        owner   TEXT COLLATE "C" NOT NULL REFERENCES users(username) ON DELETE CASCADE,
        item_id TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (owner, item_id)
    );
    """,
    # H13: tokens issued before this second are refused.
    "ALTER TABLE users ADD COLUMN tokens_valid_after BIGINT NOT NULL DEFAULT 0;",
    # H12: brute-force counters, one row per key (a username or a client address).
    """
    CREATE TABLE login_attempts (
        key          TEXT COLLATE "C" PRIMARY KEY,
        window_start DOUBLE PRECISION NOT NULL,
        count        INTEGER NOT NULL
    );
    """,
    # H12: the purge finds expired counters through an index, in batches (F8).
    "CREATE INDEX login_attempts_window_start ON login_attempts (window_start);",
)
assert len(MIGRATIONS) == SCHEMA_VERSION
#: pg_advisory_xact_lock's key for migrations (any constant; advisory locks are per database).
MIGRATION_LOCK = 0x5C0_9E5_A4E7A
_SCHEMA_TABLE = """
    CREATE TABLE IF NOT EXISTS schema_version (
        version    INTEGER PRIMARY KEY,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
"""
_SELECT_USER = (
    "SELECT username, email, full_name, disabled, hashed_password, scopes, tokens_valid_after"
    " FROM users"
)
#: One batch of the purge: the oldest expired counters, found through the window-start index;
#: rows a login holds locked now are left for the next purge rather than waited for.
PURGE_STATEMENT = (
    "DELETE FROM login_attempts WHERE key IN (SELECT key FROM login_attempts"
    " WHERE window_start < %s ORDER BY window_start LIMIT %s FOR UPDATE SKIP LOCKED)"
)
#: The pool's background reconnection (backing off from 1 s, doubling) gives up after
#: max(this, timeout) seconds; the next request that finds no connection starts it again. So
#: after a long outage the first request brings the store back, not a backoff grown to minutes.
_MIN_RECONNECT = 1.0
#: add_attempt without limits: the largest count an INTEGER column holds.
_NO_LIMIT = 2**31 - 1


class BadPostgresURL(ValueError):
    """A postgresql:// URL libpq cannot parse; the message shows it without its password."""


class _Pool(AsyncConnectionPool[Conn]):
    """A pool that remembers why its last connection attempt failed: "couldn't get a
    connection after 5.00 sec" alone does not say that the password is wrong."""

    last_error: str = ""

    async def _connect(self, timeout: float | None = None) -> Conn:  # noqa: ASYNC109 (its base)
        try:
            conn = await super()._connect(timeout)
        except Exception as exc:
            self.last_error = str(exc)
            raise
        self.last_error = ""
        return conn


def _user(row: Sequence[Any]) -> User:
    username, email, full_name, disabled, hashed_password, scopes, valid_after = row
    return User(
        username=str(username),
        email=None if email is None else str(email),
        full_name=None if full_name is None else str(full_name),
        disabled=bool(disabled),
        hashed_password=str(hashed_password),
        scopes=tuple(str(scopes).split()),
        tokens_valid_after=int(valid_after),
    )


def _key(key: str) -> str:
    """A counter key as stored: PostgreSQL text holds no NUL, SQLite's does; this escaping is
    one-to-one, so every key stays its own counter."""
    return key.replace("\\", "\\\\").replace("\x00", "\\0")


async def _found_version(conn: Conn) -> int:
    cur = await conn.execute("SELECT to_regclass('schema_version') IS NOT NULL")
    exists = await cur.fetchone()
    if not (exists and exists[0]):
        return 0
    cur = await conn.execute("SELECT COALESCE(max(version), 0) FROM schema_version")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate(conn: Conn, where: str = "") -> int:
    """Bring the schema to SCHEMA_VERSION in one transaction; the version found before. A second
    instance starting at the same moment waits on the advisory lock, then finds it done."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await conn.execute(_SCHEMA_TABLE)
        found = await _found_version(conn)
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(found, where)
        for version, script in enumerate(MIGRATIONS[found:], start=found + 1):
            for statement in filter(str.strip, script.split(";")):
                await conn.execute(statement.encode())
            await conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
    return found


class PostgresStore:
    def __init__(self, url: str, *, pool_size: int = 10, timeout: float = 5.0) -> None:
        try:
            self._secrets = secrets_of(url)
            self.where = redact(url)
        except ValueError as exc:  # not even a URL: shown without its text (a password?)
            raise BadPostgresURL(unparsable(exc)) from None
        try:
            params = conninfo_to_dict(url)  # libpq's own parse: a bad URL is refused now
        except psycopg.Error as exc:
            raise BadPostgresURL(
                f"bad PostgreSQL URL {self.where!r}: {self._scrub(str(exc))}"
            ) from None
        # And the secrets as libpq reads them, wherever they sit (`u:p?w@h`: libpq's userinfo
        # runs to the `@`, urlsplit's stops at the `?`).
        self._secrets += tuple(
            str(params[name]) for name in sorted(SECRET_PARAMETERS) if params.get(name)
        )
        self.where = self._scrub(self.where)
        self._url = url
        self.pool_size = pool_size
        self.timeout = timeout
        self._pool: _Pool | None = None
        self._preparing: asyncio.Future[_Pool] | None = None
        self._migrated = False

    def __repr__(self) -> str:
        return f"PostgresStore({self.where!r})"

    def _scrub(self, text: str) -> str:
        """One line (libpq's messages span several), without the password."""
        text = "; ".join(line.strip() for line in text.splitlines() if line.strip())
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
            text = text.replace(quote(secret, safe=""), "***")
        return text

    def _unavailable(self, exc: BaseException | str) -> StoreUnavailable:
        return StoreUnavailable(self._scrub(f"{self.where}: {exc}"))

    def _connect_kwargs(self) -> dict[str, Any]:
        """What every connection is opened with, pooled or not: the timeouts of ARENA_DB_TIMEOUT."""
        ms = max(1, int(self.timeout * 1000))
        return {
            "autocommit": True,  # one statement, one transaction; more: conn.transaction()
            "connect_timeout": max(2, math.ceil(self.timeout)),  # libpq: whole s, >= 2
            "options": f"-c statement_timeout={ms}",
            "tcp_user_timeout": ms,
            "application_name": "scopes-arena",
        }

    def _connect(self) -> Awaitable[psycopg.AsyncConnection[Any]]:
        """A connection of its own, outside the pool (the pool would migrate first)."""
        return psycopg.AsyncConnection.connect(self._url, **self._connect_kwargs())

    def _new_pool(self) -> _Pool:
        return _Pool(
            self._url,
            kwargs=self._connect_kwargs(),
            min_size=1,
            max_size=self.pool_size,
            open=False,
            timeout=self.timeout,
            check=AsyncConnectionPool.check_connection,
            reconnect_timeout=max(_MIN_RECONNECT, self.timeout),
            name="scopes-arena",
        )

    async def _prepare(self) -> _Pool:
        if self._pool is None:
            pool = self._new_pool()
            await pool.open(wait=False)  # connecting goes on in the background
            self._pool = pool
        async with self._pool.connection() as conn:
            await migrate(conn, self.where)
        self._migrated = True
        return self._pool

    async def _ready_pool(self) -> _Pool:
        """The open, migrated pool. One preparation at a time, shared by every request that
        arrives meanwhile: when it fails (the database is down) they all fail with it, each
        within the timeout, rather than queueing for one attempt each; the next request after
        that tries again."""
        if self._pool is not None and self._migrated:
            return self._pool
        if self._preparing is None or self._preparing.done():
            self._preparing = asyncio.ensure_future(self._prepare())
            # Retrieved here too: a failure nobody awaits any more is not logged at exit.
            self._preparing.add_done_callback(
                lambda task: None if task.cancelled() else task.exception()
            )
        return await asyncio.shield(self._preparing)

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Conn]:
        """A pooled connection; every failure to reach or use the database is StoreUnavailable,
        except the integrity errors the callers turn into their own."""
        try:
            pool = await self._ready_pool()
            async with pool.connection() as conn:
                yield conn
        except (pg_errors.UniqueViolation, pg_errors.ForeignKeyViolation, StoreUnavailable):
            raise
        except PoolTimeout as exc:
            why = self._pool.last_error if self._pool is not None else ""
            raise self._unavailable(f"{exc} ({why})" if why else exc) from None
        except (psycopg.Error, OSError) as exc:
            raise self._unavailable(exc) from None

    async def _run(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        async with self._connection() as conn:
            return await work(conn)

    async def _fetchone(self, query: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        async def one(conn: Conn) -> tuple[Any, ...] | None:
            cur = await conn.execute(query.encode(), params)
            return await cur.fetchone()

        return await self._run(one)

    async def _fetchall(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async def rows(conn: Conn) -> list[tuple[Any, ...]]:
            cur = await conn.execute(query.encode(), params)
            return await cur.fetchall()

        return await self._run(rows)

    async def _rowcount(self, query: str, params: Sequence[Any] = ()) -> int:
        async def count(conn: Conn) -> int:
            cur = await conn.execute(query.encode(), params)
            return cur.rowcount

        return await self._run(count)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        self._migrated = False
        self._preparing = None
        if pool is not None:
            await pool.close()

    # -- schema ------------------------------------------------------------------------------

    async def schema_status(self) -> SchemaStatus:
        try:
            async with await self._connect() as conn:
                return SchemaStatus(self.where, await _found_version(conn))
        except (psycopg.Error, OSError) as exc:
            raise self._unavailable(exc) from None

    async def upgrade(self) -> SchemaStatus:
        try:
            async with await self._connect() as conn:
                return SchemaStatus(self.where, await migrate(conn, self.where))
        except StoreUnavailable:
            raise
        except (psycopg.Error, OSError) as exc:
            raise self._unavailable(exc) from None

    # -- users and items ---------------------------------------------------------------------

    async def get_user(self, username: str) -> User | None:
        row = await self._fetchone(f"{_SELECT_USER} WHERE username = %s", (username,))
        return None if row is None else _user(row)

    async def list_users(self) -> list[User]:
        return [_user(row) for row in await self._fetchall(f"{_SELECT_USER} ORDER BY username")]

    @staticmethod
    async def _insert_user(conn: Conn, user: User) -> None:
        usernames.check(user.username)  # the last guard: every way in checks before
        await conn.execute(
            "INSERT INTO users (username, email, full_name, disabled, hashed_password, scopes,"
            " tokens_valid_after) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                user.username,
                user.email,
                user.full_name,
                user.disabled,
                user.hashed_password,
                " ".join(user.scopes),
                user.tokens_valid_after,
            ),
        )

    async def add_user(self, user: User) -> None:
        usernames.check(user.username)
        try:
            await self._run(lambda conn: self._insert_user(conn, user))
        except pg_errors.UniqueViolation:
            raise UserExists(user.username) from None

    async def update_user(
        self,
        username: str,
        *,
        disabled: bool | None = None,
        scopes: tuple[str, ...] | None = None,
        hashed_password: str | None = None,
        tokens_valid_after: int | None = None,
    ) -> None:
        changed = await self._rowcount(
            "UPDATE users SET disabled = COALESCE(%s::boolean, disabled),"
            " scopes = COALESCE(%s::text, scopes),"
            " hashed_password = COALESCE(%s::text, hashed_password),"
            " tokens_valid_after = COALESCE(%s::bigint, tokens_valid_after)"
            " WHERE username = %s",
            (
                disabled,
                None if scopes is None else " ".join(scopes),
                hashed_password,
                tokens_valid_after,
                username,
            ),
        )
        if changed == 0:
            raise UnknownUser(username)

    async def replace_hash(self, username: str, old: str, new: str) -> bool:
        changed = await self._rowcount(
            "UPDATE users SET hashed_password = %s WHERE username = %s AND hashed_password = %s",
            (new, username, old),
        )
        return bool(changed)

    async def delete_user(self, username: str) -> None:
        if await self._rowcount("DELETE FROM users WHERE username = %s", (username,)) == 0:
            raise UnknownUser(username)

    @staticmethod
    async def _insert_item(conn: Conn, item: Item) -> None:
        await conn.execute(
            "INSERT INTO items (owner, item_id) VALUES (%s, %s)", (item.owner, item.item_id)
        )

    async def add_item(self, item: Item) -> None:
        # One statement: the foreign key says whether the owner exists, atomically.
        try:
            await self._run(lambda conn: self._insert_item(conn, item))
        except pg_errors.ForeignKeyViolation:
            raise UnknownUser(item.owner) from None
        except pg_errors.UniqueViolation:
            raise DuplicateItem(f"{item.owner} already has item {item.item_id}") from None

    async def items_for(self, owner: str) -> list[Item]:
        rows = await self._fetchall(
            "SELECT item_id FROM items WHERE owner = %s ORDER BY item_id", (owner,)
        )
        return [Item(str(row[0]), owner) for row in rows]

    async def is_empty(self) -> bool:
        return await self._fetchone("SELECT 1 FROM users LIMIT 1") is None

    async def seed(self, users: Sequence[User], items: Sequence[Item]) -> bool:
        for user in users:
            usernames.check(user.username)

        async def seed(conn: Conn) -> bool:
            async with conn.transaction():
                # Conflicts with itself: a second seeder waits, then finds the users there.
                await conn.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
                cur = await conn.execute("SELECT 1 FROM users LIMIT 1")
                if await cur.fetchone() is not None:
                    return False
                for user in users:
                    await self._insert_user(conn, user)
                for item in items:
                    await self._insert_item(conn, item)
            return True

        try:
            return await self._run(seed)
        except pg_errors.ForeignKeyViolation as exc:
            raise UnknownUser(str(exc.diag.message_detail or "")) from None
        except pg_errors.UniqueViolation as exc:
            raise DuplicateItem(str(exc.diag.message_detail or "")) from None

    # -- H12's counters ----------------------------------------------------------------------

    async def _counters(
        self, conn: Conn, keys: Sequence[str], now: float, window: float
    ) -> list[Attempts]:
        cur = await conn.execute(
            "SELECT key, count, window_start FROM login_attempts WHERE key = ANY(%s)",
            ([_key(key) for key in keys],),
        )
        found = {row[0]: Attempts(int(row[1]), float(row[2])) for row in await cur.fetchall()}
        return [current(found.get(_key(key)), now, window) for key in keys]

    async def add_attempt(
        self,
        keys: Sequence[str],
        now: float,
        window: float,
        limits: Sequence[int] | None = None,
    ) -> list[Attempts]:
        # A counter counts only while under its limit (the ON CONFLICT's WHERE): a row at its
        # limit is not updated and returns nothing. No limits: the column's own bound.
        bounds = list(limits) if limits is not None else [_NO_LIMIT] * len(keys)

        async def add(conn: Conn) -> list[Attempts]:
            if limits is not None:
                # A refusal is told by a read alone: no row locked, nothing written (F8).
                refuse_over(await self._counters(conn, keys, now, window), limits)
            out: list[Attempts | None] = [None] * len(keys)
            try:
                async with conn.transaction():
                    # Rows locked in key order: two logins sharing keys never deadlock.
                    for index, key in sorted(enumerate(keys), key=lambda pair: pair[1]):
                        cur = await conn.execute(
                            "INSERT INTO login_attempts AS a (key, window_start, count)"
                            " VALUES (%s, %s, 1) ON CONFLICT (key) DO UPDATE SET"
                            " count = CASE WHEN a.window_start <= %s THEN 1 ELSE a.count + 1 END,"
                            " window_start = CASE WHEN a.window_start <= %s"
                            " THEN EXCLUDED.window_start ELSE a.window_start END"
                            " WHERE a.window_start <= %s OR a.count < %s"
                            " RETURNING count, window_start",
                            (_key(key), now, *[now - window] * 3, bounds[index]),
                        )
                        row = await cur.fetchone()
                        if row is None:  # at its limit, counted by another login meanwhile
                            raise _Refused
                        out[index] = Attempts(int(row[0]), float(row[1]))
            except _Refused:  # rolled back: nothing of this attempt was written
                raise AttemptsRefused(await self._counters(conn, keys, now, window)) from None
            return [attempts for attempts in out if attempts is not None]

        return await self._run(add)

    async def remove_attempt(self, keys: Sequence[str], window_starts: Sequence[float]) -> None:
        pairs = sorted(zip(map(_key, keys), window_starts, strict=True))

        async def remove(conn: Conn) -> None:
            async with conn.transaction(), conn.cursor() as cur:
                # A counter back at 0 is no row: the table holds failures only (F8).
                await cur.executemany(
                    "DELETE FROM login_attempts WHERE key = %s AND window_start = %s"
                    " AND count <= 1",
                    pairs,
                )
                await cur.executemany(
                    "UPDATE login_attempts SET count = count - 1"
                    " WHERE key = %s AND window_start = %s AND count > 1",
                    pairs,
                )

        await self._run(remove)

    async def purge_attempts(self, before: float, batch: int = PURGE_BATCH) -> int:
        # Batch by batch, each its own transaction: no purge holds many rows locked for long.
        purged = 0
        while True:
            deleted = await self._rowcount(PURGE_STATEMENT, (before, batch))
            purged += deleted
            if deleted < batch:
                return purged


class _Refused(Exception):
    """A counter reached its limit inside add_attempt's transaction: roll it back."""
