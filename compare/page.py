"""reports/index.html: one static page, no script, no request beyond its own folder (the charts
are SVG files in charts/ beside it)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from compare import conformance_view, perf, summary
from compare.adapters import CONCERNS, Adapter
from compare.conformance_view import Contract
from compare.sources import ROOT, SOURCES, Reports
from core import registry

#: The suite's own marks (conformance/report.py): the en dash is "not run", ⊘ "could not run".
GLYPH = {"pass": "✓", "fail": "✗", "skip": "–", "blocked": "⊘", "": ""}  # noqa: RUF001

CSS = """
:root { --fg:#111827; --muted:#6b7280; --line:#e5e7eb; --pass:#047857; --fail:#b91c1c; }
body { font: 15px/1.5 system-ui, sans-serif; color: var(--fg); margin: 0 auto; max-width: 1180px;
       padding: 1rem 2rem 4rem; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2.5rem; border-bottom: 2px solid var(--line); }
nav a { margin-right: 1rem; }
table { border-collapse: collapse; margin: .6rem 0 1.2rem; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .6rem; text-align: left;
         vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.cell { text-align: center; min-width: 5rem; }
.pass { color: var(--pass); } .fail { color: var(--fail); font-weight: 600; }
.skip, .blocked, .muted, figcaption { color: var(--muted); }
code, pre { font: 12.5px/1.4 ui-monospace, monospace; }
pre { background: #f9fafb; border: 1px solid var(--line); padding: .5rem; overflow-x: auto;
      margin: .3rem 0; }
.side { display: grid; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); gap: .8rem; }
.side > div { min-width: 0; }
figure { margin: 1rem 0 2rem; } figure img { max-width: 100%; height: auto; display: block; }
details summary { cursor: pointer; }
.note { background: #fffbeb; border-left: 4px solid #f59e0b; padding: .4rem .8rem; }
"""


def e(text: object) -> str:
    return html.escape(str(text), quote=True)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    numeric: Sequence[int] = (),
    cls: str = "",
) -> str:
    """A table of already-escaped cells; `numeric` column indexes are right-aligned."""

    def cell(tag: str, index: int, text: str) -> str:
        return (
            f'<{tag} class="num">{text}</{tag}>' if index in numeric else f"<{tag}>{text}</{tag}>"
        )

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def num(value: float | None, digits: int = 0, suffix: str = "") -> str:
    return "—" if value is None else f"{value:,.{digits}f}{suffix}"


def spread(value: dict[str, float] | None, digits: int = 0) -> str:
    if not value:
        return "—"
    return f"{value['median']:,.{digits}f} <span class=muted>({value.get('min', 0):,.{digits}f}–{value.get('max', 0):,.{digits}f})</span>"  # noqa: RUF001, E501


# --- sections ---------------------------------------------------------------------------------


def frameworks_in_words() -> str:
    """ "FastAPI, Litestar and Starlette": the registry's display names."""
    shown = [registry.display(f) for f in summary.frameworks()]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def header(reports: Reports, generated: datetime) -> str:
    rows = []
    for source in SOURCES:
        state = reports.states.get(source.name, "missing")
        hint = "" if state == "fresh" else f" — run <code>{e(source.make)}</code>"
        where = e(source.marker)
        rows.append([e(source.name), f"<code>reports/{where}</code>", e(state) + hint])
    notes = "".join(f'<p class="note">{e(note)}</p>' for note in reports.notes)
    return (
        f"<h1>{e(frameworks_in_words())}: one API, side by side</h1>"
        f'<p class="muted">The FastAPI tutorial\'s OAuth2-scopes API on one framework-neutral '
        f"core, in each framework's idiom. Built {e(generated.isoformat(timespec='seconds'))} by "
        "<code>make compare</code> from these reports:</p>"
        + table(["report", "file", "state"], rows)
        + notes
        + '<nav><a href="#glance">At a glance</a><a href="#conformance">Conformance</a>'
        '<a href="#differ">Where they differ</a><a href="#needed">What each needed</a>'
        '<a href="#native">Own way</a>'
        '<a href="#performance">Performance</a><a href="#fuzzing">Fuzzing</a>'
        '<a href="#versions">Versions</a></nav>'
    )


def glance_section(rows: list[summary.GlanceRow]) -> str:
    body = [
        [e(row.question)] + [e(row.cells[f]) for f in summary.frameworks()] + [e(row.source)]
        for row in rows
    ]
    return (
        '<section id="glance"><h2>At a glance</h2>'
        + table(
            ["", *(e(registry.display(f)) for f in summary.frameworks()), "from"],
            body,
            cls="glance",
        )
        + '<p class="muted">The README\'s comparison table is these rows '
        "(<code>make readme-table</code>).</p></section>"
    )


def missing(name: str) -> str:
    source = next(s for s in SOURCES if s.name == name)
    return (
        f'<p class="note">No <code>reports/{e(source.marker)}</code> yet: '
        f"<code>{e(source.make)}</code> makes it (about {source.minutes} min), then "
        "<code>make compare</code> again.</p>"
    )


def conformance_section(report: dict[str, Any] | None, contract: Contract) -> str:
    out = ['<section id="conformance"><h2>Conformance</h2>']
    if report is None:
        return out[0] + missing("conformance") + "</section>"
    columns = conformance_view.columns(report)
    modes = ", ".join(
        f"{t.get('name')} ({t.get('mode', '?')})" for t in report.get("targets", []) if t
    )
    out.append(
        f"<p>Profile <code>{e(report.get('profile', '?'))}</code>, "
        f"{e(report.get('generated_at', '?'))}, targets: {e(modes)}. Each check passes on a "
        "target only if every case of it does; a failure opens to its first assertion line.</p>"
    )
    totals = conformance_view.totals(report)
    keys = ["must_passed", "must_failed", "should_passed", "should_failed", "skipped"]
    if any("blocked" in counts for counts in totals.values()):
        keys.append("blocked")
    out.append(
        table(
            ["target", *(k.replace("_", " ").replace("must", "MUST").replace("should", "SHOULD")
                         for k in keys)],
            [[e(n)] + [str(totals.get(n, {}).get(k, 0)) for k in keys] for n in columns],
            numeric=range(1, len(keys) + 1),
            cls="totals",
        )
    )  # fmt: skip
    for name, error in (report.get("startup_errors") or {}).items():
        out.append(f'<p class="note">{e(name)} could not be started: <code>{e(error)}</code></p>')
    for error in report.get("errors") or []:
        out.append(f'<p class="note">error: <code>{e(error)}</code></p>')
    for group, rows in conformance_view.grouped(report, contract):
        body = []
        for row in rows:
            check = row.check
            cells = [e(check.get("id")), e(check.get("level")), e(check.get("title"))]
            for column in columns:
                outcome = row.cells.get(column, "")
                glyph = GLYPH.get(outcome, e(outcome))
                if outcome == "fail":
                    lines = "".join(
                        f"<div><code>{e(f'[{variant}] ' if variant else '')}{e(line)}</code></div>"
                        for variant, line in row.failures.get(column, [])
                    )
                    cells.append(
                        f'<details class="fail"><summary>{glyph}</summary>{lines}</details>'
                    )
                elif outcome in ("skip", "blocked") and column in row.skips:
                    cells.append(
                        f'<span class="skip" title="{e(row.skips[column])}">{glyph}</span>'
                    )
                else:
                    cells.append(f'<span class="{e(outcome)}">{glyph}</span>')
            body.append(cells)
        out.append(
            f'<h3 data-group="{e(group.key)}">{e(group.title)} '
            f'<span class="muted">({len(rows)})</span></h3>'
        )
        out.append(
            table(["check", "level", "title", *columns], body, cls="matrix")
            .replace("<td><span", '<td class="cell"><span')
            .replace("<td><details", '<td class="cell"><details')
        )
    return "".join(out) + "</section>"


def differ_section(report: dict[str, Any] | None, reports: Reports) -> str:
    out = ['<section id="differ"><h2>Where the frameworks differ</h2>']
    if report is None:
        return out[0] + missing("conformance") + "</section>"
    columns = conformance_view.columns(report)
    variant_rows = [row for row in conformance_view.rows(report) if row.variants]
    out.append(
        "<h3>Framework-dependent answers the contract allows</h3><p>Where CONTRACT.md allows "
        "either answer, the checks record which one each framework gave (cases per variant).</p>"
    )
    if variant_rows:
        body = [
            [e(row.check.get("id")), e(row.check.get("title"))]
            + [
                "<br>".join(f"{e(v)} x{n}" for v, n in sorted(row.variants.get(c, {}).items()))
                or "—"
                for c in columns
            ]
            for row in variant_rows
        ]
        out.append(table(["check", "title", *columns], body, cls="variants"))
    diff = report.get("differential")
    if isinstance(diff, dict):
        differences = diff.get("framework_differences") or []
        findings = diff.get("findings") or []
        out.append(
            f"<h3>Differential run</h3><p>{e(diff.get('requests', '?'))} requests sent to "
            f"{e(', '.join(diff.get('targets', [])))}: <b>{len(findings)} finding(s)</b> "
            f"(answers that differ where the contract wants one), {len(differences)} "
            "framework difference(s) the contract allows. Set <code>BASE</code> to a server "
            "(<code>make serve IMPL=…</code>) to rerun a request.</p>"
        )
        for finding in findings:
            answers = finding.get("answers") or {}
            body = [
                [e(t), e(a.get("status")), f"<code>{e(_short_json(a.get('body')))}</code>"]
                for t, a in answers.items()
            ]
            out.append(
                f'<div class="finding"><h4>{e(finding.get("probe"))}: differs in '
                f"{e(', '.join(finding.get('differs_in', [])))}</h4>"
                f"<pre>{e(finding.get('request', ''))}</pre>"
                + table(["target", "status", "body"], body)
                + "</div>"
            )
        if differences:
            body = [
                [e(d.get("probe")), f"<code>{e(d.get('request', ''))}</code>"]
                + [e(", ".join(d.get("answers", {}).get(c, [])) or "as specified") for c in columns]
                for d in differences
            ]
            out.append(table(["probe", "request", *columns], body, cls="framework-differences"))
    if reports.replay is not None:
        replay = reports.replay
        out.append(
            f"<h3>Fuzz replay</h3><p>{num(replay.requests)} recorded schemathesis requests "
            f"replayed against every implementation: <b>{num(replay.differences)} differ</b> "
            "(reports/fuzz/differential.md).</p>"
        )
        for group in replay.groups:
            out.append(f"<h4>{e(group.title)} ({group.requests})</h4><pre>{e(group.curl)}</pre>")
    return "".join(out) + "</section>"


def _short_json(value: Any, limit: int = 200) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def needed_section(adapters: dict[str, Adapter]) -> str:
    out = [
        '<section id="needed"><h2>What each framework needed</h2>',
        "<p>The adapter code of each concern, cut out of <code>impl_&lt;name&gt;/app.py</code> "
        "at build time between <code># compare:</code> markers; counts are code lines (not "
        "blank, not comments; docstrings count). A workaround is what the adapter had to do "
        "because the framework's default disagreed with the contract.</p>",
    ]
    if not adapters:
        return out[0] + '<p class="note">No adapter found.</p></section>'
    names = [f for f in summary.frameworks() if f in adapters]
    out.append(
        table(
            ["concern", *(e(registry.display(f)) for f in names)],
            [
                [e(q)] + [str(adapters[f].concern_lines(c)) for f in names]
                for c, q in CONCERNS.items()
            ]
            + [["whole module"] + [str(adapters[f].total_lines) for f in names]],
            numeric=range(1, len(names) + 1),
            cls="lines",
        )
    )
    for concern, question in CONCERNS.items():
        out.append(f'<h3 id="concern-{concern}">{e(question)}</h3><div class="side">')
        for framework in names:
            adapter = adapters[framework]
            notes = "".join(f"<li>{e(note)}</li>" for note in adapter.workarounds(concern))
            code = "".join(
                f'<pre data-line="{region.start}">{e(region.code)}</pre>'
                for region in adapter.of(concern)
            )
            out.append(
                f"<div><h4>{e(registry.display(framework))} <span class=muted>"
                f"({adapter.concern_lines(concern)} lines)</span></h4>"
                + (f"<ul class=workarounds>{notes}</ul>" if notes else "")
                + (code or '<p class="muted">Nothing marked.</p>')
                + "</div>"
            )
        out.append("</div>")
    return "".join(out) + "</section>"


def native_section(report: dict[str, Any] | None, contract: Contract) -> str:
    out = [
        '<section id="native"><h2>The framework\'s own way</h2>',
        "<p>What each framework's built-in security gives a developer who follows its docs "
        "instead of this project's core: a minimal app per framework in <code>impl_&lt;name&gt;/"
        "native.py</code>, built as the framework's docs teach bearer auth and scopes (core only "
        "for the user store), run through the same suite. Measured, not asserted.</p>",
    ]
    if report is None:
        return "".join(out) + missing("native") + "</section>"
    columns = conformance_view.columns(report)
    totals = conformance_view.totals(report)
    checks = report.get("checks") or []

    def failed(name: str) -> int:
        return totals.get(name, {}).get("must_failed", 0) + totals.get(name, {}).get(
            "should_failed", 0
        )

    out.append(
        table(
            ["app", "MUST passed", "MUST failed", "SHOULD failed", "checks failed"],
            [
                [e(n)] + [str(totals.get(n, {}).get(k, 0))
                          for k in ("must_passed", "must_failed", "should_failed")]
                + [f"{failed(n)} of {len(checks)}"]
                for n in columns
            ],
            numeric=range(1, 5),
            cls="native-totals",
        )
    )  # fmt: skip
    by_rule = []
    for group, rows in conformance_view.grouped(report, contract):
        cells = []
        for column in columns:
            bad = sum(row.cells.get(column) == "fail" for row in rows)
            cells.append(f'<span class="{"fail" if bad else "pass"}">{bad}</span> of {len(rows)}')
        by_rule.append([e(group.title), *cells])
    out.append("<h3>Checks failed, by CONTRACT.md rule</h3>")
    out.append(
        table(["rule", *columns], by_rule, numeric=range(1, len(columns) + 1), cls="native-rules")
    )
    for column in columns:
        failing = [row for row in conformance_view.rows(report) if row.cells.get(column) == "fail"]
        body = [
            [
                e(row.check.get("id")),
                e(row.check.get("level")),
                e(row.check.get("title")),
                f"<code>{e(row.failures.get(column, [('', '')])[0][1])}</code>",
            ]
            for row in failing
        ]
        out.append(
            f'<details class="native" data-app="{e(column)}"><summary><b>{e(column)}</b>: '
            f"{len(failing)} check(s) fail</summary>"
            + table(["check", "level", "title", "first failure"], body)
            + "</details>"
        )
    return "".join(out) + "</section>"


def performance_section(bench: dict[str, Any] | None, charts: list[perf.Chart]) -> str:
    out = ['<section id="performance"><h2>Performance</h2>']
    if bench is None:
        return out[0] + missing("bench") + "</section>"
    meta = bench.get("meta") or {}
    machine, options = meta.get("machine") or {}, meta.get("options") or {}
    out.append(
        f"<p>{e(machine.get('cpu_model', '?'))}, {e(machine.get('cpus', '?'))} CPUs, kernel "
        f"{e(machine.get('kernel', '?'))}; Python {e(meta.get('python', '?'))}; server on CPU "
        f"{e(options.get('server_cpus'))}, wrk on CPU {e(options.get('client_cpus'))}; "
        f"{e(options.get('runs', '?'))} runs of {e(options.get('seconds', '?'))} s with "
        f"{e(options.get('connections', '?'))} connections; started {e(meta.get('started', '?'))},"
        f" took {num(meta.get('duration_s'))} s. Command: <code>make bench</code> "
        "(<code>python -m bench</code>); each target's uvicorn and wrk argv are in bench.json.</p>"
    )
    if bench.get("failed"):
        out.append(f'<p class="note">Failed targets: {e(", ".join(bench["failed"]))}</p>')
    for chart in charts:
        out.append(
            f'<figure data-chart="{chart.name}"><h3>{e(chart.title)}</h3>'
            f'<img src="charts/{chart.name}.svg" alt="{e(chart.caption)}">'
            f"<figcaption>{e(chart.caption)}</figcaption></figure>"
        )
    targets = perf.ordered_targets(bench)
    reads = []
    for name, target in targets:
        lat = perf.latency(target, "items")
        bare = (bench.get("targets") or {}).get(f"bare-{target.get('framework')}", {})
        share = perf.ratio(perf.median_of(target, "items"), perf.median_of(bare, "items"))
        reads.append(
            [e(name), e(perf.KIND_LABEL.get(target.get("kind", ""), target.get("kind", "")))]
            + [spread(perf.rps(target, s)) for s in perf.READS]
            + [num(lat.get(k), 2) for k in ("p50", "p90", "p99")]
            + [num(share, 2, "x") if target.get("kind") != "bare" else "—"]
        )
    out.append("<h3>Reads (requests/s, median (min–max) of the runs)</h3>")  # noqa: RUF001
    out.append(
        table(
            ["target", "kind", *(perf.PATHS[s] for s in perf.READS),
             "items p50 ms", "p90 ms", "p99 ms", "items x bare"],
            reads, numeric=range(2, 9), cls="reads",
        )
    )  # fmt: skip
    mixed = [
        [
            e(name),
            num(perf.median_of(t, "mixed")),
            num(perf.ratio(perf.median_of(t, "mixed"), perf.median_of(t, "items")), 2, "x"),
            num(perf.median_of(t, "mixed", "p99_ms"), 2),
            num(perf.median_of(t, "mixed", "logins_per_s"), 1),
            e((perf.scenario(t, "mixed") or {}).get("logins_503", "—")),
        ]
        for name, t in targets
        if perf.scenario(t, "mixed")
    ]
    if mixed:
        out.append("<h3>Mixed: reads while other clients log in</h3>")
        out.append(
            table(
                ["target", "reads/s", "x alone", "p99 ms", "logins/s", "login 503s"],
                mixed, numeric=range(1, 6), cls="mixed",
            )
        )  # fmt: skip
    memory = [
        [
            e(name),
            num(t.get("cold_start_s"), 2),
            num(perf.rss_mib(t), 1),
            num(perf.peak_mib(t), 1),
            num(((t.get("soak") or {}).get("growth_second_half_kib") or 0) / 1024, 1)
            if t.get("soak")
            else "—",
        ]
        for name, t in targets
    ]
    out.append("<h3>Cold start and memory</h3>")
    out.append(
        table(
            ["target", "cold start s", "RSS at ready MiB", "peak RSS MiB",
             "soak growth, 2nd half MiB"],
            memory, numeric=range(1, 5), cls="memory",
        )
    )  # fmt: skip
    goals = bench.get("goals") or []
    if goals:
        verdict = {True: "met", False: "NOT MET", None: "not measured"}
        out.append("<h3>The benchmark's targets</h3>")
        out.append(
            table(
                ["goal", "target", "scenario", "rule", "observed", "verdict"],
                [
                    [e(g.get("id")), e(g.get("target")), e(g.get("scenario")), e(g.get("rule")),
                     e(g.get("observed")), e(verdict.get(g.get("met"), "?"))]
                    for g in goals
                ],
                cls="goals",
            )
        )  # fmt: skip
    return "".join(out) + "</section>"


def fuzz_section(reports: Reports) -> str:
    out = ['<section id="fuzzing"><h2>Fuzzing</h2>']
    if not reports.fuzz:
        return out[0] + missing("fuzz") + "</section>"
    out.append(
        "<p>schemathesis with every check and phase against each implementation under uvicorn, "
        "on its own <code>/openapi.json</code> and on the canonical document.</p>"
    )
    phases: list[str] = []
    for data in reports.fuzz.values():
        for run in data.get("runs") or []:
            phases += [p for p in run.get("per_phase") or {} if p not in phases]
    body = []
    for impl, data in reports.fuzz.items():
        for run in data.get("runs") or []:
            failures = sum(int(f.get("count", 1)) for f in run.get("failures") or [])
            titles = "; ".join(
                f"{f.get('title')} x{f.get('count', 1)} on {', '.join(f.get('operations', []))}"
                for f in run.get("failures") or []
            )
            body.append(
                [e(impl), e(run.get("document")), num(run.get("cases"))]
                + [num((run.get("per_phase") or {}).get(p)) for p in phases]
                + [
                    e(run.get("links_covered") or "—"),
                    f'<span class="{"fail" if failures else "pass"}">{failures}</span>'
                    + (f" <span class=muted>{e(titles)}</span>" if titles else ""),
                    str(len(run.get("errors") or [])),
                    num(run.get("seconds"), 1),
                ]
            )
    out.append(
        table(
            ["implementation", "document", "cases", *phases, "links", "failures", "errors", "s"],
            body, numeric=range(2, 3 + len(phases)), cls="fuzz",
        )
    )  # fmt: skip
    if reports.replay is not None:
        out.append(
            f"<p>Replay: {num(reports.replay.requests)} distinct requests, "
            f"<b>{num(reports.replay.differences)} difference(s)</b> between the implementations "
            '(see <a href="#differ">Where they differ</a>).</p>'
        )
    return "".join(out) + "</section>"


def versions_section(reports: Reports) -> str:
    columns: dict[str, dict[str, Any]] = {}
    if reports.conformance:
        columns["conformance run"] = reports.conformance.get("versions") or {}
    if reports.bench:
        meta = reports.bench.get("meta") or {}
        columns["bench run"] = {"python": meta.get("python"), **(meta.get("versions") or {})}
    names: list[str] = []
    for found in columns.values():
        names += [n for n in found if n not in names]
    out = ['<section id="versions"><h2>Versions</h2>']
    if not columns:
        return out[0] + '<p class="muted">No report recorded any version.</p></section>'
    body = [[e(n)] + [e(columns[c].get(n) or "—") for c in columns] for n in names]
    out.append(table(["package", *columns], body, cls="versions"))
    if reports.fuzz:
        out.append(
            '<p class="muted">The fuzz summaries record no versions (schemathesis\'s included); '
            "they ran in this project's locked environment (requirements.lock).</p>"
        )
    return "".join(out) + "</section>"


def build(
    reports: Reports,
    adapters: dict[str, Adapter],
    out: Path,
    contract_path: Path = ROOT / "CONTRACT.md",
    now: datetime | None = None,
) -> Path:
    """Write `out` (index.html) and its charts/ beside it; returns `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    charts = perf.write_charts(reports.bench, out.parent / "charts") if reports.bench else []
    contract = Contract.read(contract_path)
    generated = now or datetime.now(UTC)
    body = "".join(
        [
            header(reports, generated),
            glance_section(summary.glance(reports, adapters)),
            conformance_section(reports.conformance, contract),
            differ_section(reports.conformance, reports),
            needed_section(adapters),
            native_section(reports.native, contract),
            performance_section(reports.bench, charts),
            fuzz_section(reports),
            versions_section(reports),
        ]
    )
    shown = [registry.display(f) for f in summary.frameworks()]
    out.write_text(
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # Nothing but this folder: the page must open without a network, and ask for none.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'self\'; '
        "img-src 'self'; style-src 'unsafe-inline'\">"
        f"<title>scopes-arena: {e(' vs '.join(shown))}</title>"
        f"<style>{CSS}</style></head><body>{body}</body></html>\n"
    )
    return out
