"""BodyLimit with a tiny raw ASGI app: 413 before the app runs, bodies replayed intact."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.asgi import MAX_BODY_BYTES, BodyLimit, Message, Receive, Scope, Send, send_json
from core.errors import ArenaError
from core.profiles import ErrorResponse, TutorialProfile

LIMIT = 10
TOO_LARGE = {
    "status": 413,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"35")],
    "body": b'{"detail":"Request body too large"}',
}


class EchoApp:
    """Reads the whole body, answers it back, and notes what it saw."""

    def __init__(self) -> None:
        self.calls: list[Scope] = []
        self.extra: list[Message] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls.append(scope)
        if scope["type"] != "http":
            self.extra.append(await receive())
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.extra.append(await receive())  # what comes after the body: the client's disconnect
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


class Client:
    """Feeds messages to the app one by one and records the answer."""

    def __init__(self, messages: list[Message]) -> None:
        self.messages = list(messages)
        self.received = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        self.received += 1
        if self.messages:
            return self.messages.pop(0)
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    def answer(self) -> dict[str, Any]:
        start, body = self.sent
        assert start["type"] == "http.response.start"
        assert body["type"] == "http.response.body"
        return {"status": start["status"], "headers": start["headers"], "body": body["body"]}


def http_scope(content_length: str | None = None) -> Scope:
    headers = [(b"host", b"test")]
    if content_length is not None:
        headers.append((b"content-length", content_length.encode()))
    return {"type": "http", "method": "POST", "path": "/token", "headers": headers}


def chunks(*parts: bytes) -> list[Message]:
    return [
        {"type": "http.request", "body": part, "more_body": index < len(parts) - 1}
        for index, part in enumerate(parts)
    ]


def render(error: Exception) -> ErrorResponse:
    assert isinstance(error, ArenaError)
    return TutorialProfile().render(error)


def limited(app: EchoApp, limit: int = LIMIT) -> BodyLimit:
    return BodyLimit(app, render, limit)


def test_default_limit() -> None:
    assert MAX_BODY_BYTES == 65536
    assert BodyLimit(EchoApp(), render).limit == 65536


@pytest.mark.parametrize("declared", ["11", "65537", " 99 "])
async def test_declared_length_over_limit_refused_unread(declared: str) -> None:
    app = EchoApp()
    client = Client(chunks(b"x" * 11))
    await limited(app)(http_scope(declared), client.receive, client.send)
    assert client.answer() == TOO_LARGE
    assert app.calls == []
    assert client.received == 0


@pytest.mark.parametrize(
    ("parts", "reads"),
    [
        ((b"12345", b"67890", b"1", b"never read"), 3),
        ((b"12345678901",), 1),
        ((b"", b"1234567890", b"x", b"never read"), 3),
    ],
)
@pytest.mark.parametrize("declared", [None, "3", "chunked"])
async def test_streamed_body_over_limit_refused(
    parts: tuple[bytes, ...], reads: int, declared: str | None
) -> None:
    # No Content-Length (chunked), one that understates the body, or an unreadable one.
    app = EchoApp()
    client = Client(chunks(*parts))
    await limited(app)(http_scope(declared), client.receive, client.send)
    assert client.answer() == TOO_LARGE
    assert app.calls == []
    # Reading stopped at the chunk that crossed the limit.
    assert client.received == reads
    assert client.messages == chunks(*parts)[reads:]


@pytest.mark.parametrize(
    ("parts", "declared"),
    [
        ((b"",), None),
        ((b"1234567890",), "10"),
        ((b"12345", b"67890"), None),
        ((b"1", b"", b"23", b"4567890"), "10"),
        ((b"a=1&b=%20",), "abc"),
    ],
)
async def test_body_within_limit_replayed_intact(
    parts: tuple[bytes, ...], declared: str | None
) -> None:
    app = EchoApp()
    client = Client([*chunks(*parts), {"type": "http.disconnect"}])
    scope = http_scope(declared)
    await limited(app)(scope, client.receive, client.send)
    assert app.calls == [scope]
    assert client.answer() == {"status": 200, "headers": [], "body": b"".join(parts)}
    # After the replayed body, receive() reaches the real client again.
    assert app.extra == [{"type": "http.disconnect"}]


async def test_disconnect_before_the_body_ends() -> None:
    app = EchoApp()
    client = Client([*chunks(b"12", b"34")[:1], {"type": "http.disconnect"}])
    await limited(app)(http_scope(), client.receive, client.send)
    assert app.calls == []
    assert client.sent == []


@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
async def test_other_scopes_pass_through(kind: str) -> None:
    app = EchoApp()
    message = {"type": f"{kind}.connect", "body": b"x" * 100}
    client = Client([message])
    scope: Scope = {"type": kind, "headers": [(b"content-length", b"100")]}
    await limited(app)(scope, client.receive, client.send)
    assert app.calls == [scope]
    assert app.extra == [message]
    assert client.sent == []


async def test_send_json_with_headers() -> None:
    client = Client([])
    await send_json(
        client.send,
        ErrorResponse(405, {"detail": "Method Not Allowed"}, {"Allow": "GET", "Retry-After": "5"}),
    )
    body = b'{"detail":"Method Not Allowed"}'
    assert client.answer() == {
        "status": 405,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"allow", b"GET"),
            (b"retry-after", b"5"),
        ],
        "body": body,
    }
    assert json.loads(body) == {"detail": "Method Not Allowed"}
