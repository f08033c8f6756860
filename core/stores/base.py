"""The store port: what the core needs from wherever users and items live.

Every method is async so that a networked store (PostgreSQL, later) slots in unchanged.
A store that cannot be reached raises `core.errors.StoreUnavailable` (rendered as 503).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from core.errors import StoreUnavailable
from core.users import Item, User

#: What each schema version brings, for `scopes-arena db status`; the same versions in every
#: store with a schema (SQLite's MIGRATIONS and PostgreSQL's, one entry per version).
MIGRATION_NOTES = (
    "users and items",
    "users.tokens_valid_after: tokens issued before it are refused (H13)",
    "login_attempts: brute-force counters (H12)",
    "login_attempts(window_start) index: the purge of expired counters (H12)",
)
SCHEMA_VERSION = len(MIGRATION_NOTES)
#: Expired H12 counters deleted per statement (each its own transaction): a purge never holds
#: the store (SQLite's one worker thread, a PostgreSQL lock) for long, whatever it deletes.
PURGE_BATCH = 1000


class SchemaTooNew(StoreUnavailable):
    """The database was written by a newer version of this code: refused, never downgraded."""

    def __init__(self, found: int, where: str = "") -> None:
        super().__init__(
            f"{where + ': ' if where else ''}database schema version {found} is newer than "
            f"this code's ({SCHEMA_VERSION}): upgrade scopes-arena"
        )
        self.found = found


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """`scopes-arena db status`: where the database is (no password), the version found there
    (0: none yet), this code's version, and the migrations an upgrade would apply."""

    where: str
    found: int
    current: int = SCHEMA_VERSION

    @property
    def pending(self) -> tuple[str, ...]:
        return tuple(
            f"v{n}: {MIGRATION_NOTES[n - 1]}" for n in range(self.found + 1, self.current + 1)
        )


@dataclass(frozen=True, slots=True)
class Attempts:
    """One brute-force counter (H12) after a change: attempts in its window, and when the
    window began (epoch seconds)."""

    count: int
    window_start: float


class AttemptsRefused(Exception):
    """`add_attempt` with limits: a counter has reached its limit, so nothing was counted (and
    nothing written). `attempts`: every key's counter as it stands, in key order."""

    def __init__(self, attempts: Sequence[Attempts]) -> None:
        super().__init__("a login-attempt counter has reached its limit")
        self.attempts = tuple(attempts)


def current(found: Attempts | None, now: float, window: float) -> Attempts:
    """A counter as `add_attempt` sees it at `now`: none, or a window over, counts 0."""
    if found is None or found.window_start <= now - window:
        return Attempts(0, now)
    return found


def refuse_over(attempts: Sequence[Attempts], limits: Sequence[int] | None) -> None:
    """AttemptsRefused if any counter has reached its limit."""
    if limits is not None and any(
        attempt.count >= limit for attempt, limit in zip(attempts, limits, strict=True)
    ):
        raise AttemptsRefused(attempts)


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

    async def replace_hash(self, username: str, old: str, new: str) -> bool:
        """Set the user's password hash to `new` only if it is still `old` (compare-and-set, one
        statement): a rehash on login never overwrites a password changed meanwhile. True if
        it did."""

    async def delete_user(self, username: str) -> None:
        """Deletes the user and their items. Raises UnknownUser."""

    async def add_item(self, item: Item) -> None:
        """Raises UnknownUser (no such owner) or DuplicateItem."""

    async def items_for(self, owner: str) -> list[Item]:
        """The owner's items ordered by item_id."""

    async def is_empty(self) -> bool: ...

    async def seed(self, users: Sequence[User], items: Sequence[Item]) -> bool:
        """If the store has no user: add `users`, then `items`, in one transaction (all or
        nothing; two instances seeding at once add them once). True if it did."""

    # H12: login-attempt counters, in the store's database so that every instance shares them.
    async def add_attempt(
        self,
        keys: Sequence[str],
        now: float,
        window: float,
        limits: Sequence[int] | None = None,
    ) -> list[Attempts]:
        """Atomically, for every key in one transaction: a key with no row, or whose window
        began at or before `now - window`, starts a new window (`now`, count 1); any other
        adds 1. The counters after the change, in key order. With `limits` (one per key): if
        any counter has already reached its limit, raise AttemptsRefused and write nothing
        (F8: a refusal leaves no row and takes no write transaction where a read tells)."""

    async def remove_attempt(self, keys: Sequence[str], window_starts: Sequence[float]) -> None:
        """Undo one count for each key whose window is still the one given: a login that
        succeeded is not a failure. A counter back at 0 is deleted (F8: rows are failures),
        so the next failure starts a new window."""

    async def purge_attempts(self, before: float, batch: int = PURGE_BATCH) -> int:
        """Delete the counters whose window began before `before`, at most `batch` rows per
        statement (through an index on the window start); how many."""


@runtime_checkable
class MigratingStore(UserStore, Protocol):
    """A store with a versioned schema (SQLite, PostgreSQL): migrated on first use, or on
    purpose by `scopes-arena db upgrade`."""

    async def schema_status(self) -> SchemaStatus:
        """The version found, without changing anything (nothing created either)."""

    async def upgrade(self) -> SchemaStatus:
        """Apply the pending migrations, each version once (safe with other instances starting
        at the same moment); the status before. SchemaTooNew for a newer database."""
