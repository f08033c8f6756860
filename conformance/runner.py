"""Runs the conformance suite in this process with `pytest.main` and a collector plugin that keeps
one result per test case: which check, which target, which variant, and how it ended.

Before the checks, `check_setup` probes each target: reachable, /openapi.json present, the demo
users log in, and whether its tokens are signed with the key the suite was given. A case ends
"passed", "failed", "skipped" (with its reason), "blocked" (it could not run: something it
needs, a login say, is not there; the reason names it) or "not run"."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import importlib
import io
import json
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from pydantic import SecretStr

from conformance.bounded import REQUEST_DEADLINE, AnswerTooLarge, AnswerTooSlow, bounded_client
from conformance.checks import MUST, NEUTRAL, TIERS, Check, Tier, check_of, tier_of
from conformance.selection import Selection
from conformance.servers import LIVE_SECRET_KEY
from core import registry
from core.settings import Profile, Settings

SUITE_DIR = Path(__file__).parent
ROOT = SUITE_DIR.parent

Outcome = Literal["passed", "failed", "skipped", "blocked", "not run"]
#: A skip reason with this prefix marks a blocked case (conformance.support.block).
BLOCKED_PREFIX = "blocked: "
#: The key of in-process targets: the suite configures them, so it knows the key.
IN_PROCESS_KEY = "in-process-conformance-key-0123456789abcdef0123456789"
#: The column of tests that are not parametrized over targets (checks of the suite itself).
SUITE_COLUMN = "(suite)"


#: A target's name: it names a report folder under reports/ and a column, so it is a plain word.
TARGET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def target_pair(text: str, what: str = "NAME=URL") -> tuple[str, str]:
    """NAME=VALUE with a checked name (it can never make a path leave reports/)."""
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise ValueError(f"expected {what}, got {text!r}")
    if not TARGET_NAME.fullmatch(name) or ".." in name:
        raise ValueError(
            "a target name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or "
            f"digit, without '..': got {name!r}"
        )
    return name, value


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """A target as the runner names it: a live URL, or an app factory called in this process."""

    name: str
    url: str | None = None
    #: "module:callable", called with a `core.settings.Settings`; default impl_<name>.app.
    factory: str | None = None
    #: The profile the target runs (a live one was started with it; an in-process one is
    #: built with it): the suite runs that profile's checks on it.
    profile: Profile = "tutorial"
    #: The tiers whose failures fail the run: every tier for this repository's implementations;
    #: the neutral one for an outside server (--target) unless it opts into more.
    tiers: tuple[Tier, ...] = TIERS

    @property
    def mode(self) -> str:
        return "live" if self.url is not None else "in-process"

    @property
    def factory_path(self) -> str:
        return self.factory or registry.factory_path(self.name)

    def pytest_args(self) -> list[str]:
        if self.url is not None:
            return ["--target", f"{self.name}={self.url}"]
        return ["--app-factory", f"{self.name}={self.factory_path}"]


def in_process_settings(data_dir: Path, profile: Profile = "tutorial") -> Settings:
    """The settings an in-process target is built with (by the suite and by the setup probe)."""
    return Settings(
        profile=profile,
        secret_key=SecretStr(IN_PROCESS_KEY),
        database_url=f"sqlite:///{data_dir / 'arena.db'}",
        data_dir=data_dir,
        demo_users=True,
        password_profile="cheap",
        # The suite makes many failed logins from one address: H12 has its own checks (RATE),
        # each on an instance built with small limits.
        login_rate_limit=False,
    )


@dataclass(slots=True)
class Setup:
    """What the probe before the checks found about one target."""

    target: str
    profile: str = "tutorial"
    #: Set when the target cannot be reached at all: the run does not try it.
    unreachable: str | None = None
    #: One line each: what is missing (the checks that need it will say so too).
    notes: list[str] = field(default_factory=list)
    #: Set when its tokens are not signed with the suite's key: the key checks are skipped.
    key_problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "unreachable": self.unreachable,
            "notes": self.notes,
            "key_problem": self.key_problem,
        }


DEMO_LOGINS = (("johndoe", "secret"), ("alice", "secretalice"))


def _signed_with(token: str, key: str) -> bool | None:
    """True/False: the token's HS256 signature does or does not verify with `key`; None when it
    is no HS256 compact JWS (then the key cannot be judged from it)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        return None
    mac = hmac.new(key.encode(), f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256)
    expected = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(expected, parts[2])


