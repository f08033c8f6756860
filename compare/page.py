"""reports/index.html: one static page, no script, no request beyond its own folder (the charts
are SVG files in charts/ beside it). Jinja2 templates (compare/templates/) with autoescaping:
no report value is ever markup. Each section is built on its own: a report it cannot read makes
that section say which file and field, never the build fail."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from compare import conformance_view, perf, replay, summary, targets, verdict
from compare.adapters import CONCERNS, Adapter
from compare.conformance_view import Contract
from compare.schema import Problem
from compare.sources import ROOT, SOURCES, Outside, Reports

#: "times", as in 1.9 times (a multiplication sign, not an x).
TIMES = "\u00d7"
#: The suite's own marks (conformance/report.py): the en dash is "not run", ⊘ "could not run".
GLYPH = {"pass": "✓", "fail": "✗", "skip": "–", "blocked": "⊘", "": ""}  # noqa: RUF001
_BACKTICKS = re.compile(r"`([^`]+)`")

ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def code(text: object) -> Markup:
    """Escaped text with `backticks` rendered as <code>."""
    escaped = str(escape(str(text)))
    return Markup(_BACKTICKS.sub(r"<code>\1</code>", escaped))  # noqa: S704 (escaped above)


def num(value: float | None, digits: int = 0, suffix: str = "") -> str:
    return "—" if value is None else f"{value:,.{digits}f}{suffix}"


ENV.filters.update(code=code, num=num, display=targets.display)


# --- the data each section shows ---------------------------------------------------------------


def merged(reports: Reports) -> dict[str, Any] | None:
    """The conformance report with each outside implementation's columns added."""
    base = reports.conformance
    if not reports.outside:
        return base
    report = copy.deepcopy(base) if base is not None else {"targets": [], "checks": []}
    by_id = {str(c.get("id")): c for c in report.setdefault("checks", [])}
    for outside in reports.outside:
        for target in outside.report.get("targets") or []:
            if target.get("name") in outside.names:
                report.setdefault("targets", []).append({**target, "outside": outside.path})
        for name, counts in (outside.report.get("summary") or {}).items():
            if name in outside.names:
                report.setdefault("summary", {})[name] = counts
        for check in outside.report.get("checks") or []:
            mine = by_id.get(str(check.get("id")))
            if mine is None:
                mine = {k: v for k, v in check.items() if k != "results"} | {"results": {}}
                report["checks"].append(mine)
                by_id[str(check.get("id"))] = mine
            for name, result in (check.get("results") or {}).items():
                if name in outside.names:
                    mine.setdefault("results", {})[name] = result
    return report


def outside_names(reports: Reports) -> list[str]:
    return [name for outside in reports.outside for name in outside.names]


def column(name: str, reports: Reports) -> dict[str, Any]:
    return {"key": name, "name": targets.display(name), "outside": name in outside_names(reports)}


def cell(row: conformance_view.Row, name: str) -> dict[str, Any]:
    outcome = row.cells.get(name, "")
    return {
        "outcome": outcome,
        "glyph": GLYPH.get(outcome, outcome),
        "failures": row.failures.get(name, []) if outcome == "fail" else [],
        "skip": row.skips.get(name, "") if outcome in ("skip", "blocked") else "",
    }


def matrix_row(row: conformance_view.Row, columns: list[str]) -> dict[str, Any]:
    check = row.check
    return {
        "id": check.get("id"),
        "level": check.get("level"),
        "title": check.get("title"),
        "cells": [cell(row, name) for name in columns],
    }


def differs(row: conformance_view.Row) -> bool:
    """A check that fails somewhere or whose outcome is not the same on every target."""
    values = set(row.cells.values())
    return "fail" in values or "blocked" in values or len(values) > 1


def per_implementation(totals: dict[str, dict[str, int]], names: list[str]) -> list[dict[str, Any]]:
    """Counts per implementation over both profiles (its column and its -strict column)."""
    out = []
    for name in names:
        columns = [c for c in (name, f"{name}-strict") if c in totals]
        if not columns:
            continue
        summed: dict[str, int] = {}
        for c in columns:
            for key, value in totals[c].items():
                summed[key] = summed.get(key, 0) + value
        out.append({"key": name, "name": targets.display(name), "counts": summed,
                    "columns": [targets.display(c) for c in columns]})  # fmt: skip
    return out


