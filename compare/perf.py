"""The figures of reports/bench.json the page shows, and its charts: matplotlib writing SVG files
beside the page (no script, no font or image from elsewhere: text is drawn as paths)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from compare import targets

READS = ("status", "me", "items")
PATHS = {"status": "GET /status/", "me": "GET /users/me/", "items": "GET /users/me/items/"}
GREY = targets.GREY
#: How a target's bar looks beside its implementation's: the same hue, lighter further out.
ALPHA = {
    "impl": 1.0, "native": 0.75, "ceiling": 0.6, "guard": 0.45, "bare": 0.3, "raw-core": 0.9,
    "raw": 0.45,
}  # fmt: skip
KIND_LABEL = {
    "impl": "implementation",
    "native": "documented way",
    "ceiling": "wiring ceiling",
    "guard": "bare endpoint + Guard",
    "bare": "bare endpoint",
    "raw": "raw ASGI",
    "raw-core": "raw ASGI + core",
}

Spread = dict[str, float]


def ordered_targets(bench: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Each framework's implementation, ceiling and bare endpoint together, then the raw
    baselines, then anything else the report has."""
    found: dict[str, dict[str, Any]] = bench.get("targets") or {}
    order = [
        n
        for f in targets.implementations()
        for n in (f, f"native-{f}", f"ceiling-{f}", f"guard-{f}", f"bare-{f}")
    ]
    order += ["raw-core", "raw-asgi"]
    names = [n for n in order if n in found] + [n for n in found if n not in order]
    return [(name, found[name]) for name in names]


def scenario(target: dict[str, Any], name: str) -> dict[str, Any] | None:
    found = (target.get("scenarios") or {}).get(name)
    return found if isinstance(found, dict) else None


def rps(target: dict[str, Any], name: str) -> Spread | None:
    found = scenario(target, name)
    value = found.get("requests_per_s") if found else None
    return value if isinstance(value, dict) and "median" in value else None


def median_of(target: dict[str, Any], name: str, key: str = "requests_per_s") -> float | None:
    found = scenario(target, name)
    value = found.get(key) if found else None
    return float(value["median"]) if isinstance(value, dict) and "median" in value else None


def latency(target: dict[str, Any], name: str) -> dict[str, float]:
    """p50/p90/p99 in ms: the median over the scenario's runs of each."""
    found = scenario(target, name)
    runs = [run.get("latency_ms") or {} for run in (found or {}).get("runs", [])]
    out = {}
    for key in ("p50", "p90", "p99"):
        values = [float(run[key]) for run in runs if key in run]
        if values:
            out[key] = statistics.median(values)
    return out


def ratio(top: float | None, bottom: float | None) -> float | None:
    return None if top is None or not bottom else top / bottom


def rss_mib(target: dict[str, Any], when: str = "ready") -> float | None:
    value = ((target.get("memory_kib") or {}).get(when) or {}).get("VmRSS")
    return None if value is None else value / 1024


def peak_mib(target: dict[str, Any]) -> float | None:
    value = target.get("peak_rss_kib")
    return None if value is None else value / 1024


def color(target: dict[str, Any]) -> tuple[str, float]:
    hue = {t.key: t.colour for t in targets.frameworks()}.get(str(target.get("framework")), GREY)
    return hue, ALPHA.get(str(target.get("kind")), 1.0)


# --- charts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chart:
    name: str
    title: str
    #: What the chart shows, as its alt text and caption.
    caption: str


def _style() -> None:
    plt.rcParams.update(
        {
            "svg.fonttype": "path",  # glyphs as paths: the SVG needs no font
            "svg.hashsalt": "scopes-arena",  # stable ids: the same report, the same file
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
        }
    )


def _bars(ax: Axes, rows: Sequence[tuple[str, dict[str, Any], Spread]], unit: str) -> None:
    labels = [name for name, _, _ in rows]
    medians = [value["median"] for _, _, value in rows]
    errors = [
        [value["median"] - value.get("min", value["median"]) for _, _, value in rows],
        [value.get("max", value["median"]) - value["median"] for _, _, value in rows],
    ]
    positions = range(len(rows))
    for index, (_, target, _) in enumerate(rows):
        hue, alpha = color(target)
        ax.barh(index, medians[index], color=hue, alpha=alpha, edgecolor=hue)
    ax.errorbar(medians, list(positions), xerr=errors, fmt="none", ecolor="#111", capsize=2)
    for index, value in enumerate(medians):
        ax.annotate(f" {value:,.0f}", (value, index), va="center", fontsize=7)
    ax.set_yticks(list(positions), labels)
    ax.invert_yaxis()
    ax.set_xlabel(unit)


def reads_chart(bench: dict[str, Any], path: Path) -> bool:
    targets = ordered_targets(bench)
    panels = [
        (name, [(t_name, t, v) for t_name, t in targets if (v := rps(t, name)) is not None])
        for name in READS
    ]
    panels = [(name, rows) for name, rows in panels if rows]
    if not panels:
        return False
    height = 0.28 * max(len(rows) for _, rows in panels) + 1.2
    fig, axes = plt.subplots(1, len(panels), figsize=(4.1 * len(panels), height), sharey=True)
    for ax, (name, rows) in zip(list(getattr(axes, "flat", [axes])), panels, strict=True):
        _bars(ax, rows, "requests/s (median; bars: min–max)")  # noqa: RUF001
        ax.set_title(PATHS[name])
    _save(fig, path)
    return True


