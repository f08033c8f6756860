"""LIMIT: limits below the app (CONTRACT.md "Limits below the app"): a request head that is too
large or has too many fields never reaches the app, and a request that is never finished does
not hold its connection for ever. These are the server's, so they run against live targets
only (what `make conformance` starts: `core.server`, the project's uvicorn configuration)."""

from __future__ import annotations

import asyncio
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


async def exchange(target: Target, data: bytes, wait: float = 30.0) -> tuple[bytes, float]:
    """Send `data`, then read until the server closes: what came back, and when it closed."""
    assert target.url is not None
    url = urlsplit(target.url)
    assert url.hostname is not None
    reader, writer = await asyncio.open_connection(url.hostname, url.port or 80)
    start = time.monotonic()
    received = b""
    try:
        try:
            writer.write(data)
            await writer.drain()
        except ConnectionError:
            pass  # refused part-way: what matters is what came back
        # A server that keeps the connection open past `wait` answers with the time it held it.
        received = await read_bounded(reader, timeout=wait, partial=True)
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
