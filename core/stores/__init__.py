"""User stores behind one async port; `open_store(url)` picks one by URL scheme."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from core.stores.base import MigratingStore, SchemaStatus, SchemaTooNew, UserStore
from core.stores.memory import MemoryStore
from core.stores.postgresql import BadPostgresURL, PostgresStore
from core.stores.redaction import redact, unparsable
from core.stores.sqlite import NoSuchDatabase, SQLiteStore
from core.users import DuplicateItem


class BadDatabaseURL(ValueError):
    pass


def open_store(
    url: str, *, create: bool = True, pool_size: int = 10, timeout: float = 5.0
) -> UserStore:
    """Build the store for `url`; nothing is opened until the first query (H10). With
    `create=False` a SQLite file (or its directory) that does not exist yet is not created: the
    first query raises NoSuchDatabase (for readers, such as `scopes-arena users list`).
    PostgreSQL: at most `pool_size` connections, every call bounded by `timeout` seconds."""
    try:
        scheme = urlsplit(url).scheme
        shown = redact(url)
    except ValueError as exc:  # what cannot be parsed cannot be cleaned of a password either
        raise BadDatabaseURL(unparsable(exc)) from None
    if url == "memory://":
        return MemoryStore()
    if scheme == "sqlite":
        prefix = "sqlite:///"
        if not url.startswith(prefix) or len(url) == len(prefix):
            raise BadDatabaseURL(
                f"bad SQLite URL {shown!r}: use sqlite:///relative/path.db or sqlite:////abs/path.db"
            )
        return SQLiteStore(Path(url[len(prefix) :]), create=create)
    if scheme in {"postgresql", "postgres"}:
        try:
            return PostgresStore(url, pool_size=pool_size, timeout=timeout)
        except BadPostgresURL as exc:
            raise BadDatabaseURL(str(exc)) from None
    raise BadDatabaseURL(
        f"unsupported database URL {shown!r}: expected memory://, sqlite:///path or postgresql://"
    )


__all__ = [
    "BadDatabaseURL",
    "DuplicateItem",
    "MemoryStore",
    "MigratingStore",
    "NoSuchDatabase",
    "PostgresStore",
    "SQLiteStore",
    "SchemaStatus",
    "SchemaTooNew",
    "UserStore",
    "open_store",
]
