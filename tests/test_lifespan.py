"""With ASGI lifespan events (uvicorn sends them), every implementation opens at start what it
would otherwise open on first use: the key file and the seeded store."""

from __future__ import annotations

import importlib
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from conformance.servers import IMPLEMENTATIONS
from core.settings import Settings


async def lifespan(app: Any, *events: str) -> list[str]:
    """Drive the app's lifespan through `events` ("startup", "shutdown"); the replies."""
    inbox = [{"type": f"lifespan.{event}"} for event in events]
    replies: list[str] = []

    async def receive() -> dict[str, str]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        replies.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return replies


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
async def test_startup_opens_key_and_store(name: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, demo_users=True, password_profile="cheap")
    app = importlib.import_module(f"impl_{name}.app").create_app(settings)
    assert os.listdir(tmp_path) == []  # building the app touched nothing (H10)
    replies = await lifespan(app, "startup", "shutdown")
    assert replies == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    key = tmp_path / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_bytes().strip()) >= 32
    with sqlite3.connect(tmp_path / "arena.db") as db:
        users = [row[0] for row in db.execute("SELECT username FROM users ORDER BY username")]
    assert users == ["alice", "johndoe"]


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
async def test_unreachable_store_does_not_stop_the_start(name: str, tmp_path: Path) -> None:
    settings = Settings(
        secret_key="k" * 32,
        database_url="sqlite:////proc/no-such-dir/arena.db",
        data_dir=tmp_path,
        password_profile="cheap",
    )
    app = importlib.import_module(f"impl_{name}.app").create_app(settings)
    replies = await lifespan(app, "startup", "shutdown")
    assert replies == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
