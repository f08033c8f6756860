"""The reports the page is built from: where each lives, which code it measures (a report older
than that code is stale), the command that makes it, and a tolerant reading of each."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from compare import schema
from compare.schema import Problem
from core import registry

ROOT = Path(__file__).resolve().parent.parent
State = Literal["fresh", "stale", "missing"]
#: The framework's own way (impl_<name>/native.py): name -> factory, run through the suite.
NATIVE = {
    f"native-{name}": registry.native_factory(name)
    for name in registry.IMPLEMENTATIONS
    if registry.has(name, "native")
}
NATIVE_ARGS = tuple(a for name, f in NATIVE.items() for a in ("--app-factory", f"{name}={f}"))
#: The code every report measures.
APP_CODE = ("core", *(registry.package(name) for name in registry.IMPLEMENTATIONS))


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    #: The file that stands for the report (its age is the report's age), below the reports dir.
    marker: str
    code: tuple[str, ...]
    make: str
    argv: tuple[str, ...]
    #: Minutes a run takes, roughly: a slow report is only run when asked for.
    minutes: int
    slow: bool = False

    def command(self, reports: Path) -> list[str]:
        return [sys.executable, *(arg.replace("{reports}", str(reports)) for arg in self.argv)]


SOURCES = (
    Source(
        "conformance", "conformance.json", (*APP_CODE, "conformance"), "make conformance",
        ("-m", "conformance", "--serve-all", "--report-dir", "{reports}"), 2,
    ),
    Source(
        "fuzz", "fuzz/differential.md",
        (*APP_CODE, "conformance/fuzz.py", "conformance/fuzz_replay.py",
         "conformance/fuzz_hooks.py", "conformance/schemathesis.toml", "conformance/openapi.json"),
        "make fuzz", ("-m", "conformance.fuzz", "--reports", "{reports}/fuzz"), 10,
    ),
    Source(
        "native", "native/conformance.json", (*APP_CODE, "conformance"),
        "make compare (it runs the suite on impl_<name>/native.py)",
        ("-m", "conformance", "--report-dir", "{reports}/native",
         *NATIVE_ARGS),
        3,
    ),
    Source(
        "bench", "bench.json", (*APP_CODE, "bench"), "make bench",
        ("-m", "bench", "--report-dir", "{reports}"), 40, slow=True,
    ),
)  # fmt: skip


def newest(root: Path, paths: tuple[str, ...]) -> float:
    """The newest modification time of the files under `paths` (sources, not caches)."""
    stamps = [0.0]
    for name in paths:
        path = root / name
        files = [path] if path.is_file() else path.rglob("*") if path.is_dir() else []
        stamps += [f.stat().st_mtime for f in files if f.is_file() and "__pycache__" not in f.parts]
    return max(stamps)


def state(source: Source, reports: Path, root: Path = ROOT) -> State:
    marker = reports / source.marker
    if not marker.exists():
        return "missing"
    return "stale" if marker.stat().st_mtime < newest(root, source.code) else "fresh"


def read_json(
    path: Path,
    notes: list[str],
    shape: Any = None,
    problems: list[Problem] | None = None,
    base: Path = ROOT,
) -> dict[str, Any] | None:
    """The report at `path` as far as the page can read it: None when it is missing or not a
    JSON object (said in `notes`); with `shape`, each field that does not fit is left out and
    named in `problems`."""
    if not path.exists():
        return None
    shown = shown_path(path, base)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        notes.append(f"{shown} could not be read ({exc}); its section is left out")
        return None
    if not isinstance(data, dict):
        notes.append(f"{shown} is not a JSON object; its section is left out")
        if problems is not None:
            problems.append(Problem(shown, "(the whole file)", "an object", type(data).__name__))
        return None
    if shape is None:
        return data
    kept, found = schema.read(data, shape, shown)
    if problems is not None:
        problems += found
    return kept


def shown_path(path: Path, base: Path = ROOT) -> str:
    """A report's path as the page names it: from `base` (the reports folder's parent) where
    it can be."""
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


@dataclass(frozen=True, slots=True)
class ReplayGroup:
    title: str
    requests: int
    curl: str
    #: implementation -> the status it answered (the group's table), where recorded.
    statuses: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Replay:
    """reports/fuzz/differential.md, the fuzz replay's only output (it writes no JSON)."""

    requests: int | None
    differences: int | None
    groups: tuple[ReplayGroup, ...]


_REPLAY_HEAD = re.compile(r"(\d+) distinct recorded requests.*?; (\d+) differ", re.DOTALL)
_REPLAY_GROUP = re.compile(r"^## (.+) \((\d+) requests?\)$", re.MULTILINE)
_STATUS_ROW = re.compile(r"^\| ([\w.+-]+) \| (\d{3}) \|", re.MULTILINE)
_CURL = re.compile(r"```sh\n(.*?)\n```", re.DOTALL)


