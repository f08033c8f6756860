"""What the bench shows: the same tables in the terminal (Rich) and in reports/bench.md, and every
figure in reports/bench.json."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.analysis import (
    LADDER,
    PATHS,
    RAW,
    RAW_CORE,
    READS,
    STEPS,
    Goal,
    Ladder,
    Ratio,
    Spread,
    TargetResult,
    count_met,
    ladders,
    ratio,
    spread,
)

DASH = "\u2013"  # an en dash between a range's ends, as in print


@dataclass(frozen=True, slots=True)
class Grid:
    title: str
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


def fmt_spread(value: Spread | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    if digits == 0:
        return f"{value.median:,.0f} ({value.min:,.0f}{DASH}{value.max:,.0f})"
    return f"{value.median:,.{digits}f} ({value.min:,.{digits}f}{DASH}{value.max:,.{digits}f})"


def fmt_x(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def fmt_mib(kib: int | None) -> str:
    return "—" if kib is None else f"{kib / 1024:,.1f}"


def _ratios_by(ratios: Sequence[Ratio], name: str, target: str) -> str:
    """A target's ratio `name` for each read path, "status/me/items"."""
    found = {r.scenario: r.value for r in ratios if r.name == name and r.numerator == target}
    if not found:
        return "—"
    return " / ".join(fmt_x(found.get(scenario)) for scenario in READS)


def reads_grid(targets: dict[str, TargetResult], ratios: Sequence[Ratio]) -> Grid:
    rows = []
    for name, t in targets.items():
        cells = [name, t.kind]
        for scenario in READS:
            result = t.scenarios.get(scenario)
            cells.append(fmt_spread(result.rps() if result else None))
        items = t.scenarios.get("items")
        cells.append(fmt_spread(items.p99() if items else None, 2))
        cells.append(f"{fmt_us(t.us('items'))} ({fmt_us(t.cpu_us('items'))})")
        if t.kind == "impl":
            cells += [
                _ratios_by(ratios, "impl/bare", name),
                _ratios_by(ratios, "impl/ceiling", name),
            ]
        elif t.kind == "ceiling":
            cells += [_ratios_by(ratios, "ceiling/bare", name), "—"]
        elif name == RAW_CORE:
            cells += [_ratios_by(ratios, "raw-core/raw-asgi", name) + f" ({RAW})", "—"]
        else:
            cells += ["—", "—"]
        if t.error or t.failed:
            cells[0] += " (FAILED)"
        rows.append(tuple(cells))
    return Grid(
        f"Reads: requests/s, median (min{DASH}max) of the runs",
        (
            "target", "kind", "GET /status/", "GET /users/me/", "GET /users/me/items/",
            "items p99 ms", "items µs/req (CPU µs)", "x bare (s/m/i)", "x ceiling (s/m/i)",
        ),
        rows,
    )  # fmt: skip


