"""Django's wiring ceiling: the real adapter app with the core's per-request work stubbed
(bench/ceiling.py's `stub_core`: a constant johndoe and items), in this server process only."""

from __future__ import annotations

import impl_django.app
from bench.ceiling import stub_core

stub_core()
app = impl_django.app.create_app()
