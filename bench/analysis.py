"""Results, their summaries (median with min-max over runs), the ratios and the issue's targets.

Pure functions over measured figures: nothing here runs a server, so all of it is unit-tested on
small fixtures.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.logins import LoginRun
from bench.wrk import WrkRun

READS = ("status", "me", "items")
PATHS = {"status": "/status/", "me": "/users/me/", "items": "/users/me/items/"}
SCENARIOS = (*READS, "login", "mixed", "soak")
RAW, RAW_CORE = "raw-asgi", "raw-core"

#: The issue's targets.
IMPL_VS_BARE = 0.85
IMPL_VS_CEILING = 0.90
CORE_VS_RAW = 0.90
MIXED_READS = 0.50
MIXED_P99 = 10.0
LOGIN_VS_ARGON2 = 0.90
#: Guard's cost over HTTP: bare + Guard >= 0.95x bare (issue 18: at most ~2 µs on Starlette).
GUARD_VS_BARE = 0.95

#: A framework's cost ladder, cheapest first (bench.runner names the targets so).
LADDER = ("bare", "guard", "ceiling", "impl", "native")
#: What each step adds: (name, from rung, to rung). "native_vs_ours" is what the framework's
#: documented way costs beyond ours (negative: it is cheaper).
STEPS = (
    ("guard", "bare", "guard"),
    ("wiring", "guard", "ceiling"),
    ("core", "ceiling", "impl"),
    ("native_vs_ours", "impl", "native"),
)


def rung_target(framework: str, rung: str) -> str:
    """The target name of a rung: the implementation itself, or <rung>-<framework>."""
    return framework if rung == "impl" else f"{rung}-{framework}"


@dataclass(frozen=True, slots=True)
class Spread:
    median: float
    min: float
    max: float

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "min": self.min, "max": self.max}


def spread(values: Iterable[float]) -> Spread | None:
    data = list(values)
    if not data:
        return None
    return Spread(statistics.median(data), min(data), max(data))


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


@dataclass
class ScenarioResult:
    """The runs of one scenario on one target. `runs` are the wrk runs of reads (in the mixed
    scenario too); `logins` the login windows (alone, or beside each mixed read run)."""

    scenario: str
    commands: list[list[str]] = field(default_factory=list)
    runs: list[WrkRun] = field(default_factory=list)
    logins: list[LoginRun] = field(default_factory=list)
    #: argon2 alone, verifications/s, measured just before the logins (the login scenario).
    argon2_per_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    #: The server process's CPU seconds (user + system, /proc/<pid>/stat) over each of `runs`.
    cpu_s: list[float] = field(default_factory=list)
    #: What was noted and not failed (the documented way answering other JSON).
    notes: list[str] = field(default_factory=list)
    #: Rounds run side by side with a control (guard-<name>: beside loaded-<name>, the bare
    #: endpoint unwrapped in a process that has loaded the core as the guard rung's has): both
    #: servers up on the same server CPU at once, each under its own wrk, so that the machine's
    #: speed, which moves by up to 15% from one run to the next here, is the same for both. Each
    #: round: (the control's CPU µs per request, this target's CPU µs per request).
    side_by_side: list[tuple[float, float]] = field(default_factory=list)
    #: The target those rounds ran beside (loaded-<name>: bare with the core loaded).
    side_by_side_with: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failures and bool(self.runs or self.logins)

    def rps(self) -> Spread | None:
        return spread(run.requests_per_s for run in self.runs)

    def p99(self) -> Spread | None:
        return spread(run.latency_ms["p99"] for run in self.runs)

    def us_per_request(self) -> Spread | None:
        """Wall time per request in µs (1e6 / requests per second), over the runs."""
        return spread(1e6 / run.requests_per_s for run in self.runs if run.requests_per_s)

    def cpu_us_per_request(self) -> Spread | None:
        """The server's CPU time per request in µs, over the runs it was measured for."""
        return spread(
            cpu * 1e6 / run.requests
            for cpu, run in zip(self.cpu_s, self.runs, strict=False)
            if run.requests
        )

    def side_by_side_ratio(self) -> Spread | None:
        """The control's CPU per request over this target's, round by round (1.0: it costs what
        the control costs; 0.95: 5.3% more)."""
        return spread(control / own for control, own in self.side_by_side if own > 0)

    def login_rate(self) -> Spread | None:
        """Successful logins (200) per second over the login windows."""
        return spread(run.rate(200) for run in self.logins)

    def login_p99(self) -> Spread | None:
        return spread(run.latency_ms["p99"] for run in self.logins if run.latency_ms)

    def argon2_reference(self) -> float | None:
        """The median of argon2 alone measured beside this scenario, if it was."""
        return _median(spread(self.argon2_per_s))

    def login_count(self, *codes: int) -> int:
        return sum(run.count(*codes) for run in self.logins)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": self.ok,
            "failures": self.failures,
            "commands": self.commands,
            "runs": [run.as_dict() for run in self.runs],
            "requests_per_s": _maybe(self.rps()),
            "p99_ms": _maybe(self.p99()),
        }
        if self.runs:
            out["us_per_request"] = _maybe(self.us_per_request())
            out["cpu_us_per_request"] = _maybe(self.cpu_us_per_request())
            out["cpu_s_runs"] = self.cpu_s
        if self.notes:
            out["notes"] = self.notes
        if self.side_by_side:
            out["side_by_side"] = [
                {"control_cpu_us_per_request": control, "cpu_us_per_request": own}
                for control, own in self.side_by_side
            ]
            out["side_by_side_ratio"] = _maybe(self.side_by_side_ratio())
            out["side_by_side_with"] = self.side_by_side_with
        if self.logins:
            out["logins_per_s"] = _maybe(self.login_rate())
            out["login_p99_ms"] = _maybe(self.login_p99())
            out["logins_ok"] = self.login_count(200)
            out["logins_503"] = self.login_count(503)
            out["login_runs"] = [run.as_dict() for run in self.logins]
        if self.argon2_per_s:
            out["argon2_alone_per_s"] = _maybe(spread(self.argon2_per_s))
            out["argon2_alone_runs"] = self.argon2_per_s
        return out


