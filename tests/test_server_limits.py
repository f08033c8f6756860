"""Limits below the app (core.server), measured on real uvicorn servers with raw sockets.

Each server is what the conformance suite runs: `conformance.servers.serve`, i.e.
`python -m core.server impl_<name>.app:app` under `core.server.uvicorn_config`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from bench.baseline import json_bytes, lifespan, send_body
from conformance.servers import Server, serve, server_env
from core import server as core_server
from core.server import (
    MAX_READ_AHEAD,
    ArenaConfig,
    ArenaHttpProtocol,
    ServerLimits,
    uvicorn_config,
)
from core.settings import Settings

HEAD = b"GET /status/ HTTP/1.1\r\nHost: t\r\n"


@contextlib.contextmanager
def server(tmp_path: Path, workers: int = 1, **limits: str) -> Iterator[Server]:
    env = server_env(tmp_path, ARENA_DATABASE_URL="memory://", **limits)
    with serve("starlette", env=env, workers=workers) as running:
        yield running


def address(running: Server) -> tuple[str, int]:
    url = urlsplit(running.url)
    assert url.hostname is not None
    assert url.port is not None
    return url.hostname, url.port


def exchange(
    running: Server, *parts: bytes, pause: float = 0.0, wait: float = 10.0
) -> tuple[bytes, float]:
    """Send `parts` (`pause` seconds apart), then read until the server closes: what it sent,
    and the seconds from the first byte sent to the close."""
    with socket.create_connection(address(running)) as sock:
        sock.settimeout(wait)
        start = time.monotonic()
        with contextlib.suppress(OSError):  # the server may close while we still send
            for part in parts:
                sock.sendall(part)
                time.sleep(pause)
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
        return received, time.monotonic() - start


def answer(received: bytes) -> tuple[int, dict[str, str], object]:
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines)}
    return int(status_line.split()[1]), headers, json.loads(body) if body else None


def assert_refused(received: bytes, status: int, detail: str) -> dict[str, str]:
    code, headers, body = answer(received)
    assert (code, body) == (status, {"detail": detail})
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    return headers


# --- configuration ----------------------------------------------------------------------------


def test_config_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAX_HEADER_BYTES", "MAX_HEADERS", "REQUEST_TIMEOUT", "KEEPALIVE_TIMEOUT"):
        monkeypatch.delenv(f"ARENA_{name}", raising=False)
    monkeypatch.setenv("ARENA_MAX_CONNECTIONS", "7")
    config = uvicorn_config("impl_starlette.app:app", port=9000)
    assert isinstance(config, ArenaConfig)
    assert config.limits == ServerLimits(65536, 128, 10.0, 5, 7)
    assert (config.http, config.loop, config.ws, config.timeout_keep_alive) == (
        ArenaHttpProtocol,
        "auto",
        "none",
        5,
    )
    assert (config.host, config.port, config.workers, config.reload) == (
        "127.0.0.1",
        9000,
        1,
        False,
    )


def test_limits_of_settings() -> None:
    settings = Settings(
        max_header_bytes=2048,
        max_headers=10,
        request_timeout=1.5,
        keepalive_timeout=2,
        max_connections=3,
    )
    assert ServerLimits.of(settings) == ServerLimits(2048, 10, 1.5, 2, 3)


# --- request heads ----------------------------------------------------------------------------


def test_head_over_the_byte_limit(tmp_path: Path) -> None:
    with server(tmp_path, ARENA_MAX_HEADER_BYTES="4096") as running:
        complete, _ = exchange(running, HEAD + b"X-Big: " + b"a" * 5000 + b"\r\n\r\n")
        assert_refused(complete, 431, "Request Header Fields Too Large")
        # Never finished: refused as soon as the bytes pass the limit, not at the end.
        unfinished, elapsed = exchange(running, HEAD + b"X-Big: " + b"a" * 5000)
        assert_refused(unfinished, 431, "Request Header Fields Too Large")
        assert elapsed < 1.0
        many_small, _ = exchange(
            running, HEAD + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 80) for i in range(50)) + b"\r\n"
        )
        assert_refused(many_small, 431, "Request Header Fields Too Large")
        url, _ = exchange(running, b"GET /status/?" + b"q" * 5000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        assert_refused(url, 431, "Request Header Fields Too Large")
        # Under the limit: the app answers (401, no token) and the connection is kept.
        under, _ = exchange(
            running, HEAD + b"X-Big: " + b"a" * 3500 + b"\r\nConnection: close\r\n\r\n"
        )
        assert answer(under)[0] == 401


def test_default_header_bytes_admit_the_suites_32_kib_token(tmp_path: Path) -> None:
    # AUTH-015 sends a 32 KiB token live and expects the app's 401, not 431.
    with server(tmp_path) as running:
        token = b"a" * (32 * 1024 + 4)
        received, _ = exchange(
            running, HEAD + b"Authorization: Bearer " + token + b"\r\nConnection: close\r\n\r\n"
        )
        assert answer(received)[:1] == (401,)
        over, _ = exchange(running, HEAD + b"X-Big: " + b"a" * (64 * 1024) + b"\r\n\r\n")
        assert_refused(over, 431, "Request Header Fields Too Large")


def test_too_many_headers(tmp_path: Path) -> None:
    with server(tmp_path) as running:
        fields = b"".join(b"X-%d: v\r\n" % i for i in range(128))  # with Host: 129
        received, _ = exchange(running, HEAD + fields + b"\r\n")
        assert_refused(received, 431, "Request Header Fields Too Large")
        fields = b"".join(b"X-%d: v\r\n" % i for i in range(126))  # with Host, Connection: 128
        received, _ = exchange(running, HEAD + fields + b"Connection: close\r\n\r\n")
        assert answer(received)[0] == 401


def test_malformed_request_is_a_json_400(tmp_path: Path) -> None:
    with server(tmp_path) as running:
        received, _ = exchange(running, b"GET /status/ HTTP/1.1\r\nBad Header\r\n\r\n")
        assert_refused(received, 400, "Invalid HTTP request received.")


# --- time -------------------------------------------------------------------------------------


def test_slowloris_head_gets_408_within_the_timeout(tmp_path: Path) -> None:
    with server(tmp_path, ARENA_REQUEST_TIMEOUT="1") as running:
        # One byte every 0.1 s: each would reset an idle timer; this one runs from the first.
        trickle = [bytes([byte]) for byte in HEAD + b"X-Slow: " + b"s" * 100]
        received, elapsed = exchange(running, *trickle, pause=0.1)
        assert_refused(received, 408, "Request Timeout")
        assert 0.9 < elapsed < 2.0


def test_half_sent_body_gets_408(tmp_path: Path) -> None:
    with server(tmp_path, ARENA_REQUEST_TIMEOUT="1") as running:
        head = (
            b"POST /token HTTP/1.1\r\nHost: t\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
        )
        received, elapsed = exchange(running, head + b"username=johndoe")
        assert_refused(received, 408, "Request Timeout")
        assert 0.9 < elapsed < 2.0


def test_a_slow_app_is_not_timed_out(tmp_path: Path) -> None:
    # The timer stops when the request is in: a login at full argon2 cost (~0.1 s, more under
    # load) on a 0.05 s request timeout still gets its answer.
    with server(tmp_path, ARENA_REQUEST_TIMEOUT="0.05") as running:
        body = b"username=johndoe&password=secret"
        request = (
            b"POST /token HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        received, _ = exchange(running, request)
        assert answer(received)[0] == 200


def test_idle_connections_are_closed(tmp_path: Path) -> None:
    with server(tmp_path, ARENA_KEEPALIVE_TIMEOUT="1") as running:
        # Connected, never a byte: uvicorn alone would keep this open for ever.
        received, elapsed = exchange(running)
        assert (received, 0.9 < elapsed < 2.0) == (b"", True)
        # After an answer: closed after the same idle time.
        received, elapsed = exchange(running, HEAD + b"\r\n")
        assert answer(received)[0] == 401
        assert 0.9 < elapsed < 2.0


# --- time: pipelined and split requests (issue 20, F1) -------------------------------------------

GET_STATUS = HEAD + b"\r\n"
#: A login's head and 5 of its 100 body bytes: never finished.
HALF_LOGIN = (
    b"POST /token HTTP/1.1\r\nHost: t\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusern"
)


def answers(received: bytes) -> list[tuple[int, dict[str, str], object]]:
    """Every answer in `received`, in order (each framed by its Content-Length)."""
    found = []
    while received:
        head, _, rest = received.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b": ")
            if name.lower() == b"content-length":
                length = int(value)
        found.append(answer(head + b"\r\n\r\n" + rest[:length]))
        received = rest[length:]
    return found


def assert_401_then_408(received: bytes) -> None:
    (first, _, first_body), (last, headers, last_body) = answers(received)
    assert (first, first_body) == (401, {"detail": "Not authenticated"})
    assert (last, last_body) == (408, {"detail": "Request Timeout"})
    assert (headers["content-type"], headers["connection"]) == ("application/json", "close")


def test_pipelined_half_body_gets_408(tmp_path: Path) -> None:
    # The GET's answer completes while the login waits in uvicorn's queue: uvicorn then arms no
    # timer at all, and the connection stayed open for ever.
    with server(tmp_path, ARENA_REQUEST_TIMEOUT="1") as running:
        received, elapsed = exchange(running, GET_STATUS + HALF_LOGIN, wait=5.0)
        assert_401_then_408(received)
        assert 0.9 < elapsed < 2.0


def test_pipelined_half_body_split_at_every_byte_gets_408(tmp_path: Path) -> None:
    # The same bytes in two sends, cut at each offset in turn (all at once, on their own
    # connections): wherever the cut falls, the login is timed out within the timeout.
    data = GET_STATUS + HALF_LOGIN
    results: dict[int, tuple[bytes, float]] = {}

    def one(cut: int) -> None:
        try:
            results[cut] = exchange(running, data[:cut], data[cut:], pause=0.1, wait=5.0)
        except TimeoutError:
            results[cut] = (b"", float("inf"))  # still open after `wait`

    with server(tmp_path, ARENA_REQUEST_TIMEOUT="1") as running:
        threads = [threading.Thread(target=one, args=(cut,)) for cut in range(1, len(data))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert sorted(results) == list(range(1, len(data)))
    for cut, (received, elapsed) in sorted(results.items()):
        assert elapsed < 3.0, f"cut after {data[:cut][-20:]!r}: closed after {elapsed:.1f} s"
        assert_401_then_408(received)


def test_pipelined_100_continue_body_gets_408(tmp_path: Path) -> None:
    # The login waits for "100 Continue", which uvicorn sends when the app reads the body; the
    # body never comes.
    expecting = HALF_LOGIN.replace(b"\r\n\r\nusern", b"\r\nExpect: 100-continue\r\n\r\n")
    with server(tmp_path, ARENA_REQUEST_TIMEOUT="1") as running:
        received, elapsed = exchange(running, GET_STATUS + expecting, wait=5.0)
        assert received.count(b"HTTP/1.1 100 Continue\r\n\r\n") == 1
        assert_401_then_408(received.replace(b"HTTP/1.1 100 Continue\r\n\r\n", b""))
        assert 0.9 < elapsed < 2.0


def test_pipelined_complete_requests_are_answered_then_idle_closed(tmp_path: Path) -> None:
    with server(tmp_path, ARENA_REQUEST_TIMEOUT="1", ARENA_KEEPALIVE_TIMEOUT="1") as running:
        received, elapsed = exchange(running, GET_STATUS * 3, wait=5.0)
        assert [status for status, _, _ in answers(received)] == [401, 401, 401]
        assert 0.9 < elapsed < 2.0


def test_idle_after_an_answer_given_before_the_body_ended(tmp_path: Path) -> None:
    # raw_asgi answers without reading the body: uvicorn arms its keep-alive timer with the
    # answer, and the body's last bytes cancelled it; nothing armed it again.
    env = server_env(tmp_path, ARENA_KEEPALIVE_TIMEOUT="1")
    with serve("raw", env=env, app="bench.baseline:raw_asgi", ready_path="/status/") as running:
        head = HEAD + b"Content-Length: 10\r\n\r\n"
        received, elapsed = exchange(running, head + b"12345", b"67890", pause=0.3, wait=5.0)
        assert [(status, body) for status, _, body in answers(received)] == [
            (200, {"status": "ok"})
        ]
        assert 1.2 < elapsed < 2.3  # the keep-alive timeout from the last byte (at 0.3 s)


async def slow_first(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app (served by the test below) that takes 1.5 s over /slow, never reading its
    body, and answers any other request with the length of its body."""
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(1.5)
        body = b""
    else:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
    await send_body(send, 200, json_bytes({"read": len(body)}))