def latency_chart(bench: dict[str, Any], path: Path, name: str = "items") -> bool:
    rows = [(t_name, t, latency(t, name)) for t_name, t in ordered_targets(bench)]
    rows = [row for row in rows if row[2]]
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(8, 0.36 * len(rows) + 1.2))
    width = 0.27
    for offset, key in enumerate(("p50", "p90", "p99")):
        values = [lat.get(key, 0.0) for _, _, lat in rows]
        positions = [index + (offset - 1) * width for index in range(len(rows))]
        ax.barh(
            positions, values, height=width, label=key, color=("#9ca3af", "#4b5563", "#111")[offset]
        )
    ax.set_yticks(range(len(rows)), [t_name for t_name, _, _ in rows])
    ax.invert_yaxis()
    ax.set_xlabel(f"latency, ms ({PATHS[name]}, median over runs)")
    ax.legend(loc="lower right")
    _save(fig, path)
    return True


def mixed_chart(bench: dict[str, Any], path: Path) -> bool:
    rows = [
        (name, t, unloaded, mixed)
        for name, t in ordered_targets(bench)
        if (mixed := median_of(t, "mixed")) is not None
        and (unloaded := median_of(t, "items")) is not None
    ]
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    for index, (_, target, unloaded, mixed) in enumerate(rows):
        hue, _ = color(target)
        ax.barh(index - 0.2, unloaded, height=0.38, color=hue, alpha=0.35)
        ax.barh(index + 0.2, mixed, height=0.38, color=hue)
        ax.annotate(f" {mixed:,.0f} ({mixed / unloaded:.2f}x)", (mixed, index + 0.2), va="center",
                    fontsize=7)  # fmt: skip
    ax.set_yticks(range(len(rows)), [name for name, *_ in rows])
    ax.invert_yaxis()
    ax.set_xlabel("GET /users/me/items/ requests/s: light = alone, dark = while logins run")
    _save(fig, path)
    return True


def startup_chart(bench: dict[str, Any], path: Path) -> bool:
    rows = [(name, t) for name, t in ordered_targets(bench)]
    cold = [(name, t, t["cold_start_s"]) for name, t in rows if t.get("cold_start_s") is not None]
    rss = [(name, t, value) for name, t in rows if (value := rss_mib(t)) is not None]
    if not cold and not rss:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.3 * len(rows) + 1.3))
    for ax, data, unit, digits in (
        (axes[0], cold, "cold start, s", 2),
        (axes[1], rss, "RSS at ready, MiB", 1),
    ):
        for index, (_, target, value) in enumerate(data):
            hue, alpha = color(target)
            ax.barh(index, value, color=hue, alpha=alpha)
            ax.annotate(f" {value:.{digits}f}", (value, index), va="center", fontsize=7)
        ax.set_yticks(range(len(data)), [name for name, _, _ in data])
        ax.invert_yaxis()
        ax.set_xlabel(unit)
    _save(fig, path)
    return True


def soak_chart(bench: dict[str, Any], path: Path) -> bool:
    curves = [
        (name, t, t["soak"]["rss_kib"])
        for name, t in ordered_targets(bench)
        if isinstance(t.get("soak"), dict) and len(t["soak"].get("rss_kib") or []) > 1
    ]
    if not curves:
        return False
    fig, ax = plt.subplots(figsize=(8, 3))
    for name, target, points in curves:
        hue, _ = color(target)
        ax.plot([p[0] for p in points], [p[1] / 1024 for p in points], marker=".", color=hue,
                label=name)  # fmt: skip
    ax.set_xlabel("soak requests (each with one of many distinct valid tokens)")
    ax.set_ylabel("RSS, MiB")
    ax.set_ylim(bottom=0)  # from zero: a growth of a few KiB must not look like a climb
    ax.legend()
    _save(fig, path)
    return True


def logins_chart(bench: dict[str, Any], path: Path) -> bool:
    rows = [
        (name, t, logins, median_of(t, "login", "argon2_alone_per_s"))
        for name, t in ordered_targets(bench)
        if (logins := median_of(t, "login", "logins_per_s")) is not None
    ]
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    for index, (_, target, logins, argon2) in enumerate(rows):
        hue, _ = color(target)
        if argon2 is not None:
            ax.barh(index - 0.2, argon2, height=0.38, color="#9ca3af")
        ax.barh(index + 0.2, logins, height=0.38, color=hue)
        ax.annotate(f" {logins:.1f}/s", (logins, index + 0.2), va="center", fontsize=7)
    ax.set_yticks(range(len(rows)), [name for name, *_ in rows])
    ax.invert_yaxis()
    ax.set_xlabel("logins/s (POST /token at capacity); grey: argon2 verifications/s alone")
    _save(fig, path)
    return True


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


CHARTS: tuple[tuple[Chart, Callable[[dict[str, Any], Path], bool]], ...] = (
    (Chart("reads", "Requests/s per read",
           "Requests per second for each read: each implementation beside its framework's "
           "wiring ceiling and bare endpoint, and the raw-ASGI baselines"), reads_chart),
    (Chart("latency", "Latency percentiles",
           "p50, p90 and p99 latency of GET /users/me/items/ per target"), latency_chart),
    (Chart("mixed", "Mixed load",
           "Reads alone and while other clients log in at capacity"), mixed_chart),
    (Chart("logins", "Logins", "Logins per second next to argon2 alone"), logins_chart),
    (Chart("startup", "Cold start and memory", "Cold start and RSS at ready per target"),
     startup_chart),
    (Chart("soak", "Memory over a soak", "RSS during the soak over distinct tokens"), soak_chart),
)  # fmt: skip


def write_charts(bench: dict[str, Any], directory: Path) -> list[Chart]:
    """The charts the report allows, as directory/<name>.svg."""
    _style()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for chart, draw in CHARTS:
        target = directory / f"{chart.name}.svg"
        target.unlink(missing_ok=True)
        if draw(bench, target):
            written.append(chart)
    return written
