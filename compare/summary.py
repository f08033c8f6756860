"""The comparison at a glance: one row per question, one cell per framework. The same rows make
the page's first table and the README's table (`make readme-table`), so the two never disagree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from compare import conformance_view, perf, targets
from compare.adapters import Adapter
from compare.sources import Reports

DASH = "—"


@dataclass(frozen=True, slots=True)
class GlanceRow:
    question: str
    cells: dict[str, str]
    #: Which report the row comes from: "conformance", "bench", "fuzz" or "adapters".
    source: str


def columns(reports: Reports) -> list[str]:
    """The table's columns: the implementations (compare.targets), then outside ones."""
    return [*targets.implementations(), *(n for o in reports.outside for n in o.names)]


def _row(
    question: str, source: str, cell: Callable[[str], str | None], keys: list[str] | None = None
) -> GlanceRow:
    return GlanceRow(
        question, {f: cell(f) or DASH for f in keys or targets.implementations()}, source
    )


def over_profiles(totals: dict[str, dict[str, int]], key: str) -> dict[str, int] | None:
    """An implementation's counts over both profiles: its column and its -strict column."""
    found = [totals[c] for c in (key, f"{key}-strict") if c in totals]
    if not found:
        return None
    summed: dict[str, int] = {}
    for counts in found:
        for name, value in counts.items():
            summed[name] = summed.get(name, 0) + value
    return summed


def conformance_cell(totals: dict[str, int]) -> str:
    failed_must, failed_should = totals.get("must_failed", 0), totals.get("should_failed", 0)
    skipped, blocked = totals.get("skipped", 0), totals.get("blocked", 0)
    if failed_must or failed_should:
        text = f"{failed_must} MUST, {failed_should} SHOULD fail"
    else:
        text = "all pass"
    aside = [f"{skipped} skipped"] * bool(skipped) + [f"{blocked} blocked"] * bool(blocked)
    return text + (f" ({', '.join(aside)})" if aside else "")


def framework_labels(diff: dict[str, Any] | None, prefix: str, word: str = "") -> dict[str, str]:
    """Each target's labels on the differential probes whose id starts with `prefix` (and that
    mention `word`): how the framework answered a point the contract leaves open."""
    found: dict[str, list[str]] = {}
    for difference in (diff or {}).get("framework_differences", []):
        if not str(difference.get("probe", "")).startswith(prefix):
            continue
        for target, labels in (difference.get("answers") or {}).items():
            chosen = [label for label in labels if word in label] if word else list(labels)
            bucket = found.setdefault(target, [])
            bucket += [label for label in chosen or ["as specified"] if label not in bucket]
    return {target: ", ".join(labels) for target, labels in found.items()}


def fuzz_cell(summary: dict[str, Any] | None) -> str | None:
    if not summary:
        return None
    runs = summary.get("runs") or []
    cases = sum(int(run.get("cases") or 0) for run in runs)
    failures = sum(
        sum(int(f.get("count", 1)) for f in run.get("failures") or [])
        + len(run.get("errors") or [])
        for run in runs
    )
    return f"{cases:,} cases, {failures} failure{'s' if failures != 1 else ''}"


def glance(reports: Reports, adapters: dict[str, Adapter]) -> list[GlanceRow]:
    rows: list[GlanceRow] = []
    report = reports.conformance
    if report is not None:
        totals = conformance_view.totals(report)
        for outside in reports.outside:
            totals |= {
                n: c
                for n, c in conformance_view.totals(outside.report).items()
                if n in outside.names
            }
        levels = conformance_view.levels(report)
        rows.append(
            _row(
                f"conformance checks ({levels.get('MUST', 0)} MUST, {levels.get('SHOULD', 0)} "
                "SHOULD; counts over both profiles)",
                "conformance",
                lambda f: conformance_cell(c) if (c := over_profiles(totals, f)) else None,
                columns(reports),
            )
        )
        diff = report.get("differential")
        for question, prefix, word in (
            ("`/users/me` without the slash", "no-slash-users-me", ""),
            ("HEAD on a GET route", "head-", "HEAD"),
            ("OPTIONS", "method-options", "OPTIONS"),
        ):
            labels = framework_labels(diff, prefix, word)
            if labels:
                rows.append(_row(question, "conformance", labels.get))
    native = reports.native
    if native is not None:
        totals_native = conformance_view.totals(native)
        checks = len(native.get("checks") or [])

        def own_way(f: str) -> str | None:
            counts = totals_native.get(f"native-{f}")
            if counts is None:
                return None
            failed = counts.get("must_failed", 0) + counts.get("should_failed", 0)
            return f"{failed} of {checks} checks fail"

        rows.append(
            _row(
                "the framework's own way (`impl_<name>/native.py`) through the suite",
                "native",
                own_way,
            )
        )
    if adapters:
        rows.append(
            _row(
                "adapter code lines (`impl_<name>/app.py`; inside the `# compare:` markers)",
                "adapters",
                lambda f: (
                    f"{adapters[f].total_lines} ({adapters[f].marked_lines})"
                    if f in adapters
                    else None
                ),
            )
        )
        rows.append(
            _row(
                "OpenAPI document: code lines, workarounds",
                "adapters",
                lambda f: (
                    f"{adapters[f].concern_lines('openapi')}, "
                    f"{len(adapters[f].workarounds('openapi'))}"
                    if f in adapters
                    else None
                ),
            )
        )
    bench = reports.bench
    if bench is not None:
        targets = bench.get("targets") or {}

        def items(f: str) -> str | None:
            mine = perf.median_of(targets.get(f, {}), "items")
            bare = perf.median_of(targets.get(f"bare-{f}", {}), "items")
            if mine is None:
                return None
            share = perf.ratio(mine, bare)
            return f"{mine:,.0f}" + (f" ({share:.2f}x bare)" if share is not None else "")

        def p99(f: str) -> str | None:
            value = perf.latency(targets.get(f, {}), "items").get("p99")
            return None if value is None else f"{value:.2f}"

        def mixed(f: str) -> str | None:
            target = targets.get(f, {})
            share = perf.ratio(perf.median_of(target, "mixed"), perf.median_of(target, "items"))
            return None if share is None else f"{share:.2f}x"

        def start(f: str) -> str | None:
            target = targets.get(f)
            if not target:
                return None
            cold, rss = target.get("cold_start_s"), perf.rss_mib(target)
            return (
                f"{DASH if cold is None else f'{cold:.2f}'} s / "
                f"{DASH if rss is None else f'{rss:.1f}'} MiB"
            )

        rows += [
            _row("GET /users/me/items/ req/s (median)", "bench", items),
            _row("GET /users/me/items/ p99 ms", "bench", p99),
            _row("reads while logins run (x alone)", "bench", mixed),
            _row("cold start / RSS at ready", "bench", start),
        ]
    if reports.fuzz:
        rows.append(
            _row("schemathesis (both documents)", "fuzz", lambda f: fuzz_cell(reports.fuzz.get(f)))
        )
    return rows


def markdown(rows: list[GlanceRow], footer: str) -> str:
    keys = list(dict.fromkeys(k for row in rows for k in row.cells)) or list(
        targets.implementations()
    )
    lines = [
        "| | " + " | ".join(targets.display(k) for k in keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for row in rows:
        cells = [row.cells.get(f, DASH).replace("|", "\\|") for f in keys]
        lines.append(f"| {row.question} | " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", footer])
