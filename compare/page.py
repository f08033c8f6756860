"""reports/index.html: one static page, no script, no request beyond its own folder (the charts
are SVG files in charts/ beside it). Jinja2 templates (compare/templates/) with autoescaping:
no report value is ever markup. Each section is built on its own: a report it cannot read makes
that section say which file and field, never the build fail."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from compare import perf, replay, targets, verdict
from compare.adapters import Adapter
from compare.conformance_view import Contract
from compare.evidence import (
    conformance_data,
    differential_data,
    glance_data,
    native_data,
    outside_names,
    replay_data,
)
from compare.measures import fuzz_data, needed_data, num, performance_data, versions_data
from compare.schema import Problem
from compare.sources import ROOT, SOURCES, Reports

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


ENV.filters.update(code=code, num=num, display=targets.display)


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


__all__ = ["build", "code", "origin_line"]
