"""`make cluster`'s nginx answers what it refuses by itself in the contract's JSON (H7, issue 20
F9): one real implementation behind deploy.nginx's configuration, raw requests that nginx
refuses before any instance sees them. Faster than tests/test_cluster.py (no PostgreSQL).

Needs nginx (`make nginx-deps`): skipped without it, failed instead under `make test`
(SCOPES_ARENA_REQUIRE_NGINX=1)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.servers import free_port, serve, server_env
from deploy import nginx

REQUIRE_NGINX_ENV = "SCOPES_ARENA_REQUIRE_NGINX"
#: A login's head and 5 of its 100 body bytes: nginx holds it while it waits for the rest.
HALF_LOGIN = b"POST /token HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nusern"
BAD_REQUEST = (400, {"detail": "Bad Request"})
NOT_FOUND = (404, {"detail": "Not Found"})
NOT_ALLOWED = (405, {"detail": "Method Not Allowed"})
TOO_LARGE = (431, {"detail": "Request Header Fields Too Large"})
UNAVAILABLE = (503, {"detail": "Service Unavailable"})

#: What nginx refuses by itself -> (status, body, Allow or None). Not here: 408 (nginx closes
#: a request that stops coming without any answer), 411, 403, 500, 504 (no request provokes
#: them in this configuration; their error_page is there all the same), 502 and the
#: limit_conn 503 (tests of their own below).
REFUSED: dict[str, tuple[bytes, tuple[int, object], str | None]] = {
    "TRACE": (b"TRACE /status/ HTTP/1.1\r\nHost: t\r\n\r\n", NOT_ALLOWED, "GET"),
    "TRACE /token": (b"TRACE /token?x=1 HTTP/1.1\r\nHost: t\r\n\r\n", NOT_ALLOWED, "POST"),
    "CONNECT": (b"CONNECT /users/me/items/ HTTP/1.1\r\nHost: t\r\n\r\n", NOT_ALLOWED, "GET"),
    "TRACE off the routes": (b"TRACE /nope HTTP/1.1\r\nHost: t\r\n\r\n", NOT_FOUND, None),
    "TRACE empty segment": (b"TRACE //status/ HTTP/1.1\r\nHost: t\r\n\r\n", NOT_FOUND, None),
    "unknown Transfer-Encoding": (
        b"POST /token HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
        (501, {"detail": "Not Implemented"}),
        None,
    ),
    "HTTP/2.0 request line": (
        b"GET /status/ HTTP/2.0\r\nHost: t\r\n\r\n",
        (505, {"detail": "HTTP Version Not Supported"}),
        None,
    ),
    "lowercase method": (b"get /status/ HTTP/1.1\r\nHost: t\r\n\r\n", BAD_REQUEST, None),
    "no Host": (b"GET /status/ HTTP/1.1\r\n\r\n", BAD_REQUEST, None),
    "two Hosts": (b"GET /status/ HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n", BAD_REQUEST, None),
    "NUL in the path": (b"GET /users/me/%00 HTTP/1.1\r\nHost: t\r\n\r\n", BAD_REQUEST, None),
    "Transfer-Encoding and Content-Length": (
        b"POST /token HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Length: 5\r\n\r\n0\r\n\r\n",
        BAD_REQUEST,
        None,
    ),
    "HTTP/1.0 chunked": (
        b"POST /token HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        BAD_REQUEST,
        None,
    ),
    "bad chunk": (
        b"POST /token HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        BAD_REQUEST,
        None,
    ),
    "URI over the buffer (414)": (
        b"GET /status/?" + b"q" * 50_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n",
        TOO_LARGE,
        None,
    ),
    "header over the buffer (494)": (
        b"GET /status/ HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 50_000 + b"\r\n\r\n",
        TOO_LARGE,
        None,
    ),
    "body over 64 KiB": (
        b"POST /token HTTP/1.1\r\nHost: t\r\nContent-Length: 70000\r\n\r\n",
        (413, {"detail": "Request body too large"}),
        None,
    ),
    "nginx's own location": (b"GET /_nginx/405 HTTP/1.1\r\nHost: t\r\n\r\n", NOT_FOUND, None),
}


def _require_nginx() -> None:
    if nginx.binary() is None:
        reason = "nginx is not installed (make nginx-deps)"
        if os.environ.get(REQUIRE_NGINX_ENV) == "1":
            pytest.fail(f"{reason}; {REQUIRE_NGINX_ENV}=1: this test must run", pytrace=False)
        pytest.skip(reason)


@contextlib.contextmanager
def _nginx(upstream: tuple[str, int]) -> Iterator[nginx.Nginx]:
    # The prefix is not under pytest's tmp_path, which nginx's workers cannot reach as root.
    with (
        tempfile.TemporaryDirectory(prefix="arena-nginx-") as prefix,
        nginx.Nginx([upstream], ("127.0.0.1", free_port()), Path(prefix)) as proxy,
    ):
        yield proxy


@pytest.fixture(scope="module")
def proxy() -> Iterator[nginx.Nginx]:
    _require_nginx()
    with tempfile.TemporaryDirectory(prefix="arena-app-") as data:
        env = server_env(Path(data), ARENA_DATABASE_URL="memory://")
        with serve("starlette", env=env) as app:
            port = int(app.url.rsplit(":", 1)[1])
            with _nginx(("127.0.0.1", port)) as running:
                yield running


def ask(proxy: nginx.Nginx, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `data` to `proxy` on a connection of its own; the first answer, read as soon as it
    is whole (nginx lingers before it closes)."""
    with socket.create_connection(proxy.listen, timeout=10) as sock:
        with contextlib.suppress(OSError):  # nginx may refuse before it has read everything
            sock.sendall(data)
        received = b""
        while True:
            head, found, body = received.partition(b"\r\n\r\n")
            if found:
                status_line, *lines = head.decode("latin-1").split("\r\n")
                headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines)}
                if len(body) >= int(headers.get("content-length", "0")):
                    return int(status_line.split()[1]), headers, body
            chunk = sock.recv(65536)
            assert chunk, f"closed after {received!r}"
            received += chunk