def _maybe(value: Spread | None) -> dict[str, float] | None:
    return None if value is None else value.as_dict()


@dataclass
class Soak:
    requests: int = 0
    tokens: int = 0
    commands: list[list[str]] = field(default_factory=list)
    #: (requests done so far, VmRSS KiB) after each chunk; the first is before the soak.
    rss_kib: list[tuple[int, int]] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def growth_second_half_kib(self) -> int | None:
        """RSS growth over the second half of the soak: about 0 when caches are bounded."""
        if len(self.rss_kib) < 3:
            return None
        half = self.requests / 2
        mid = min(self.rss_kib, key=lambda point: abs(point[0] - half))
        return self.rss_kib[-1][1] - mid[1]

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "tokens": self.tokens,
            "ok": not self.failures,
            "failures": self.failures,
            "commands": self.commands,
            "rss_kib": [list(point) for point in self.rss_kib],
            "rss_before_kib": self.rss_kib[0][1] if self.rss_kib else None,
            "rss_after_kib": self.rss_kib[-1][1] if self.rss_kib else None,
            "growth_second_half_kib": self.growth_second_half_kib(),
            "statuses": {str(code): n for code, n in sorted(self.statuses.items())},
        }


@dataclass
class TargetResult:
    name: str
    kind: str  # "impl", "bare", "ceiling", "raw", "raw-core"
    framework: str | None
    app: str
    command: list[str] = field(default_factory=list)
    cold_start_s: float | None = None
    #: VmRSS/VmHWM in KiB at ready, after the scenarios, at the end (after the soak).
    memory_kib: dict[str, dict[str, int]] = field(default_factory=dict)
    scenarios: dict[str, ScenarioResult] = field(default_factory=dict)
    soak: Soak | None = None
    error: str | None = None
    #: What was noted and not failed (a scenario the documented way could not be measured in).
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return (
            self.error is not None
            or any(not s.ok for s in self.scenarios.values())
            or (self.soak is not None and bool(self.soak.failures))
        )

    def rps(self, scenario: str) -> float | None:
        result = self.scenarios.get(scenario)
        value = result.rps() if result is not None and result.ok else None
        return None if value is None else value.median

    def p99(self, scenario: str) -> float | None:
        result = self.scenarios.get(scenario)
        value = result.p99() if result is not None and result.ok else None
        return None if value is None else value.median

    def us(self, scenario: str) -> float | None:
        """Median wall µs per request of a read scenario that went well."""
        result = self.scenarios.get(scenario)
        value = result.us_per_request() if result is not None and result.ok else None
        return None if value is None else value.median

    def cpu_us(self, scenario: str) -> float | None:
        """Median server CPU µs per request of a read scenario that went well."""
        result = self.scenarios.get(scenario)
        value = result.cpu_us_per_request() if result is not None and result.ok else None
        return None if value is None else value.median

    def peak_rss_kib(self) -> int | None:
        peaks = [m["VmHWM"] for m in self.memory_kib.values() if "VmHWM" in m]
        return max(peaks) if peaks else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "framework": self.framework,
            "app": self.app,
            "command": self.command,
            "error": self.error,
            "cold_start_s": self.cold_start_s,
            "memory_kib": self.memory_kib,
            "peak_rss_kib": self.peak_rss_kib(),
            "scenarios": {name: s.as_dict() for name, s in self.scenarios.items()},
            "soak": None if self.soak is None else self.soak.as_dict(),
            "notes": self.notes,
        }


