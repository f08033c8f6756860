"""core.asgi with tiny raw ASGI apps: BodyLimit (413 before the app runs, bodies replayed intact)
and Guard (exact paths, the Host check, redirects, Range, faults); and, per implementation, that
a 500 is logged exactly once with its traceback."""

from __future__ import annotations

import importlib
import json
import logging
from typing import Any

import httpx
import pytest

from bench.guardcost import Dropping, uvicorn_cycle
from core import registry, service
from core.asgi import (
    EXACT_PATHS,
    MAX_BODY_BYTES,
    BodyLimit,
    Guard,
    Message,
    Receive,
    Scope,
    Send,
    send_json,
)
from core.errors import (
    ArenaError,
    BodyTooLarge,
    InternalError,
    InvalidHost,
    NotFound,
    StoreUnavailable,
)
from core.profiles import ErrorResponse, TutorialProfile
from core.settings import Settings
from core.stores.memory import MemoryStore
from core.tokens import TokenService
from core.users import Item

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


# --- Guard -------------------------------------------------------------------------------------

NOT_FOUND = {
    "status": 404,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"22")],
    "body": b'{"detail":"Not Found"}',
}
INVALID_HOST = {
    "status": 400,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"32")],
    "body": b'{"detail":"Invalid Host header"}',
}


def request_scope(
    raw_path: bytes,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    path: str | None = None,
) -> Scope:
    from urllib.parse import unquote

    return {
        "type": "http",
        "method": method,
        "path": unquote(raw_path.decode("latin-1")) if path is None else path,
        "raw_path": raw_path,
        "query_string": b"",
        "headers": [(b"host", b"testserver")] if headers is None else headers,
    }


class Answering:
    """Answers every request with a fixed start message (and a body), noting what it saw."""

    def __init__(self, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None):
        self.status = status
        self.headers = headers or []
        self.calls: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls.append(scope)
        await receive()
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": b"redirect body"})


async def guarded(app: Any, scope: Scope, body: bytes = b"") -> Client:
    client = Client(chunks(body))
    await Guard(app, render)(scope, client.receive, client.send)
    return client


@pytest.mark.parametrize(
    "raw_path",
    [
        b"//status/", b"/users//me/", b"/status//", b"/users/./me/", b"/users/../status/",
        b"/status/.", b"/users/%2e/me/", b"/users/%2E%2e/status/", b"/users%2Fme/",
        b"/users%2fme/", b"/users%5Cme/", b"/users\\me/", b"/users/me%00/", b"/a%0Ab/",
        b"/%7F", b"/token/", b"/openapi.json/", b"/docs/", b"/", b"/docs/assets",
        b"/docs/assets/", b"/docs/assets/swagger-ui.css/", b"/docs/assets/.hidden",
        b"/docs/assets/" + b"a" * 256, b"/docs/assets/%00", b"/docs/assets/x/y.css",
        b"/docs/assets/%C3%A9.css", b"/docs/assets/-x", b"*", b"",
    ],
)  # fmt: skip
async def test_guard_refuses_inexact_paths_unrouted(raw_path: bytes) -> None:
    app = Answering()
    client = await guarded(app, request_scope(raw_path, path=raw_path.decode("latin-1")))
    assert client.answer() == NOT_FOUND
    assert app.calls == []


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/token", b"/users/me/", b"/users/me", b"/users/me/items/", b"/users/me/items",
        b"/status/", b"/status", b"/openapi.json", b"/docs", b"/docs/assets/swagger-ui.css",
        b"/docs/assets/favicon-32x32.png", b"/docs/assets/" + b"a" * 255, b"/nope",
        b"/users/%6De/", b"/%C3%A9",
    ],
)  # fmt: skip
async def test_guard_passes_exact_paths(raw_path: bytes) -> None:
    app = Answering()
    client = await guarded(app, request_scope(raw_path))
    assert client.answer()["status"] == 200
    assert len(app.calls) == 1