def conformance_data(reports: Reports, contract: Contract) -> dict[str, Any] | None:
    report = merged(reports)
    if report is None:
        return None
    names = conformance_view.columns(report)
    rows = conformance_view.rows(report)
    totals = conformance_view.totals(report)
    implementations = [k for k in targets.implementations() if k in names or f"{k}-strict" in names]
    implementations += [n for n in outside_names(reports) if n not in implementations]
    groups = []
    for group, members in conformance_view.grouped(report, contract):
        failing = sum(1 for row in members if differs(row))
        groups.append(
            {
                "key": group.key,
                "title": group.title,
                "size": len(members),
                "differ": failing,
                "all_pass": all(set(row.cells.values()) == {"pass"} for row in members),
                "passing": sum(set(row.cells.values()) == {"pass"} for row in members),
                "rows": [matrix_row(row, names) for row in members],
            }
        )
    keys = ["must_passed", "must_failed", "should_passed", "should_failed", "skipped"]
    if any("blocked" in counts for counts in totals.values()):
        keys.append("blocked")
    modes = ", ".join(
        f"{t.get('name')} ({'outside' if t.get('outside') else t.get('mode') or '?'})"
        for t in report.get("targets") or []
    )
    return {
        "report": report,
        "profile": report.get("profile", "?"),
        "generated_at": report.get("generated_at", "?"),
        "modes": modes,
        "columns": [column(n, reports) for n in names],
        "names": names,
        "count_keys": keys,
        "totals": [{"name": column(n, reports), "counts": totals.get(n, {})} for n in names],
        "implementations": per_implementation(totals, implementations),
        "groups": groups,
        "differing": [matrix_row(row, names) for row in rows if differs(row)],
        "variants": [
            {
                "id": row.check.get("id"),
                "title": row.check.get("title"),
                "cells": [
                    ", ".join(f"{v} \u00d7{n}" for v, n in sorted(row.variants.get(c, {}).items()))
                    or "—"
                    for c in names
                ],
            }
            for row in rows
            if row.variants
        ],
        "startup_errors": report.get("startup_errors") or {},
        "errors": report.get("errors") or [],
    }


