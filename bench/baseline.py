"""Baselines for the benchmark: the same JSON as GET /users/me/items/ with no auth at all,
as a raw ASGI app (the floor) and as a bare FastAPI endpoint (the framework's own cost)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

ITEMS = [{"item_id": "Foo", "owner": "johndoe"}]
_BODY = json.dumps(ITEMS, separators=(",", ":")).encode()


async def raw_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": _BODY})


bare_fastapi = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@bare_fastapi.get("/users/me/items/")
async def items() -> list[dict[str, str]]:
    return ITEMS