def test_a_pipelined_request_s_clock_starts_at_its_turn(tmp_path: Path) -> None:
    # The login is queued behind /slow, and uvicorn reads nothing more until /slow is answered:
    # the rest of its body, sent at once, is read only then. Counted from its first byte, its
    # clock (1 s) would run out while the server, not the client, held it.
    env = server_env(tmp_path, ARENA_REQUEST_TIMEOUT="1")
    app = "tests.test_server_limits:slow_first"
    with serve("slow", env=env, app=app, ready_path="/status/") as running:
        login = (
            b"POST /token HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 10\r\n\r\n"
        )
        received, _ = exchange(
            running,
            b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n" + login + b"12345",
            b"67890",
            pause=0.3,
            wait=5.0,
        )
    assert [(status, body) for status, _, body in answers(received)] == [
        (200, {"read": 0}),
        (200, {"read": 10}),
    ]


def test_requests_read_ahead_are_bounded(tmp_path: Path) -> None:
    # uvicorn parses and queues every request pipelined: 6.8 MB of GETs on one connection took
    # the server to 500 MB. Now the first is answered with the MAX_READ_AHEAD queued behind it,
    # the last of them closing the connection; the rest is never read.
    with server(tmp_path) as running:
        received, _ = exchange(running, GET_STATUS * 100, wait=5.0)
    found = answers(received)
    assert [status for status, _, _ in found] == [401] * (1 + MAX_READ_AHEAD)
    assert [headers.get("connection") for _, headers, _ in found][-2:] == [None, "close"]


