"""The core without any framework: a raw ASGI app doing the same auth work as the adapters.

It builds one `core.service.Arena` from the environment (as the implementations do) and, per
request, hands the raw Authorization values and query names to `Arena.authenticate`, then sends
`Arena.items(user)`, `user.public()` or the status as JSON; errors go through `Arena.render`.
POST /token reads the URL-encoded form and calls `Arena.login`. Measured next to
`bench.baseline:raw_asgi`, this isolates what the core itself costs per request.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import msgspec

from bench.baseline import ITEMS_PATH, ME_PATH, STATUS_PATH, json_bytes, send_body
from core import errors, scopes
from core.credentials import Credentials
from core.forms import parse_token_form
from core.service import TOKEN_HEADERS, Arena
from core.settings import Settings
from core.users import User

#: path -> (required scope chain as FastAPI's SecurityScopes orders it, refuse disabled users)
GUARDS: dict[str, tuple[tuple[str, ...], bool]] = {
    STATUS_PATH: ((), False),
    ME_PATH: (scopes.chain([scopes.ME]), True),
    ITEMS_PATH: (scopes.chain([scopes.ITEMS], [scopes.ME]), True),
}
_CONTENT_TYPE = b"content-type"
#: The answer's JSON is not the core's work: encoded with the fastest encoder at hand (msgspec,
#: which Litestar uses), so that what raw-core adds to raw-asgi is the auth work itself.
_ENCODE = msgspec.json.Encoder().encode
_HEADERS = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in TOKEN_HEADERS.items()]


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b""
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class RawCore:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings
        self._arena: Arena | None = None

    @property
    def arena(self) -> Arena:
        # Built on first use: importing this module reads no environment and opens nothing.
        if self._arena is None:
            self._arena = Arena(self.settings)
        return self._arena

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        try:
            status, body, headers = await self._answer(scope, receive)
        except Exception as exc:
            answer = self.arena.render(exc)
            status, body = answer.status, json_bytes(answer.body)
            headers = [(k.lower().encode(), v.encode()) for k, v in answer.headers.items()]
        await send_body(send, status, body, headers)

    async def _answer(
        self, scope: dict[str, Any], receive: Any
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        path, method = scope["path"], scope["method"]
        if path == "/token":
            if method != "POST":
                raise errors.MethodNotAllowed(["POST"])
            form = parse_qsl((await _body(receive)).decode("latin-1"), keep_blank_values=True)
            return 200, json_bytes(await self.arena.login(parse_token_form(form))), _HEADERS
        guard = GUARDS.get(path)
        if guard is None:
            raise errors.NotFound()
        if method != "GET":
            raise errors.MethodNotAllowed(["GET"])
        required, active = guard
        authorization = [
            value.decode("latin-1") for name, value in scope["headers"] if name == b"authorization"
        ]
        user = await self.arena.authenticate(
            Credentials.of(authorization, scope["query_string"]), required, active=active
        )
        return 200, _ENCODE(await self._read(path, user)), []

    async def _read(self, path: str, user: User) -> Any:
        if path == ITEMS_PATH:
            return await self.arena.items(user)
        if path == ME_PATH:
            return user.public()
        return {"status": "ok"}

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.arena.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.arena.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


app = RawCore()
