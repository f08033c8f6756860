"""Shared fixtures: every test starts from an environment without ARENA_* variables."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_arena_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own ARENA_* settings must not change what the tests see.
    for name in list(os.environ):
        if name.startswith("ARENA_"):
            monkeypatch.delenv(name)