def test_an_answer_the_client_does_not_read_is_dropped(tmp_path: Path) -> None:
    # Twenty copies of Swagger UI's 1.5 MB bundle asked for, none read: the buffers fill, the
    # app waits to write. uvicorn alone waits for ever, holding a connection slot.
    asset = b"GET /docs/assets/swagger-ui-bundle.js HTTP/1.1\r\nHost: t\r\n\r\n"
    with server(tmp_path, ARENA_REQUEST_TIMEOUT="1") as running, socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(address(running))
        sock.sendall(asset * 20)
        time.sleep(4)  # the buffers fill within 1 s; then 1 s without progress
        sock.settimeout(5)
        taken = 0
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(1 << 20):
                taken += len(chunk)
    # What the kernel buffers held, then the end: far from the 30 MB asked for.
    assert taken < 10 * 1024 * 1024, taken


# --- connections ------------------------------------------------------------------------------


def test_connections_over_the_limit_get_503(tmp_path: Path) -> None:
    with server(tmp_path, ARENA_MAX_CONNECTIONS="2") as running:
        held = [socket.create_connection(address(running)) for _ in range(2)]
        try:
            time.sleep(0.3)  # accepted: they count
            received, _ = exchange(running, HEAD + b"\r\n")
            headers = assert_refused(received, 503, "Service Unavailable")
            assert headers["retry-after"] == "1"
        finally:
            for sock in held:
                sock.close()
        time.sleep(0.3)
        received, _ = exchange(running, HEAD + b"Connection: close\r\n\r\n")
        assert answer(received)[0] == 401


