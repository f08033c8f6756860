"""What core.sync saves a WSGI framework: a warm `authenticate` from a worker thread, run in the
thread (as SyncArena does) and handed to the event loop on every call (as it would without
its fast path). Prints microseconds per call for each, a few rounds.

    taskset -c 0 .venv/bin/python -m bench.sync_hop
"""

from __future__ import annotations

import argparse
import asyncio
import time

from core.credentials import Credentials
from core.service import Arena
from core.settings import Settings
from core.sync import SyncArena


async def measure(calls: int, rounds: int) -> None:
    # (No login runs: the cheapest hasher, a name rather than a password.)
    settings = Settings(
        secret_key="k" * 32,
        database_url="memory://",
        demo_users=True,
        password_profile="cheap",  # noqa: S106
    )
    sync = SyncArena(Arena(settings))
    token = sync.arena.tokens.issue("johndoe", ("me", "items")).access_token
    credentials = Credentials.of([f"Bearer {token}"])
    sync._loop = asyncio.get_running_loop()  # what a request through sync.asgi() does

    def in_thread() -> float:
        started = time.perf_counter()
        for _ in range(calls):
            sync.authenticate(credentials, ("me",))
        return (time.perf_counter() - started) / calls * 1e6

    def via_loop() -> float:
        started = time.perf_counter()
        for _ in range(calls):
            sync._on_loop(sync.arena.authenticate(credentials, ("me",)))
        return (time.perf_counter() - started) / calls * 1e6

    await asyncio.to_thread(via_loop)  # warms the caches
    for _ in range(rounds):
        inline, handed = await asyncio.to_thread(in_thread), await asyncio.to_thread(via_loop)
        print(f"in the thread {inline:6.1f} us/call   handed to the loop {handed:6.1f} us/call")
    await sync.arena.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000, help="calls per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(measure(args.calls, args.rounds))


if __name__ == "__main__":
    main()
