"""LIMIT: limits below the app (CONTRACT.md "Limits below the app"): a request head that is too
large or has too many fields never reaches the app, and a request that is never finished does
not hold its connection for ever. These are the server's, so they run against live targets
only (what `make conformance` starts: `core.server`, the project's uvicorn configuration)."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

import pytest

from conformance.bounded import read_bounded
from conformance.checks import MUST, PYTHON, check
from conformance.conftest import Target
from conformance.evidence import record_raw
from conformance.support import STATUS

#: Well above ARENA_MAX_HEADER_BYTES's default (64 KiB) and the 16-32 KiB proxies allow.
HUGE_HEADER = 1024 * 1024
#: Well above ARENA_MAX_HEADERS's default (128).
MANY_HEADERS = 2000


def live_only(target: Target) -> None:
    if not target.live:
        pytest.skip("live only: the limits belong to the server, not to the ASGI app")


async def exchange(
    target: Target, *parts: bytes, pause: float = 0.0, wait: float = 30.0
) -> tuple[bytes, float]:
    """Send `parts` (`pause` seconds apart), then read until the server closes: what came back,
    and when it closed (seconds from the first byte sent)."""
    assert target.url is not None
    url = urlsplit(target.url)
    assert url.hostname is not None
    data = b"".join(parts)
    reader, writer = await asyncio.open_connection(url.hostname, url.port or 80)
    start = time.monotonic()
    received = b""
    try:
        try:
            for n, part in enumerate(parts):
                if n and pause:
                    await asyncio.sleep(pause)
                writer.write(part)
                await writer.drain()
        except ConnectionError:
            pass  # refused part-way: what matters is what came back
        # A server that keeps the connection open past `wait` answers with the time it held it
        # (and what it sent until then).
        left = max(0.0, start + wait - time.monotonic())
        received = await read_bounded(reader, timeout=left, partial=True)
    finally:
        writer.close()
    elapsed = time.monotonic() - start
    note = f"held open {elapsed:.1f} s" + ("" if received else ", closed without an answer")
    record_raw(target.url, data, received, note)
    return received, elapsed


def assert_refused(received: bytes, status: int) -> None:
    """Either the server's refusal (`status`, JSON) or a closed connection: never the app."""
    if not received:
        return  # closed without an answer: allowed
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    content_type = next(
        (
            line.split(":", 1)[1].strip()
            for line in lines[1:]
            if line.lower().startswith("content-type:")
        ),
        "no content-type",
    )
    got = f"{lines[0]!r} ({content_type}) {body[:200]!r}"
    expected = f"expected HTTP/1.1 {status} with a JSON body, or the connection closed"
    assert lines[0].startswith(f"HTTP/1.1 {status} "), f"{expected}, got {got}"
    assert "application/json" in content_type.lower(), f"{expected}, got {got}"


def request(*headers: bytes) -> bytes:
    return b"GET " + STATUS.encode() + b" HTTP/1.1\r\nHost: t\r\n" + b"".join(headers) + b"\r\n"


@check(
    "LIMIT-001",
    MUST,
    "CONTRACT Limits below the app; H2",
    "a request head of 1 MiB is refused (431) before it reaches the app, not buffered whole",
    tier=PYTHON,
)
async def test_huge_head(target: Target) -> None:
    live_only(target)
    data = request(b"X-Big: " + b"a" * HUGE_HEADER + b"\r\n")
    received, _ = await exchange(target, data)
    assert_refused(received, 431)


@check(
    "LIMIT-002",
    MUST,
    "CONTRACT Limits below the app; H2",
    "a request with 2000 header fields is refused (431)",
    tier=PYTHON,
)
async def test_many_headers(target: Target) -> None:
    live_only(target)
    data = request(*(f"X-H{n}: v\r\n".encode() for n in range(MANY_HEADERS)))
    received, _ = await exchange(target, data)
    assert_refused(received, 431)


