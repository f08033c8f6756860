"""Password hashing: verification results, the dummy-hash path (H3), rehash, off-loop (H4),
the bounded admission and the low-priority threads (H11)."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from core.errors import LoginBusy
from core.passwords import (
    CHEAP,
    DUMMY_HASHES,
    RECOMMENDED,
    PasswordService,
    Verification,
    make_hasher,
)
from core.users import DEMO_USERS

CHEAP_SERVICE = PasswordService(CHEAP)
# Computed once: every test below reuses it.
CHEAP_HASH = CHEAP_SERVICE.hash_sync("correct horse")
#: The tutorial's recommended-cost hash of "secret" (argon2id, m=65536, t=3, p=4).
RECOMMENDED_HASH = DEMO_USERS[0].hashed_password


def test_cheap_hash_parameters() -> None:
    assert CHEAP_HASH.startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_recommended_hasher_parameters() -> None:
    hasher = make_hasher(RECOMMENDED)
    assert hasher.current_hasher.check_needs_rehash(RECOMMENDED_HASH) is False


def test_unknown_profile_refused() -> None:
    with pytest.raises(ValueError, match="unknown password profile 'fast'"):
        PasswordService("fast")


async def test_async_hash_verifies() -> None:
    hashed = await CHEAP_SERVICE.hash("pw")
    assert hashed != await CHEAP_SERVICE.hash("pw")  # salted
    assert await CHEAP_SERVICE.verify("pw", hashed) == Verification(ok=True, new_hash=None)


@pytest.mark.parametrize(
    ("password", "stored", "expected"),
    [
        ("correct horse", CHEAP_HASH, Verification(ok=True)),
        ("wrong horse", CHEAP_HASH, Verification(ok=False)),
        ("", CHEAP_HASH, Verification(ok=False)),
        ("correct horse", None, Verification(ok=False)),  # unknown user: dummy hash
        ("correct horse", "not-a-hash", Verification(ok=False)),
        ("correct horse", "$2b$12$abcdefghijklmnopqrstuv", Verification(ok=False)),  # bcrypt
        ("correct horse", "$argon2id$v=19$m=8,t=1,p=1$bm9wZQ$broken", Verification(ok=False)),
    ],
)
async def test_verify(password: str, stored: str | None, expected: Verification) -> None:
    assert await CHEAP_SERVICE.verify(password, stored) == expected


async def test_unknown_user_is_checked_against_a_dummy_hash() -> None:
    service = PasswordService(CHEAP)
    seen: list[str] = []
    real_check = service._check

    def check(password: str, stored_hash: str) -> Verification:
        seen.append(stored_hash)
        return real_check(password, stored_hash)

    service._check = check  # type: ignore[method-assign]
    assert await service.verify("x", None) == Verification(ok=False)
    assert await service.verify("y", None) == Verification(ok=False)
    # The same cheap-profile dummy hash, made once and reused.
    assert len(seen) == 2
    assert seen[0] == seen[1]
    assert seen[0].startswith("$argon2id$v=19$m=8,t=1,p=1$")


async def test_rehash_when_parameters_changed() -> None:
    result = await CHEAP_SERVICE.verify("secret", RECOMMENDED_HASH)
    assert result.ok is True
    assert result.new_hash is not None
    assert result.new_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert await CHEAP_SERVICE.verify("secret", result.new_hash) == Verification(ok=True)


async def test_no_rehash_on_wrong_password() -> None:
    assert await CHEAP_SERVICE.verify("Secret", RECOMMENDED_HASH) == Verification(ok=False)


class ThreadRecordingHasher:
    """Stands in for pwdlib's PasswordHash and notes the thread each call runs on."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def hash(self, password: str) -> str:
        self.threads.append(threading.current_thread())
        return "fake$" + password

    def verify_and_update(self, password: str, stored_hash: str) -> tuple[bool, str | None]:
        self.threads.append(threading.current_thread())
        return stored_hash == "fake$" + password, None


async def test_hashing_and_verification_run_off_the_event_loop() -> None:
    service = PasswordService(CHEAP)
    hasher = ThreadRecordingHasher()
    service._hasher = hasher  # type: ignore[assignment]
    loop_thread = threading.current_thread()
    hashed = await service.hash("pw")
    assert await service.verify("pw", hashed) == Verification(ok=True)
    assert await service.verify("pw", None) == Verification(ok=False)  # the dummy's check
    assert len(hasher.threads) == 3
    assert all(thread is not loop_thread for thread in hasher.threads)


def test_hash_sync_runs_in_the_caller_thread() -> None:
    service = PasswordService(CHEAP)
    hasher = ThreadRecordingHasher()
    service._hasher = hasher  # type: ignore[assignment]
    assert service.hash_sync("pw") == "fake$pw"
    assert hasher.threads == [threading.current_thread()]


class BlockingHasher(ThreadRecordingHasher):
    """Holds every check until released, so that the admission bound can be filled."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def verify_and_update(self, password: str, stored_hash: str) -> tuple[bool, str | None]:
        self.release.wait(10)
        return super().verify_and_update(password, stored_hash)


async def test_full_login_queue_refuses_at_once() -> None:
    # H11: 1 thread + 2 waiting are admitted; the fourth check is refused without waiting.
    service = PasswordService(CHEAP, workers=1, queue=2)
    hasher = BlockingHasher()
    service._hasher = hasher  # type: ignore[assignment]
    admitted = [asyncio.create_task(service.verify("pw", "fake$pw")) for _ in range(3)]
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    with pytest.raises(LoginBusy):
        await service.verify("pw", "fake$pw")
    assert time.perf_counter() - started < 0.05
    hasher.release.set()
    assert await asyncio.gather(*admitted) == [Verification(ok=True)] * 3
    # Once they are done, checks are admitted again.
    assert await service.verify("pw", "fake$pw") == Verification(ok=True)
    service.close()


async def test_hashing_threads_lower_their_priority() -> None:
    service = PasswordService(CHEAP, workers=1, nice=7)
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def own_nice(_: str) -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    assert await service._run(own_nice, "x") == min(19, base + 7)
    # The event loop's own thread keeps its priority.
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base
    service.close()


@pytest.mark.parametrize("profile", [CHEAP, RECOMMENDED])
def test_the_published_dummy_hash_has_the_profiles_parameters(profile: str) -> None:
    # H3: checking against it costs what checking a real user's hash costs.
    service = PasswordService(profile)
    assert service._dummy_hash == DUMMY_HASHES[profile]
    assert make_hasher(profile).hashers[0].check_needs_rehash(DUMMY_HASHES[profile]) is False


async def test_the_first_unknown_user_makes_no_hash() -> None:
    service = PasswordService(CHEAP)
    hasher = ThreadRecordingHasher()
    service._hasher = hasher  # type: ignore[assignment]
    assert await service.verify("pw", None) == Verification(ok=False)
    assert len(hasher.threads) == 1  # only the check itself


async def test_warm_makes_a_dummy_hash_where_the_parameters_moved_on() -> None:
    service = PasswordService(CHEAP)
    service._dummy_hash = None  # as when pwdlib's parameters no longer match the published one
    hasher = ThreadRecordingHasher()
    service._hasher = hasher  # type: ignore[assignment]
    await service.warm()
    assert len(hasher.threads) == 1  # the dummy hash, made at start
    assert await service.verify("pw", None) == Verification(ok=False)
    assert len(hasher.threads) == 2  # only the check itself


def test_default_workers_follow_the_cpu_affinity() -> None:
    assert PasswordService(CHEAP).workers == len(os.sched_getaffinity(0))