def test_limits_reach_every_worker(tmp_path: Path) -> None:
    # Workers are spawned processes: the limits travel inside the pickled config.
    with server(tmp_path, workers=2, ARENA_MAX_HEADERS="10") as running:
        for _ in range(4):
            fields = b"".join(b"X-%d: v\r\n" % i for i in range(10))
            received, _ = exchange(running, HEAD + fields + b"\r\n")
            assert_refused(received, 431, "Request Header Fields Too Large")


# --- memory -----------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def flood(running: Server, total: int) -> None:
    """One connection sending `total` bytes of header lines (until the server closes it)."""
    line = b"X-Flood: " + b"f" * 1014 + b"\r\n"
    with socket.create_connection(address(running)) as sock, contextlib.suppress(OSError):
        sock.sendall(HEAD)
        for _ in range(total // len(line)):
            sock.sendall(line)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_rss_stays_flat_under_header_floods(tmp_path: Path) -> None:
    with server(tmp_path) as running:
        exchange(running, HEAD + b"Connection: close\r\n\r\n")  # warm: the app is imported
        before = rss_kib(running.pid)
        floods = [threading.Thread(target=flood, args=(running, 25 << 20)) for _ in range(4)]
        for thread in floods:
            thread.start()
        for thread in floods:
            thread.join(timeout=60)
        after = rss_kib(running.pid)
        print(f"RSS {before} KiB before, {after} KiB after 4 x 25 MiB of headers")
        assert after - before < 8 * 1024
        received, _ = exchange(running, HEAD + b"Connection: close\r\n\r\n")
        assert answer(received)[0] == 401


def test_main_builds_the_same_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_MAX_HEADERS", "33")
    seen: list[uvicorn.Config] = []
    monkeypatch.setattr(core_server, "run", seen.append)
    core_server.main(["bench.baseline:raw_asgi", "--port", "9009", "--workers", "3"])
    core_server.main(["m:a", "--host", "::1", "--log-level", "warning", "--no-access-log"])
    first, second = seen
    assert isinstance(first, ArenaConfig)
    assert isinstance(second, ArenaConfig)
    assert (first.app, first.port, first.workers, first.access_log) == (
        "bench.baseline:raw_asgi",
        9009,
        3,
        True,
    )
    assert (second.host, second.log_level, second.access_log) == ("::1", "warning", False)
    assert first.limits.max_headers == second.limits.max_headers == 33