@check(
    "LIMIT-003",
    MUST,
    "CONTRACT Limits below the app",
    "a request never finished is closed within the request timeout (408 or closed)",
    tier=PYTHON,
)
async def test_unfinished_request(target: Target) -> None:
    live_only(target)
    # The head is never ended: a slowloris connection. The default timeout is 10 s.
    received, elapsed = await exchange(target, b"GET /status/ HTTP/1.1\r\nHost: t\r\n", wait=25)
    assert elapsed < 20, f"the server held an unfinished request open for {elapsed:.0f} s"
    assert_refused(received, 408)


#: The contract's default ARENA_REQUEST_TIMEOUT, and the slack a loaded machine may need.
REQUEST_TIMEOUT = 10.0
SLACK = 2.0
GET_STATUS = request()
#: A login's head and 5 of its 100 body bytes, never finished.
HALF_LOGIN = (
    b"POST /token HTTP/1.1\r\nHost: t\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusern"
)
PIPELINED = GET_STATUS + HALF_LOGIN
#: The login after a GET, sent in ways a server's clock could miss: name -> (parts, pause).
PIPELINED_WAYS: dict[str, tuple[tuple[bytes, ...], float]] = {
    "in one send": ((PIPELINED,), 0.0),
    "every byte its own send": (tuple(bytes([byte]) for byte in PIPELINED), 0.01),
    "cut inside the GET's head": ((PIPELINED[:20], PIPELINED[20:]), 0.3),
    "cut after the GET": ((GET_STATUS, HALF_LOGIN), 0.3),
    "cut inside the login's head": ((PIPELINED[:60], PIPELINED[60:]), 0.3),
    "cut before the body": ((PIPELINED[:-5], PIPELINED[-5:]), 0.3),
    "cut inside the body": ((PIPELINED[:-2], PIPELINED[-2:]), 0.3),
    "after 100-continue": (
        (GET_STATUS + HALF_LOGIN[:-9] + b"\r\nExpect: 100-continue\r\n\r\n",),
        0.0,
    ),
}


def answers(received: bytes) -> list[tuple[int, bytes, bytes]]:
    """(status, head, body) of each final answer in `received`, in order; 1xx skipped."""
    found = []
    while received:
        head, _, rest = received.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        fields = [line.partition(b":") for line in head.lower().split(b"\r\n")[1:]]
        length = next((int(value) for name, _, value in fields if name == b"content-length"), 0)
        if status >= 200:
            found.append((status, head, rest[:length]))
        received = rest[length:]
    return found


async def pipelined(target: Target, way: str) -> str | None:
    """What is wrong with the server's answers to PIPELINED sent `way` (None: nothing)."""
    parts, pause = PIPELINED_WAYS[way]
    received, elapsed = await exchange(target, *parts, pause=pause, wait=REQUEST_TIMEOUT * 2)
    try:
        got = answers(received)
    except (ValueError, IndexError):
        return f"{way}: not HTTP answers: {received[:300]!r}"
    seen = [(status, body.decode("latin-1")) for status, _, body in got]
    if elapsed > REQUEST_TIMEOUT + SLACK:
        return f"{way}: held open {elapsed:.1f} s (answers so far: {seen})"
    if [status for status, _, _ in got] != [401, 408]:
        return f"{way}: expected the GET's 401, then 408; got {seen}"
    _, head, body = got[1]
    if json.loads(body) != {"detail": "Request Timeout"} or b"application/json" not in head:
        return f"{way}: the 408 is not the contract's JSON: {head!r} {body!r}"
    return None


@check(
    "LIMIT-004",
    MUST,
    "CONTRACT Limits below the app",
    "a login's half-sent body pipelined behind a GET, in one send or split at any byte (after a "
    "100-continue too), gets 408 within the request timeout of its turn, then the close",
    tier=PYTHON,
)
async def test_pipelined_unfinished_request(target: Target) -> None:
    live_only(target)
    # Each way on its own connection, all at once: one request timeout for the whole check.
    found = await asyncio.gather(*(pipelined(target, way) for way in PIPELINED_WAYS))
    wrong = [what for what in found if what is not None]
    assert not wrong, f"{len(wrong)} of {len(found)} ways wrong: " + "; ".join(wrong)
