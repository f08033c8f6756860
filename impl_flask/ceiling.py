"""Flask's wiring ceiling (bench/ceiling.py): the real adapter with the core's per-request work
stubbed to constants. core.sync calls Arena.authenticate and Arena.items, the methods stub_core
replaces, so the worker thread's path is stubbed too (and, as they never wait, never crosses
to the event loop)."""

from __future__ import annotations

from bench.ceiling import stub_core
from impl_flask.app import create_app

stub_core()
app = create_app()
