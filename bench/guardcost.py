"""What `core.asgi.Guard` costs per request in-process: a raw ASGI request through
Guard(app) against `app` alone, in CPU time of this thread (time.thread_time, so that other
load on the machine does not count), best of several rounds of N calls in one coroutine.
`app` is a minimal ASGI app answering JSON, and each registry implementation's bare endpoint
with --bare. The requests: wrk's (Host and Authorization, a contract path as written), a
browser's eight headers, and a path Guard must judge (no trailing slash). Each is sent twice:
with uvicorn's own `send` (a real httptools RequestResponseCycle writing to a transport that
drops the bytes), whose record of the answer's start Guard reads, and with a plain `send`
function, around which Guard puts its own watch (as under another server, or inside
Starlette's ServerErrorMiddleware).

    .venv/bin/python -m bench.guardcost [--calls 50000] [--rounds 9] [--bare]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
import tempfile
import time
from typing import Any

from pydantic import SecretStr
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from core import registry
from core.asgi import Guard, Message, Scope
from core.service import Arena
from core.settings import Settings

START: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"37")],
}
BODY: Message = {"type": "http.response.body", "body": b'[{"item_id":"Foo","owner":"johndoe"}]'}
TOKEN = b"Bearer " + b"x" * 180
WRK = [(b"host", b"127.0.0.1:8000"), (b"authorization", TOKEN)]
BROWSER = [
    (b"host", b"127.0.0.1:8000"),
    (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Chrome/120"),
    (b"accept", b"application/json"),
    (b"accept-language", b"en-GB,en;q=0.9"),
    (b"accept-encoding", b"gzip, deflate, br"),
    (b"connection", b"keep-alive"),
    (b"referer", b"http://127.0.0.1:8000/docs"),
    (b"authorization", TOKEN),
]
CASES = {
    "GET /users/me/items/, wrk's headers": ("/users/me/items/", WRK),
    "GET /users/me/items/, a browser's 8 headers": ("/users/me/items/", BROWSER),
    "GET /users/me/items (judged, not exact)": ("/users/me/items", WRK),
}


async def minimal(scope: Scope, receive: Any, send: Any) -> None:
    await send(START)
    await send(BODY)


class Request:
    """One request's `receive` (its empty body, then nothing until the answer ends, as a
    client that stays connected) and `send` of either kind."""

    def __init__(self, scope: Scope, kind: str) -> None:
        self.read = False
        self.send = self.plain_send if kind == PLAIN else uvicorn_cycle(scope).send

    async def receive(self) -> Message:
        if not self.read:
            self.read = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # never set: cancelled by the app once it has answered
        raise AssertionError("unreachable")

    async def plain_send(self, message: Message) -> None:
        return None


class Dropping(asyncio.Transport):
    """A transport that takes every byte and drops it (a subclass may keep them)."""

    def write(self, data: Any) -> None:
        return None

    def is_closing(self) -> bool:
        return False


def uvicorn_cycle(scope: Scope, transport: asyncio.Transport | None = None) -> RequestResponseCycle:
    """uvicorn's own request cycle (httptools) for `scope`, writing to `transport`: its
    `send` is the one Guard takes the short way with."""
    transport = transport if transport is not None else Dropping()
    return RequestResponseCycle(
        scope=scope,  # type: ignore[arg-type]
        transport=transport,
        flow=FlowControl(transport),
        logger=logging.getLogger("uvicorn.error"),
        access_logger=logging.getLogger("uvicorn.access"),
        access_log=False,
        default_headers=[],
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=True,
        on_response=lambda: None,
    )


UVICORN, PLAIN = "uvicorn's send", "a plain send"
SENDS = (UVICORN, PLAIN)


def scope_of(path: str, headers: list[tuple[bytes, bytes]]) -> Scope:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
        "headers": headers,
    }  # fmt: skip


async def cpu_us(app: Any, scope: Scope, kind: str, calls: int) -> float:
    """CPU µs per call, the making of each call's scope, receive and send included (the same
    for the app alone and within Guard)."""
    started = time.thread_time()
    for _ in range(calls):
        each = dict(scope)
        request = Request(each, kind)
        await app(each, request.receive, request.send)
    return (time.thread_time() - started) / calls * 1e6


async def measure(apps: dict[str, Any], calls: int, rounds: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        render = Arena(Settings(secret_key=SecretStr("k" * 32), data_dir=tmp)).render
        lines = []
        for name, app in apps.items():
            guarded = Guard(app, render=render)
            for label, (path, headers) in CASES.items():
                scope = scope_of(path, headers)
                for kind in SENDS:
                    alone = within = float("inf")
                    for _ in range(rounds):  # alternating, so that both see the same machine
                        alone = min(alone, await cpu_us(app, scope, kind, calls))
                        within = min(within, await cpu_us(guarded, scope, kind, calls))
                    lines.append(
                        f"{name:16s} {label:45s} {kind:14s} Guard {within - alone:6.3f} µs "
                        f"per call (app alone {alone:.3f} µs)"
                    )
        return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.guardcost", description=__doc__)
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--bare", action="store_true", help="also inside each bare endpoint")
    args = parser.parse_args(argv)
    apps: dict[str, Any] = {"minimal": minimal}
    if args.bare:
        for name in registry.IMPLEMENTATIONS:
            if registry.has(name, "bare"):
                module_name, _, attribute = registry.bare_path(name).partition(":")
                apps[f"bare-{name}"] = getattr(importlib.import_module(module_name), attribute)
    for line in asyncio.run(measure(apps, args.calls, args.rounds)):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