async def test_guard_without_raw_path_judges_the_path() -> None:
    scope = request_scope(b"/x")
    del scope["raw_path"]
    for path, status in (("/users//me/", 404), ("/users/./me/", 404), ("/users/me/", 200)):
        app = Answering()
        client = await guarded(app, {**scope, "path": path})
        assert client.answer()["status"] == status


async def test_guard_follows_the_root_path() -> None:
    for raw_path, status in (
        (b"/api/users/me/", 200),
        (b"/api//users/me/", 404),
        (b"/api/docs/", 404),
    ):
        app = Answering()
        client = await guarded(app, {**request_scope(raw_path), "root_path": "/api"})
        assert client.answer()["status"] == status
    app = Answering(307, [(b"location", b"http://evil.example/api/users/me/")])
    client = await guarded(app, {**request_scope(b"/api/users/me"), "root_path": "/api"})
    assert client.answer()["headers"] == [(b"location", b"/api/users/me/")]
    app = Answering(307, [(b"location", b"http://evil.example/users/me/")])
    client = await guarded(app, {**request_scope(b"/api/users/me"), "root_path": "/api"})
    assert client.answer() == NOT_FOUND


@pytest.mark.parametrize(
    "hosts",
    [
        [b"a b"], [b"user@evil.example"], [b"evil.example/x"], [b"\xc3\xa9vil.example"],
        [b"x" * 260], [b"h:port"], [b"[::1"], [b"a.example", b"b.example"], [b"a", b"a"],
        [b"%zz"],
    ],
)  # fmt: skip
async def test_guard_refuses_invalid_hosts(hosts: list[bytes]) -> None:
    app = Answering()
    headers = [(b"host", host) for host in hosts]
    client = await guarded(app, request_scope(b"/status/", headers=headers))
    assert client.answer() == INVALID_HOST
    assert app.calls == []


@pytest.mark.parametrize(
    "headers",
    [
        [(b"host", b"")], [(b"host", b"localhost:8000")], [(b"host", b"[::1]:8000")],
        [(b"host", b"EXAMPLE.com.")], [(b"host", b"h:")], [(b"host", b"a%20b")],
        [(b"host", b"x" * 259)], [],
    ],
)  # fmt: skip
async def test_guard_passes_valid_or_absent_host(headers: list[tuple[bytes, bytes]]) -> None:
    app = Answering()
    client = await guarded(app, request_scope(b"/status/", headers=headers))
    assert client.answer()["status"] == 200


@pytest.mark.parametrize(
    ("location", "relative"),
    [
        (b"http://evil.example/users/me/", b"/users/me/"),
        (b"https://evil.example:8443/users/me/items/?x=1&y=%20", b"/users/me/items/?x=1&y=%20"),
        (b"/status/", b"/status/"),
        (b"//evil.example/status/", b"/status/"),
    ],
)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_guard_makes_redirects_relative(
    location: bytes, relative: bytes, status: int, method: str
) -> None:
    app = Answering(status, [(b"location", location), (b"content-length", b"13")])
    client = await guarded(app, request_scope(b"/users/me", method=method))
    answer = client.answer()
    assert answer["status"] == status
    assert answer["headers"] == [(b"location", relative), (b"content-length", b"13")]
    assert answer["body"] == b"redirect body"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_guard_never_redirects_other_methods(method: str) -> None:
    app = Answering(307, [(b"location", b"http://testserver/users/me/")])
    client = await guarded(app, request_scope(b"/users/me", method=method), b"password=secret")
    # The redirect's body is dropped too: the client gets one start and one body.
    assert client.answer() == NOT_FOUND


@pytest.mark.parametrize(
    "headers",
    [
        [(b"location", b"http://testserver/token")],
        [(b"location", b"/docs/assets/")],
        [(b"location", b"http://evil.example/")],
        [(b"location", b"\xff")],
        [],
        [(b"location", b"/status/"), (b"location", b"/users/me/")],
    ],
)
async def test_guard_redirects_only_to_slashed_routes(headers: list[tuple[bytes, bytes]]) -> None:
    app = Answering(307, headers)
    client = await guarded(app, request_scope(b"/status"))
    assert client.answer() == NOT_FOUND


