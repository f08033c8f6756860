"""User stores behind one async port; `open_store(url)` picks one by URL scheme."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from core.stores.base import UserStore
from core.stores.memory import MemoryStore
from core.stores.sqlite import SQLiteStore
from core.users import DuplicateItem


class BadDatabaseURL(ValueError):
    pass


def open_store(url: str) -> UserStore:
    """Build the store for `url`; nothing is opened until the first query (H10)."""
    scheme = urlsplit(url).scheme
    if url == "memory://":
        return MemoryStore()
    if scheme == "sqlite":
        prefix = "sqlite:///"
        if not url.startswith(prefix) or len(url) == len(prefix):
            raise BadDatabaseURL(
                f"bad SQLite URL {url!r}: use sqlite:///relative/path.db or sqlite:////abs/path.db"
            )
        return SQLiteStore(Path(url[len(prefix) :]))
    if scheme in {"postgresql", "postgres"}:
        raise BadDatabaseURL(
            "the PostgreSQL store is not implemented yet; use sqlite:/// or memory://"
        )
    raise BadDatabaseURL(
        f"unsupported database URL {url!r}: expected memory://, sqlite:///path or postgresql://"
    )


__all__ = [
    "BadDatabaseURL",
    "DuplicateItem",
    "MemoryStore",
    "SQLiteStore",
    "UserStore",
    "open_store",
]
