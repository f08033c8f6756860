"""Baselines: the JSON of GET /status/, /users/me/ and /users/me/items/ with no auth at all, as
a raw ASGI app (the floor); and the paths and bodies each framework's bare endpoint
(`impl_<name>/bare.py`, each framework's own limit) answers: its plainest way to answer these
paths (no response models, no dependencies, no OpenAPI document, no middleware), with the same
bodies as the real implementations give johndoe.
"""

from __future__ import annotations

import json
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
