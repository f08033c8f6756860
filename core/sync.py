"""The core for a synchronous (WSGI) framework: `SyncArena`, Arena's use cases as plain calls
from the worker threads of a WSGI bridge (a2wsgi) under an ASGI server. It calls Arena's own
methods, so every rule is the one the async adapters meet: no second copy of any check.

The core's state (the store's connections, the login queue, a cache's pending loads) belongs
to one event loop: the ASGI server's, beside which the bridge runs the WSGI app in a thread
pool.

- A read (`authenticate`, `items`) runs in the calling thread for as long as the core waits for
  nothing. On warm caches that is the whole call: no thread crossed, a few microseconds. Where
  it would wait (a cache miss, so a store query), the core first yields to the loop
  (core.cache), and the rest of the call is handed to the loop there; the thread waits for it.
  What runs in the thread is what runs before any wait: the bearer credentials (the body too,
  where the profile reads it, so a `Credentials.read_body` may read the thread's request),
  the token checks and cache lookups, whose shared state is safe across threads (core.cache,
  core.tokens).
- A login runs on the loop from the start (it waits for the store and the password queue).
- `asgi(app)` is what the server runs: lifespan starts and closes the Arena as the other
  adapters' frameworks do, and each request tells which loop serves the app.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from core.asgi import ASGIApp, Receive, Scope, Send
from core.credentials import Credentials
from core.forms import TokenRequest
from core.passwords import default_workers
from core.ratelimit import Peer
from core.service import Arena
from core.settings import Settings
from core.users import User

T = TypeVar("T")

#: Worker threads beyond those the logins may hold, so that reads go on while logins wait (H11).
READ_THREADS = 8


class SyncArena:
    def __init__(self, arena: Arena) -> None:
        self.arena = arena
        self.render = arena.render
        self.read_token_request = arena.read_token_request
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def threads(self) -> int:
        """How many worker threads the WSGI bridge needs: one for each login the password queue
        admits (each waits in its thread for its check), and READ_THREADS more."""
        return worker_threads(self.arena.settings)

    def asgi(self, app: ASGIApp) -> ASGIApp:
        """`app`, the bridged WSGI app, as the ASGI app to serve (inside core.asgi.Guard)."""

        async def serve(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "lifespan":
                await self._lifespan(receive, send)
                return
            # One loop serves an app (every ASGI server works so); set per request, as a
            # request is how a thread's calls find it, with or without lifespan events (H10).
            self._loop = asyncio.get_running_loop()
            await app(scope, receive, send)

        return serve

    def authenticate(
        self, credentials: Credentials, required: Sequence[str] = (), *, active: bool = False
    ) -> User:
        """Arena.authenticate, from a worker thread."""
        return self._read(self.arena.authenticate(credentials, required, active=active))

    def items(self, user: User) -> list[dict[str, str]]:
        """Arena.items, from a worker thread."""
        return self._read(self.arena.items(user))

    def login(self, form: TokenRequest, peer: Peer | None = None) -> dict[str, Any]:
        """Arena.login, from a worker thread (on the loop: it always waits)."""
        return self._on_loop(self.arena.login(form, peer))

    def _read(self, call: Coroutine[Any, Any, T]) -> T:
        """Run `call` here up to the first time it would wait, then on the loop."""
        try:
            waits_for = call.send(None)
        except StopIteration as done:
            result: T = done.value
            return result
        if waits_for is not None:
            # A future: only a thread running an event loop of its own gets one this far.
            call.close()
            raise RuntimeError("SyncArena is for threads without an event loop: await Arena")
        # Suspended at the core's checkpoint (a bare yield): the loop's task resumes it there.
        return self._on_loop(call)

    def _on_loop(self, call: Coroutine[Any, Any, T]) -> T:
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is not None:
            call.close()
            raise RuntimeError(
                "SyncArena is called from a worker thread of the app that `asgi()` serves"
            )
        return asyncio.run_coroutine_threadsafe(call, loop).result()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.arena.start()
                except BaseException:
                    # As Starlette's router does: the server says why, and does not start.
                    failed = {"type": "lifespan.startup.failed"}
                    await send({**failed, "message": traceback.format_exc()})
                    raise
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.arena.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def worker_threads(settings: Settings) -> int:
    """The worker threads of a WSGI bridge serving an Arena with these settings (a bare app
    served the same way asks too)."""
    return (settings.password_workers or default_workers()) + settings.login_queue + READ_THREADS
