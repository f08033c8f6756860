"""The page's "Which one for what": per framework, what it is best and worst at among those
compared, each claim with its number and the anchor of its evidence on the page. Generated from
the reports, never written by hand. Measured ratios within NOISE of each other are a tie: runs
on one machine move by 5-10% (README, "Performance"), so a smaller gap says nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from compare import conformance_view, perf
from compare.adapters import Adapter
from compare.sources import Reports
from compare.targets import Target

#: Measured figures closer than this (max/min - 1) are a tie.
NOISE = 0.10


@dataclass(frozen=True, slots=True)
class Metric:
    #: What is compared, as "<best phrase>" / "<worst phrase>".
    best: str
    worst: str
    values: dict[str, float]
    unit: Callable[[float], str]
    anchor: str
    higher_is_better: bool
    #: Measured (a tie within NOISE) or counted (a tie only when equal).
    measured: bool


@dataclass(frozen=True, slots=True)
class Claim:
    text: str
    figure: str
    anchor: str


@dataclass(slots=True)
class Verdict:
    target: Target
    best: list[Claim] = field(default_factory=list)
    worst: list[Claim] = field(default_factory=list)
    #: Where the framework answers differently from the others (the contract allows either).
    differs: list[Claim] = field(default_factory=list)
    #: Neutral facts: ours beside the framework's documented way.
    facts: list[Claim] = field(default_factory=list)


@dataclass(slots=True)
class Verdicts:
    frameworks: list[Verdict]
    #: Metrics on which every framework is within the noise (or equal): one line each.
    ties: list[Claim]
    #: What the verdict could not judge, and why (a report missing).
    missing: list[str]


def _tied(values: list[float], measured: bool) -> Callable[[float, float], bool]:
    def close(a: float, b: float) -> bool:
        if not measured:
            return a == b
        low, high = sorted((abs(a), abs(b)))
        return high == low or (low > 0 and high / low - 1 <= NOISE)

    return close


def judge(metric: Metric, verdicts: dict[str, Verdict], names: dict[str, str]) -> Claim | None:
    """Add the metric's best and worst claims to `verdicts`; return a tie line when all tie."""
    values = {k: v for k, v in metric.values.items() if k in verdicts}
    if len(values) < 2:
        return None
    close = _tied(list(values.values()), metric.measured)
    order = sorted(values, key=values.__getitem__, reverse=metric.higher_is_better)
    top, bottom = values[order[0]], values[order[-1]]
    if close(top, bottom):
        figures = ", ".join(f"{names[k]} {metric.unit(values[k])}" for k in order)
        tie = f"within {NOISE:.0%}" if metric.measured else "equal"
        return Claim(f"{metric.best}: a tie ({tie})", figures, metric.anchor)
    best = [k for k in order if close(values[k], top)]
    worst = [k for k in order if close(values[k], bottom) and k not in best]
    for key in best:
        versus = f"{names[order[-1]]}: {metric.unit(bottom)}"
        verdicts[key].best.append(
            Claim(metric.best, f"{metric.unit(values[key])} ({versus})", metric.anchor)
        )
    for key in worst:
        versus = f"{names[order[0]]}: {metric.unit(top)}"
        verdicts[key].worst.append(
            Claim(metric.worst, f"{metric.unit(values[key])} ({versus})", metric.anchor)
        )
    return None


def _rps(value: float) -> str:
    return f"{value:,.0f} req/s"


def _us(value: float) -> str:
    return f"{value:,.1f} µs CPU/request"


def _ms(value: float) -> str:
    return f"{value:.2f} ms"


def _count(one: str, many: str) -> Callable[[float], str]:
    return lambda value: f"{value:,.0f} {one if value == 1 else many}"


def failed(totals: dict[str, dict[str, int]], key: str) -> int | None:
    """Checks failed by implementation `key` over both profiles (its -strict column too)."""
    columns = [c for c in (key, f"{key}-strict") if c in totals]
    if not columns:
        return None
    return sum(totals[c].get("must_failed", 0) + totals[c].get("should_failed", 0) for c in columns)


