"""ASGI lifespan events for a framework whose app does not take them (Django's ASGI handler
refuses every scope but "http"): what runs at server start and stop, and every other scope
handed on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.asgi import ASGIApp, Receive, Scope, Send

Hook = Callable[[], Awaitable[None]]


class Lifespan:
    def __init__(
        self, app: ASGIApp, startup: Hook | None = None, shutdown: Hook | None = None
    ) -> None:
        self.app = app
        self.startup = startup
        self.shutdown = shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self.startup is not None:
                        await self.startup()
                except Exception as exc:
                    # The server reports it and does not start (a bad key, for one).
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.shutdown is not None:
                    await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
