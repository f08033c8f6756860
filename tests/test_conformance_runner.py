"""The conformance runner: the collector on a synthetic suite, the matrix and its reports, the
differential comparison, and `python -m conformance` end to end, in-process and live."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from conformance import __main__ as cli
from conformance import fuzz
from conformance.checks import MUST, SHOULD, Check
from conformance.differential import (
    ALLOWED_HEAD,
    ALLOWED_OPTIONS,
    Answer,
    Endpoint,
    Finding,
    FrameworkDifference,
    Observation,
    Probe,
    answer_of,
    compare,
    corpus,
    differing_paths,
    observe,
    run_differential,
    tokens,
)
from conformance.evidence import from_raw, from_response, json_text, safe, terminal
from conformance.report import Report, cell_of, rule_groups
from conformance.runner import SUITE_COLUMN, Case, Collector, SuiteRun, TargetSpec
from conformance.selection import Selection
from conformance.servers import LIVE_SECRET_KEY, free_port, serve
from core.errors import InvalidToken
from core.tokens import TokenService

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
#: The inner runs' configuration: the marker conformance/conftest.py registers, and the
#: asyncio setting whose absence pytest-asyncio warns about.
INNER_INI = """
[pytest]
markers = check(meta): a conformance check
asyncio_default_fixture_loop_scope = function
"""

SYNTHETIC_SUITE = """
import pytest
from conformance.checks import MUST, SHOULD, check

TARGETS = pytest.mark.parametrize("target_name", ["alpha", "beta"])

@TARGETS
@check("CHK-001", MUST, "rule one", "always passes")
def test_passes(target_name):
    assert True

@TARGETS
@pytest.mark.parametrize("case", ["one", "two"])
@check("CHK-002", MUST, "rule two", "fails on beta, case two")
def test_variants(target_name, case, record_property):
    record_property("variant", f"{target_name}:{case}")
    assert (target_name, case) != ("beta", "two"), "beta two is broken"

@TARGETS
@check("CHK-010", SHOULD, "rule ten", "a SHOULD failing on alpha")
def test_should(target_name):
    status = 403 if target_name == "alpha" else 401
    assert status == 401

@TARGETS
@check("CHK-003", MUST, "rule three", "skipped on beta")
def test_skips(target_name):
    if target_name == "beta":
        pytest.skip("not for beta")

@pytest.fixture
def broken_on_beta(target_name):
    if target_name == "beta":
        raise RuntimeError("fixture broke")

@TARGETS
@check("CHK-004", MUST, "rule four", "an error in setup")
def test_setup_error(target_name, broken_on_beta):
    pass

@check("CHK-005", MUST, "rule five", "not parametrized over targets")
def test_suite_level():
    pass

@TARGETS
def test_unmarked(target_name):
    pass

@TARGETS
@check("CHK-006", MUST, "CONTRACT H1; POST /token (x, y)", "blocked on beta")
def test_blocked(target_name):
    if target_name == "beta":
        pytest.skip("blocked: needs a token from /token: johndoe got 400")
