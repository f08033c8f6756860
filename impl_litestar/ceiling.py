"""The wiring ceiling (the bench's ceiling-litestar): this implementation's app with the core's
per-request work stubbed (bench.ceiling.stub_core), in the process that imports this module."""

from bench.ceiling import stub_core
from impl_litestar.app import create_app

stub_core()
app = create_app()
