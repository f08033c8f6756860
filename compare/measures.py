"""What the page shows of the adapters, the bench, the fuzz runs and the versions, as plain data
for the templates."""

from __future__ import annotations

from typing import Any

from compare import perf, targets
from compare.adapters import CONCERNS, Adapter
from compare.sources import Reports

#: "times", as in 1.9 times (a multiplication sign, not an x).
TIMES = "\u00d7"


def num(value: float | None, digits: int = 0, suffix: str = "") -> str:
    return "—" if value is None else f"{value:,.{digits}f}{suffix}"


def needed_data(adapters: dict[str, Adapter]) -> dict[str, Any]:
    names = [k for k in targets.implementations() if k in adapters]
    return {
        "frameworks": [{"key": k, "name": targets.display(k)} for k in names],
        "lines": [
            {"question": q, "cells": [adapters[k].concern_lines(c) for k in names]}
            for c, q in CONCERNS.items()
        ],
        "totals": [adapters[k].total_lines for k in names],
        "workarounds": [sum(len(adapters[k].workarounds(c)) for c in CONCERNS) for k in names],
        "concerns": [
            {
                "key": concern,
                "question": question,
                "panes": [
                    {
                        "name": targets.display(k),
                        "lines": adapters[k].concern_lines(concern),
                        "workarounds": adapters[k].workarounds(concern),
                        "regions": [(r.start, r.code) for r in adapters[k].of(concern)],
                        "path": f"impl_{k}/app.py",
                    }
                    for k in names
                ],
            }
            for concern, question in CONCERNS.items()
        ],
    }


def spread(value: dict[str, float] | None) -> dict[str, str] | None:
    if not value:
        return None
    return {k: num(value.get(k)) for k in ("median", "min", "max")}


#: The bench's cost ladder (bench.analysis.LADDER, STEPS): rung -> label, cheapest first.
LADDER = {
    "bare": "bare endpoint",
    "guard": "bare + Guard",
    "ceiling": "wiring ceiling",
    "impl": "implementation",
    "native": "documented way",
}
STEPS = (
    ("guard", "Guard adds"),
    ("wiring", "wiring adds"),
    ("core", "core adds"),
    ("native_vs_ours", "documented way \u2212 ours"),
)


def performance_data(reports: Reports, charts: list[perf.Chart]) -> dict[str, Any] | None:
    bench = reports.bench
    if bench is None:
        return None
    meta = bench.get("meta") or {}
    rows = []
    all_targets = bench.get("targets") or {}
    for name, target in perf.ordered_targets(bench):
        bare = all_targets.get(f"bare-{target.get('framework')}") or {}
        share = perf.ratio(perf.median_of(target, "items"), perf.median_of(bare, "items"))
        lat = perf.latency(target, "items")
        mixed = perf.scenario(target, "mixed")
        soak = target.get("soak")
        rows.append(
            {
                "name": name,
                "kind": perf.KIND_LABEL.get(str(target.get("kind")), target.get("kind")),
                "reads": [spread(perf.rps(target, s)) for s in perf.READS],
                "latency": [num(lat.get(k), 2) for k in ("p50", "p90", "p99")],
                "bare": num(share, 2, TIMES) if target.get("kind") != "bare" else "—",
                "us": num(perf.median_of(target, "items", "us_per_request"), 1),
                "cpu": num(perf.median_of(target, "items", "cpu_us_per_request"), 1),
                "mixed": None
                if mixed is None
                else {
                    "reads": num(perf.median_of(target, "mixed")),
                    "alone": num(
                        perf.ratio(
                            perf.median_of(target, "mixed"), perf.median_of(target, "items")
                        ),
                        2,
                        TIMES,
                    ),
                    "p99": num(perf.median_of(target, "mixed", "p99_ms"), 2),
                    "logins": num(perf.median_of(target, "mixed", "logins_per_s"), 1),
                    "503": mixed.get("logins_503", "—"),
                },
                "cold": num(target.get("cold_start_s"), 2),
                "rss": num(perf.rss_mib(target), 1),
                "peak": num(perf.peak_mib(target), 1),
                "soak": num((soak.get("growth_second_half_kib") or 0) / 1024, 1)
                if isinstance(soak, dict)
                else "—",
            }
        )
    ladders = [
        {
            "framework": targets.display(str(ladder.get("framework"))),
            "path": perf.PATHS.get(str(ladder.get("scenario")), ladder.get("scenario")),
            "rungs": [
                (num((ladder.get("rungs") or {}).get(r, {}).get("us_per_request"), 1),
                 num((ladder.get("rungs") or {}).get(r, {}).get("cpu_us_per_request"), 1))
                for r in LADDER
            ],
            "deltas": [
                (num((ladder.get("deltas") or {}).get(d, {}).get("us"), 1),
                 num((ladder.get("deltas") or {}).get(d, {}).get("cpu_us"), 1))
                for d, _ in STEPS
            ],
        }
        for ladder in bench.get("ladders") or []
    ]  # fmt: skip
    return {
        "ladders": ladders,
        "rungs": list(LADDER.values()),
        "steps": [label for _, label in STEPS],
        "meta": meta,
        "machine": meta.get("machine") or {},
        "options": meta.get("options") or {},
        "failed": bench.get("failed") or [],
        "charts": charts,
        "paths": [perf.PATHS[s] for s in perf.READS],
        "rows": rows,
        "goals": bench.get("goals") or [],
    }


def fuzz_data(reports: Reports) -> dict[str, Any] | None:
    if not reports.fuzz:
        return None
    phases: list[str] = []
    for data in reports.fuzz.values():
        for run in data.get("runs") or []:
            phases += [p for p in run.get("per_phase") or {} if p not in phases]
    rows = []
    for impl, data in reports.fuzz.items():
        for run in data.get("runs") or []:
            failures = run.get("failures") or []
            rows.append(
                {
                    "impl": targets.display(impl),
                    "document": run.get("document"),
                    "cases": num(run.get("cases")),
                    "phases": [num((run.get("per_phase") or {}).get(p)) for p in phases],
                    "links": run.get("links_covered") or "—",
                    "failures": sum(int(f.get("count", 1)) for f in failures),
                    "titles": "; ".join(
                        f"{f.get('title')} \u00d7{f.get('count', 1)} on "
                        f"{', '.join(f.get('operations') or [])}"
                        for f in failures
                    ),
                    "errors": len(run.get("errors") or []),
                    "seconds": num(run.get("seconds"), 1),
                }
            )
    return {"phases": phases, "rows": rows, "replay": reports.replay}


def versions_data(reports: Reports) -> dict[str, Any]:
    columns: dict[str, dict[str, Any]] = {}
    if reports.conformance:
        columns["conformance run"] = reports.conformance.get("versions") or {}
    if reports.bench:
        meta = reports.bench.get("meta") or {}
        columns["bench run"] = {"python": meta.get("python"), **(meta.get("versions") or {})}
    names: list[str] = []
    for found in columns.values():
        names += [n for n in found if n not in names]
    return {
        "columns": list(columns),
        "rows": [(n, [columns[c].get(n) or "—" for c in columns]) for n in names],
        "fuzz": bool(reports.fuzz),
    }
