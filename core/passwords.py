"""Password hashing with pwdlib/argon2, in a bounded pool of low-priority threads (H4, H11).

`PasswordService.verify` answers for unknown users too, by checking against a dummy hash of the
same cost (H3), so both refusals take the same time. The dummy hash is ready before the first
unknown-user login, so that one is not the slow one: a published hash of each profile's
parameters (whose password opens nothing: an unknown user's check is refused whatever it
gives), or, where the hasher's parameters have moved on, one made at start (`warm()`).

Admission (H11): at most `workers` checks run at once; at most `queue` more may wait for a
thread. A check beyond that raises `LoginBusy` at once (503 with Retry-After) instead of
queueing without limit. The threads lower their own scheduling priority (`nice`), so that
while argon2 keeps every core busy the event loop still gets its share of the CPU: argon2-cffi
releases the GIL while it hashes, and the kernel then prefers the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from pwdlib import PasswordHash
from pwdlib.exceptions import PwdlibError
from pwdlib.hashers.argon2 import Argon2Hasher

from core.errors import LoginBusy

T = TypeVar("T")

#: argon2-cffi's RFC 9106 "low memory" defaults (t=3, m=64 MiB, p=4), the tutorial's own hashes.
RECOMMENDED = "recommended"
#: Minimal argon2 cost. For tests only, where the hash cost is not what is being tested.
CHEAP = "cheap"


#: Hashes with each profile's parameters, of a password no account has. Public on purpose.
DUMMY_HASHES = {
    RECOMMENDED: "$argon2id$v=19$m=65536,t=3,p=4$VL76Es+R2ZLA+ivjlQ0HqQ$TIsD5MfZGQwz7J/LAberg0v0vtpWmr3uSlYgQysZkoE",  # noqa: E501
    CHEAP: "$argon2id$v=19$m=8,t=1,p=1$OiBn1qz6As7HeTOsJruE/A$gfoiW0+zq/j+floaAPD+zMeH5G9N1i8IuYhYkLUpXms",  # noqa: E501
}


def make_hasher(profile: str) -> PasswordHash:
    if profile == RECOMMENDED:
        return PasswordHash.recommended()
    if profile == CHEAP:
        return PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1),))
    raise ValueError(f"unknown password profile {profile!r}")


def default_workers() -> int:
    """One hashing thread per core the process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    #: A new hash when the stored one was made with other parameters (rehash on login).
    new_hash: str | None = None


def _lower_priority(nice: int) -> None:
    # Linux schedules threads one by one: PRIO_PROCESS with a thread id renices only that
    # thread. Raising one's own nice value needs no privilege.
    if nice > 0 and hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class PasswordService:
    def __init__(
        self,
        profile: str = RECOMMENDED,
        *,
        workers: int | None = None,
        queue: int = 16,
        nice: int = 10,
    ) -> None:
        self._hasher = make_hasher(profile)
        dummy = DUMMY_HASHES[profile]
        # Only while it costs what a real check costs (H3): same hasher, same parameters.
        self._dummy_hash: str | None = (
            None if self._hasher.hashers[0].check_needs_rehash(dummy) else dummy
        )
        self.workers = workers if workers is not None else default_workers()
        self.queue = queue
        self.nice = nice
        self._pool: ThreadPoolExecutor | None = None
        #: Checks admitted and not finished yet (running or waiting for a thread).
        self._admitted = 0

    def hash_sync(self, password: str) -> str:
        """For the CLI, which has no event loop to protect."""
        return self._hasher.hash(password)

    async def warm(self) -> None:
        """Make the dummy hash now (at server start) rather than on the first unknown user."""
        if self._dummy_hash is None:
            self._dummy_hash = await self._run(self._hasher.hash, secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, password: str, stored_hash: str | None) -> Verification:
        """Check `password` against `stored_hash`; None stands for an unknown user."""
        if stored_hash is None:
            await self.warm()
            assert self._dummy_hash is not None
            await self._run(self._check, password, self._dummy_hash)
            return Verification(ok=False)
        return await self._run(self._check, password, stored_hash)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def _run(self, work: Callable[..., T], *args: str) -> T:
        if self._admitted >= self.workers + self.queue:
            raise LoginBusy()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.workers,
                thread_name_prefix="arena-argon2",
                initializer=_lower_priority,
                initargs=(self.nice,),
            )
        self._admitted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)
        finally:
            self._admitted -= 1

    def _check(self, password: str, stored_hash: str) -> Verification:
        try:
            ok, new_hash = self._hasher.verify_and_update(password, stored_hash)
        except PwdlibError:
            # A hash that no hasher recognises can match no password.
            return Verification(ok=False)
        return Verification(ok=ok, new_hash=new_hash)
