"""`memory://`: a store in a dict, for tests and throwaway runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from core import usernames
from core.stores.base import PURGE_BATCH, Attempts, current, refuse_over
from core.users import DuplicateItem, Item, UnknownUser, User, UserExists


class MemoryStore:
    def __init__(self) -> None:
        self._users: dict[str, User] = {}
        self._items: dict[str, set[str]] = {}
        self._attempts: dict[str, Attempts] = {}

    async def close(self) -> None:
        return None

    async def get_user(self, username: str) -> User | None:
        return self._users.get(username)

    async def list_users(self) -> list[User]:
        return [self._users[name] for name in sorted(self._users)]

    async def add_user(self, user: User) -> None:
        usernames.check(user.username)  # the last guard: every way in checks before
        if user.username in self._users:
            raise UserExists(user.username)
        self._users[user.username] = user
        self._items[user.username] = set()

    async def update_user(
        self,
        username: str,
        *,
        disabled: bool | None = None,
        scopes: tuple[str, ...] | None = None,
        hashed_password: str | None = None,
        tokens_valid_after: int | None = None,
    ) -> None:
        user = self._users.get(username)
        if user is None:
            raise UnknownUser(username)
        self._users[username] = dataclasses.replace(
            user,
            disabled=user.disabled if disabled is None else disabled,
            scopes=user.scopes if scopes is None else scopes,
            hashed_password=hashed_password or user.hashed_password,
            tokens_valid_after=(
                user.tokens_valid_after if tokens_valid_after is None else tokens_valid_after
            ),
        )

    async def replace_hash(self, username: str, old: str, new: str) -> bool:
        user = self._users.get(username)
        if user is None or user.hashed_password != old:
            return False
        self._users[username] = dataclasses.replace(user, hashed_password=new)
        return True

    async def delete_user(self, username: str) -> None:
        if self._users.pop(username, None) is None:
            raise UnknownUser(username)
        del self._items[username]

    async def add_item(self, item: Item) -> None:
        owned = self._items.get(item.owner)
        if owned is None:
            raise UnknownUser(item.owner)
        if item.item_id in owned:
            raise DuplicateItem(f"{item.owner} already has item {item.item_id}")
        owned.add(item.item_id)

    async def items_for(self, owner: str) -> list[Item]:
        return [Item(item_id, owner) for item_id in sorted(self._items.get(owner, ()))]

    async def seed(self, users: Sequence[User], items: Sequence[Item]) -> bool:
        # No await before the last change: nothing else runs in between, so it is atomic.
        if self._users:
            return False
        for user in users:
            usernames.check(user.username)
        added = {user.username: user for user in users}
        owned: dict[str, set[str]] = {name: set() for name in added}
        for item in items:
            if item.owner not in owned:
                raise UnknownUser(item.owner)
            if item.item_id in owned[item.owner]:
                raise DuplicateItem(f"{item.owner} already has item {item.item_id}")
            owned[item.owner].add(item.item_id)
        self._users.update(added)
        self._items.update(owned)
        return True

    async def is_empty(self) -> bool:
        return not self._users

    # No await inside: each of these runs whole, which is what makes them atomic here.
    async def add_attempt(
        self,
        keys: Sequence[str],
        now: float,
        window: float,
        limits: Sequence[int] | None = None,
    ) -> list[Attempts]:
        refuse_over([current(self._attempts.get(key), now, window) for key in keys], limits)
        after = []
        for key in keys:
            old = current(self._attempts.get(key), now, window)
            new = Attempts(old.count + 1, old.window_start)
            self._attempts[key] = new
            after.append(new)
        return after

    async def remove_attempt(self, keys: Sequence[str], window_starts: Sequence[float]) -> None:
        for key, start in zip(keys, window_starts, strict=True):
            old = self._attempts.get(key)
            if old is not None and old.window_start == start:
                if old.count <= 1:
                    del self._attempts[key]
                else:
                    self._attempts[key] = Attempts(old.count - 1, start)

    async def purge_attempts(self, before: float, batch: int = PURGE_BATCH) -> int:
        # A dict in memory: one pass (no worker thread or lock to free between batches).
        stale = [key for key, value in self._attempts.items() if value.window_start < before]
        for key in stale:
            del self._attempts[key]
        return len(stale)