@dataclass(frozen=True, slots=True)
class Ratio:
    name: str
    scenario: str
    numerator: str
    denominator: str
    value: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scenario": self.scenario,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "value": self.value,
        }


@dataclass(frozen=True, slots=True)
class Goal:
    id: str
    target: str
    scenario: str
    rule: str
    #: What was measured, in the words of the rule.
    observed: str
    #: True met, False not met, None not measured (a figure it needs is missing).
    met: bool | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "scenario": self.scenario,
            "rule": self.rule,
            "observed": self.observed,
            "met": self.met,
        }


def _minus(top: float | None, bottom: float | None) -> float | None:
    return None if top is None or bottom is None else top - bottom


@dataclass(frozen=True, slots=True)
class Ladder:
    """One framework's rungs on one read path: µs per request, wall (1e6 / req/s) and the
    server's CPU (/proc), and what each step up adds."""

    framework: str
    scenario: str
    us: dict[str, float | None]
    cpu_us: dict[str, float | None]

    def deltas(self) -> dict[str, dict[str, float | None]]:
        return {
            name: {
                "us": _minus(self.us.get(top), self.us.get(bottom)),
                "cpu_us": _minus(self.cpu_us.get(top), self.cpu_us.get(bottom)),
            }
            for name, bottom, top in STEPS
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "scenario": self.scenario,
            "rungs": {
                rung: {
                    "target": rung_target(self.framework, rung),
                    "us_per_request": self.us.get(rung),
                    "cpu_us_per_request": self.cpu_us.get(rung),
                }
                for rung in LADDER
            },
            "deltas": self.deltas(),
        }


def ladders(targets: dict[str, TargetResult]) -> list[Ladder]:
    """Each framework's ladder on each read path that any of its rungs was measured on."""
    found = []
    for framework in dict.fromkeys(t.framework for t in targets.values() if t.framework):
        rungs = {rung: targets.get(rung_target(framework, rung)) for rung in LADDER}
        for scenario in READS:
            if not any(t is not None and scenario in t.scenarios for t in rungs.values()):
                continue
            found.append(
                Ladder(
                    framework,
                    scenario,
                    {r: None if t is None else t.us(scenario) for r, t in rungs.items()},
                    {r: None if t is None else t.cpu_us(scenario) for r, t in rungs.items()},
                )
            )
    return found