def _short(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return f"{response.status_code} {text[:120]}"


def _judge_document(setup: Setup, document: httpx.Response) -> None:
    try:
        is_document = isinstance(document.json(), dict) and "openapi" in document.json()
    except ValueError:
        is_document = False
    if document.status_code != 200 or not is_document:
        got = _short(document)
        setup.notes.append(f"/openapi.json: expected 200 with an OpenAPI document, got {got}")


async def _probe(client: httpx.AsyncClient, setup: Setup, key: str, key_source: str) -> None:
    try:
        document = await client.get("/openapi.json")
    except (AnswerTooLarge, AnswerTooSlow) as exc:
        # It answered, but not within the suite's bounds: the checks will say more.
        setup.notes.append(f"/openapi.json: {type(exc).__name__}: {exc}")
        document = None
    except httpx.TransportError as exc:
        setup.unreachable = f"cannot reach {client.base_url} ({type(exc).__name__}: {exc})"
        return
    if document is not None:
        _judge_document(setup, document)
    token = None
    for username, password in DEMO_LOGINS:
        # grant_type: required by the strict profile (RFC 6749 §4.3.2), accepted by the tutorial.
        form = {
            "grant_type": "password",
            "username": username,
            "password": password,
            "scope": "me items",
        }
        try:
            answer = await client.post("/token", data=form)
        except httpx.TransportError as exc:
            setup.notes.append(f"POST /token as {username} failed: {type(exc).__name__}: {exc}")
            continue
        try:
            body = answer.json()
        except ValueError:
            body = None
        issued = body.get("access_token") if isinstance(body, dict) else None
        if username == "alice" and setup.profile == "strict" and answer.status_code != 429:
            # S4: a disabled user cannot log in under the strict profile.
            continue
        if answer.status_code == 429:
            # H12 on the target: the suite's own failed logins (all from this address) would
            # turn most /token checks into 429s.
            wait = answer.headers.get("retry-after", "?")
            setup.notes.insert(  # first: it explains most of what would follow
                0,
                f"POST /token as {username} answered 429 (brute-force protection, H12; "
                f"Retry-After: {wait}): restart the target with it off for the run "
                "(ARENA_LOGIN_RATE_LIMIT=off for this project's servers): the suite makes many "
                "failed logins from one address, and checks H12 itself (RATE) on instances it "
                "builds with small limits",
            )
        elif answer.status_code != 200 or not isinstance(issued, str):
            setup.notes.append(
                f"the demo user {username} does not log in ({_short(answer)}): the checks that "
                "need a login are blocked (start it with the contract's demo users)"
            )
        elif username == "johndoe":
            token = issued
    if token is None:
        return
    signed = _signed_with(token, key)
    if signed is False:
        setup.key_problem = (
            f"key: tokens from {setup.target} are not signed with the key {key_source}"
        )
    elif signed is None:
        setup.notes.append(f"tokens from {setup.target} are not HS256 compact JWS: {token[:60]!r}")


async def _probe_target(
    target: TargetSpec, secret_key: str, request_deadline: float | None = None
) -> Setup:
    setup = Setup(target.name, target.profile)
    if target.url is not None:
        deadline = min(REQUEST_DEADLINE, 10.0) if request_deadline is None else request_deadline
        async with bounded_client(target.url, deadline=deadline) as client:
            await _probe(client, setup, secret_key, "given by --secret-key")
        return setup
    module_name, _, attribute = target.factory_path.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
        with tempfile.TemporaryDirectory(prefix="conformance-probe-") as directory:
            app = factory(in_process_settings(Path(directory), target.profile))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver", timeout=30.0
            ) as client:
                await _probe(client, setup, IN_PROCESS_KEY, "the suite configured it with")
    except Exception as exc:  # any failure to build it is the one line to show
        setup.unreachable = f"could not build {target.factory_path}: {type(exc).__name__}: {exc}"
    return setup


def check_setup(
    targets: Sequence[TargetSpec],
    secret_key: str = LIVE_SECRET_KEY,
    request_deadline: float | None = None,
) -> list[Setup]:
    """Probe every target before the checks run (a few seconds at most for a stopped server;
    each request within the request deadline, its answer read to the suite's size)."""

    async def probe_all() -> list[Setup]:
        probes = (_probe_target(t, secret_key, request_deadline) for t in targets)
        return list(await asyncio.gather(*probes))

    return asyncio.run(probe_all())