async def test_guard_leaves_other_answers_alone() -> None:
    # 304 carries no Location; it is not a redirect.
    app = Answering(304, [(b"etag", b'"x"'), (b"accept-ranges", b"bytes")])
    client = await guarded(app, request_scope(b"/docs/assets/swagger-ui.css"))
    assert client.answer() == {
        "status": 304,
        "headers": [(b"etag", b'"x"')],
        "body": b"redirect body",
    }


async def test_guard_ignores_range() -> None:
    app = Answering(200, [(b"Accept-Ranges", b"bytes"), (b"content-type", b"text/css")])
    headers = [(b"host", b"t"), (b"range", b"bytes=abc"), (b"If-Range", b'"x"'), (b"a", b"1")]
    client = await guarded(app, request_scope(b"/docs/assets/swagger-ui.css", headers=headers))
    assert app.calls[0]["headers"] == [(b"host", b"t"), (b"a", b"1")]
    assert client.answer()["headers"] == [(b"content-type", b"text/css")]


async def test_guard_keeps_the_body_limit() -> None:
    app = Answering()
    client = await guarded(app, request_scope(b"//x", method="POST"), b"x" * (MAX_BODY_BYTES + 1))
    assert client.answer()["status"] == 413
    assert app.calls == []


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_guard_answers_a_fault_once(method: str) -> None:
    seen: list[Exception] = []

    def counting(error: Exception) -> ErrorResponse:
        seen.append(error)
        return TutorialProfile().render(error if isinstance(error, ArenaError) else InternalError())

    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    client = Client(chunks(b""))
    await Guard(broken, counting)(
        request_scope(b"/status/", method=method), client.receive, client.send
    )
    answer = client.answer()
    assert answer["status"] == 500
    assert answer["body"] == (b"" if method == "HEAD" else b'{"detail":"Internal Server Error"}')
    assert [type(error) for error in seen] == [RuntimeError]