def guard_goal(
    target: str,
    scenario: str,
    guard: float | None,
    bare: float | None,
    side_by_side: float | None = None,
) -> Goal:
    """Judged side by side where those rounds ran (ScenarioResult.side_by_side: CPU per request,
    Guard's server and bare's with the core loaded up at once, so that only Guard's code
    differs); else by requests/s against bare of the runs taken in turn, which on a noisy
    machine move by more than the 5% the rule allows."""
    in_turn = ratio(guard, bare)
    if side_by_side is None:
        return Goal(
            "guard-vs-bare",
            target,
            scenario,
            f"bare + Guard >= {GUARD_VS_BARE}x bare",
            _x(in_turn),
            None if in_turn is None else in_turn >= GUARD_VS_BARE,
        )
    return Goal(
        "guard-vs-bare",
        target,
        scenario,
        f"bare + Guard >= {GUARD_VS_BARE}x bare with the core loaded, CPU per request side by side",
        f"{_x(side_by_side)} (in turn, against bare alone: {_x(in_turn)} req/s)",
        side_by_side >= GUARD_VS_BARE,
    )


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def framework_goal(
    impl: str, scenario: str, impl_rps: float | None, bare: float | None, ceiling: float | None
) -> Goal:
    """impl >= 0.85x its bare framework, or >= 0.9x its wiring ceiling where the ceiling itself
    is below 0.85x of bare (then the framework's idiom, not the core, is what costs)."""
    vs_bare, vs_ceiling, ceiling_vs_bare = (
        ratio(impl_rps, bare),
        ratio(impl_rps, ceiling),
        ratio(ceiling, bare),
    )
    rule = (
        f">= {IMPL_VS_BARE}x bare, or >= {IMPL_VS_CEILING}x ceiling "
        f"where ceiling < {IMPL_VS_BARE}x bare"
    )
    observed = f"{_x(vs_bare)} bare, {_x(vs_ceiling)} ceiling (ceiling {_x(ceiling_vs_bare)} bare)"
    met: bool | None
    if vs_bare is None:
        met = None
    elif vs_bare >= IMPL_VS_BARE:
        met = True
    elif ceiling_vs_bare is None or vs_ceiling is None:
        met = None if ceiling is None else False
    else:
        met = ceiling_vs_bare < IMPL_VS_BARE and vs_ceiling >= IMPL_VS_CEILING
    return Goal("impl-vs-framework", impl, scenario, rule, observed, met)


def core_goal(scenario: str, core_rps: float | None, raw_rps: float | None) -> Goal:
    value = ratio(core_rps, raw_rps)
    return Goal(
        "core-vs-raw",
        RAW_CORE,
        scenario,
        f"raw-core >= {CORE_VS_RAW}x raw-asgi",
        _x(value),
        None if value is None else value >= CORE_VS_RAW,
    )


def mixed_goal(
    target: str,
    mixed_rps: float | None,
    mixed_p99: float | None,
    unloaded_rps: float | None,
    unloaded_p99: float | None,
    logins_ok: int,
) -> Goal:
    reads, p99 = ratio(mixed_rps, unloaded_rps), ratio(mixed_p99, unloaded_p99)
    met = (
        None
        if reads is None or p99 is None
        else reads >= MIXED_READS and p99 <= MIXED_P99 and logins_ok > 0
    )
    return Goal(
        "mixed-reads",
        target,
        "mixed",
        f"reads >= {MIXED_READS}x unloaded, p99 <= {MIXED_P99:g}x unloaded p99, logins complete",
        f"reads {_x(reads)}, p99 {_x(p99)}, {logins_ok} logins",
        met,
    )


def login_goal(target: str, logins_per_s: float | None, argon2_per_s: float | None) -> Goal:
    value = ratio(logins_per_s, argon2_per_s)
    observed = "n/a" if value is None else f"{value:.2f}x argon2 alone"
    return Goal(
        "login-vs-argon2",
        target,
        "login",
        f"logins/s >= {LOGIN_VS_ARGON2}x argon2 verifications/s on the server's cores",
        observed,
        None if value is None else value >= LOGIN_VS_ARGON2,
    )


def _median(spread_value: Spread | None) -> float | None:
    return None if spread_value is None else spread_value.median