@dataclass(slots=True)
class Case:
    """One collected test item: a check on one target, in one variant (its other parameters)."""

    nodeid: str
    check: Check
    target: str
    variant: str = ""
    #: The case's tier: its check's, or its own where the check marks some cases python.
    tier: Tier = NEUTRAL
    outcome: Outcome = "not run"
    #: The first assertion line of a failure, or the reason of a skip or a block.
    message: str = ""
    #: The failure's short traceback, for the JSON report.
    detail: str = ""
    duration: float = 0.0
    properties: list[tuple[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class SuiteRun:
    targets: list[TargetSpec]
    checks: dict[str, Check]
    cases: list[Case]
    #: Collection errors and pytest's own failures; any of them fails the run.
    errors: list[str]
    pytest_exit_code: int
    #: pytest's terminal output, kept quiet while the run lasts, shown when pytest itself fails.
    output: str
    duration: float


def unmarked_check(item: pytest.Item) -> Check:
    """A stand-in for a test that carries no @check marker: it still counts, as a MUST."""
    name = item.nodeid.split("[", 1)[0]
    return Check(id=name, level=MUST, rule="(no @check marker)", title=item.name.split("[")[0])


def variant_of(item: pytest.Item, target: str | None) -> str:
    """The item's parameter ids other than the target's, e.g. "alg-none" for [fastapi-alg-none]."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return ""
    ident: str = callspec.id
    if target is None or ident == target:
        return "" if ident == target else ident
    if ident.startswith(f"{target}-"):
        return ident[len(target) + 1 :]
    if ident.endswith(f"-{target}"):
        return ident[: -len(target) - 1]
    return ident.replace(f"-{target}-", "-", 1)


def target_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    value = None if callspec is None else callspec.params.get("target_name")
    return value if isinstance(value, str) else None


def failure_line(report: pytest.TestReport) -> str:
    """The first `E` line of the traceback: for a failed assert, the comparison that failed."""
    text = report.longreprtext
    for line in text.splitlines():
        if line.startswith("E "):
            line = line[1:].strip()
            # "assert expected X, got Y" (the suite's assertrepr hook) reads without "assert".
            return line.removeprefix("AssertionError: ").removeprefix("assert ")
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", "")
    if message:
        return str(message).splitlines()[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else f"failed in {report.when}"


def skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return getattr(report, "wasxfail", "") or report.longreprtext.strip()


CaseCallback = Callable[[Case], None]


class Collector:
    """The pytest plugin: deselects by check family when asked, maps every item to its check,
    target and variant, and records each item's outcome as its reports come in."""

    def __init__(
        self,
        families: Sequence[str] = (),
        on_collected: Callable[[list[Case]], None] | None = None,
        on_case: CaseCallback | None = None,
        selection: Selection | None = None,
    ) -> None:
        selection = selection or Selection()
        self.selection = replace(selection, families=(*selection.families, *families))
        self.on_collected = on_collected
        self.on_case = on_case
        self.checks: dict[str, Check] = {}
        self.cases: dict[str, Case] = {}
        self.errors: list[str] = []

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if not self.selection.given:
            return
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            meta = check_of(item)
            chosen = meta is not None and self.selection.matches(meta, tier_of(item, meta))
            (keep if chosen else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            meta = check_of(item) or unmarked_check(item)
            target = target_of(item)
            self.checks.setdefault(meta.id, meta)
            self.cases[item.nodeid] = Case(
                nodeid=item.nodeid,
                check=meta,
                target=target or SUITE_COLUMN,
                variant=variant_of(item, target),
                tier=tier_of(item, meta),
            )
        if self.on_collected is not None:
            self.on_collected(list(self.cases.values()))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            lines = [line for line in report.longreprtext.splitlines() if line.strip()]
            self.errors.append(f"collecting {report.nodeid or '.'}: {lines[-1] if lines else ''}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        case = self.cases.get(report.nodeid)
        if case is None:
            return
        case.duration += report.duration
        if report.failed:
            if case.outcome != "failed":
                case.outcome = "failed"
                case.message = failure_line(report)
                case.detail = report.longreprtext[-4000:]
                if report.when != "call":
                    case.message = f"[{report.when}] {case.message}"
        elif report.skipped:
            if case.outcome != "failed":
                reason = skip_reason(report)
                blocked = reason.startswith(BLOCKED_PREFIX)
                case.outcome = "blocked" if blocked else "skipped"
                case.message = reason.removeprefix(BLOCKED_PREFIX) if blocked else reason
        elif report.when == "call" and case.outcome == "not run":
            case.outcome = "passed"
        if report.when == "teardown":
            case.properties = [(str(name), value) for name, value in report.user_properties]
            if self.on_case is not None:
                self.on_case(case)


def pytest_arguments(
    targets: Sequence[TargetSpec],
    *,
    secret_key: str = LIVE_SECRET_KEY,
    keyword: str | None = None,
    extra: Sequence[str] = (),
    key_problems: dict[str, str] | None = None,
) -> list[str]:
    args = [
        str(SUITE_DIR),
        "--rootdir", str(ROOT),
        "-c", str(ROOT / "pyproject.toml"),
        "-p", "no:cacheprovider",
        # -vv: an assertion shows both sides in full, not "{'acces...e': 'bearer'}".
        "--tb=short", "-q", "-vv",
        # The servers were polled with httpx before pytest started, so anyio (a pytest plugin)
        # is already imported and cannot be assertion-rewritten; that is harmless here.
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
        "--secret-key", secret_key,
    ]  # fmt: skip
    profiles = {target.profile for target in targets}
    if len(profiles) > 1:
        raise ValueError("one run of the suite is one profile: run each profile's targets apart")
    args += ["--profile", profiles.pop()]
    for target in targets:
        args += target.pytest_args()
    for name, problem in (key_problems or {}).items():
        args += ["--key-mismatch", f"{name}={problem}"]
    if keyword:
        args += ["-k", keyword]
    return [*args, *extra]


def run_suite(
    targets: Sequence[TargetSpec],
    *,
    secret_key: str = LIVE_SECRET_KEY,
    keyword: str | None = None,
    families: Sequence[str] = (),
    extra: Sequence[str] = (),
    on_collected: Callable[[list[Case]], None] | None = None,
    on_case: CaseCallback | None = None,
    key_problems: dict[str, str] | None = None,
    selection: Selection | None = None,
    check_deadline: float | None = None,
    run_deadline: float | None = None,
    request_deadline: float | None = None,
) -> SuiteRun:
    """Run the suite once over all `targets`; pytest's own output is kept, not printed.
    `check_deadline`: seconds for each case; `run_deadline`: seconds for the whole run (cases
    that would start after it are blocked)."""
    if not targets:
        raise ValueError("no targets to run the suite against")
    names = [target.name for target in targets]
    if len(set(names)) != len(names):
        raise ValueError(f"target names must be unique: {', '.join(names)}")
    collector = Collector(families, on_collected, on_case, selection)
    deadlines: list[str] = []
    if check_deadline is not None:
        deadlines += ["--check-deadline", str(check_deadline)]
    if run_deadline is not None:
        deadlines += ["--run-ends", str(time.monotonic() + run_deadline)]
    if request_deadline is not None:
        deadlines += ["--request-deadline", str(request_deadline)]
    args = pytest_arguments(
        targets,
        secret_key=secret_key,
        keyword=keyword,
        extra=[*deadlines, *extra],
        key_problems=key_problems,
    )
    output = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(output):
        code = int(pytest.main(args, plugins=[collector]))
    errors = list(collector.errors)
    if code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR):
        errors.append(f"pytest stopped with exit code {code}")
    elif code == pytest.ExitCode.USAGE_ERROR:
        errors.append("pytest refused its arguments (usage error)")
    return SuiteRun(
        targets=list(targets),
        checks=collector.checks,
        cases=list(collector.cases.values()),
        errors=errors,
        pytest_exit_code=code,
        output=output.getvalue(),
        duration=time.monotonic() - started,
    )


def count_selected(
    selection: Selection, profile: str, keyword: str | None = None, families: Sequence[str] = ()
) -> int:
    """How many cases a selection keeps, from a collection alone (no target is contacted)."""
    collector = Collector(families, selection=selection)
    args = [
        str(SUITE_DIR), "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"),
        "-p", "no:cacheprovider", "--collect-only", "-q", "--profile", profile,
        "--target", "selection=http://127.0.0.1:9",
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
    ]  # fmt: skip
    if keyword:
        args += ["-k", keyword]
    with contextlib.redirect_stdout(io.StringIO()):
        pytest.main(args, plugins=[collector])
    return len(collector.cases)
