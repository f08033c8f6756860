"""`make fuzz` in small, inside `make test`: schemathesis with every check and every phase, a
fixed seed, on each implementation's own document and on the canonical one; zero failures.
The strict profile in smaller still: its own document only (STRICT-021 holds it equal to the
canonical one), fewer examples. Reports land in reports/fuzz-bounded/<impl>/ (strict:
reports/fuzz-bounded/strict/<impl>/) for a failing CI run."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from conformance.fuzz import (
    DEFAULT_SEED,
    DOCUMENTS,
    FuzzRun,
    available_implementations,
    fuzz_server,
    run_schemathesis,
    write_summary,
)
from conformance.fuzz_replay import (
    OPERATIONS,
    Answer,
    RecordedRequest,
    TokenRefresher,
    answer_of,
    comparable_answers,
)
from conformance.servers import LIVE_SECRET_KEY
from core.tokens import TokenService

#: Per operation and phase: a few hundred requests per operation across phases and documents
#: (/token thousands), about 20 s per document on two cores.
EXAMPLES = 200
#: Each implementation gets the whole bound; past it the run is cut and the test fails.
BUDGET_SECONDS = 110.0
REPORTS = Path(__file__).resolve().parents[1] / "reports" / "fuzz-bounded"
PHASES = {"examples", "coverage", "fuzzing", "stateful"}
#: Per profile: the documents fuzzed and the examples per operation and phase.
BOUNDS = {"tutorial": (DOCUMENTS, EXAMPLES), "strict": (("own",), 50)}


@pytest.fixture(
    scope="module",
    params=[
        pytest.param((name, profile), marks=pytest.mark.live, id=f"{name}-{profile}")
        for name in available_implementations()
        for profile in BOUNDS
    ],
)
def fuzzed(request: pytest.FixtureRequest) -> tuple[list[FuzzRun], float]:
    name, profile = request.param
    documents, examples = BOUNDS[profile]
    reports = REPORTS if profile == "tutorial" else REPORTS / profile
    started = time.monotonic()
    runs = []
    with fuzz_server(name, profile=profile) as server:
        for offset, document in enumerate(documents):
            left = BUDGET_SECONDS - (time.monotonic() - started)
            out = reports / name / document
            # Another seed per document: the two documents are equal, their cases need not be.
            seed = DEFAULT_SEED + offset
            runs.append(
                run_schemathesis(
                    server,
                    document,
                    out,
                    seed=seed,
                    examples=examples,
                    timeout=max(left, 1.0),
                    profile=profile,
                )
            )
    write_summary(name, runs, reports / name)
    return runs, time.monotonic() - started


def _explain(run: FuzzRun) -> str:
    log = Path(run.report_dir) / "schemathesis.log"
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:])
    return f"{run.impl}/{run.document}: {run.failures} {run.errors}\n{tail}"


def test_no_failure_with_every_check_and_phase(fuzzed: tuple[list[FuzzRun], float]) -> None:
    runs, _ = fuzzed
    assert [run.document for run in runs] == list(BOUNDS[runs[0].profile][0])
    for run in runs:
        assert run.failures == [], _explain(run)
        assert run.errors == [], _explain(run)
        assert run.exit_code == 0, _explain(run)


def test_every_phase_ran_on_every_operation(fuzzed: tuple[list[FuzzRun], float]) -> None:
    runs, _ = fuzzed
    for run in runs:
        examples = BOUNDS[run.profile][1]
        assert run.phases == dict.fromkeys(PHASES, "success"), run.phases
        assert run.operations == len(OPERATIONS)
        assert set(run.per_operation) == set(OPERATIONS.values()), run.per_operation
        # The stateful phase followed every /token -> protected-route link at least once.
        assert run.links_covered == "3/3", _explain(run)
        assert set(run.per_phase) == PHASES, run.per_phase
        assert run.per_operation["POST /token"] >= 3 * examples, run.per_operation
        assert min(run.per_operation.values()) >= examples // 4, run.per_operation


def test_within_budget(fuzzed: tuple[list[FuzzRun], float]) -> None:
    _, seconds = fuzzed
    assert seconds < BUDGET_SECONDS


# The differential replay's own rules, without servers.


def _recorded(method: str = "GET", target: str = "/users/me/", token: str = "") -> RecordedRequest:
    headers = (("Authorization", f"Bearer {token}"),) if token else ()
    return RecordedRequest(method, target, headers, b"", "test", time.time())


def test_replay_remints_a_token_that_expired_since_it_was_recorded() -> None:
    tokens = TokenService(LIVE_SECRET_KEY.encode, 1800)
    recorded_at = time.time() - 3600
    old = tokens.issue("alice", ("items", "me"), now=recorded_at).access_token
    [(name, value)] = TokenRefresher()((("Authorization", f"Bearer {old}"),), recorded_at)
    assert name == "Authorization"
    claims = tokens.verify(value.removeprefix("Bearer "))
    assert (claims.subject, claims.scopes) == ("alice", frozenset({"items", "me"}))
    # A value that was never a valid token stays exactly as schemathesis sent it.
    junk = (("authorization", "Bearer not.a.token"), ("X-Other", "1"))
    assert TokenRefresher()(junk, recorded_at) == list(junk)


def test_replay_sets_aside_only_the_framework_dependent_answers() -> None:
    ok = Answer(200, {"status": "ok"}, ())
    refused = Answer(405, {"detail": "Method Not Allowed"}, (("allow", "GET"),))
    redirect = Answer(307, "", (("location", "/status/"),))
    head = _recorded("HEAD", "/status/")
    assert comparable_answers(head, {"a": ok, "b": refused}) == {"a": ok}
    assert comparable_answers(_recorded(target="/status"), {"a": ok, "b": redirect}) == {"a": ok}
    # Elsewhere a 405 or a 307 is an answer like any other.
    assert comparable_answers(_recorded("PUT", "/status/"), {"a": ok, "b": refused}) == {
        "a": ok,
        "b": refused,
    }
    assert comparable_answers(_recorded(target="/status/"), {"a": redirect}) == {"a": redirect}
    # OPTIONS: 405, or the framework's own empty 2xx (Litestar), are both set aside.
    options = _recorded("OPTIONS", "/token")
    served = Answer(204, "", (("allow", "POST"),))
    chatty = Answer(200, {"detail": "hello"}, ())
    assert comparable_answers(options, {"a": refused, "b": served, "c": chatty}) == {"c": chatty}


def test_replay_compares_tokens_by_what_they_grant() -> None:
    tokens = TokenService(LIVE_SECRET_KEY.encode, 1800)
    bodies = [
        {"access_token": tokens.issue("johndoe", ("me",)).access_token, "scope": "me"}
        for _ in range(2)
    ]
    assert bodies[0] != bodies[1]  # iat/jti differ
    answers = [
        answer_of(httpx.Response(200, json=body, headers={"Allow": "HEAD, GET"})) for body in bodies
    ]
    assert answers[0] == answers[1]
    assert answers[0].body == {
        "access_token": {"token of": "johndoe", "scope": "me"},
        "scope": "me",
    }
    assert ("allow", "GET") in answers[0].headers
    # OPTIONS listed in Allow is the framework's choice too.
    listed = answer_of(httpx.Response(405, json={}, headers={"Allow": "GET, OPTIONS"}))
    assert ("allow", "GET") in listed.headers