def _short_json(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def differential_data(reports: Reports) -> dict[str, Any] | None:
    diff = (reports.conformance or {}).get("differential")
    if not isinstance(diff, dict):
        return None
    names = [str(t) for t in diff.get("targets") or []]
    findings = []
    for finding in diff.get("findings") or []:
        answers = finding.get("answers") or {}
        findings.append(
            {
                "probe": finding.get("probe"),
                "differs_in": ", ".join(finding.get("differs_in") or []),
                "lines": replay.replayable(str(finding.get("request")), replay.statuses(answers)),
                "answers": [
                    {
                        "target": targets.display(t),
                        "status": a.get("status"),
                        "body": _short_json(a.get("body")),
                    }
                    for t, a in answers.items()
                ],
            }
        )
    differences = [
        {
            "probe": d.get("probe"),
            "lines": replay.replayable(str(d.get("request"))),
            "answers": [
                ", ".join((d.get("answers") or {}).get(c) or []) or "as specified" for c in names
            ],
        }
        for d in diff.get("framework_differences") or []
    ]
    return {
        "requests": diff.get("requests", "?"),
        "columns": [column(n, reports) for n in names],
        "findings": findings,
        "differences": differences,
    }


def replay_data(reports: Reports) -> dict[str, Any] | None:
    if reports.replay is None:
        return None
    return {
        "requests": reports.replay.requests,
        "differences": reports.replay.differences,
        "groups": [
            {
                "title": group.title,
                "requests": group.requests,
                "lines": replay.replayable(group.curl, [s for _, s in group.statuses]),
                "statuses": [(targets.display(t), s) for t, s in group.statuses],
            }
            for group in reports.replay.groups
        ],
    }


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


def native_data(reports: Reports, contract: Contract) -> dict[str, Any] | None:
    report = reports.native
    if report is None:
        return None
    names = conformance_view.columns(report)
    totals = conformance_view.totals(report)
    checks = len(report.get("checks") or [])
    rows = conformance_view.rows(report)
    by_rule = []
    for group, members in conformance_view.grouped(report, contract):
        bad = [sum(row.cells.get(n) == "fail" for row in members) for n in names]
        by_rule.append({"title": group.title, "size": len(members), "bad": bad})
    return {
        "columns": names,
        "checks": checks,
        "totals": [
            {
                "name": n,
                "counts": totals.get(n, {}),
                "failed": totals.get(n, {}).get("must_failed", 0)
                + totals.get(n, {}).get("should_failed", 0),
            }
            for n in names
        ],
        "by_rule": by_rule,
        "failing": [
            {
                "name": n,
                "rows": [
                    {
                        "id": row.check.get("id"),
                        "level": row.check.get("level"),
                        "title": row.check.get("title"),
                        "first": (row.failures.get(n) or [("", "")])[0][1],
                    }
                    for row in rows
                    if row.cells.get(n) == "fail"
                ],
            }
            for n in names
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


def glance_data(reports: Reports, adapters: dict[str, Adapter]) -> dict[str, Any]:
    rows = summary.glance(reports, adapters)
    keys = summary.columns(reports)
    return {
        "columns": [column(k, reports) for k in keys],
        "rows": [
            {
                "question": r.question,
                "cells": [r.cells.get(k, "—") for k in keys],
                "source": r.source,
            }
            for r in rows
        ],
    }


def origin_line(reports: Reports, name: str) -> str:
    """Where a source's report came from, in a phrase."""
    where = reports.origin.get(name, "missing")
    file = reports.files.get(name, "")
    if where == "local":
        return f"this machine's run ({file})"
    if where == "reference":
        meta = reports.reference or {}
        caveat = meta.get(name) if name in ("bench", "fuzz") else None
        return (
            f"the reference run in the repository ({file}; {meta.get('machine', '?')}, "
            f"{meta.get('date', '?')})" + (f" — {caveat}" if caveat else "")
        )
    return "no report yet"


# --- the page ----------------------------------------------------------------------------------

Section = tuple[str, str, tuple[str, ...], Callable[[], dict[str, Any]]]


def render_section(
    ident: str,
    title: str,
    uses: tuple[str, ...],
    make: Callable[[], dict[str, Any]],
    reports: Reports,
) -> Markup:
    """One section, with the fields of its reports it could not read named at its top; a
    section that still cannot be built says so and the page goes on."""
    problems: list[Problem] = [p for s in uses for p in reports.problems.get(s, [])]
    files = [reports.files[s] for s in uses if s in reports.files]
    try:
        context = make()
        html = ENV.get_template(f"{ident}.html.j2").render(
            ident=ident, title=title, problems=problems, **context
        )
    except Exception as exc:
        html = ENV.get_template("broken.html.j2").render(
            ident=ident, title=title, problems=problems, files=files,
            error=f"{type(exc).__name__}: {exc}",
        )  # fmt: skip
    return Markup(html)  # noqa: S704 (rendered with autoescaping)


def build(
    reports: Reports,
    adapters: dict[str, Adapter],
    out: Path,
    contract_path: Path = ROOT / "CONTRACT.md",
    now: datetime | None = None,
    charts: bool = True,
) -> Path:
    """Write `out` (index.html) and its charts/ beside it; returns `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    contract = Contract.read(contract_path)
    generated = now or datetime.now(UTC)
    drawn: list[perf.Chart] = []
    if charts and reports.bench:
        try:
            drawn = perf.write_charts(reports.bench, out.parent / "charts")
        except Exception as exc:
            reports.notes.append(f"the charts could not be drawn ({type(exc).__name__}: {exc})")
    frameworks = list(targets.frameworks())
    sections: list[Section] = [
        ("verdict", "Which one for what", ("conformance", "native", "bench", "fuzz"),
         lambda: {"verdicts": verdict.build(reports, adapters, frameworks),
                  "noise": round(verdict.NOISE * 100),
                  "bench_origin": origin_line(reports, "bench"),
                  "conformance_origin": origin_line(reports, "conformance")}),
        ("glance", "At a glance", ("conformance", "native", "bench", "fuzz"),
         lambda: glance_data(reports, adapters)),
        ("differ", "Where they differ", ("conformance", "fuzz"),
         lambda: {"conformance": conformance_data(reports, contract),
                  "differential": differential_data(reports),
                  "replay": replay_data(reports), "base_line": replay.BASE_LINE}),
        ("conformance", "Conformance, rule by rule", ("conformance",),
         lambda: {"data": conformance_data(reports, contract),
                  "origin": origin_line(reports, "conformance")}),
        ("needed", "What each framework needed", (), lambda: needed_data(adapters)),
        ("native", "The framework's own way", ("native",),
         lambda: {"data": native_data(reports, contract)}),
        ("performance", "Performance", ("bench",),
         lambda: {"data": performance_data(reports, drawn),
                  "origin": origin_line(reports, "bench"),
                  "where": reports.origin.get("bench"), "reference": reports.reference or {},
                  "skipped": reports.bench_skipped}),
        ("fuzzing", "Fuzzing", ("fuzz",),
         lambda: {"data": fuzz_data(reports), "origin": origin_line(reports, "fuzz")}),
        ("versions", "Versions", ("conformance", "bench"), lambda: versions_data(reports)),
    ]  # fmt: skip
    body = [render_section(i, t, u, m, reports) for i, t, u, m in sections]
    sources = [
        {
            "name": s.name,
            "file": reports.files.get(s.name, f"reports/{s.marker}"),
            "origin": origin_line(reports, s.name),
            "state": reports.states.get(s.name, "missing"),
            "make": s.make,
        }
        for s in SOURCES
    ]
    names = [t.name for t in frameworks] + outside_names(reports)
    out.write_text(
        ENV.get_template("page.html.j2").render(
            title=", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names),
            generated=generated.isoformat(timespec="seconds"),
            sources=sources,
            notes=reports.notes,
            sections=body,
            nav=[(i, t) for i, t, _, _ in sections],
            outside=reports.outside,
        )
    )
    return out


__all__ = ["Outside", "build", "code"]
