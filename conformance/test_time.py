"""TIME: no user enumeration through timing (CONTRACT.md H3): an unknown user is checked against a
dummy hash of the same cost as a real one, so both refusals take the same time.

This measures a property, not speed: medians of interleaved samples against an instance with
full-cost hashes, compared with a tolerance wide enough for a busy two-core machine and far
narrower than the gap a missing dummy verification opens (one argon2 run, tens of ms)."""

from __future__ import annotations

import statistics
import time

import httpx
import pytest

from conformance.checks import MUST, check
from conformance.conftest import Target
from conformance.support import describe, full_cost_client, login, skip_if_live

PAIRS = 15
WARM_UP = 2
#: Medians may differ by this factor either way...
RATIO = 2.0
#: ...or by this much in absolute terms, whichever is larger (noise on a fast hash).
FLOOR_SECONDS = 0.015
#: Below this a password check is too cheap for timing to tell anything.
MEANINGFUL_SECONDS = 0.01


async def _timed_login(client: httpx.AsyncClient, username: str) -> float:
    start = time.perf_counter()
    response = await login(client, username, "not-the-password")
    elapsed = time.perf_counter() - start
    assert response.status_code == 400, f"expected 400, got {describe(response)}"
    return elapsed


@check(
    "TIME-001",
    MUST,
    "CONTRACT H3; POST /token 400 (the same time)",
    "unknown user and wrong password take the same time (medians of interleaved samples)",
)
async def test_no_user_enumeration_by_timing(
    request: pytest.FixtureRequest, target: Target
) -> None:
    client = full_cost_client(request, target)
    unknown: list[float] = []
    wrong: list[float] = []
    async with client:
        for _ in range(WARM_UP):
            await _timed_login(client, "no-such-user")
            await _timed_login(client, "johndoe")
        for index in range(PAIRS):
            # Alternate which goes first so that drift in machine load hits both alike.
            order = ("no-such-user", "johndoe") if index % 2 else ("johndoe", "no-such-user")
            for username in order:
                sample = await _timed_login(client, username)
                (unknown if username == "no-such-user" else wrong).append(sample)
    unknown_median = statistics.median(unknown)
    wrong_median = statistics.median(wrong)
    if wrong_median < MEANINGFUL_SECONDS:
        pytest.skip(f"password checks take {wrong_median * 1000:.1f} ms: too cheap to compare")
    summary = (
        f"unknown user {unknown_median * 1000:.1f} ms, wrong password {wrong_median * 1000:.1f} ms"
    )
    request.node.user_properties.append(("measurement", summary))
    slower, faster = max(unknown_median, wrong_median), min(unknown_median, wrong_median)
    allowed = max(FLOOR_SECONDS, (RATIO - 1) * faster)
    assert slower - faster <= allowed, (
        f"expected medians at most {allowed * 1000:.1f} ms apart, got {summary}"
    )


@check(
    "TIME-002",
    MUST,
    "CONTRACT H3 (the first refusal too)",
    "the first unknown-user login after a start takes no longer than a wrong password",
)
async def test_first_unknown_user_is_not_slower(
    request: pytest.FixtureRequest, target: Target
) -> None:
    skip_if_live(target, "needs an instance whose first unknown-user login is still to come")
    firsts: list[float] = []
    wrong: list[float] = []
    for _ in range(3):  # three fresh instances: one first refusal each
        async with full_cost_client(request, target) as client:
            firsts.append(await _timed_login(client, "no-such-user"))
            wrong.append(await _timed_login(client, "johndoe"))
    first, baseline = statistics.median(firsts), statistics.median(wrong)
    summary = f"first unknown user {first * 1000:.1f} ms, wrong password {baseline * 1000:.1f} ms"
    request.node.user_properties.append(("measurement", summary))
    # A dummy hash made on first use doubles the first refusal (one hash, then the check).
    bound = max(baseline + FLOOR_SECONDS, 1.5 * baseline)
    assert first <= bound, f"expected the first refusal within {bound * 1000:.1f} ms, got {summary}"
