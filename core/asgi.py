"""Framework-neutral ASGI pieces every adapter wraps its app in, the same way: `Guard`.

`Guard` is what CONTRACT.md fixes about a request before any framework routes it, and about
an answer after the framework gave it, so that the frameworks cannot differ there:

- the request-body limit (`BodyLimit`): at most `limit` bytes are buffered before the app
  runs, so an oversized body gets 413 without being read further (H2);
- the Host header (H14): several Host headers, or one that is not `host[:port]`, get 400;
- exact paths (H14): repeated slashes, dot segments, encoded separators, control characters,
  a trailing slash the route does not have, and odd static asset names get 404 before any
  framework normalises them into a route;
- redirects (H14): a framework's trailing-slash redirect carries a relative Location (never
  one built from the request's Host), leads only to a route of the contract, and no method
  but GET and HEAD is ever redirected (a client would re-send a password to the new URL);
- Range (H7): ignored, as RFC 9110 §14.2 allows, so no static file answers a malformed range
  with a plain-text error; no answer offers `Accept-Ranges`;
- faults (H8): an exception the framework let through is answered 500 JSON here, and not
  raised on to the server, which would log it a second time (`render` logs every 500 once).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from uvicorn.protocols.http import h11_impl, httptools_impl

from core.docs import ASSETS_PATH
from core.errors import BodyTooLarge, InvalidHost, NotFound
from core.profiles import ErrorResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Render = Callable[[Exception], ErrorResponse]

MAX_BODY_BYTES = 64 * 1024
#: The routes whose path ends in a slash (CONTRACT.md "Endpoints"): the only paths that may
#: end in one, and the only places a redirect may lead (the trailing-slash leniency).
SLASHED_ROUTES = frozenset({"/users/me/", "/users/me/items/", "/status/"})
#: A static asset is one file name directly below ASSETS_PATH: what swagger-ui-bundle ships
#: (letters, digits, dots, dashes), at most 255 bytes (NAME_MAX), never hidden or a directory.
ASSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
#: RFC 9110 §7.2 Host = uri-host [ ":" port ], RFC 3986 §3.2.2: an IP literal in brackets or a
#: reg-name (unreserved, pct-encoded, sub-delims; an IPv4 address is one), no userinfo.
HOST = re.compile(
    rb"(?:\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?"
)
#: Longest Host value accepted: a DNS name has at most 253 characters, a port 1 + 5.
MAX_HOST_BYTES = 259
REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: The methods whose request has no body unless Content-Length or Transfer-Encoding frames one.
UNFRAMED_METHODS = frozenset({"GET", "HEAD"})
#: Paths that are exact as they stand (the contract's routes, unencoded): the common case,
#: decided with one lookup. Frameworks answer them without redirecting.
EXACT_PATHS = frozenset({*SLASHED_ROUTES, "/token", "/openapi.json", "/docs"})
#: Each as the request's raw_path has it, to the path it is.
_EXACT_RAW: dict[bytes | None, str] = {path.encode(): path for path in EXACT_PATHS}
#: Request headers no answer depends on (Range, H7) and response headers that would offer it.
IGNORED_REQUEST_HEADERS = frozenset({b"range", b"if-range"})
DROPPED_RESPONSE_HEADERS = frozenset({b"accept-ranges"})


async def send_json(send: Send, response: ErrorResponse, *, head: bool = False) -> None:
    """An error answer; without its body for HEAD (the length is still the GET answer's)."""
    body = json.dumps(response.body, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


class BodyLimit:
    """The body limit alone: at most `limit` bytes buffered, 413 beyond (Guard includes it)."""

    def __init__(self, app: ASGIApp, render: Render, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.render = render
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        _, framed, length = _header_facts(scope)
        replay = await _limited_body(length, framed, scope, receive, send, self.render, self.limit)
        if replay is not None:
            await self.app(scope, replay, send)


def Guard(app: ASGIApp, render: Render, limit: int = MAX_BODY_BYTES) -> ASGIApp:
    """The one wrapper every adapter puts around its framework (see the module's docstring).

    Order, outermost first: faults, the body limit (413 before any 404 or 405), the Host
    check (400), exact paths (404), then the framework with its answers watched for
    redirects.

    Guard runs on every request, so its common case is kept short: one coroutine for the whole
    request, the steps inline in the order above, the headers read once. It is a function
    returning that coroutine function rather than a class, since a server calls the app once
    per request and calling a function costs less than calling an instance. A GET or HEAD of
    one of the contract's own paths as written, with nothing in its headers to refuse, goes
    to the framework as it came. Under uvicorn (its `send` is one of _RECORDING_SENDS) that is
    decided inline, relying on what uvicorn guarantees (an HTTP scope with `raw_path` and
    `root_path`, header names in lower case, values as bytes), and whether the answer has
    started (a fault is answered 500 only before) is read from uvicorn's own record. Under any
    other `send` (another server, or a framework's middleware around Guard) `_plain` decides
    it for any case of header names, and a plain function around `send` notes the start."""

    # What the short way reads on every request, bound here: closure cells of this one
    # coroutine function, read directly, rather than names looked up in the module's and the
    # builtins' dicts on every request.
    recording_sends, exact_raw, valid_hosts, attribute = (
        _RECORDING_SENDS,
        _EXACT_RAW,
        _VALID_HOSTS,
        getattr,
    )

    async def guard(scope: Scope, receive: Receive, send: Send) -> None:
        # The server's `send` records whether the answer has started (_RECORDING_SENDS).
        recording = attribute(send, "__func__", None) in recording_sends
        if recording:
            # uvicorn's own request cycle: an HTTP request, whose header names uvicorn has
            # put in lower case (both of its protocols do). The common case, the short way,
            # is decided here inline (a function call would be a good part of its cost): a
            # GET or HEAD of one of the contract's own paths as written, at most one Host, of
            # a valid form, no Content-Length or Transfer-Encoding, as _plain decides for any
            # server.
            method = scope["method"]
            if (
                (method == "GET" or method == "HEAD")
                and exact_raw.get(scope["raw_path"]) == scope["path"]
                and not scope["root_path"]
            ):
                host = None
                for name, value in scope["headers"]:
                    if name == b"host":
                        if host is not None:
                            break  # a second Host
                        host = value
                    elif name == b"content-length" or name == b"transfer-encoding":
                        break  # a body's framing
                else:
                    if host is None or host in valid_hosts or _valid_host_value(host):
                        # The framework gets the request as it came, and the server's
                        # record says whether a fault can still be answered.
                        try:
                            await app(scope, receive, send)
                        except Exception as exc:
                            response = render(exc)  # logged here, the one log of it
                            if not _answer_started(send):
                                await send_json(send, response, head=method == "HEAD")
                        return
            plain = False  # what the short way left is judged step by step below
        elif scope["type"] != "http":
            await app(scope, receive, send)
            return
        else:
            plain = _plain(scope)
        # Any other request, or another server: the general way.
        started: list[bool] = []  # where the server keeps no record: [True] once it started
        sending = send if recording else _noting(send, started)
        try:
            if plain:
                # Nothing to refuse, no body to buffer, no redirect can come of it and no
                # static file answers it.
                await app(scope, receive, sending)
                return
            hosts, framed, length = _header_facts(scope)
            if framed or scope["method"] not in UNFRAMED_METHODS:
                replay = await _limited_body(length, framed, scope, receive, sending, render, limit)
                if replay is None:
                    return
            else:
                # A GET or HEAD with no Content-Length and no Transfer-Encoding: HTTP/1.1
                # frames no body at all (RFC 9112 §6.3), nothing to buffer or to limit (as
                # _limited_body decides, without a coroutine to await).
                replay = receive
            if hosts and (len(hosts) > 1 or not _valid_host_value(hosts[0])):
                await send_json(sending, render(InvalidHost()), head=scope["method"] == "HEAD")
                return
            if _is_exact_route(scope):
                # One of the contract's own paths as written, with a body (a login).
                await app(scope, replay, sending)
                return
            if not exact_path(scope):
                await send_json(sending, render(NotFound()), head=scope["method"] == "HEAD")
                return
            scope = {**scope, "headers": _request_headers(scope)}
            await app(scope, replay, _redirects(scope, sending, render))
        except Exception as exc:
            # render() logs the 500 with its traceback, the one log of it; once the answer
            # has started there is nothing left to send, and the server closes the connection.
            response = render(exc)
            if not (_answer_started(send) if recording else started):
                await send_json(send, response, head=scope["method"] == "HEAD")

    return guard


def _noting(send: Send, started: list[bool]) -> Send:
    """`send`, appending True to `started` as the answer starts (a fault after that cannot be
    answered); the awaitable of `send` itself, no coroutine frame of its own."""

    def watched(message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            started.append(True)
        return send(message)

    return watched


def _redirects(scope: Scope, send: Send, render: Render) -> Send:
    """`send`, with redirects made relative, and refused (404) where they may not be."""
    safe_method = scope["method"] in ("GET", "HEAD")
    refused = False

    async def guarded(message: Message) -> None:
        nonlocal refused
        if message["type"] == "http.response.start":
            headers = [
                (name, value)
                for name, value in message.get("headers", [])
                if name.lower() not in DROPPED_RESPONSE_HEADERS
            ]
            if message["status"] in REDIRECTS:
                target = relative_location(headers, scope.get("root_path", ""))
                if not safe_method or target is None:
                    refused = True
                    await send_json(send, render(NotFound()), head=scope["method"] == "HEAD")
                    return
                headers = [
                    (name, target if name.lower() == b"location" else value)
                    for name, value in headers
                ]
            message = {**message, "headers": headers}
        elif refused:
            return  # the body of the redirect that was refused
        await send(message)

    return guarded


#: The `send` functions of servers whose request cycle records, in `response_started`, whether
#: the answer has started (set as the first `http.response.start` is taken, before anything can
#: fail), and refuses a second start: uvicorn's two HTTP/1.1 protocols.
_RECORDING_SENDS: frozenset[object] = frozenset(
    {httptools_impl.RequestResponseCycle.send, h11_impl.RequestResponseCycle.send}
)


def _answer_started(send: Send) -> bool:
    """What the request cycle of a `send` in _RECORDING_SENDS records."""
    return bool(send.__self__.response_started)  # type: ignore[attr-defined]


def valid_host(scope: Scope) -> bool:
    """At most one Host header, of RFC 9110's form (H14)."""
    hosts = _header_facts(scope)[0]
    # No Host at all is the server's business (HTTP/1.0 has none; HTTP/1.1 servers refuse its
    # absence themselves).
    return not hosts or (len(hosts) == 1 and _valid_host_value(hosts[0]))


#: Host values found valid (the same few come over and over): a set lookup, not the pattern.
_VALID_HOSTS: set[bytes] = set()
#: At most this many remembered; beyond, a new value is judged each time, never remembered.
_MAX_VALID_HOSTS = 256


def _valid_host_value(host: bytes) -> bool:
    if host in _VALID_HOSTS:
        return True
    valid = len(host) <= MAX_HOST_BYTES and HOST.fullmatch(host) is not None
    if valid and len(_VALID_HOSTS) < _MAX_VALID_HOSTS:
        _VALID_HOSTS.add(host)
    return valid


def _plain(scope: Scope) -> bool:
    """A GET or HEAD of one of the contract's own paths as written (EXACT_PATHS), with at most
    one Host header, of a valid form, and no Content-Length or Transfer-Encoding: what
    _header_facts, _is_exact_route and the Host check would pass, in one pass over the headers
    and with no list built. Most requests are this, so it is written for speed: one dict
    lookup for the path, comparisons rather than hashing for the header names (whose case
    the ASGI spec leaves open), a set lookup for a Host value seen before. (Under uvicorn,
    Guard decides the same inline, its header names being in lower case.)"""
    method = scope["method"]
    if (
        (method != "GET" and method != "HEAD")
        or _EXACT_RAW.get(scope.get("raw_path")) != scope["path"]
        or scope.get("root_path")
    ):
        return False
    host = None
    for name, value in scope.get("headers", ()):
        size = len(name)
        if size == 4 or size == 14 or size == 17:  # host, content-length, transfer-encoding
            name = name.lower()
            if name == b"host" and host is None:
                host = value
            elif name == b"host" or name == b"content-length" or name == b"transfer-encoding":
                return False  # a second Host, or a body's framing
    # (Not bytes, as the ASGI spec has them: left to the general path, which copies them.)
    return host is None or (
        type(host) is bytes and (host in _VALID_HOSTS or _valid_host_value(host))
    )


def _is_exact_route(scope: Scope) -> bool:
    raw = scope.get("raw_path")
    return (
        not scope.get("root_path")
        and scope["path"] in EXACT_PATHS
        and (raw is None or raw in _EXACT_RAW)
    )


def exact_path(scope: Scope) -> bool:
    """The path is one the contract serves as written, or may answer with 404 unrouted (H14):
    no empty, `.` or `..` segment, no encoded `/` or `\\`, no control character; a trailing
    slash only on the routes that have one; below ASSETS_PATH, one plain file name."""
    path: str = scope["path"]
    raw: bytes = scope.get("raw_path") or path.encode("utf-8", "surrogateescape")
    raw = raw.split(b"?", 1)[0]
    # Behind `--root-path /api`, servers put the root path in front of both (ASGI 3): the
    # contract's paths follow it.
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
        raw = raw.removeprefix(root.encode("utf-8", "surrogateescape"))
    if not raw.startswith(b"/") or not path.startswith("/"):
        return False
    segments = raw.split(b"/")[1:]
    for index, segment in enumerate(segments):
        if segment == b"" and index == len(segments) - 1:
            continue  # the trailing slash, judged below
        name = unquote_to_bytes(segment)
        if name in (b"", b".", b"..") or b"/" in name or b"\\" in name:
            return False
        if any(byte < 0x20 or byte == 0x7F for byte in name):
            return False
    if path.endswith("/") and path not in SLASHED_ROUTES:
        return False
    if path == ASSETS_PATH:
        return False
    if path.startswith(f"{ASSETS_PATH}/"):
        return ASSET_NAME.fullmatch(path[len(ASSETS_PATH) + 1 :]) is not None
    return True


def relative_location(headers: list[tuple[bytes, bytes]], root: str = "") -> bytes | None:
    """A redirect's Location as path and query, if it leads to a route that may be redirected
    to (SLASHED_ROUTES, below the root path); None if it leads anywhere else or is not there."""
    locations = [value for name, value in headers if name.lower() == b"location"]
    if len(locations) != 1:
        return None
    try:
        location = urlsplit(bytes(locations[0]).decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not location.path.startswith(root) or location.path[len(root) :] not in SLASHED_ROUTES:
        return None
    return (location.path + (f"?{location.query}" if location.query else "")).encode("ascii")


def _request_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    return [
        (name, value)
        for name, value in scope.get("headers", ())
        if name.lower() not in IGNORED_REQUEST_HEADERS
    ]


#: The lengths of the header names _header_facts reads: host, content-length,
#: transfer-encoding.
_FACT_SIZES = frozenset(len(name) for name in (b"host", b"content-length", b"transfer-encoding"))


def _header_facts(scope: Scope) -> tuple[list[bytes], bool, int | None]:
    """What the guard needs from the request's headers, read in one pass: the Host values,
    whether a body is framed (Content-Length or Transfer-Encoding), the Content-Length."""
    length: int | None = None
    framed = False
    hosts: list[bytes] = []
    for name, value in scope.get("headers", ()):
        # Only a name as long as one of the three can be one (in any case): the others, most
        # of a request's headers, are passed over without lowercasing them.
        if len(name) not in _FACT_SIZES:
            continue
        name = name.lower()
        if name == b"host":
            hosts.append(bytes(value))
        elif name == b"content-length":
            framed = True
            text = value.decode("latin-1").strip()
            length = int(text) if text.isdigit() else None
        elif name == b"transfer-encoding":
            framed = True
    return hosts, framed, length


async def _limited_body(
    length: int | None,
    framed: bool,
    scope: Scope,
    receive: Receive,
    send: Send,
    render: Render,
    limit: int,
) -> Receive | None:
    """`receive` for the app, with the body buffered (at most `limit` bytes); None when the
    request was answered here (413) or its client went away."""
    if length is not None and length > limit:
        await send_json(send, render(BodyTooLarge()))
        return None
    if not framed and scope["method"] in UNFRAMED_METHODS:
        # No Content-Length and no Transfer-Encoding: HTTP/1.1 frames no body at all
        # (RFC 9112 §6.3), so there is nothing to buffer or to limit.
        return receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            # The client went away before sending its body: nothing to answer.
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            await send_json(send, render(BodyTooLarge()))
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return _replay(b"".join(chunks), receive)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
