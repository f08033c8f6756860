"""Targets for the conformance suite: the implementations in-process (httpx.ASGITransport, no
lifespan, as H10 requires) or any live server given with --target NAME=URL.

A check reads the key through `target.secret_key`; when the runner found that a target's tokens
are not signed with the key it was given (`--key-mismatch NAME=REASON`), that read skips the
check with the reason, so a wrong --secret-key skips what needs the key instead of failing it.
A check that ends in an exception other than an assertion (a KeyError on an answer that lacks
a field, a refused connection) is reported with what it tripped on and the last answer seen.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.bounded import CHECK_DEADLINE, REQUEST_DEADLINE, bounded_client, with_deadline
from conformance.checks import check_of
from conformance.evidence import RECORDER
from conformance.runner import IN_PROCESS_KEY, in_process_settings
from conformance.servers import IMPLEMENTATIONS, LIVE_SECRET_KEY
from core import registry
from core.settings import Settings
from core.tokens import StrictTokenService, TokenService

# The checks also assert inside conformance.support: rewrite it so a failure shows its values.
pytest.register_assert_rewrite("conformance.support")

ASGIApp = Callable[..., Any]


@dataclass
class Target:
    """One implementation under test. `app` is set for in-process targets, `url` for live ones."""

    name: str
    key: str
    url: str | None = None
    app: ASGIApp | None = None
    #: Why the key is known not to be the target's (then every check that needs it skips).
    key_problem: str | None = None
    #: Seconds for each request to a live target, its whole answer included.
    deadline: float = REQUEST_DEADLINE

    @property
    def live(self) -> bool:
        return self.url is not None

    @property
    def secret_key(self) -> str:
        """The key the target signs with; reading it skips the check when it is known wrong."""
        if self.key_problem is not None:
            pytest.skip(self.key_problem)
        return self.key

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        hooks = kwargs.pop("event_hooks", {})
        hooks = {
            **hooks,
            "request": [*hooks.get("request", []), _sent],
            "response": [*hooks.get("response", []), _remember],
        }
        if self.url is not None:
            # The request's deadline and the answer's size are bounded (conformance.bounded).
            return bounded_client(self.url, event_hooks=hooks, deadline=self.deadline, **kwargs)
        assert self.app is not None
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(
            transport=transport, base_url="http://testserver", event_hooks=hooks, **kwargs
        )

    def mint(self, subject: str = "johndoe", scope: tuple[str, ...] = ("me", "items")) -> str:
        """A token minted by the core with this target's key, as any implementation would."""
        return TokenService(self.secret_key.encode, 1800).issue(subject, scope).access_token

    def mint_strict(
        self, subject: str = "johndoe", scope: tuple[str, ...] = ("me", "items")
    ) -> str:
        """A strict-profile (RFC 9068) token minted by the core with this target's key and the
        default issuer and audience (ARENA_TOKEN_ISSUER / ARENA_TOKEN_AUDIENCE unset)."""
        service = StrictTokenService(
            self.secret_key.encode, 1800, issuer=STRICT_ISSUER, audience=STRICT_AUDIENCE
        )
        return service.issue(subject, scope).access_token


#: The strict profile's default issuer and audience: what a strict target is checked against.
STRICT_ISSUER: str = Settings.model_fields["token_issuer"].default
STRICT_AUDIENCE: str = Settings.model_fields["token_audience"].default


#: The last answer any check's client received: what a check that broke on it had in hand.
_last: list[httpx.Response] = []


async def _sent(request: httpx.Request) -> None:
    RECORDER.add(request)


async def _remember(response: httpx.Response) -> None:
    _last[:] = [response]
    RECORDER.add(response)


def last_answer() -> str:
    if not _last:
        return "no answer received"
    response = _last[0]
    try:
        text = " ".join(response.text.split())
    except httpx.ResponseNotRead:
        text = "(body not read)"
    request = response.request
    return f"{request.method} {request.url.path}: {response.status_code} {text[:300]}"


