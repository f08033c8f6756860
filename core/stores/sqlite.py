"""`sqlite:///path`: the default store, a real file in WAL mode, driven through aiosqlite so
that no query blocks the event loop. The schema is created on first use."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from core.errors import StoreUnavailable
from core.stores.memory import DuplicateItem
from core.users import Item, UnknownUser, User, UserExists

SCHEMA_VERSION = 1
_SCHEMA = """
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
"""


def _user(row: sqlite3.Row | tuple[object, ...]) -> User:
    username, email, full_name, disabled, hashed_password, scopes = row
    return User(
        username=str(username),
        email=None if email is None else str(email),
        full_name=None if full_name is None else str(full_name),
        disabled=bool(disabled),
        hashed_password=str(hashed_password),
        scopes=tuple(str(scopes).split()),
    )


class SQLiteStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: aiosqlite.Connection | None = None
        self._opening = asyncio.Lock()

    async def _connect(self) -> aiosqlite.Connection:
        if self._conn is not None:
            return self._conn
        async with self._opening:
            if self._conn is None:
                try:
                    await asyncio.to_thread(self.path.parent.mkdir, parents=True, exist_ok=True)
                    conn = await aiosqlite.connect(self.path, timeout=5.0)
                    await conn.execute("PRAGMA journal_mode=WAL")
                    await conn.execute("PRAGMA foreign_keys=ON")
                    await conn.executescript(_SCHEMA)
                    await conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                    await conn.commit()
                except (OSError, sqlite3.Error) as exc:
                    raise StoreUnavailable(f"cannot open {self.path}: {exc}") from exc
                self._conn = conn
        return self._conn

    @asynccontextmanager
    async def _db(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = await self._connect()
        try:
            yield conn
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def get_user(self, username: str) -> User | None:
        async with (
            self._db() as db,
            db.execute(
                "SELECT username, email, full_name, disabled, hashed_password, scopes"
                " FROM users WHERE username = ?",
                (username,),
            ) as cursor,
        ):
            row = await cursor.fetchone()
        return None if row is None else _user(row)

    async def list_users(self) -> list[User]:
        async with (
            self._db() as db,
            db.execute(
                "SELECT username, email, full_name, disabled, hashed_password, scopes"
                " FROM users ORDER BY username"
            ) as cursor,
        ):
            return [_user(row) for row in await cursor.fetchall()]

    async def add_user(self, user: User) -> None:
        async with self._db() as db:
            try:
                await db.execute(
                    "INSERT INTO users (username, email, full_name, disabled,"
                    " hashed_password, scopes) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        user.username,
                        user.email,
                        user.full_name,
                        int(user.disabled),
                        user.hashed_password,
                        " ".join(user.scopes),
                    ),
                )
                await db.commit()
            except sqlite3.IntegrityError as exc:
                await db.rollback()
                raise UserExists(user.username) from exc

    async def update_user(
        self,
        username: str,
        *,
        disabled: bool | None = None,
        scopes: tuple[str, ...] | None = None,
        hashed_password: str | None = None,
    ) -> None:
        async with self._db() as db:
            cursor = await db.execute(
                "UPDATE users SET disabled = COALESCE(?, disabled), scopes = COALESCE(?, scopes),"
                " hashed_password = COALESCE(?, hashed_password) WHERE username = ?",
                (
                    None if disabled is None else int(disabled),
                    None if scopes is None else " ".join(scopes),
                    hashed_password,
                    username,
                ),
            )
            await db.commit()
            if cursor.rowcount == 0:
                raise UnknownUser(username)

    async def delete_user(self, username: str) -> None:
        async with self._db() as db:
            cursor = await db.execute("DELETE FROM users WHERE username = ?", (username,))
            await db.commit()
            if cursor.rowcount == 0:
                raise UnknownUser(username)

    async def add_item(self, item: Item) -> None:
        async with self._db() as db:
            if await self.get_user(item.owner) is None:
                raise UnknownUser(item.owner)
            try:
                await db.execute(
                    "INSERT INTO items (owner, item_id) VALUES (?, ?)", (item.owner, item.item_id)
                )
                await db.commit()
            except sqlite3.IntegrityError as exc:
                await db.rollback()
                raise DuplicateItem(f"{item.owner} already has item {item.item_id}") from exc

    async def items_for(self, owner: str) -> list[Item]:
        async with (
            self._db() as db,
            db.execute(
                "SELECT item_id FROM items WHERE owner = ? ORDER BY item_id", (owner,)
            ) as cursor,
        ):
            return [Item(str(row[0]), owner) for row in await cursor.fetchall()]

    async def is_empty(self) -> bool:
        async with self._db() as db, db.execute("SELECT 1 FROM users LIMIT 1") as cursor:
            return await cursor.fetchone() is None
