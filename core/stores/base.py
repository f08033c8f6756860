"""The store port: what the core needs from wherever users and items live.

Every method is async so that a networked store (PostgreSQL, later) slots in unchanged.
A store that cannot be reached raises `core.errors.StoreUnavailable` (rendered as 503).
"""

from __future__ import annotations

from typing import Protocol

from core.users import Item, User


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
