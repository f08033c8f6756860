"""The reports the page is built from: where each lives, which code it measures (a report older
than that code is stale), the command that makes it, and a tolerant reading of each."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
        "native", "native/conformance.json", (*APP_CODE, "bench/native.py", "conformance"),
        "make compare (it runs the suite on impl_<name>/native.py)",
        ("-m", "conformance", "--report-dir", "{reports}/native",
         *NATIVE_ARGS),
        3,
    ),
    Source(
        "bench", "bench.json", (*APP_CODE, "bench"), "make bench",
        ("-m", "bench", "--report-dir", "{reports}"), 15, slow=True,
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


def read_json(path: Path, notes: list[str]) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        notes.append(f"{path.name} could not be read ({exc}); its section is left out")
        return None
    if not isinstance(data, dict):
        notes.append(f"{path.name} is not a JSON object; its section is left out")
        return None
    return data


@dataclass(frozen=True, slots=True)
class ReplayGroup:
    title: str
    requests: int
    curl: str


@dataclass(frozen=True, slots=True)
class Replay:
    """reports/fuzz/differential.md, the fuzz replay's only output (it writes no JSON)."""

    requests: int | None
    differences: int | None
    groups: tuple[ReplayGroup, ...]


_REPLAY_HEAD = re.compile(r"(\d+) distinct recorded requests.*?; (\d+) differ", re.DOTALL)
_REPLAY_GROUP = re.compile(r"^## (.+) \((\d+) requests?\)$", re.MULTILINE)
_CURL = re.compile(r"```sh\n(.*?)\n```", re.DOTALL)


def parse_replay(text: str) -> Replay:
    head = _REPLAY_HEAD.search(text)
    groups = []
    matches = list(_REPLAY_GROUP.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        curl = _CURL.search(text, match.end(), end)
        groups.append(
            ReplayGroup(match.group(1), int(match.group(2)), curl.group(1) if curl else "")
        )
    return Replay(
        int(head.group(1)) if head else None,
        int(head.group(2)) if head else None,
        tuple(groups),
    )


@dataclass(slots=True)
class Reports:
    directory: Path
    conformance: dict[str, Any] | None = None
    #: The suite on the framework's own way (native.py), reports/native/conformance.json.
    native: dict[str, Any] | None = None
    bench: dict[str, Any] | None = None
    #: implementation -> reports/fuzz/<impl>/summary.json
    fuzz: dict[str, dict[str, Any]] = field(default_factory=dict)
    replay: Replay | None = None
    states: dict[str, State] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def load(directory: Path, root: Path = ROOT) -> Reports:
    reports = Reports(directory)
    reports.states = {source.name: state(source, directory, root) for source in SOURCES}
    reports.conformance = read_json(directory / "conformance.json", reports.notes)
    reports.bench = read_json(directory / "bench.json", reports.notes)
    reports.native = read_json(directory / "native" / "conformance.json", reports.notes)
    fuzz_dir = directory / "fuzz"
    if fuzz_dir.is_dir():
        for summary in sorted(fuzz_dir.glob("*/summary.json")):
            data = read_json(summary, reports.notes)
            if data is not None:
                reports.fuzz[str(data.get("implementation", summary.parent.name))] = data
        replay = fuzz_dir / "differential.md"
        if replay.exists():
            reports.replay = parse_replay(replay.read_text(errors="replace"))
    return reports