def pytest_assertrepr_compare(op: str, left: object, right: object) -> list[str] | None:
    """A failed comparison in a check reads "expected <right>, got <left>" in full (the checks
    write `assert got == expected`), not pytest's shortened "{'acces...e': 'bearer'}"."""
    if op == "==":
        return [f"expected {right!r:.1000}, got {left!r:.1000}"]
    if op == "not in":
        return [f"expected no {left!r:.200} in it, got {right!r:.1000}"]
    if op == "in":
        return [f"expected {left!r:.200} in it, got {right!r:.1000}"]
    if op == "!=":
        return [f"expected anything but {right!r:.1000}, got it"]
    if op == "<=" and isinstance(left, set | frozenset) and isinstance(right, set | frozenset):
        extra = sorted(map(repr, left - right))
        return [f"expected a subset of {sorted(map(repr, right))}, got extra {extra}"]
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    if call.when == "setup":
        RECORDER.clear()
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    excinfo = call.excinfo
    if call.when == "setup":
        _last.clear()
    if report.failed and call.when == "call":
        # The evidence: every exchange of the case, kept whole in conformance.json.
        exchanges = [exchange.to_json() for exchange in RECORDER.exchanges()]
        item.user_properties.append(("exchanges", exchanges))
    if excinfo is None or not report.failed or excinfo.errisinstance(AssertionError):
        return
    exc = excinfo.value
    if isinstance(exc, httpx.TransportError):
        what = f"the request failed ({type(exc).__name__}: {exc or 'no detail'})"
    else:
        what = f"the check could not read the answer ({type(exc).__name__}: {exc})"
    report.longrepr = f"{what}; last answer: {last_answer()}"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance")
    group.addoption(
        "--check-deadline",
        type=float,
        default=None,
        help="seconds each case of a check may run: past it, it fails as timed out",
    )
    group.addoption(
        "--request-deadline",
        type=float,
        default=REQUEST_DEADLINE,
        help="seconds for each request to a live target, its whole answer included",
    )
    group.addoption(
        "--run-ends",
        type=float,
        default=None,
        help="a time.monotonic() value: cases not started by then are blocked",
    )
    group.addoption(
        "--target",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="a live server claiming CONTRACT.md (repeatable); default: every impl in-process",
    )
    group.addoption(
        "--impl",
        action="append",
        default=[],
        choices=IMPLEMENTATIONS,
        help="in-process implementations to test (repeatable); default: all that import",
    )
    group.addoption(
        "--app-factory",
        action="append",
        default=[],
        metavar="NAME=MODULE:CALLABLE",
        help="an in-process target built by CALLABLE(settings) (repeatable); how the tests "
        "prove that the suite catches deliberately broken implementations",
    )
    group.addoption(
        "--secret-key",
        default=LIVE_SECRET_KEY,
        help="the ARENA_SECRET_KEY the live targets were started with",
    )
    group.addoption(
        "--profile",
        default=None,
        choices=("tutorial", "strict"),
        help="the profile the targets run: only that profile's checks run, and in-process "
        "targets are built with it; default: each check on a target of its own profile "
        "(in-process), the live targets taken to run the tutorial profile",
    )
    group.addoption(
        "--covered-by",
        action="append",
        default=[],
        metavar="REPORT",
        help="a conformance.json of a live run (make test's): an in-process check that passed "
        "there in every case, on the same implementation and profile, is not run again",
    )
    group.addoption(
        "--key-mismatch",
        action="append",
        default=[],
        metavar="NAME=REASON",
        help="target NAME's tokens are not signed with the key: checks needing it skip",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "check(meta): a conformance check with a stable id")
    config.addinivalue_line("markers", "tier(name): a case of a check in another tier")


