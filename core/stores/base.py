"""The store port: what the core needs from wherever users and items live.

Every method is async so that a networked store (PostgreSQL, later) slots in unchanged.
A store that cannot be reached raises `core.errors.StoreUnavailable` (rendered as 503).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from core.users import Item, User


@dataclass(frozen=True, slots=True)
class Attempts:
    """One brute-force counter (H12) after a change: attempts in its window, and when the
    window began (epoch seconds)."""

    count: int
    window_start: float


class UserStore(Protocol):
    async def close(self) -> None: ...

    async def get_user(self, username: str) -> User | None: ...

    async def list_users(self) -> list[User]: ...

    async def add_user(self, user: User) -> None:
        """Raises UserExists."""

    async def update_user(
        self,
        username: str,
        *,
        disabled: bool | None = None,
        scopes: tuple[str, ...] | None = None,
        hashed_password: str | None = None,
        tokens_valid_after: int | None = None,
    ) -> None:
        """Raises UnknownUser."""

    async def delete_user(self, username: str) -> None:
        """Deletes the user and their items. Raises UnknownUser."""

    async def add_item(self, item: Item) -> None:
        """Raises UnknownUser (no such owner) or DuplicateItem."""

    async def items_for(self, owner: str) -> list[Item]:
        """The owner's items ordered by item_id."""

    async def is_empty(self) -> bool: ...

    # H12: login-attempt counters, in the store's database so that every instance shares them.
    async def add_attempt(self, keys: Sequence[str], now: float, window: float) -> list[Attempts]:
        """Atomically, for every key in one transaction: a key with no row, or whose window
        began at or before `now - window`, starts a new window (`now`, count 1); any other
        adds 1. The counters after the change, in key order."""

    async def remove_attempt(self, keys: Sequence[str], window_starts: Sequence[float]) -> None:
        """Undo one count for each key whose window is still the one given (never below 0):
        a login that succeeded is not a failure."""

    async def purge_attempts(self, before: float) -> int:
        """Delete the counters whose window began before `before`; how many."""