def evaluate(
    targets: dict[str, TargetResult], argon2_per_s: float | None = None
) -> tuple[list[Ratio], list[Goal]]:
    """Every ratio and every target of the issue that the measured targets allow. A login
    scenario is compared with the argon2-alone figure measured beside it, else with
    `argon2_per_s`."""
    ratios: list[Ratio] = []
    goals: list[Goal] = []

    def add_ratio(name: str, scenario: str, top: str, bottom: str) -> None:
        if top in targets and bottom in targets:
            value = ratio(targets[top].rps(scenario), targets[bottom].rps(scenario))
            ratios.append(Ratio(name, scenario, top, bottom, value))

    # The frameworks are those the measured targets name (core.registry's, as bench.runner made
    # the targets): nothing here lists them.
    for framework in dict.fromkeys(t.framework for t in targets.values() if t.framework):
        impl, bare, ceiling = framework, f"bare-{framework}", f"ceiling-{framework}"
        guard, native = f"guard-{framework}", f"native-{framework}"
        for scenario in READS:
            add_ratio("guard/bare", scenario, guard, bare)
            add_ratio("native/impl", scenario, native, impl)
            if guard in targets and scenario in targets[guard].scenarios and bare in targets:
                read = targets[guard].scenarios[scenario]
                goals.append(
                    guard_goal(
                        guard,
                        scenario,
                        targets[guard].rps(scenario),
                        targets[bare].rps(scenario),
                        _median(read.side_by_side_ratio()),
                    )
                )
            add_ratio("impl/bare", scenario, impl, bare)
            add_ratio("impl/ceiling", scenario, impl, ceiling)
            add_ratio("ceiling/bare", scenario, ceiling, bare)
            # The implementation on PostgreSQL: beside its framework, and beside itself on SQLite.
            add_ratio("impl/bare", scenario, f"pg-{framework}", bare)
            add_ratio("impl/ceiling", scenario, f"pg-{framework}", ceiling)
            add_ratio("postgresql/sqlite", scenario, f"pg-{framework}", impl)
            if impl in targets and scenario in targets[impl].scenarios and bare in targets:
                goals.append(
                    framework_goal(
                        impl,
                        scenario,
                        targets[impl].rps(scenario),
                        targets[bare].rps(scenario),
                        targets[ceiling].rps(scenario) if ceiling in targets else None,
                    )
                )
    for scenario in READS:
        add_ratio("raw-core/raw-asgi", scenario, RAW_CORE, RAW)
        if RAW_CORE in targets and RAW in targets and scenario in targets[RAW_CORE].scenarios:
            goals.append(
                core_goal(scenario, targets[RAW_CORE].rps(scenario), targets[RAW].rps(scenario))
            )
    for name, target in targets.items():
        mixed = target.scenarios.get("mixed")
        if mixed is not None:
            unloaded_rps, unloaded_p99 = target.rps("items"), target.p99("items")
            mixed_rps = target.rps("mixed")
            mixed_p99 = target.p99("mixed")
            ratios.append(
                Ratio("mixed/unloaded", "mixed", name, name, ratio(mixed_rps, unloaded_rps))
            )
            ratios.append(
                Ratio("mixed/unloaded p99", "mixed", name, name, ratio(mixed_p99, unloaded_p99))
            )
            goals.append(
                mixed_goal(
                    name, mixed_rps, mixed_p99, unloaded_rps, unloaded_p99, mixed.login_count(200)
                )
            )
        login = target.scenarios.get("login")
        if login is not None:
            logins = _median(login.login_rate()) if login.ok else None
            reference = login.argon2_reference() or argon2_per_s
            ratios.append(Ratio("logins/argon2", "login", name, "argon2", ratio(logins, reference)))
            goals.append(login_goal(name, logins, reference))
    return ratios, goals


def count_met(goals: Sequence[Goal]) -> tuple[int, int, int]:
    """(met, not met, not measured)."""
    met = sum(goal.met is True for goal in goals)
    missed = sum(goal.met is False for goal in goals)
    return met, missed, len(goals) - met - missed
