"""Litestar's bare endpoint: bench.baseline's paths and JSON in Litestar's plainest way (no
response models, dependencies, OpenAPI document or middleware), no auth: what the framework
alone costs (the bench's bare-litestar)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, get

from bench.baseline import ITEMS, ITEMS_PATH, ME, ME_PATH, STATUS, STATUS_PATH


@get(STATUS_PATH)
async def status() -> dict[str, str]:
    return STATUS


@get(ME_PATH)
async def me() -> dict[str, Any]:
    return ME


@get(ITEMS_PATH)
async def items() -> list[dict[str, str]]:
    return ITEMS


# As in the real implementation: the app leaves the process's logging alone.
app = Litestar(route_handlers=[status, me, items], openapi_config=None, logging_config=None)
