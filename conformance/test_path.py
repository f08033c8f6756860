"""PATH: paths are exact, redirects never leave the host, a password is never redirected, the
Host header is checked, static assets answer errors as JSON (CONTRACT.md H14, H7, H8).

httpx normalises paths (it removes dot segments), so these checks send their requests as
written: straight to the ASGI app in-process, over a raw socket to a live server."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import pytest

from conformance.bounded import describe_bytes, read_bounded
from conformance.checks import MUST, PYTHON, check
from conformance.conftest import Target
from conformance.evidence import RECORDER, Exchange, record_raw
from conformance.support import ITEMS, STATUS, USERS_ME, bearer, record_variant

ASSETS = "/docs/assets"
ASSET = f"{ASSETS}/swagger-ui.css"


@dataclass(frozen=True, slots=True)
class Raw:
    """An answer as it came: status, headers in order (names lower-case), body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key == name]
        return values[0] if values else None

    def json(self) -> object:
        return json.loads(self.body)


async def raw_request(
    target: Target,
    method: str,
    path: str,
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
) -> Raw:
    """`method path` exactly as written (`path` may carry a query). A `Host` in `headers`
    replaces the usual one; several are all sent."""
    if target.live:
        return await _over_socket(target, method, path, headers, body)
    answer = await _in_process(target, method, path, headers, body)
    RECORDER.add(
        Exchange(
            method,
            "http://testserver" + path,
            list(headers),
            body,
            answer.status,
            list(answer.headers),
            answer.body,
        )
    )
    return answer


async def _in_process(
    target: Target, method: str, path: str, headers: tuple[tuple[str, str], ...], body: bytes
) -> Raw:
    assert target.app is not None
    raw_path, _, query = path.partition("?")
    names = {name.lower() for name, _ in headers}
    fields = [] if "host" in names else [(b"host", b"testserver")]
    fields += [(name.lower().encode(), value.encode("latin-1")) for name, value in headers]
    if body:
        fields.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        # As uvicorn fills them: the path percent-decoded, raw_path as sent.
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "headers": fields,
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
    }
    messages: list[dict[str, object]] = []
    sent_body = False

    async def receive() -> dict[str, object]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, object]) -> None:
        messages.append(message)

    await target.app(scope, receive, send)
    start = next(message for message in messages if message["type"] == "http.response.start")
    raw_headers = start.get("headers", [])
    assert isinstance(raw_headers, list)
    bodies = [message.get("body", b"") for message in messages]
    content = b"".join(
        bytes(body)
        for message, body in zip(messages, bodies, strict=True)
        if message["type"] == "http.response.body" and isinstance(body, bytes | bytearray)
    )
    status = start["status"]
    assert isinstance(status, int)
    return Raw(
        status,
        tuple(
            (name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in raw_headers
        ),
        content,
    )


async def _over_socket(
    target: Target, method: str, path: str, headers: tuple[tuple[str, str], ...], body: bytes
) -> Raw:
    assert target.url is not None
    url = urlsplit(target.url)
    assert url.hostname is not None
    reader, writer = await asyncio.open_connection(url.hostname, url.port or 80)
    try:
        names = {name.lower() for name, _ in headers}
        lines = [f"{method} {path} HTTP/1.1"]
        if "host" not in names:
            lines.append(f"Host: {url.netloc}")
        lines += [f"{name}: {value}" for name, value in headers]
        lines += ["Connection: close", f"Content-Length: {len(body)}", "", ""]
        sent = "\r\n".join(lines).encode("latin-1") + body
        writer.write(sent)
        await writer.drain()
        data = await read_bounded(reader, timeout=30)
    finally:
        writer.close()
    record_raw(target.url, sent, data)
    assert data.startswith(b"HTTP/1."), f"expected an HTTP answer, got {describe_bytes(data)}"
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    parsed = tuple(
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(":") for line in header_lines)
    )
    answer = Raw(status, parsed, rest)
    if method == "HEAD":
        return Raw(status, parsed, b"")
    if (answer.header("transfer-encoding") or "").lower() == "chunked":
        return Raw(status, parsed, _dechunk(rest))
    length = answer.header("content-length")
    return Raw(status, parsed, rest if length is None else rest[: int(length)])


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out


def got(answer: Raw) -> str:
    """What came back, in one line: status, content type, the start of the body."""
    content_type = answer.header("content-type")
    body = answer.body[:300].decode("utf-8", "backslashreplace")
    return f"{answer.status} ({content_type or 'no content-type'}) {body!r}"


def assert_raw_error(answer: Raw, status: int, detail: str) -> None:
    expected = f"{status} {json.dumps({'detail': detail})}"
    assert answer.status == status, f"expected {expected}, got {got(answer)}"
    assert (answer.header("content-type") or "").startswith("application/json"), (
        f"expected {expected} as application/json, got {got(answer)}"
    )
    try:
        body = answer.json()
    except ValueError:
        body = None
    assert body == {"detail": detail}, f"expected {expected}, got {got(answer)}"


