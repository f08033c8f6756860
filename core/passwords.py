"""Password hashing with pwdlib/argon2, always off the event loop (H4).

`PasswordService.verify` answers for unknown users too, by checking against a dummy hash of the
same cost (H3), so both refusals take the same time.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from pwdlib import PasswordHash
from pwdlib.exceptions import PwdlibError
from pwdlib.hashers.argon2 import Argon2Hasher

#: argon2-cffi's RFC 9106 "low memory" defaults (t=3, m=64 MiB, p=4), the tutorial's own hashes.
RECOMMENDED = "recommended"
#: Minimal argon2 cost. For tests only, where the hash cost is not what is being tested.
CHEAP = "cheap"


def make_hasher(profile: str) -> PasswordHash:
    if profile == RECOMMENDED:
        return PasswordHash.recommended()
    if profile == CHEAP:
        return PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1),))
    raise ValueError(f"unknown password profile {profile!r}")


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    #: A new hash when the stored one was made with other parameters (rehash on login).
    new_hash: str | None = None


class PasswordService:
    def __init__(self, profile: str = RECOMMENDED) -> None:
        self._hasher = make_hasher(profile)
        self._dummy_hash: str | None = None

    def hash_sync(self, password: str) -> str:
        """For the CLI, which has no event loop to protect."""
        return self._hasher.hash(password)

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password: str, stored_hash: str | None) -> Verification:
        """Check `password` against `stored_hash`; None stands for an unknown user."""
        if stored_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self.hash(secrets.token_urlsafe(16))
            await asyncio.to_thread(self._check, password, self._dummy_hash)
            return Verification(ok=False)
        return await asyncio.to_thread(self._check, password, stored_hash)

    def _check(self, password: str, stored_hash: str) -> Verification:
        try:
            ok, new_hash = self._hasher.verify_and_update(password, stored_hash)
        except PwdlibError:
            # A hash that no hasher recognises can match no password.
            return Verification(ok=False)
        return Verification(ok=ok, new_hash=new_hash)
