"""What a failing case sent and got. Every exchange a check makes through the suite's clients
(and over its raw sockets) is kept while the case runs; when it fails, each becomes evidence: the
request as a command that replays it (a curl line; `printf | nc` for a request sent byte by byte
as written), and the answer's status, the headers that matter and a body excerpt.

Everything a target sent is shown through `safe()`: control and format characters (ESC, BEL,
C1, bidi overrides, zero-width...) are escaped, so no server can drive the reader's terminal."""

from __future__ import annotations

import base64
import shlex
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from rich.markup import escape

#: The headers an answer is judged by; the others are in conformance.json.
HEADERS_THAT_MATTER = (
    "content-type",
    "www-authenticate",
    "location",
    "allow",
    "retry-after",
    "cache-control",
    "pragma",
    "accept-ranges",
    "content-range",
    "connection",
)
#: Request headers httpx adds by itself: left out of the curl line (curl adds its own).
CLIENT_DEFAULTS = frozenset(
    {"host", "accept", "accept-encoding", "connection", "user-agent", "content-length"}
)
#: How much of a body conformance.json keeps per exchange (the answers are read up to
#: conformance.bounded's cap anyway).
KEEP_BYTES = 1024 * 1024
#: The most exchanges kept per case (the last ones: those nearest to the failure).
KEEP_EXCHANGES = 20


def safe(text: str, limit: int | None = None, *, newlines: bool = False) -> str:
    """`text` with every control or format character (Unicode categories Cc, Cf, and the line
    and paragraph separators) shown as an escape, newlines too unless `newlines`; cut at
    `limit`."""
    out: list[str] = []
    for char in text:
        if char == "\n" and newlines:
            out.append(char)
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
        if limit is not None and len(out) > limit:
            return "".join(out[:limit]) + "…"
    return "".join(out)


def _bytes_text(data: bytes, limit: int) -> str:
    text = " ".join(data[:limit].decode("utf-8", errors="backslashreplace").split())
    return safe(text) + (f"… ({len(data)} bytes)" if len(data) > limit else "")


def _shell_bytes(data: bytes) -> str:
    """Bytes as one shell word: plain when printable ASCII, else a $'...' with escapes."""
    if all(0x20 <= b < 0x7F for b in data):
        return shlex.quote(data.decode("ascii"))
    out = []
    for b in data:
        if b in (0x27, 0x5C):
            out.append("\\" + chr(b))
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "$'" + "".join(out) + "'"


@dataclass(slots=True)
class Exchange:
    """One request and its answer (status None: no answer came)."""

    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes = b""
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""
    #: Sent byte by byte as written (a raw socket), not through an HTTP client.
    raw_request: bytes | None = None
    note: str = ""

    def replay(self) -> str:
        """A command that sends this request again."""
        if self.raw_request is not None:
            parts = urlsplit(self.url)
            port = parts.port or 80
            return f"printf %s {_shell_bytes(self.raw_request)} | nc {parts.hostname} {port}"
        words = ["curl", "-sS", "-i"]
        if self.method == "HEAD":
            words.append("-I")
        elif self.method != "GET" or self.request_body:
            words += ["-X", self.method]
        words.append(shlex.quote(self.url))
        for name, value in self.request_headers:
            if name.lower() in CLIENT_DEFAULTS:
                continue
            words += ["-H", _shell_bytes(f"{name}: {value}".encode("utf-8", "surrogateescape"))]
        if self.request_body:
            words += ["--data-binary", _shell_bytes(self.request_body)]
        return " ".join(words)

    def answer(self, limit: int = 300) -> str:
        """Status, the headers that matter, and the start of the body, in one line."""
        if self.status is None:
            return f"no answer ({safe(self.note) or 'the connection closed'})"
        shown = [
            f"{name}: {safe(value, 200)}"
            for name, value in self.response_headers
            if name.lower() in HEADERS_THAT_MATTER
        ]
        body = _bytes_text(self.response_body, limit) if self.response_body else "(empty body)"
        return "; ".join([str(self.status), *shown, body])

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "replay": self.replay(),
            "answer": self.answer(),
            "request": {
                "headers": [[name, value] for name, value in self.request_headers],
                **_body_json(self.request_body),
                **(
                    {}
                    if self.raw_request is None
                    else {"raw_base64": base64.b64encode(self.raw_request[:KEEP_BYTES]).decode()}
                ),
            },
            "response": None
            if self.status is None
            else {
                "status": self.status,
                "headers": [[name, value] for name, value in self.response_headers],
                **_body_json(self.response_body),
            },
            **({"note": self.note} if self.note else {}),
        }