def auth(target: Target) -> tuple[tuple[str, str], ...]:
    return tuple(bearer(target.mint()).items())


NOT_FOUND = "Not Found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "//status/"),
        ("GET", "/users//me/"),
        ("GET", "/users/me//"),
        ("GET", "/status//"),
        ("GET", "//users/me/items/"),
        ("POST", "//token"),
        ("GET", f"{ASSETS}//swagger-ui.css"),
        ("GET", "/docs//assets/swagger-ui.css"),
    ],
)
@check("PATH-001", MUST, "CONTRACT H14", "repeated slashes: 404, never the route they collapse to")
async def test_repeated_slashes(target: Target, method: str, path: str) -> None:
    answer = await raw_request(target, method, path, auth(target))
    assert_raw_error(answer, 404, NOT_FOUND)


@pytest.mark.parametrize(
    "path",
    [
        "/users/./me/",
        "/status/.",
        "/users/me/../me/",
        "/users/%2e/me/",
        "/users/me/%2E%2E/me/items/",
        "/nope/../status/",
        f"{ASSETS}/./swagger-ui.css",
        f"{ASSETS}/%2e%2e/assets/swagger-ui.css",
    ],
)
@check("PATH-002", MUST, "CONTRACT H14", "dot segments, plain or percent-encoded: 404")
async def test_dot_segments(target: Target, path: str) -> None:
    answer = await raw_request(target, "GET", path, auth(target))
    assert_raw_error(answer, 404, NOT_FOUND)


@pytest.mark.parametrize(
    "path",
    [
        "/users%2Fme/",
        "/users%2fme%2fitems/",
        "/status%2F",
        "/users/me%2F",
        "/users%5Cme/",
        f"{ASSETS}%2Fswagger-ui.css",
        "/docs%2Fassets/swagger-ui.css",
    ],
)
@check(
    "PATH-003",
    MUST,
    "CONTRACT H14",
    "encoded separators (%2F, %5C): 404, never decoded into a route",
)
async def test_encoded_separators(target: Target, path: str) -> None:
    answer = await raw_request(target, "GET", path, auth(target))
    assert_raw_error(answer, 404, NOT_FOUND)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/token/"),
        ("GET", "/token/"),
        ("GET", "/openapi.json/"),
        ("GET", "/docs/"),
        ("GET", f"{ASSET}/"),
        ("GET", f"{ASSETS}/"),
        ("GET", ASSETS),
        ("GET", "/users/me/items/Foo/"),
    ],
)
@check(
    "PATH-004",
    MUST,
    "CONTRACT H14",
    "a trailing slash the route does not have (and the asset directory): 404, not a redirect",
)
async def test_added_trailing_slash(target: Target, method: str, path: str) -> None:
    headers = auth(target)
    if method == "POST":
        headers += (("Content-Type", "application/x-www-form-urlencoded"),)
    body = b"username=johndoe&password=secret" if method == "POST" else b""
    answer = await raw_request(target, method, path, headers, body)
    assert_raw_error(answer, 404, NOT_FOUND)


@pytest.mark.parametrize(
    ("path", "slashed"),
    [
        ("/users/me", USERS_ME),
        ("/users/me/items?x=1", f"{ITEMS}?x=1"),
        ("/status", STATUS),
    ],
    ids=["me", "items-query", "status"],
)
@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8443", "127.0.0.1:1"], ids=["evil", "port", "ip"]
)
@check(
    "PATH-005",
    MUST,
    "CONTRACT H14 (framework-dependent points: trailing slash)",
    "a trailing-slash redirect's Location is relative (path and query), never built from Host",
)
async def test_relative_location(
    request: pytest.FixtureRequest, target: Target, path: str, slashed: str, host: str
) -> None:
    answer = await raw_request(target, "GET", path, (("Host", host), *auth(target)))
    if answer.status == 307:
        record_variant(request, "redirect-307")
        assert answer.header("location") == slashed, (
            f"expected Location: {slashed}, got {answer.header('location')!r}: {got(answer)}"
        )
    else:
        record_variant(request, "same-answer")
        assert answer.status == 200, f"expected 200, got {got(answer)}"
        assert answer.header("location") is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/users/me"),
        ("PUT", "/status"),
        ("DELETE", "/users/me/items"),
        ("PATCH", "/users/me"),
        ("POST", "/token/"),
        ("POST", "/docs/"),
    ],
)
@check(
    "PATH-006",
    MUST,
    "CONTRACT H14",
    "no method but GET and HEAD is redirected: 404, or the slash form's own 405",
)
async def test_unsafe_method_never_redirected(target: Target, method: str, path: str) -> None:
    body = b"username=johndoe&password=secret"
    headers = (("Content-Type", "application/x-www-form-urlencoded"), *auth(target))
    answer = await raw_request(target, method, path, headers, body)
    assert answer.header("location") is None, f"expected no redirect, got {got(answer)}"
    assert answer.status in (404, 405), f"expected 404 or 405, got {got(answer)}"
    assert_raw_error(
        answer, answer.status, NOT_FOUND if answer.status == 404 else "Method Not Allowed"
    )