async def test_guard_fault_after_the_answer_started() -> None:
    seen: list[Exception] = []

    def counting(error: Exception) -> ErrorResponse:
        seen.append(error)
        return render(InternalError())

    async def half(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("mid-body")

    client = Client(chunks(b""))
    await Guard(half, counting)(request_scope(b"/status/"), client.receive, client.send)
    assert client.sent == [{"type": "http.response.start", "status": 200, "headers": []}]
    assert len(seen) == 1


@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
async def test_guard_passes_other_scopes(kind: str) -> None:
    app = EchoApp()
    client = Client([{"type": f"{kind}.connect"}])
    scope: Scope = {"type": kind, "path": "//x", "headers": [(b"host", b"a b")]}
    await Guard(app, render)(scope, client.receive, client.send)
    assert app.calls == [scope]


# --- every 500 logged once, per implementation --------------------------------------------------

KEY = "asgi-test-key-0123456789abcdef0123456789abcdef"


class ExplodingStore(MemoryStore):
    """A real store whose items query fails as a bug would."""

    async def items_for(self, owner: str) -> list[Item]:
        raise RuntimeError("store exploded")


@pytest.mark.parametrize("name", registry.IMPLEMENTATIONS)
async def test_a_500_is_logged_once_with_its_traceback(
    name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(service, "open_store", lambda url, **_: ExplodingStore())
    settings = Settings(secret_key=KEY, database_url="memory://", demo_users=True)
    app = importlib.import_module(f"impl_{name}.app").create_app(settings)
    token = TokenService(KEY.encode, 60).issue("johndoe", ("me", "items")).access_token
    caplog.set_level(logging.DEBUG)
    transport = httpx.ASGITransport(app=app)  # raises what the app raises: none may escape
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(
            "/users/me/items/", headers={"Authorization": f"Bearer {token}"}
        )
        assert (
            await client.get("/status/", headers={"Authorization": f"Bearer {token}"})
        ).status_code == 200
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert "exploded" not in response.text
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1, [record.getMessage() for record in errors]
    record = errors[0]
    assert record.name == "core.service"
    assert record.exc_info is not None
    assert record.exc_info[2] is not None
    text = caplog.text
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: store exploded" in text
    assert text.count("RuntimeError: store exploded") == 1


def test_render_logs_only_500s_with_the_framework_fault_behind_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    arena = service.Arena(Settings(secret_key=KEY, database_url="memory://"))
    caplog.set_level(logging.DEBUG)
    for error in (NotFound(), BodyTooLarge(), InvalidHost(), StoreUnavailable()):
        assert arena.render(error).status != 500
    assert caplog.records == []
    try:
        raise OSError(36, "File name too long")
    except OSError as exc:
        error = InternalError("unexpected framework status 500")
        error.__cause__ = exc  # as the adapters map a framework's own 500
    assert arena.render(error).status == 500
    assert [record.levelno for record in caplog.records] == [logging.ERROR]
    assert "Traceback (most recent call last)" in caplog.text
    assert "OSError: [Errno 36] File name too long" in caplog.text


# ---- Guard's fast path decides as the general path does --------------------------------------

PLAIN_HEADERS: dict[str, list[tuple[bytes, bytes]]] = {
    "none": [],
    "host": [(b"host", b"127.0.0.1:8000")],
    "host and token": [(b"host", b"a.example"), (b"authorization", b"Bearer x")],
    "Host capitalised": [(b"Host", b"a.example")],
    "bad host": [(b"host", b"a b")],
    "host with userinfo": [(b"host", b"u@a.example")],
    "two hosts": [(b"host", b"a.example"), (b"host", b"a.example")],
    "host as bytearray": [(b"host", bytearray(b"a.example"))],
    "a 4-byte name": [(b"date", b"x"), (b"host", b"a.example")],
    "content-length": [(b"host", b"a.example"), (b"content-length", b"0")],
    "Content-Length": [(b"Content-Length", b"5")],
    "transfer-encoding": [(b"transfer-encoding", b"chunked")],
    "a 14-byte name": [(b"accept-charset", b"utf-8")],
    "a 17-byte name": [(b"if-modified-since", b"x")],
}


#: Paths as written (raw), as decoded (None: from raw) and the root path they are served below.
PLAIN_PATHS = [
    (b"/users/me/items/", None, ""),
    (b"/token", None, ""),
    (b"/users/me/items", None, ""),
    (b"/users/me/%69tems/", None, ""),
    (b"/users/me/items/", "/elsewhere", ""),
    (b"/api/users/me/", "/api/users/me/", "/api"),
    (b"/users/me/", None, "/api"),
    (b"/docs/", None, ""),
]


@pytest.mark.parametrize("headers", PLAIN_HEADERS, ids=list(PLAIN_HEADERS))
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "get", "OPTIONS"])
@pytest.mark.parametrize(("raw", "path", "root"), PLAIN_PATHS)
def test_the_fast_path_decides_as_the_general_path(
    headers: str, method: str, raw: bytes, path: str | None, root: str
) -> None:
    """core.asgi._plain (the common case, one pass) takes a request only where the general
    path would: a GET or HEAD of a contract path as written, one valid Host or none, no body
    framing. Anything else goes the general way, whatever it then answers."""
    from core.asgi import (
        UNFRAMED_METHODS,
        _header_facts,
        _is_exact_route,
        _plain,
        _valid_host_value,
    )

    scope = request_scope(raw, method, PLAIN_HEADERS[headers], path)
    scope["root_path"] = root
    hosts, framed, _ = _header_facts(scope)
    host_ok = not hosts or (len(hosts) == 1 and _valid_host_value(hosts[0]))
    general = method in UNFRAMED_METHODS and not framed and host_ok and _is_exact_route(scope)
    fast = _plain(scope)
    # The fast path may leave a request to the general path (a bytearray Host), never the
    # other way round; and it takes every plain request of the usual forms.
    assert not fast or general
    if headers != "host as bytearray":
        assert fast == general


# ---- Under uvicorn, Guard decides the common case inline (the short way) ---------------------


