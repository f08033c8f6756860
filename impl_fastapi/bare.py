"""FastAPI's bare endpoint: bench.baseline's paths and JSON in FastAPI's plainest way (no
response models, dependencies, OpenAPI document or middleware), no auth: what the framework
alone costs (the bench's bare-fastapi)."""

from typing import Any

from fastapi import FastAPI

from bench.baseline import ITEMS, ITEMS_PATH, ME, ME_PATH, STATUS, STATUS_PATH

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get(STATUS_PATH)
async def status() -> dict[str, str]:
    return STATUS


@app.get(ME_PATH)
async def me() -> dict[str, Any]:
    return ME


@app.get(ITEMS_PATH)
async def items() -> list[dict[str, str]]:
    return ITEMS
