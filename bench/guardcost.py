"""What `core.asgi.Guard` costs per request in-process: a raw ASGI request through
Guard(app) against `app` alone, in CPU time of this thread (time.thread_time, so that other
load on the machine does not count), best of several rounds of N calls in one coroutine.
`app` is a minimal ASGI app answering JSON, and each registry implementation's bare endpoint
with --bare. The requests: wrk's (Host and Authorization, a contract path as written), a
browser's eight headers, and a path Guard must judge (no trailing slash).

    .venv/bin/python -m bench.guardcost [--calls 50000] [--rounds 9] [--bare]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import tempfile
import time
from typing import Any

from pydantic import SecretStr

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


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Message) -> None:
    return None


def scope_of(path: str, headers: list[tuple[bytes, bytes]]) -> Scope:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
        "headers": headers,
    }  # fmt: skip


async def cpu_us(app: Any, scope: Scope, calls: int) -> float:
    started = time.thread_time()
    for _ in range(calls):
        await app(dict(scope), receive, send)
    return (time.thread_time() - started) / calls * 1e6


async def measure(apps: dict[str, Any], calls: int, rounds: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        render = Arena(Settings(secret_key=SecretStr("k" * 32), data_dir=tmp)).render
        lines = []
        for name, app in apps.items():
            guarded = Guard(app, render=render)
            for label, (path, headers) in CASES.items():
                scope = scope_of(path, headers)
                alone = within = float("inf")
                for _ in range(rounds):  # alternating, so that both see the same machine
                    alone = min(alone, await cpu_us(app, scope, calls))
                    within = min(within, await cpu_us(guarded, scope, calls))
                lines.append(
                    f"{name:10s} {label:45s} Guard {within - alone:6.3f} µs per call "
                    f"(app alone {alone:.3f} µs)"
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