class KeptBytes(Dropping):
    """A transport that keeps what uvicorn's request cycle writes to it."""

    def __init__(self) -> None:
        super().__init__()
        self.data = b""

    def write(self, data: Any) -> None:
        self.data += bytes(data)


class Noting:
    """Answers 200 once it has read the body, noting the scope and `send` it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[Scope, Send]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls.append((scope, send))
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def as_uvicorn_has_it(scope: Scope) -> Scope:
    """`scope` as uvicorn builds it: header names in lower case, values as bytes, a root path."""
    headers = [(bytes(name).lower(), bytes(value)) for name, value in scope["headers"]]
    return {**scope, "headers": headers, "root_path": scope.get("root_path", "")}


async def under_uvicorn(app: Noting, scope: Scope, body: bytes = b"") -> tuple[int, Send]:
    """The status Guard(app) answers `scope` with under uvicorn's own `send`, and that send."""
    transport = KeptBytes()
    cycle = uvicorn_cycle(scope, transport)
    await Guard(app, render)(scope, Client(chunks(body)).receive, cycle.send)
    return int(transport.data.split(b" ", 2)[1]), cycle.send


@pytest.mark.parametrize("headers", PLAIN_HEADERS, ids=list(PLAIN_HEADERS))
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "get", "OPTIONS"])
@pytest.mark.parametrize(("raw", "path", "root"), PLAIN_PATHS)
async def test_the_short_way_answers_as_any_other_server_gets_answered(
    monkeypatch: pytest.MonkeyPatch,
    headers: str,
    method: str,
    raw: bytes,
    path: str | None,
    root: str,
) -> None:
    """Under uvicorn's own `send`, Guard decides the common case inline: it takes exactly the
    requests _plain takes (the general path's header pass runs for all the others), and every
    request is answered as under a plain `send`, the framework seeing the same request."""
    import core.asgi

    general: list[Scope] = []
    header_facts = core.asgi._header_facts

    def noted(scope: Scope) -> Any:
        general.append(scope)
        return header_facts(scope)

    scope = as_uvicorn_has_it(
        {**request_scope(raw, method, PLAIN_HEADERS[headers], path), "root_path": root}
    )
    monkeypatch.setattr(core.asgi, "_header_facts", noted)
    server_app, plain_app = Noting(), Noting()
    status, _ = await under_uvicorn(server_app, dict(scope))
    took_the_short_way = not general
    monkeypatch.undo()
    assert took_the_short_way == core.asgi._plain(scope)
    client = Client(chunks(b""))
    await Guard(plain_app, render)(dict(scope), client.receive, client.send)
    assert status == client.sent[0]["status"]
    assert [seen["headers"] for seen, _ in server_app.calls] == [
        seen["headers"] for seen, _ in plain_app.calls
    ]


@pytest.mark.parametrize("path", sorted(EXACT_PATHS))
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(
    "headers",
    [[], [(b"host", b"127.0.0.1:8000")], [(b"host", b"a.example"), (b"authorization", b"x")]],
)
async def test_plain_requests_take_the_short_way_under_uvicorn(
    monkeypatch: pytest.MonkeyPatch, path: str, method: str, headers: list[tuple[bytes, bytes]]
) -> None:
    """A GET or HEAD of a contract path as written, with nothing to refuse in its headers,
    reaches the framework with uvicorn's own `send` and the scope as it came, and neither
    _plain nor the general path's header pass runs for it."""
    import core.asgi

    def not_here(scope: Scope) -> Any:
        raise AssertionError("the short way was not taken")

    monkeypatch.setattr(core.asgi, "_plain", not_here)
    monkeypatch.setattr(core.asgi, "_header_facts", not_here)
    scope = as_uvicorn_has_it(request_scope(path.encode(), method, headers))
    app = Noting()
    status, send = await under_uvicorn(app, scope)
    assert status == 200
    [(seen, seen_send)] = app.calls
    assert seen is scope
    assert getattr(seen_send, "__self__", None) is send.__self__  # type: ignore[attr-defined]
