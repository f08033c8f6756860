"""What the page shows of the conformance reports, as plain data for the templates: the
columns (ours, then outside implementations), the checks that fail or differ, the rule groups,
the framework-dependent answers and differential findings with replayable curl lines, the
documented ways' failures, the glance table."""

from __future__ import annotations

import copy
import json
from typing import Any

from compare import conformance_view, replay, summary, targets
from compare.adapters import Adapter
from compare.conformance_view import Contract
from compare.sources import Reports

#: The suite's own marks (conformance/report.py): the en dash is "not run", ⊘ "could not run".
GLYPH = {"pass": "✓", "fail": "✗", "skip": "–", "blocked": "⊘", "": ""}  # noqa: RUF001


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