"""


@pytest.fixture
def synthetic(pytester: pytest.Pytester) -> tuple[Collector, list[Case], list[Case]]:
    pytester.makeini(INNER_INI)
    pytester.makepyfile(test_synthetic=SYNTHETIC_SUITE)
    collected: list[Case] = []
    finished: list[Case] = []
    collector = Collector(on_collected=collected.extend, on_case=finished.append)
    pytester.inline_run("-p", "no:cacheprovider", "--tb=line", plugins=[collector])
    return collector, collected, finished


def _run_of(collector: Collector, names: tuple[str, ...] = ("alpha", "beta")) -> SuiteRun:
    return SuiteRun(
        targets=[TargetSpec(name) for name in names],
        checks=collector.checks,
        cases=list(collector.cases.values()),
        errors=collector.errors,
        pytest_exit_code=1,
        output="",
        duration=0.5,
    )


def _outcomes(collector: Collector) -> dict[tuple[str, str, str], str]:
    return {(c.check.id, c.target, c.variant): c.outcome for c in collector.cases.values()}


# --- the collector --------------------------------------------------------------------------


def test_collector_maps_items_to_check_target_and_variant(
    synthetic: tuple[Collector, list[Case], list[Case]],
) -> None:
    collector, collected, finished = synthetic
    assert _outcomes(collector) == {
        ("CHK-001", "alpha", ""): "passed",
        ("CHK-001", "beta", ""): "passed",
        ("CHK-002", "alpha", "one"): "passed",
        ("CHK-002", "alpha", "two"): "passed",
        ("CHK-002", "beta", "one"): "passed",
        ("CHK-002", "beta", "two"): "failed",
        ("CHK-010", "alpha", ""): "failed",
        ("CHK-010", "beta", ""): "passed",
        ("CHK-003", "alpha", ""): "passed",
        ("CHK-003", "beta", ""): "skipped",
        ("CHK-004", "alpha", ""): "passed",
        ("CHK-004", "beta", ""): "failed",
        ("CHK-005", SUITE_COLUMN, ""): "passed",
        ("test_synthetic.py::test_unmarked", "alpha", ""): "passed",
        ("test_synthetic.py::test_unmarked", "beta", ""): "passed",
        ("CHK-006", "alpha", ""): "passed",
        ("CHK-006", "beta", ""): "blocked",
    }
    # Progress callbacks: every item once when collected, once when finished.
    assert len(collected) == len(finished) == len(collector.cases) == 17
    assert collector.errors == []


def test_collector_keeps_messages_levels_and_properties(
    synthetic: tuple[Collector, list[Case], list[Case]],
) -> None:
    collector, _, _ = synthetic
    cases = {(c.check.id, c.target, c.variant): c for c in collector.cases.values()}
    broken = cases["CHK-002", "beta", "two"]
    assert broken.message.startswith("beta two is broken")
    assert broken.properties == [("variant", "beta:two")]
    assert broken.check == Check("CHK-002", MUST, "rule two", "fails on beta, case two")
    assert cases["CHK-010", "alpha", ""].message == "403 == 401"
    assert cases["CHK-010", "alpha", ""].check.level == SHOULD
    assert cases["CHK-003", "beta", ""].message == "not for beta"
    assert cases["CHK-004", "beta", ""].message == "[setup] RuntimeError: fixture broke"
    # A blocked case names what blocked it, without the marker prefix.
    assert cases["CHK-006", "beta", ""].message == "needs a token from /token: johndoe got 400"
    unmarked = cases["test_synthetic.py::test_unmarked", "alpha", ""].check
    assert (unmarked.level, unmarked.rule) == (MUST, "(no @check marker)")


def test_collector_selects_by_family(pytester: pytest.Pytester) -> None:
    pytester.makeini(INNER_INI)
    pytester.makepyfile(
        test_families="""
        from conformance.checks import MUST, check

        @check("AUTH-001", MUST, "r", "t")
        def test_auth():
            pass

        @check("TOK-001", MUST, "r", "t")
        def test_tok():
            pass

        def test_unmarked():
            pass
        """
    )
    collector = Collector(families=["tok"])
    result = pytester.inline_run("-p", "no:cacheprovider", plugins=[collector])
    assert [case.check.id for case in collector.cases.values()] == ["TOK-001"]
    assert len(result.getcalls("pytest_deselected")[0].items) == 2


def test_collection_errors_are_kept(pytester: pytest.Pytester) -> None:
    pytester.makeini(INNER_INI)
    pytester.makepyfile(test_broken="import nowhere_to_be_found\n")
    collector = Collector()
    pytester.inline_run("-p", "no:cacheprovider", plugins=[collector])
    assert len(collector.errors) == 1
    assert "test_broken.py" in collector.errors[0]
    assert "nowhere_to_be_found" in collector.errors[0]


# --- the matrix and the reports -------------------------------------------------------------


def test_cell_rules() -> None:
    check = Check("X-1", MUST, "r", "t")

    def case(outcome: Any) -> Case:
        return Case("n", check, "t", outcome=outcome)

    assert cell_of([case("passed"), case("skipped")]) == "pass"
    assert cell_of([case("passed"), case("failed"), case("skipped")]) == "fail"
    assert cell_of([case("skipped"), case("not run")]) == "skip"
    assert cell_of([]) == "skip"
    assert cell_of([case("passed"), case("blocked")]) == "blocked"
    assert cell_of([case("failed"), case("blocked")]) == "fail"


def test_report_matrix_summary_and_exit_code(
    synthetic: tuple[Collector, list[Case], list[Case]], tmp_path: Path
) -> None:
    collector, _, _ = synthetic
    report = Report(_run_of(collector))
    assert report.columns == ["alpha", "beta", SUITE_COLUMN]
    ids = [check.id for check in report.checks]
    # Natural order by family and number; the unmarked test is its own row.
    assert ids[:5] == ["CHK-001", "CHK-002", "CHK-003", "CHK-004", "CHK-005"]
    assert ids[5:7] == ["CHK-006", "CHK-010"]
    assert report.cell("CHK-002", "alpha") == "pass"
    assert report.cell("CHK-002", "beta") == "fail"
    assert report.cell("CHK-003", "beta") == "skip"
    assert report.cell("CHK-005", "alpha") == "skip"
    assert report.cell("CHK-006", "beta") == "blocked"
    alpha, beta = report.summary("alpha"), report.summary("beta")
    # Counted in checks; a check with no case on a column (CHK-005) is not counted there.
    assert (alpha.must_passed, alpha.must_failed, alpha.should_failed, alpha.skipped) == (
        6,
        0,
        1,
        0,
    )
    assert (beta.must_passed, beta.must_failed, beta.should_passed, beta.skipped) == (2, 2, 1, 1)
    assert (beta.blocked, beta.checks) == (1, 7)
    assert beta.cases == {"passed": 4, "failed": 2, "skipped": 1, "blocked": 1}
    assert report.exit_code == 1

    json_path, md_path = report.write(tmp_path / "reports")
    data = json.loads(json_path.read_text())
    assert data["exit_code"] == 1
    assert data["summary"]["beta"] == {
        "must_passed": 2,
        "must_failed": 2,
        "should_passed": 1,
        "should_failed": 0,
        "skipped": 1,
        "blocked": 1,
        "cases": {"passed": 4, "failed": 2, "skipped": 1, "blocked": 1},
        "python_passed": 0,
        "python_failed": 0,
    }
    chk2 = next(check for check in data["checks"] if check["id"] == "CHK-002")
    assert chk2["results"]["beta"]["outcome"] == "fail"
    assert [case["variant"] for case in chk2["results"]["beta"]["cases"]] == ["one", "two"]
    assert chk2["results"]["beta"]["cases"][1]["properties"] == {"variant": "beta:two"}
    assert {f["check"] for f in data["failures"]} == {"CHK-002", "CHK-004", "CHK-010"}
    chk6 = next(check for check in data["checks"] if check["id"] == "CHK-006")
    assert chk6["rules"] == ["H1", "POST /token"]
    assert chk6["results"]["beta"]["outcome"] == "blocked"
    assert {
        "check": "CHK-006",
        "target": "beta",
        "outcome": "blocked",
        "reason": "needs a token from /token: johndoe got 400",
        "cases": 1,
    } in data["skipped"]
    assert {"check": "CHK-003", "target": "beta", "outcome": "skip", "reason": "not for beta",
            "cases": 1} in data["skipped"]  # fmt: skip
    h1 = next(rule for rule in data["rules"] if rule["rule"] == "H1")
    assert h1["checks"] == ["CHK-006"]
    assert h1["results"]["alpha"]["outcome"] == "pass"
    assert h1["results"]["beta"] == {
        "outcome": "blocked", "passed": 0, "failed": 0, "skipped": 0, "blocked": 1,
        "failed_checks": [],
    }  # fmt: skip
    # The rule groups run in CONTRACT.md's order: the tutorial's sections, then H, then S.
    order = [rule["rule"] for rule in data["rules"]]
    assert order.index("POST /token") < order.index("H1")
    assert set(data["versions"]) >= {"python", "fastapi", "litestar", "starlette"}
    assert data["differential"] is None

    markdown = md_path.read_text()
    assert "| check | level | tier | source | title | alpha | beta | (suite) |" in markdown
    assert "## Results per rule" in markdown
    assert "- ⊘ CHK-006 on **beta** [1 cases]: needs a token from /token" in markdown
    row = "| CHK-002 | MUST | neutral | tutorial | fails on beta, case two | ✓ | ✗ | – |"  # noqa: RUF001
    assert row in markdown
    assert "- CHK-002 (MUST) on **beta** `[two]`: `beta two is broken" in markdown


def test_should_failures_alone_exit_zero(
    synthetic: tuple[Collector, list[Case], list[Case]],
) -> None:
    collector, _, _ = synthetic
    run = _run_of(collector)
    run.cases = [c for c in run.cases if c.outcome != "failed" or c.check.level == SHOULD]
    report = Report(run)
    assert report.failures(SHOULD)
    assert report.exit_code == 0


def test_errors_and_empty_runs_fail(synthetic: tuple[Collector, list[Case], list[Case]]) -> None:
    collector, _, _ = synthetic
    passing = _run_of(collector)
    passing.cases = [c for c in passing.cases if c.outcome != "failed"]
    assert Report(passing).exit_code == 0
    assert Report(passing, startup_errors={"litestar": "exited with 1"}).exit_code == 1
    passing.errors = ["collecting x: boom"]
    assert Report(passing).exit_code == 1
    assert Report(_run_of(Collector())).exit_code == 1  # nothing ran at all


def test_rich_matrix_and_failure_lines(
    synthetic: tuple[Collector, list[Case], list[Case]],
) -> None:
    collector, _, _ = synthetic
    console = Console(record=True, width=100, color_system=None)
    Report(_run_of(collector)).render(console)
    text = console.export_text()
    lines = text.splitlines()
    row = next(line for line in lines if "CHK-002" in line and "│" in line)
    assert [cell.strip() for cell in row.split("│")[4:7]] == ["✓", "✗", "–"]  # noqa: RUF001
    assert "alpha: 7 checks [8 cases]: MUST 6 passed, 0 failed · SHOULD 0 passed, 1 failed" in (
        text.replace("\n", " ")
    )
    # Each failing check once, with how many of its cases fail.
    assert "✗ CHK-002 MUST on beta [two] (1 of 2 cases fail): beta two is broken" in text
    assert text.count("CHK-002 MUST on beta") == 1
    # Only the rows that matter: CHK-001 passes everywhere alike, so it is not in the terminal.
    assert not any("CHK-001" in line and "│" in line for line in lines)
    assert "⊘ 1 [1] needs a token from /token: johndoe got 400: CHK-006" in text
    assert "– 1 [1] not for beta: CHK-003" in text  # noqa: RUF001
    assert any("H1" in line and "⊘ 1/1" in line for line in lines)


def test_terminal_at_80_columns_leads_with_what_matters(
    synthetic: tuple[Collector, list[Case], list[Case]],
) -> None:
    collector, _, _ = synthetic
    console = Console(record=True, width=80, color_system=None)
    Report(_run_of(collector)).render(console)
    lines = console.export_text().splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "Results per CONTRACT.md rule" in "\n".join(lines)
    # Failures come before the skipped and blocked ones.
    text = "\n".join(lines)
    assert text.index("Failures: 3 checks [3 cases]") < text.index("Skipped and blocked")


@pytest.mark.parametrize("width", [80, 100])
def test_every_targets_verdict_is_visible_at_80_and_100_columns(
    synthetic: tuple[Collector, list[Case], list[Case]], width: int
) -> None:
    collector, _, _ = synthetic
    names = [
        "fastapi", "litestar", "starlette", "fastapi-strict", "litestar-strict", "starlette-strict",
    ]  # fmt: skip
    beta = [case for case in collector.cases.values() if case.target == "beta"]
    run = SuiteRun(
        targets=[
            TargetSpec(name, profile="strict" if name.endswith("strict") else "tutorial")
            for name in names
        ],
        checks=collector.checks,
        cases=[dataclasses.replace(case, target=name) for name in names for case in beta],
        errors=[],
        pytest_exit_code=1,
        output="",
        duration=0.5,
    )
    console = Console(record=True, width=width, color_system=None)
    Report(run).render(console)
    lines = console.export_text().splitlines()
    assert all(len(line) <= width for line in lines), max(lines, key=len)
    headers = [line for line in lines if "┃" in line]
    for name in names:  # every target's column is there, its name whole
        assert any(f" {name} " in line for line in headers), (name, headers)
    # CHK-002 fails on every target: one ✗ per target across the matrix tables.
    rows = [line for line in lines if "CHK-002" in line and "│" in line]
    assert sum(row.count("✗") for row in rows) == len(names), rows


@pytest.mark.parametrize(
    ("rule", "groups"),
    [
        ("CONTRACT H2; POST /token 400 (names and passwords are compared exactly)",
         ["H2", "POST /token"]),
        ("CONTRACT Authentication 2 (scope, where present) and 3", ["Authentication"]),
        ("CONTRACT H7, H8, H14", ["H7", "H8", "H14"]),
        ("CONTRACT POST /token Body (multipart: CRLF line ends)", ["POST /token body"]),
        ("CONTRACT H13, Settings (user cache)", ["H13", "Settings"]),
        ("CONTRACT (framework-dependent points: HEAD)", ["Framework-dependent points"]),
        ("RFC 7519 §4.1.5; RFC 8725 §3.10", ["RFCs beyond the contract"]),
        ("CONTRACT GET /users/me/", ["Endpoints"]),
        ("CONTRACT S3", ["S3"]),
    ],
)  # fmt: skip
def test_rule_groups(rule: str, groups: list[str]) -> None:
    assert rule_groups(rule) == groups


# --- differential mode ----------------------------------------------------------------------


def _response(status: int, body: Any = None, **headers: str) -> httpx.Response:
    request = httpx.Request("GET", "http://t/")
    if body is None:
        return httpx.Response(status, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


def test_answers_keep_the_contract_and_mask_what_varies() -> None:
    key = "k" * 40
    token = TokenService(key.encode, 1800).issue("johndoe", ("me",)).access_token
    response = _response(
        200,
        {"access_token": token, "token_type": "bearer", "scope": "me"},
        **{"Cache-Control": "no-store", "X-Request-Id": "abc", "Date": "today"},
    )
    answer = answer_of(response)
    assert answer.headers == {"cache-control": "no-store", "content-type": "application/json"}
    assert answer.body["access_token"] == (
        "<JWT alg=HS256 typ=JWT sub='johndoe' scope='me' claims=exp,iat,jti,scope,sub exp-iat=1800>"
    )
    assert answer_of(_response(200, {"access_token": "opaque"})).body == {
        "access_token": "<not a JWT: 6 chars>"
    }
    moved = answer_of(_response(307, location="http://127.0.0.1:9/users/me/?a=1"))
    assert moved.headers["location"] == "/users/me/?a=1"
    refused = answer_of(_response(405, {"detail": "x"}, allow="post,  GET"))
    assert refused.headers["allow"] == "GET, POST"
    text = httpx.Response(404, text="Not Found", request=httpx.Request("GET", "http://t/"))
    assert answer_of(text).body == {"<not JSON>": "Not Found"}
    assert answer_of(text).headers == {"content-type": "text/plain"}


def test_compare_agreement_findings_and_allowed_differences() -> None:
    probe = Probe("p", "GET", "/users/me")
    ok = Answer(200, {"content-type": "application/json"}, {"a": 1})
    same = [Observation("a", ok, ok), Observation("b", ok, ok)]
    assert compare(probe, same) is None

    redirected = Observation("a", Answer(307, {"location": "/users/me/"}), ok, ("307",), ok)
    direct = Observation("b", ok, ok, ("direct",))
    allowed = compare(probe, [redirected, direct])
    assert isinstance(allowed, FrameworkDifference)
    assert allowed.labels == {"a": ("307",), "b": ("direct",)}

    other = Answer(403, {"content-type": "text/plain", "www-authenticate": "Bearer"}, "x")
    finding = compare(probe, [Observation("a", ok, ok), Observation("b", other, other)])
    assert isinstance(finding, Finding)
    assert finding.fields == ("status", "body", "header content-type", "header www-authenticate")
    assert finding.to_json()["answers"]["b"]["status"] == 403
    assert finding.to_json()["request"] == 'curl -sS -i "$BASE/users/me"'


def test_differing_paths_point_into_documents() -> None:
    left = {"paths": {"/token": {"post": {"x": 1}}}, "scopes": {"me": "a", "items": "b"}}
    right = {"paths": {"/token": {"post": {"x": 2}}}, "scopes": {"me": "a", "items:read": "b"}}
    assert differing_paths([left, right]) == [
        "$.paths./token.post.x",
        "$.scopes.items",
        "$.scopes.items:read",
    ]
    assert differing_paths([[1, 2], [1, 3]]) == ["$[1]"]
    assert differing_paths([[1], [1, 2]]) == ["$"]


async def test_observe_follows_a_redirect_and_judges_head() -> None:
    ok = Answer(200, {"content-type": "application/json"}, {"a": 1})

    async def redirects(probe: Probe) -> Answer:
        return ok if probe.path.endswith("/") else Answer(307, {"location": probe.path + "/"})

    seen = await observe("t", redirects, Probe("p", "GET", "/status", kind="no-slash"))
    assert (seen.comparable, seen.followed, seen.labels) == (ok, ok, ("307 to the slash form",))

    async def head_405(probe: Probe) -> Answer:
        return Answer(405, {"allow": "GET, HEAD"}) if probe.method == "HEAD" else ok

    seen = await observe("t", head_405, Probe("h", "HEAD", "/status/", kind="head"))
    assert seen.comparable == ALLOWED_HEAD
    assert seen.labels == ("Allow lists HEAD", "HEAD 405")

    async def head_with_body(probe: Probe) -> Answer:
        return ok

    seen = await observe("t", head_with_body, Probe("h", "HEAD", "/status/", kind="head"))
    assert seen.comparable == ok
    assert seen.labels == ("HEAD answered neither as 405 nor as GET",)


async def test_observe_allows_options_served_by_the_framework() -> None:
    async def litestar_like(probe: Probe) -> Answer:
        return Answer(204, {"allow": "OPTIONS, POST"})

    seen = await observe("t", litestar_like, Probe("o", "OPTIONS", "/token"))
    assert seen.comparable == ALLOWED_OPTIONS
    assert seen.labels == ("Allow lists OPTIONS", "OPTIONS 204")

    async def refuses(probe: Probe) -> Answer:
        return Answer(405, {"allow": "POST"}, {"detail": "Method Not Allowed"})

    seen = await observe("t", refuses, Probe("o", "OPTIONS", "/token"))
    assert (seen.comparable, seen.labels) == (ALLOWED_OPTIONS, ("OPTIONS 405",))

    # A 2xx with a body is not the framework's own answer: compared like any other.
    body = Answer(200, {"allow": "POST"}, {"detail": "hello"})

    async def answers_with_a_body(probe: Probe) -> Answer:
        return body

    seen = await observe("t", answers_with_a_body, Probe("o", "OPTIONS", "/token"))
    assert (seen.comparable, seen.labels) == (body, ())


def test_corpus_is_fixed_and_renders_as_curl() -> None:
    probes = corpus("k" * 40, now=1_800_000_000)
    assert len(probes) >= 60
    assert len({probe.id for probe in probes}) == len(probes)
    again = corpus("k" * 40, now=1_800_000_000)
    assert [(p.id, p.method, p.path, p.body) for p in probes] == [
        (p.id, p.method, p.path, p.body) for p in again
    ]
    for probe in probes:
        words = shlex.split(probe.curl(), comments=True)
        assert words[0] == "curl", probe.curl()
        assert any(word.startswith("$BASE/") for word in words), probe.curl()
    multipart = next(p for p in probes if p.id == "login-multipart-password-as-file")
    assert "-F username=johndoe" in multipart.curl()
    assert "Content-Type" not in multipart.curl()
    empty = next(p for p in probes if p.id == "users-me-empty-header")
    assert empty.curl() == "curl -sS -i \"$BASE/users/me/\" -H 'Authorization;'"
    kinds = {probe.kind for probe in probes}
    assert kinds == {"plain", "no-slash", "head", "openapi", "page"}


def test_corpus_tokens() -> None:
    key = "k" * 40
    minted = tokens(key)
    service = TokenService(key.encode, 1800)
    assert service.verify(minted["valid"]).scopes == {"me", "items"}
    assert service.verify(minted["no-scope"]).scopes == frozenset()
    for name in ("expired", "wrong-key", "alg-none", "alg-hs512", "alg-rs256", "exp-absent",
                 "exp-string", "sub-absent", "scope-list", "aud", "oversized"):  # fmt: skip
        with pytest.raises(InvalidToken):
            service.verify(minted[name])


def _in_process(name: str, factory: str, stack: contextlib.ExitStack) -> Endpoint:
    from conformance.differential import endpoint_for

    return endpoint_for(TargetSpec(name, factory=factory), "k" * 40, stack)


async def test_differential_run_agrees_on_twins_and_catches_a_broken_one() -> None:
    with contextlib.ExitStack() as stack:
        twins = [
            _in_process("a", "impl_fastapi.app:create_app", stack),
            _in_process("b", "impl_fastapi.app:create_app", stack),
        ]
        agreed = await run_differential(twins, "k" * 40)
        broken = [
            twins[0],
            _in_process("c", "tests.test_suite_kills_broken:text_plain_404", stack),
        ]
        differed = await run_differential(broken, "k" * 40)
    assert agreed.probes >= 60
    assert agreed.findings == []
    assert agreed.framework_differences == []
    found = {finding.probe.id: finding for finding in differed.findings}
    assert {"not-found", "not-found-prefix"} <= set(found)
    assert found["not-found"].fields == ("body", "header content-type")
    answers = found["not-found"].to_json()["answers"]
    assert answers["a"]["body"] == {"detail": "Not Found"}
    assert answers["c"]["body"] == {"<not JSON>": "Not Found"}


# --- python -m conformance ------------------------------------------------------------------


def test_both_profiles_side_by_side(tmp_path: Path) -> None:
    """By default both profiles run: the tutorial checks on `fastapi`, the STRICT checks on
    `fastapi-strict` (the same implementation with ARENA_PROFILE=strict), in one matrix."""
    result = _conformance(
        "--impl", "fastapi", "--family", "STRICT", "--family", "ROUTE",
        "--report-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((tmp_path / "conformance.json").read_text())
    assert data["profile"] == "tutorial + strict"
    assert [(t["name"], t["profile"]) for t in data["targets"]] == [
        ("fastapi", "tutorial"),
        ("fastapi-strict", "strict"),
    ]
    by_id = {check["id"]: check for check in data["checks"]}
    assert set(by_id["STRICT-001"]["results"]) == {"fastapi-strict"}
    assert by_id["STRICT-001"]["results"]["fastapi-strict"]["outcome"] == "pass"
    assert set(by_id["ROUTE-001"]["results"]) == {"fastapi"}
    rules = {rule["rule"]: rule for rule in data["rules"]}
    assert set(rules["S1"]["results"]) == {"fastapi-strict"}
    assert "OK: every MUST check passed" in result.stdout


def test_bad_target_spec_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--target", "no-url-here"])
    assert exit_info.value.code == 2
    assert "expected NAME=URL, got 'no-url-here'" in capsys.readouterr().err


def test_duplicate_target_names_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--impl", "fastapi", "--target", "fastapi=http://127.0.0.1:9"]) == 2
    assert "target names must be unique: fastapi, fastapi" in capsys.readouterr().out


def _conformance(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARENA_")}
    return subprocess.run(  # noqa: S603 (our interpreter, fixed arguments)
        [sys.executable, "-m", "conformance", *args],
        cwd=ROOT,
        env={**env, "COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_cli_in_process_good_and_broken_side_by_side(tmp_path: Path) -> None:
    result = _conformance(
        "--app-factory", "good=impl_fastapi.app:create_app",
        "--app-factory", "bad=tests.test_suite_kills_broken:text_plain_404",
        "--family", "ROUTE",
        "--report-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads((tmp_path / "conformance.json").read_text())
    route5 = next(check for check in data["checks"] if check["id"] == "ROUTE-005")
    assert route5["results"]["good"]["outcome"] == "pass"
    assert route5["results"]["bad"]["outcome"] == "fail"
    assert {check["family"] for check in data["checks"]} == {"ROUTE"}
    assert data["summary"]["good"]["must_failed"] == 0
    assert [t["mode"] for t in data["targets"]] == ["in-process", "in-process"]
    assert "not-found" in {f["probe"] for f in data["differential"]["findings"]}
    assert "Conformance (tutorial profile)" in result.stdout
    assert "✗ ROUTE-005 MUST on bad" in result.stdout
    assert result.stdout.count("ROUTE-005 MUST on bad") == 1  # each failure printed once
    assert "FAIL:" in result.stdout
    assert (tmp_path / "conformance.md").read_text().startswith("# Conformance report")


@contextlib.contextmanager
def _uvicorn_factory(factory: str, data_dir: Path) -> Iterator[str]:
    """A broken variant under real uvicorn, configured like conformance.servers configures one."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARENA_")}
    env.update(ARENA_SECRET_KEY=LIVE_SECRET_KEY, ARENA_DATA_DIR=str(data_dir), ARENA_DEMO_USERS="1")
    command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--port", str(port)]
    command += ["--host", "127.0.0.1", "--log-level", "warning"]
    process = subprocess.Popen(  # noqa: S603 (our interpreter, fixed arguments)
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, "the broken server exited"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_help_shows_the_default_key(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert LIVE_SECRET_KEY in " ".join(capsys.readouterr().out.split())


def test_named_targets_write_their_own_report_folder() -> None:
    default = cli.parse_args([])
    assert cli.report_dir(default) == ROOT / "reports"
    named = cli.parse_args(["--target", "mine=http://127.0.0.1:1", "--target", "b.2=http://x"])
    assert cli.report_dir(named) == (ROOT / "reports" / "mine+b.2").resolve()
    with pytest.raises(SystemExit):  # a name is a plain word: never a path
        cli.parse_args(["--target", "b/2=http://x"])
    built = cli.parse_args(["--app-factory", "v=m:f"])
    assert cli.report_dir(built) == (ROOT / "reports" / "v").resolve()
    chosen = cli.parse_args(["--target", "mine=http://x", "--report-dir", "elsewhere"])
    assert cli.report_dir(chosen) == Path("elsewhere")


def test_a_stopped_server_is_one_line_and_a_quick_failure(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    result = _conformance("--target", f"gone={url}", "--report-dir", str(tmp_path), timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    assert elapsed < 15, elapsed  # the interpreter's start-up included
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines[0].startswith(f"gone: cannot reach {url}"), lines
    assert "ConnectError" in lines[0]
    assert lines[-1] == "FAIL: no target could be reached"
    assert len(lines) == 2, lines
    assert not (tmp_path / "conformance.json").exists()


@pytest.mark.live
def test_cli_with_the_wrong_key_says_so_first_and_skips(tmp_path: Path) -> None:
    with serve("fastapi") as server:
        result = _conformance(
            *("--target", f"x={server.url}", "--family", "TOK", "--family", "SCOPE"),
            *("--secret-key", "not-the-key-the-server-runs-with-0123456789"),
            *("--report-dir", str(tmp_path)),
        )
    first = result.stdout.splitlines()[0]
    assert first == (
        "tokens from x are not signed with the key given by --secret-key; the checks that "
        "forge tokens or verify signatures are skipped: pass the key the server runs with"
    ), result.stdout
    data = json.loads((tmp_path / "conformance.json").read_text())
    outcome = {check["id"]: check["results"]["x"]["outcome"] for check in data["checks"]}
    assert outcome["TOK-003"] == "skip"  # it verifies the signature with the key
    assert [c for c, o in outcome.items() if o == "fail"] == []
    # What /token grants is read from the token without the key: judged all the same.
    assert outcome["TOK-001"] == outcome["SCOPE-001"] == outcome["TOK-004"] == "pass"
    assert data["setup"]["x"]["key_problem"].startswith("key: tokens from x are not signed")
    assert result.returncode == 1


@pytest.mark.live
def test_cli_against_live_servers(tmp_path: Path) -> None:
    with serve("fastapi") as server:
        good = _conformance(
            *("--target", f"x={server.url}", "--family", "ROUTE"),
            *("--report-dir", str(tmp_path / "good")),
        )
    assert good.returncode == 0, good.stdout + good.stderr
    assert "OK: every MUST check passed on every target" in good.stdout
    data = json.loads((tmp_path / "good" / "conformance.json").read_text())
    assert data["targets"] == [
        {
            "name": "x",
            "mode": "live",
            "url": server.url,
            "factory": None,
            "profile": "tutorial",
            "tiers": ["neutral"],
        }
    ]
    assert data["summary"]["x"]["must_passed"] > 0
    assert data["differential"] is None  # one target: nothing to compare

    factory = "tests.test_suite_kills_broken:text_plain_404"
    with _uvicorn_factory(factory, tmp_path / "data") as url:
        bad = _conformance(
            *("--target", f"x={url}", "--family", "ROUTE"),
            *("--report-dir", str(tmp_path / "bad")),
        )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    data = json.loads((tmp_path / "bad" / "conformance.json").read_text())
    assert "ROUTE-005" in {failure["check"] for failure in data["failures"]}


def test_a_target_whose_logins_meet_429_is_named_first() -> None:
    check = Check("TOK-014", MUST, "CONTRACT POST /token 400", "wrong password: 400")
    case = Case(
        nodeid="x",
        check=check,
        target="mine",
        outcome="failed",
        message='expected 400 {"detail": "Incorrect username or password"}, got 429 {}',
    )
    run = SuiteRun([TargetSpec("mine", url="http://h")], {check.id: check}, [case], [], 1, "", 1)
    console = Console(record=True, width=80, color_system=None)
    Report(run).render(console)
    text = console.export_text()
    assert text.startswith("mine: 1 failing case(s) met 429 Too Many Requests"), text
    assert "ARENA_LOGIN_RATE_LIMIT=off" in text.split("\n\n")[0]


def test_the_cluster_banner_names_the_setting_the_suite_needs() -> None:
    from deploy.cluster import rate_limited

    assert rate_limited({})
    assert rate_limited({"ARENA_LOGIN_RATE_LIMIT": "on"})
    assert not rate_limited({"ARENA_LOGIN_RATE_LIMIT": "OFF"})


def test_selection_reads_metadata_not_node_ids() -> None:
    form = Check("FORM-001", MUST, "CONTRACT POST /token Body", "t", tier="python")
    auth = Check("AUTH-010", MUST, "CONTRACT H5; RFC 8725 §3.1", "t")
    h12 = Check("RATE-001", SHOULD, "CONTRACT H12", "t")
    assert not Selection(exclude_families=("FORM",)).matches(form, "python")
    assert Selection(exclude_families=("FORM",)).matches(auth, "neutral")
    assert Selection(levels=("neutral",)).matches(auth, "neutral")
    assert not Selection(levels=("neutral",)).matches(form, "python")
    assert not Selection(levels=("neutral",)).matches(auth, "python")  # a python case of it
    assert Selection(rules=("H5",)).matches(auth, "neutral")
    assert not Selection(rules=("H1",)).matches(h12, "neutral")  # H1 is not H12
    assert Selection(rules=("rfc 8725",)).matches(auth, "neutral")
    assert Selection(checks=("AUTH-01*",)).matches(auth, "neutral")
    assert not Selection(levels=("MUST",), families=("RATE",)).matches(h12, "neutral")
    assert Selection(levels=("bogus",)).invalid() is not None
    assert (form.source, auth.source, h12.source) == ("tutorial", "rfc", "hardening")
    assert auth.origin == "RFC 8725 §3.1"


def test_target_text_is_escaped_for_the_terminal_and_the_reports() -> None:
    hostile = "a\x1b]52;c;eA==\x07b\x9b2J\u202ec\u200dd\r\n"
    assert safe(hostile) == "a\\x1b]52;c;eA==\\x07b\\x9b2J\\u202ec\\u200dd\\x0d\\x0a"
    assert "\x1b" not in terminal(hostile)
    text = json_text(json.dumps({"x": hostile}, ensure_ascii=False))
    assert json.loads(text) == {"x": hostile}
    assert not any(mark in text for mark in ("\x1b", "\x07", "\x9b", "\u202e", "\u200d"))


def test_an_exchange_replays_as_a_curl_or_nc_line() -> None:
    request = httpx.Request(
        "POST",
        "http://h:1/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        content=b"username=john'doe&password=\x00",
    )
    exchange = from_response(httpx.Response(400, json={"detail": "x"}, request=request))
    assert exchange.replay() == (
        "curl -sS -i -X POST http://h:1/token -H 'Content-Type: application/x-www-form-urlencoded'"
        " --data-binary $'username=john\\'doe&password=\\x00'"
    )
    assert exchange.answer() == '400; Content-Type: application/json; {"detail":"x"}'
    raw = from_raw("http://h:1", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", b"")
    assert raw.replay().startswith("printf %s $'GET / HTTP/1.1\\x0d\\x0aHost: a")
    assert raw.replay().endswith("| nc h 1")
    assert raw.answer() == "no answer (closed without an answer)"


def test_fuzz_refuses_a_target_name_that_is_a_path() -> None:
    with pytest.raises(SystemExit):
        fuzz.parse_args(["--target", "../x=http://h"])
    assert fuzz.parse_args(["--target", "mine=http://h"]).target == [("mine", "http://h")]


def test_serve_all_with_a_request_timeout(tmp_path: Path) -> None:
    """make test serves the implementations with --request-timeout 3: the slowloris check
    (LIMIT-003) then waits that long, not the default 10 s, and still judges the same rule."""
    done = _conformance(
        *("--serve-all", "--impl", "starlette", "--profile", "tutorial", "--no-diff"),
        *("--check", "LIMIT-003", "--request-timeout", "2"),
        *("--report-dir", str(tmp_path)),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((tmp_path / "conformance.json").read_text())
    (check,) = [c for c in data["checks"] if c["id"] == "LIMIT-003"]
    (case,) = check["results"]["starlette"]["cases"]
    assert case["outcome"] == "passed"
    assert 1.5 < case["duration_seconds"] < 8.0, case  # the default would hold it 10 s


@pytest.mark.parametrize("bad", ["0", "-1", "soon", "3601"])
def test_a_request_timeout_that_is_no_number_of_seconds(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_args(["--serve-all", "--request-timeout", bad])
    assert exit_info.value.code == 2
    assert f"{bad!r} is not a number of seconds" in capsys.readouterr().err