def fmt_us(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def fmt_delta(value: float | None) -> str:
    return "—" if value is None else f"{value:+,.1f}"


def ladder_grid(found: Sequence[Ladder]) -> Grid:
    rows = []
    for ladder in found:
        deltas = ladder.deltas()
        rows.append(
            (
                ladder.framework,
                PATHS[ladder.scenario],
                *(f"{fmt_us(ladder.us[r])} ({fmt_us(ladder.cpu_us[r])})" for r in LADDER),
                *(
                    f"{fmt_delta(deltas[n]['us'])} ({fmt_delta(deltas[n]['cpu_us'])})"
                    for n, _, _ in STEPS
                ),
            )
        )
    return Grid(
        "Cost ladder: µs per request, wall (1e6 / req/s) and, in brackets, the server's CPU "
        "(/proc/<pid>/stat); then what each step adds",
        (
            "framework", "path", *LADDER, "+ Guard", "+ adapter wiring", "+ core",
            "native vs ours",
        ),
        rows,
    )  # fmt: skip


def logins_grid(targets: dict[str, TargetResult], argon2_per_s: float | None = None) -> Grid:
    rows = []
    for name, t in targets.items():
        login = t.scenarios.get("login")
        if login is None:
            continue
        rate = login.login_rate()
        reference = login.argon2_reference() or argon2_per_s
        rows.append(
            (
                name,
                fmt_spread(rate, 1),
                fmt_spread(login.login_p99(), 0),
                str(login.login_count(503)),
                fmt_spread(spread(login.argon2_per_s), 1),
                fmt_x(ratio(rate.median if rate else None, reference)),
            )
        )
    return Grid(
        "Logins alone: POST /token at capacity; argon2 alone measured just before, "
        "pinned to the server's CPU",
        ("target", "logins/s", "p99 ms", "503 answers", "argon2 alone /s", "x argon2 alone"),
        rows,
    )


def mixed_grid(targets: dict[str, TargetResult]) -> Grid:
    rows = []
    for name, t in targets.items():
        mixed = t.scenarios.get("mixed")
        if mixed is None:
            continue
        rps, p99 = mixed.rps(), mixed.p99()
        rows.append(
            (
                name,
                fmt_spread(rps),
                fmt_x(ratio(t.rps("mixed"), t.rps("items"))),
                fmt_spread(p99, 2),
                fmt_x(ratio(t.p99("mixed"), t.p99("items"))),
                fmt_spread(mixed.login_rate(), 1),
                str(mixed.login_count(503)),
            )
        )
    return Grid(
        "Mixed: GET /users/me/items/ while other clients log in at capacity",
        (
            "target", "reads req/s", "x unloaded", "p99 ms", "p99 x unloaded",
            "logins/s", "login 503s",
        ),
        rows,
    )  # fmt: skip


def memory_grid(targets: dict[str, TargetResult]) -> Grid:
    rows = []
    for name, t in targets.items():
        soak = t.soak
        before = soak.rss_kib[0][1] if soak and soak.rss_kib else None
        after = soak.rss_kib[-1][1] if soak and soak.rss_kib else None
        growth = soak.growth_second_half_kib() if soak else None
        rows.append(
            (
                name,
                "—" if t.cold_start_s is None else f"{t.cold_start_s:.2f}",
                fmt_mib(t.memory_kib.get("ready", {}).get("VmRSS")),
                fmt_mib(t.peak_rss_kib()),
                "—" if soak is None else f"{soak.requests:,} / {soak.tokens:,}",
                fmt_mib(before),
                fmt_mib(after),
                fmt_mib(growth),
            )
        )
    return Grid(
        "Start and memory (MiB); soak: GET /users/me/items/ over distinct valid tokens",
        (
            "target", "cold start s", "RSS at ready", "peak RSS (VmHWM)", "soak requests / tokens",
            "RSS before soak", "RSS after soak", "growth, 2nd half",
        ),
        rows,
    )  # fmt: skip


def goals_grid(goals: Sequence[Goal]) -> Grid:
    met, missed, unknown = count_met(goals)
    rows = [
        (
            g.id,
            g.target,
            g.scenario,
            g.rule,
            g.observed,
            {True: "met", False: "NOT MET", None: "not measured"}[g.met],
        )
        for g in goals
    ]
    return Grid(
        f"Targets of the issue: {met} met, {missed} not met, {unknown} not measured",
        ("target id", "target", "scenario", "rule", "observed", "verdict"),
        rows,
    )


def grids(
    targets: dict[str, TargetResult],
    ratios: Sequence[Ratio],
    goals: Sequence[Goal],
) -> list[Grid]:
    out = [reads_grid(targets, ratios)]
    found = ladders(targets)
    if found:
        out.append(ladder_grid(found))
    logins, mixed = logins_grid(targets), mixed_grid(targets)
    out += [grid for grid in (logins, mixed) if grid.rows]
    return [*out, memory_grid(targets), goals_grid(goals)]


def print_grids(console: Console, tables: Sequence[Grid]) -> None:
    for grid in tables:
        table = Table(title=grid.title, title_justify="left")
        for index, header in enumerate(grid.headers):
            table.add_column(header, justify="left" if index == 0 else "right")
        for row in grid.rows:
            style = "red" if "NOT MET" in row or row[0].endswith("(FAILED)") else None
            table.add_row(*row, style=style)
        console.print(table)


def markdown(tables: Sequence[Grid], meta: dict[str, Any]) -> str:
    lines = [
        "# scopes-arena benchmark",
        "",
        f"{meta['machine']['cpu_model']}, {meta['machine']['cpus']} CPUs, "
        f"kernel {meta['machine']['kernel']}; Python {meta['python']}; "
        f"server on CPU {meta['options']['server_cpus']}, wrk on CPU "
        f"{meta['options']['client_cpus']}; {meta['options']['runs']} runs of "
        f"{meta['options']['seconds']} s, {meta['options']['connections']} connections; "
        f"took {meta['duration_s']:.0f} s. Commands and every run: `bench.json`.",
        "",
    ]
    if meta.get("smoke"):
        lines += [
            "**A smoke run** (`--smoke`: 1 s runs, no warm-up): it shows that every target runs "
            "and answers right, not how fast.",
            "",
        ]
    lines += [f"- {note}" for note in meta.get("skipped") or []]
    for grid in tables:
        lines += [f"## {grid.title}", ""]
        lines.append("| " + " | ".join(grid.headers) + " |")
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(grid.headers) - 1)) + "|")
        lines += [
            "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in grid.rows
        ]
        lines.append("")
    return "\n".join(lines)


def write(
    report_dir: Path,
    meta: dict[str, Any],
    targets: dict[str, TargetResult],
    ratios: Sequence[Ratio],
    goals: Sequence[Goal],
    tables: Sequence[Grid],
    stem: str = "bench",
) -> tuple[Path, Path]:
    """<stem>.json and <stem>.md in `report_dir` (the smoke run's stem is bench-smoke, so that
    it is never read as the performance figures)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "meta": meta,
        "targets": {name: t.as_dict() for name, t in targets.items()},
        "ratios": [r.as_dict() for r in ratios],
        "goals": [g.as_dict() for g in goals],
        "ladders": [ladder.as_dict() for ladder in ladders(targets)],
        "failed": sorted(name for name, t in targets.items() if t.failed),
    }
    json_path, md_path = report_dir / f"{stem}.json", report_dir / f"{stem}.md"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    md_path.write_text(markdown(tables, meta))
    return json_path, md_path
