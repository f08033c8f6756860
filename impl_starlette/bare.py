"""Starlette's bare endpoint: bench.baseline's paths and JSON in Starlette's plainest way (a
Route list of plain endpoints, no middleware), no auth: what the framework alone costs (the
bench's bare-starlette)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.baseline import ITEMS, ITEMS_PATH, ME, ME_PATH, STATUS, STATUS_PATH


async def status(_: Request) -> JSONResponse:
    return JSONResponse(STATUS)


async def me(_: Request) -> JSONResponse:
    return JSONResponse(ME)


async def items(_: Request) -> JSONResponse:
    return JSONResponse(ITEMS)


app = Starlette(routes=[Route(STATUS_PATH, status), Route(ME_PATH, me), Route(ITEMS_PATH, items)])