def _body_json(body: bytes) -> dict[str, Any]:
    """A body in JSON: as text when it is UTF-8, else in base64; cut at KEEP_BYTES."""
    kept = body[:KEEP_BYTES]
    data: dict[str, Any] = {"body_bytes": len(body)}
    try:
        data["body"] = kept.decode("utf-8")
    except UnicodeDecodeError:
        data["body_base64"] = base64.b64encode(kept).decode("ascii")
    if len(body) > KEEP_BYTES:
        data["body_truncated"] = True
    return data


def from_request(request: httpx.Request) -> Exchange:
    """A request that got no answer (the connection failed or closed)."""
    try:
        sent = request.content
    except httpx.RequestNotRead:
        sent = b"(streamed body)"
    return Exchange(
        method=request.method,
        url=str(request.url),
        request_headers=[
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
        ],
        request_body=sent,
        note="no answer: the request failed",
    )


def from_response(response: httpx.Response) -> Exchange:
    request = response.request
    try:
        sent = request.content
    except httpx.RequestNotRead:
        sent = b"(streamed body)"
    try:
        got = response.content
    except httpx.ResponseNotRead:
        got = b""
    return Exchange(
        method=request.method,
        url=str(request.url),
        request_headers=[
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
        ],
        request_body=sent,
        status=response.status_code,
        response_headers=[
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
        ],
        response_body=got,
    )


def from_raw(url: str, sent: bytes, received: bytes, note: str = "") -> Exchange:
    """An exchange over a raw socket: the bytes sent, and what came back before it closed."""
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n") if received else []
    status: int | None = None
    if lines and lines[0].startswith("HTTP/"):
        word = lines[0].split(" ", 2)[1:2]
        status = int(word[0]) if word and word[0].isdigit() else None
    headers = [
        (name.strip(), value.strip())
        for name, sep, value in (line.partition(":") for line in lines[1:])
        if sep
    ]
    first = sent.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    method = first[0] if first else "?"
    path = first[1] if len(first) > 1 else "/"
    return Exchange(
        method=method,
        url=url.rstrip("/") + path if path.startswith("/") else url,
        request_headers=[],
        raw_request=sent,
        status=status,
        response_headers=headers,
        response_body=body if status is not None else received,
        note=note or ("" if received else "closed without an answer"),
    )


class Recorder:
    """The exchanges of the case now running (the suite runs one case at a time)."""

    def __init__(self) -> None:
        self.items: list[httpx.Request | httpx.Response | Exchange] = []

    def clear(self) -> None:
        self.items.clear()

    def add(self, item: httpx.Request | httpx.Response | Exchange) -> None:
        if isinstance(item, httpx.Response) and self.items and self.items[-1] is item.request:
            self.items[-1] = item  # the answer to the request just sent
        else:
            self.items.append(item)
        del self.items[:-KEEP_EXCHANGES]

    def exchanges(self) -> list[Exchange]:
        return [
            item
            if isinstance(item, Exchange)
            else from_response(item)
            if isinstance(item, httpx.Response)
            else from_request(item)
            for item in self.items
        ]


RECORDER = Recorder()


def record_raw(url: str, sent: bytes, received: bytes, note: str = "") -> None:
    RECORDER.add(from_raw(url, sent, received, note))


def terminal(text: str) -> str:
    """Text from a target made safe for a Rich console: control characters escaped (newlines
    kept), markup escaped."""
    return escape(safe(text, newlines=True))


def json_text(text: str) -> str:
    """JSON text (json.dumps with ensure_ascii=False) with the control and format characters
    that JSON leaves raw (C1, bidi overrides, zero-width...) written as \\u escapes."""
    return "".join(
        f"\\u{ord(char):04x}"
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") and char != "\n"
        else char
        for char in text
    )