def assert_json(answer: tuple[int, dict[str, str], bytes], expected: tuple[int, object]) -> None:
    status, headers, body = answer
    assert (status, json.loads(body)) == expected, (status, headers, body[:300])
    assert headers["content-type"] == "application/json"
    # nginx answered it itself: no instance was asked (X-Upstream is set where one was).
    assert nginx.UPSTREAM_HEADER.lower() not in headers


@pytest.mark.parametrize("case", list(REFUSED))
def test_nginx_s_own_refusals_are_the_contract_s_json(proxy: nginx.Nginx, case: str) -> None:
    data, expected, allow = REFUSED[case]
    answer = ask(proxy, data)
    assert_json(answer, expected)
    assert answer[1].get("allow") == allow


def test_the_same_requests_on_a_route_reach_the_app(proxy: nginx.Nginx) -> None:
    # The map behind 405's Allow and 404 leaves every other method to the apps.
    status, headers, body = ask(proxy, b"DELETE /status/ HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (status, json.loads(body)) == NOT_ALLOWED
    assert nginx.UPSTREAM_HEADER.lower() in headers


def test_too_many_connections_from_one_address_get_json_503(proxy: nginx.Nginx) -> None:
    held: list[socket.socket] = []
    try:
        for _ in range(32):  # limit_conn per_client 32: each counts while its body is read
            sock = socket.create_connection(proxy.listen, timeout=10)
            held.append(sock)
            sock.sendall(HALF_LOGIN)
        answer = ask(proxy, b"GET /status/ HTTP/1.1\r\nHost: t\r\n\r\n")
    finally:
        for sock in held:
            sock.close()
    assert_json(answer, UNAVAILABLE)
    assert answer[1]["retry-after"] == "1"


def test_no_instance_reachable_gets_json_503() -> None:
    _require_nginx()
    with _nginx(("127.0.0.1", free_port())) as unreachable:  # nothing listens there: 502
        answer = ask(unreachable, b"GET /status/ HTTP/1.1\r\nHost: t\r\n\r\n")
    assert_json(answer, UNAVAILABLE)
    assert answer[1]["retry-after"] == "1"
