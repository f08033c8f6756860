"""Baselines: the JSON of GET /status/, /users/me/ and /users/me/items/ with no auth at all, as
a raw ASGI app (the floor) and as a bare endpoint of each framework (each framework's own limit).

Each bare app is the framework's plainest way to answer these paths: no response models, no
dependencies, no OpenAPI document, no middleware; the same bodies as the real implementations
give johndoe. The framework apps are built on first access (`bench.baseline:bare_litestar`
as uvicorn imports it), so that a server imports only its own framework.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

STATUS_PATH, ME_PATH, ITEMS_PATH = "/status/", "/users/me/", "/users/me/items/"
STATUS: dict[str, str] = {"status": "ok"}
ME: dict[str, Any] = {
    "username": "johndoe",
    "email": "johndoe@example.com",
    "full_name": "John Doe",
    "disabled": False,
}
ITEMS: list[dict[str, str]] = [{"item_id": "Foo", "owner": "johndoe"}]
#: What each read path answers johndoe: the bench checks every target against these.
BODIES: dict[str, Any] = {STATUS_PATH: STATUS, ME_PATH: ME, ITEMS_PATH: ITEMS}

Scope = dict[str, Any]


#: Made once: json.dumps with any non-default argument builds a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def json_bytes(value: object) -> bytes:
    return _ENCODER.encode(value).encode()


_RAW = {path: json_bytes(body) for path, body in BODIES.items()}
_NOT_FOUND = json_bytes({"detail": "Not Found"})


async def lifespan(receive: Any, send: Any) -> None:
    """The ASGI lifespan protocol with nothing to start or stop."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def send_body(send: Any, status: int, body: bytes, headers: list[Any] | None = None) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def raw_asgi(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    body = _RAW.get(scope["path"])
    await send_body(send, 404 if body is None else 200, _NOT_FOUND if body is None else body)


def make_bare_fastapi() -> Any:
    from fastapi import FastAPI

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

    return app


def make_bare_litestar() -> Any:
    from litestar import Litestar, get

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
    return Litestar(route_handlers=[status, me, items], openapi_config=None, logging_config=None)


def make_bare_starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def status(_: Request) -> JSONResponse:
        return JSONResponse(STATUS)

    async def me(_: Request) -> JSONResponse:
        return JSONResponse(ME)

    async def items(_: Request) -> JSONResponse:
        return JSONResponse(ITEMS)

    return Starlette(
        routes=[Route(STATUS_PATH, status), Route(ME_PATH, me), Route(ITEMS_PATH, items)]
    )


_FACTORIES: dict[str, Callable[[], Any]] = {
    "bare_fastapi": make_bare_fastapi,
    "bare_litestar": make_bare_litestar,
    "bare_starlette": make_bare_starlette,
}
_BUILT: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    if name not in _FACTORIES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _BUILT:
        _BUILT[name] = _FACTORIES[name]()
    return _BUILT[name]
