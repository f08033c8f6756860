"""Flask's bare endpoint (bench/baseline.py): the same paths and JSON as the implementation gives
johndoe, no auth, in Flask's plainest form, served the same way as the implementation: WSGI
through a2wsgi, with as many worker threads."""

from __future__ import annotations

from typing import Any

from a2wsgi import WSGIMiddleware
from flask import Flask

from bench.baseline import ITEMS, ITEMS_PATH, ME, ME_PATH, STATUS, STATUS_PATH
from core.settings import Settings
from core.sync import worker_threads

bare = Flask(__name__, static_folder=None)


@bare.get(STATUS_PATH)
def status() -> dict[str, str]:
    return STATUS


@bare.get(ME_PATH)
def me() -> dict[str, Any]:
    return ME


@bare.get(ITEMS_PATH)
def items() -> list[dict[str, str]]:
    return ITEMS


app = WSGIMiddleware(bare, workers=worker_threads(Settings()))  # type: ignore[arg-type]