INVALID_HOSTS: list[tuple[tuple[str, str], ...]] = [
    (("Host", "a b"),),
    (("Host", "user@evil.example"),),
    (("Host", "user:pw@evil.example"),),
    (("Host", "evil.example/x"),),
    (("Host", "evil.example:81/x?"),),
    (("Host", "évil.example"),),
    (("Host", "x" * 300),),
    (("Host", "h:port"),),
    (("Host", "[::1"),),
    (("Host", "a.example"), ("Host", "b.example")),
]


@pytest.mark.parametrize(
    "hosts",
    INVALID_HOSTS,
    ids=[
        "space", "userinfo", "userinfo-password", "slash", "path-query", "non-ascii", "long",
        "port-letters", "open-bracket", "two-hosts",
    ],
)  # fmt: skip
@check(
    "PATH-007",
    MUST,
    "CONTRACT H14; RFC 9112 §3.2",
    'several Host headers, or one not host[:port]: 400 {"detail": "Invalid Host header"}',
)
async def test_invalid_host(target: Target, hosts: tuple[tuple[str, str], ...]) -> None:
    answer = await raw_request(target, "GET", STATUS, (*hosts, *auth(target)))
    assert_raw_error(answer, 400, "Invalid Host header")


@pytest.mark.parametrize(
    "host", ["", "localhost:8000", "[::1]:8000", "EXAMPLE.com.", "xn--bcher-kva.example", "h:"]
)
@check(
    "PATH-008",
    MUST,
    "CONTRACT H14",
    "an unusual but valid Host (empty, IP literal, trailing dot...) is answered as any other",
)
async def test_valid_host(target: Target, host: str) -> None:
    answer = await raw_request(target, "GET", "/users/me", (("Host", host), *auth(target)))
    assert answer.status in (200, 307), f"Host {host!r}: expected 200 or 307, got {got(answer)}"
    if answer.status == 307:
        assert answer.header("location") == USERS_ME
    answer = await raw_request(target, "GET", STATUS, (("Host", host), *auth(target)))
    assert answer.status == 200, f"Host {host!r}: expected 200, got {got(answer)}"
    assert answer.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "value",
    ["bytes=abc", "bytes=5-1", "items=0-1", "bytes=999999999-", "bytes=0-3", "bytes=-"],
)
@check(
    "PATH-009",
    MUST,
    "CONTRACT H7, H14; RFC 9110 §14.2",
    "Range on a static asset is ignored: 200 with the whole file, no Accept-Ranges",
    tier=PYTHON,
)
async def test_range_ignored(target: Target, value: str) -> None:
    whole = await raw_request(target, "GET", ASSET)
    assert whole.status == 200, f"GET {ASSET}: expected 200 (the asset), got {got(whole)}"
    answer = await raw_request(target, "GET", ASSET, (("Range", value),))
    assert answer.status == 200, f"GET {ASSET} with Range: {value}: expected 200, got {got(answer)}"
    assert answer.body == whole.body, f"GET {ASSET} with Range: {value}: expected the whole file"
    assert answer.header("accept-ranges") is None
    assert answer.header("content-range") is None


@pytest.mark.parametrize(
    "name",
    [
        "%00",
        "a%00b.css",
        "swagger-ui.css%00",
        "a" * 300,
        "a" * 256,
        "%ff",
        "a%0Ab",
        "..%2F..%2Fcore%2Fdocs.py",
        "..%5C..%5Cpyproject.toml",
        "%2e%2e",
        ".hidden",
        "x/y.css",
        "%C3%A9.css",
    ],
    ids=[
        "nul", "inner-nul", "trailing-nul", "long", "name-max", "byte-ff", "newline",
        "encoded-slash-up", "encoded-backslash-up", "encoded-dots", "hidden", "subdir", "utf8",
    ],
)  # fmt: skip
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@check(
    "PATH-010",
    MUST,
    "CONTRACT H7, H8, H14",
    'an odd static asset name: 404 {"detail": "Not Found"}, never a 500',
)
async def test_odd_asset_names(target: Target, method: str, name: str) -> None:
    answer = await raw_request(target, method, f"{ASSETS}/{name}")
    if method == "HEAD":
        assert answer.status == 404, f"HEAD {ASSETS}/{name}: expected 404, got {got(answer)}"
        assert (answer.header("content-type") or "").startswith("application/json"), (
            f"HEAD {ASSETS}/{name}: expected 404 as application/json, got {got(answer)}"
        )
    else:
        assert_raw_error(answer, 404, NOT_FOUND)