def _target_names(config: pytest.Config) -> list[str]:
    live = [spec.split("=", 1)[0] for spec in config.getoption("--target")]
    built = [spec.split("=", 1)[0] for spec in config.getoption("--app-factory")]
    if live or built:
        return live + built
    chosen = config.getoption("--impl") or list(IMPLEMENTATIONS)
    return registry.importable(chosen)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target_name" in metafunc.fixturenames:
        names = _target_names(metafunc.config)
        metafunc.parametrize("target_name", names, ids=names, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    profile = config.getoption("--profile")
    deadline = config.getoption("--check-deadline")
    run_ends = config.getoption("--run-ends")
    drop: list[pytest.Item] = []
    for item in items:
        function = getattr(item, "obj", None)
        if (deadline or run_ends) and inspect.iscoroutinefunction(function):
            # Every check has a deadline of its own (and the run one): a check that runs out
            # fails saying so, instead of hanging on a server that never finishes an answer.
            item.obj = with_deadline(function, deadline or CHECK_DEADLINE, run_ends)  # type: ignore[attr-defined]
        meta = check_of(item)
        if meta is not None:
            item.user_properties.append(("check", meta.id))
            if profile is not None and meta.profile != profile:
                drop.append(item)
    drop += covered_items(config, items, profile)
    if drop:
        # A run of one profile: the other profile's checks judge another contract.
        config.hook.pytest_deselected(items=drop)
        dropped = set(drop)
        items[:] = [item for item in items if item not in dropped]


def _passed_live(paths: list[str]) -> set[tuple[str, str]]:
    """(check id, live column) of every check that passed there in every case, none skipped."""
    passed: set[tuple[str, str]] = set()
    for path in paths:
        try:
            report = json.loads(Path(path).read_text(encoding="utf-8"))
            checks = report["checks"]
            modes = {t["name"]: t["mode"] for t in report["targets"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise pytest.UsageError(
                f"--covered-by {path}: not a conformance report ({exc})"
            ) from exc
        for check in checks:
            for column, result in check.get("results", {}).items():
                cases = result.get("cases") or []
                if (
                    modes.get(column) == "live"
                    and result.get("outcome") == "pass"
                    and cases
                    and all(case.get("outcome") == "passed" for case in cases)
                ):
                    passed.add((check["id"], column))
    return passed


def covered_items(
    config: pytest.Config, items: list[pytest.Item], profile: str | None
) -> list[pytest.Item]:
    """The in-process items whose check already passed live on the same implementation in the
    same profile (the live column of the strict profile is `<name>-strict`): make test runs
    every check on every implementation and profile once, live where it can, and in-process
    only what a live server cannot show."""
    paths = config.getoption("--covered-by")
    if not paths or config.getoption("--target") or config.getoption("--app-factory"):
        return []
    passed = _passed_live(paths)
    covered = []
    for item in items:
        meta = check_of(item)
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("target_name") if callspec is not None else None
        if meta is None or not isinstance(name, str):
            continue
        column = name if (profile or meta.profile) == "tutorial" else f"{name}-strict"
        if (meta.id, column) in passed:
            covered.append(item)
    return covered


@pytest.fixture(scope="session")
def target(
    target_name: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Target:
    specs = dict(spec.split("=", 1) for spec in request.config.getoption("--target"))
    problems = dict(spec.split("=", 1) for spec in request.config.getoption("--key-mismatch"))
    problem = problems.get(target_name)
    if target_name in specs:
        key = request.config.getoption("--secret-key")
        deadline = request.config.getoption("--request-deadline")
        return Target(
            target_name, key, url=specs[target_name], key_problem=problem, deadline=deadline
        )
    factories = dict(spec.split("=", 1) for spec in request.config.getoption("--app-factory"))
    profile = request.config.getoption("--profile") or "tutorial"
    return _in_process(target_name, factories, tmp_path_factory, problem, profile)


def _in_process(
    target_name: str,
    factories: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    problem: str | None,
    profile: str,
) -> Target:
    data_dir = tmp_path_factory.mktemp(f"conformance-{target_name}-{profile}")
    settings = in_process_settings(data_dir, "strict" if profile == "strict" else "tutorial")
    if target_name in factories:
        module_name, _, attribute = factories[target_name].partition(":")
        factory = getattr(importlib.import_module(module_name), attribute)
    else:
        factory = importlib.import_module(registry.module(target_name)).create_app
    return Target(target_name, IN_PROCESS_KEY, app=factory(settings), key_problem=problem)


@pytest.fixture
async def client(target: Target) -> AsyncIterator[httpx.AsyncClient]:
    async with target.client() as http:
        yield http


@pytest.fixture(scope="session")
def strict_target(
    target_name: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Target:
    """The target running the strict profile, for the STRICT checks: the target itself in a
    run with --profile strict; otherwise an in-process build of it with ARENA_PROFILE=strict
    (a live target is taken to run the tutorial profile, so the strict checks skip there)."""
    if request.config.getoption("--profile") == "strict":
        target: Target = request.getfixturevalue("target")
        return target
    specs = dict(spec.split("=", 1) for spec in request.config.getoption("--target"))
    if target_name in specs:
        pytest.skip("the live target is taken to run the tutorial profile: pass --profile strict")
    problems = dict(spec.split("=", 1) for spec in request.config.getoption("--key-mismatch"))
    factories = dict(spec.split("=", 1) for spec in request.config.getoption("--app-factory"))
    return _in_process(
        target_name, factories, tmp_path_factory, problems.get(target_name), "strict"
    )


@pytest.fixture
async def strict_client(strict_target: Target) -> AsyncIterator[httpx.AsyncClient]:
    async with strict_target.client() as http:
        yield http