def parse_replay(text: str) -> Replay:
    head = _REPLAY_HEAD.search(text)
    groups = []
    matches = list(_REPLAY_GROUP.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        curl = _CURL.search(text, match.end(), end)
        statuses = tuple(
            (row.group(1), int(row.group(2)))
            for row in _STATUS_ROW.finditer(text, curl.end() if curl else match.end(), end)
        )
        groups.append(
            ReplayGroup(
                match.group(1), int(match.group(2)), curl.group(1) if curl else "", statuses
            )
        )
    return Replay(
        int(head.group(1)) if head else None,
        int(head.group(2)) if head else None,
        tuple(groups),
    )


#: Where the page finds the reports when no local run exists: a full run, dated, with its
#: machine (compare/reference/meta.json); `make reference` refreshes it.
REFERENCE = ROOT / "compare" / "reference"
#: Reports in subfolders of reports/ that are no outside implementation's.
NOT_OUTSIDE = ("native", "fuzz", "charts")
Origin = Literal["local", "reference", "missing"]


@dataclass(slots=True)
class Outside:
    """An implementation outside this repository, tested with `--target NAME=URL`: its report."""

    names: list[str]
    path: str
    report: dict[str, Any]


@dataclass(slots=True)
class Reports:
    directory: Path
    conformance: dict[str, Any] | None = None
    #: The suite on the documented ways (native.py), reports/native/conformance.json.
    native: dict[str, Any] | None = None
    bench: dict[str, Any] | None = None
    #: implementation -> reports/fuzz/<impl>/summary.json
    fuzz: dict[str, dict[str, Any]] = field(default_factory=dict)
    replay: Replay | None = None
    states: dict[str, State] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: source name -> where its report came from (this machine's reports/ or the reference).
    origin: dict[str, Origin] = field(default_factory=dict)
    #: source name -> the file the page read it from, as shown on the page.
    files: dict[str, str] = field(default_factory=dict)
    #: source name -> the fields of its report(s) the page could not read.
    problems: dict[str, list[Problem]] = field(default_factory=dict)
    #: The reference set's meta.json (date, machine, commit), when any report came from it.
    reference: dict[str, Any] | None = None
    outside: list[Outside] = field(default_factory=list)
    #: Why a local bench.json is not shown (a smoke run), if it is not.
    bench_skipped: str | None = None


def is_smoke(bench: dict[str, Any]) -> bool:
    """A smoke run (1 s, 1 run): it checks that the bench runs, it measures nothing."""
    meta = bench.get("meta")
    options = meta.get("options") if isinstance(meta, dict) else None
    if not isinstance(options, dict):
        return False  # not readable as a bench report: the page says why
    if options.get("smoke") is True:
        return True
    seconds = options.get("seconds")
    return options.get("runs") == 1 and isinstance(seconds, int | float) and seconds <= 1


def _load_one(reports: Reports, name: str, directory: Path, base: Path) -> None:
    """One source's report(s) from `directory` into `reports`."""
    notes, problems = reports.notes, reports.problems.setdefault(name, [])
    if name == "conformance":
        path = directory / "conformance.json"
        reports.conformance = read_json(path, notes, schema.CONFORMANCE, problems, base)
    elif name == "native":
        path = directory / "native" / "conformance.json"
        reports.native = read_json(path, notes, schema.CONFORMANCE, problems, base)
    elif name == "bench":
        path = directory / "bench.json"
        reports.bench = read_json(path, notes, schema.BENCH, problems, base)
    else:
        path = directory / "fuzz" / "differential.md"
        for summary in sorted((directory / "fuzz").glob("*/summary.json")):
            data = read_json(summary, notes, schema.FUZZ, problems, base)
            if data is not None:
                reports.fuzz[str(data.get("implementation", summary.parent.name))] = data
        if path.exists():
            reports.replay = parse_replay(path.read_text(errors="replace"))
    reports.files[name] = shown_path(path, base)


def load(
    directory: Path,
    root: Path = ROOT,
    reference: Path | None = REFERENCE,
    outside: tuple[Path, ...] = (),
    ours: Collection[str] = (),
) -> Reports:
    """The reports of `directory`; for each source it lacks (and for a bench.json that is a
    smoke run), the reference set's; plus outside implementations' conformance reports (with
    `ours`, every reports/<name>/conformance.json whose targets are not among them; and those
    named in `outside`)."""
    reports = Reports(directory)
    reports.states = {source.name: state(source, directory, root) for source in SOURCES}
    for source in SOURCES:
        marker = directory / source.marker
        if source.name == "fuzz":
            marker = directory / "fuzz"
        local = marker.exists()
        if local and source.name == "bench":
            peek = read_json(marker, [], base=directory.parent)
            if peek is not None and is_smoke(peek):
                reports.bench_skipped = (
                    f"{shown_path(marker, directory.parent)} is a smoke run (1 s, 1 run): it "
                    "checks that the bench runs and measures nothing, so it is not shown"
                )
                local = False
        if local:
            reports.origin[source.name] = "local"
            _load_one(reports, source.name, directory, directory.parent)
            continue
        ref_marker = (
            None
            if reference is None
            else reference / ("fuzz" if source.name == "fuzz" else source.marker)
        )
        if ref_marker is not None and ref_marker.exists() and reference is not None:
            reports.origin[source.name] = "reference"
            _load_one(reports, source.name, reference, root)
            if reports.reference is None:
                meta = read_json(reference / "meta.json", reports.notes, schema.META, [], root)
                reports.reference = meta or {}
        else:
            reports.origin[source.name] = "missing"
    reports.outside = find_outside(directory, outside, reports, ours)
    return reports


def find_outside(
    directory: Path, named: tuple[Path, ...], reports: Reports, ours: Collection[str]
) -> list[Outside]:
    candidates = []
    if ours:
        candidates = [p for p in sorted(directory.glob("*/conformance.json"))
                      if p.parent.name not in NOT_OUTSIDE]  # fmt: skip
    candidates += [p / "conformance.json" if p.is_dir() else p for p in named]
    found = []
    for path in dict.fromkeys(candidates):
        problems = reports.problems.setdefault("conformance", [])
        data = read_json(path, reports.notes, schema.CONFORMANCE, problems, directory.parent)
        if data is None:
            continue
        names = [
            str(t.get("name"))
            for t in data.get("targets") or []
            if str(t.get("name")).removesuffix("-strict") not in ours
        ]
        if names:
            found.append(Outside(names, shown_path(path, directory.parent), data))
    return found
