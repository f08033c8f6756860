"""The SQLite store's files hold password hashes: private to the owner (real files, real modes)."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from core.stores import SQLiteStore
from core.users import User


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def write_a_user(path: Path) -> None:
    store = SQLiteStore(path)
    try:
        await store.add_user(User("bob", "hash"))
        # While the store is open, WAL mode keeps -wal and -shm beside the database.
        for suffix in ("", "-wal", "-shm"):
            file = path.with_name(path.name + suffix)
            assert (file.name, mode(file)) == (file.name, 0o600)
    finally:
        await store.close()


async def test_new_database_and_directory_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "arena.db"
    await write_a_user(path)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


async def test_a_loose_umask_does_not_loosen_the_files(tmp_path: Path) -> None:
    import os

    old = os.umask(0)
    try:
        await write_a_user(tmp_path / "d" / "arena.db")
    finally:
        os.umask(old)
    assert mode(tmp_path / "d") == 0o700


async def test_existing_world_readable_database_is_tightened_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "arena.db"
    await write_a_user(path)
    path.chmod(0o644)
    wal = tmp_path / "arena.db-wal"
    wal.write_bytes(b"")
    wal.chmod(0o666)
    with caplog.at_level(logging.WARNING, logger="core.stores.sqlite"):
        store = SQLiteStore(path)
        try:
            assert [user.username for user in await store.list_users()] == ["bob"]
        finally:
            await store.close()
    assert mode(path) == 0o600
    assert [record.getMessage() for record in caplog.records] == [
        f"{path} was readable by group or others (mode 0644): made it 0600",
        f"{wal} was readable by group or others (mode 0666): made it 0600",
    ]


async def test_private_database_is_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "arena.db"
    await write_a_user(path)
    path.chmod(0o400 | 0o200)
    with caplog.at_level(logging.WARNING, logger="core.stores.sqlite"):
        await write_a_user(tmp_path / "other.db")
        store = SQLiteStore(path)
        try:
            await store.is_empty()
        finally:
            await store.close()
    assert caplog.records == []