def native_target(bench: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The bench's rung for the framework's documented way, if the bench has it."""
    targets = bench.get("targets") or {}
    for name, target in targets.items():
        if target.get("kind") == "native" and target.get("framework") == key:
            return dict(target)
        if name == f"native-{key}":
            return dict(target)
    return None


def metrics(reports: Reports, adapters: dict[str, Adapter], keys: list[str]) -> list[Metric]:
    found: list[Metric] = []
    bench = reports.bench
    if bench is not None:
        targets = bench.get("targets") or {}
        reads = {k: v for k in keys if (v := perf.median_of(targets.get(k) or {}, "items"))}
        p99 = {
            k: v
            for k in keys
            if (v := perf.latency(targets.get(k) or {}, "items").get("p99")) is not None
        }
        native = {
            k: v
            for k in keys
            if (t := native_target(bench, k)) is not None and (v := perf.median_of(t, "items"))
        }
        cpu = {
            k: v
            for k in keys
            if (v := perf.median_of(targets.get(k) or {}, "items", "cpu_us_per_request"))
        }
        found += [
            Metric("Most authenticated reads per second (GET /users/me/items/)",
                   "Fewest authenticated reads per second (GET /users/me/items/)",
                   reads, _rps, "#perf-reads", True, True),
            Metric("Lowest p99 latency of authenticated reads", "Highest p99 latency of "
                   "authenticated reads", p99, _ms, "#perf-reads", False, True),
            Metric("Least server CPU per authenticated read", "Most server CPU per "
                   "authenticated read", cpu, _us, "#perf-ladder", False, True),
            Metric("Fastest documented way (impl_<name>/native.py)", "Slowest documented way "
                   "(impl_<name>/native.py)", native, _rps, "#perf-reads", True, True),
        ]  # fmt: skip
    if reports.native is not None:
        totals = conformance_view.totals(reports.native)
        own = {k: float(v) for k in keys if (v := failed(totals, f"native-{k}")) is not None}
        found.append(
            Metric("Its documented way fails the fewest checks", "Its documented way fails the "
                   "most checks", own, _count("check failed", "checks failed"), "#native", False,
                   False)
        )  # fmt: skip
    if reports.conformance is not None:
        totals = conformance_view.totals(reports.conformance)
        ours = {k: float(v) for k in keys if (v := failed(totals, k)) is not None}
        found.append(
            Metric("Fewest conformance checks failed", "Most conformance checks failed", ours,
                   _count("check failed", "checks failed"), "#conformance", False, False)
        )  # fmt: skip
    if adapters:
        present = [k for k in keys if k in adapters]
        found += [
            Metric("Smallest adapter", "Largest adapter",
                   {k: float(adapters[k].total_lines) for k in present},
                   _count("code line", "code lines"), "#needed", False, True),
            Metric("Fewest workarounds", "Most workarounds",
                   {k: float(sum(len(adapters[k].workarounds(c)) for c in _concerns(adapters[k])))
                    for k in present}, _count("workaround", "workarounds"), "#needed", False,
                   False),
            Metric("Least code for its OpenAPI document", "Most code for its OpenAPI document",
                   {k: float(adapters[k].concern_lines("openapi")) for k in present},
                   _count("code line", "code lines"), "#concern-openapi", False, True),
        ]  # fmt: skip
    return found


def _concerns(adapter: Adapter) -> list[str]:
    return list(dict.fromkeys(c for region in adapter.regions for c in region.concerns))


def answers(diff: dict[str, Any] | None, keys: list[str]) -> dict[str, list[str]]:
    """Per implementation, each framework-dependent answer it gave where the frameworks do not
    all answer alike (from the differential run), with how many probes drew it."""
    found: dict[str, dict[str, int]] = {k: {} for k in keys}
    for difference in (diff or {}).get("framework_differences") or []:
        labelled = {k: tuple((difference.get("answers") or {}).get(k) or []) for k in keys}
        if len(set(labelled.values())) < 2:
            continue
        for key, labels in labelled.items():
            for label in labels:
                found[key][label] = found[key].get(label, 0) + 1
    return {
        key: [f"{label} ({n} probe{'s' if n != 1 else ''})" for label, n in labels.items()]
        for key, labels in found.items()
    }


def documented_way(reports: Reports, keys: list[str]) -> dict[str, Claim]:
    """Ours beside the framework's documented way: speed (when the bench ran it) and checks."""
    found = {}
    own = conformance_view.totals(reports.native) if reports.native is not None else {}
    for key in keys:
        parts = []
        bench = reports.bench or {}
        mine = perf.median_of((bench.get("targets") or {}).get(key) or {}, "items")
        native = native_target(bench, key)
        theirs = perf.median_of(native, "items") if native is not None else None
        if mine and theirs:
            parts.append(
                f"{mine / theirs:.1f}\u00d7 its req/s ({_rps(mine)} against {_rps(theirs)})"
            )
        if (fails := failed(own, f"native-{key}")) is not None:
            parts.append(f"passing the {fails} checks it fails")
        if parts:
            found[key] = Claim("Ours beside its documented way", ", ".join(parts), "#native")
    return found


def build(reports: Reports, adapters: dict[str, Adapter], frameworks: list[Target]) -> Verdicts:
    keys = [t.key for t in frameworks]
    names = {t.key: t.name for t in frameworks}
    verdicts = {t.key: Verdict(t) for t in frameworks}
    ties = [tie for m in metrics(reports, adapters, keys) if (tie := judge(m, verdicts, names))]
    diff = (reports.conformance or {}).get("differential")
    for key, labels in answers(diff if isinstance(diff, dict) else None, keys).items():
        for label in labels:
            verdicts[key].differs.append(Claim("Answers", label, "#framework-answers"))
    for key, claim in documented_way(reports, keys).items():
        verdicts[key].facts.append(claim)
    missing = []
    if reports.bench is None:
        missing.append("speed: no bench report (make bench)")
    elif not any(native_target(reports.bench, k) for k in keys):
        missing.append("the documented way's speed: this bench run has no native rung")
    if reports.native is None:
        missing.append("the documented way's checks: no native report (make compare)")
    return Verdicts(list(verdicts.values()), ties, missing)
