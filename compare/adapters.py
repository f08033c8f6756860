"""What each framework needed: the adapter code of each concern, cut out of impl_<name>/app.py at
build time between marker comments, so that the page shows the code as it is.

    # compare: scopes credentials      <- a region serving one or more concerns
    # compare: workaround: <one line>  <- what the framework's default made the adapter do
    ...code...
    # compare: end
"""

from __future__ import annotations

import importlib.util
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from core import registry

#: The concerns, in the page's order, with the question each answers.
CONCERNS: dict[str, str] = {
    "scopes": "Declaring a route's required scopes",
    "credentials": "Reading the bearer credentials",
    "form": "Parsing the /token form",
    "errors": "Rendering errors",
    "openapi": "Producing the OpenAPI document",
    "docs": "Serving /docs",
}
MARKER = re.compile(r"^\s*# compare:\s*(.*?)\s*$")
WORKAROUND = "workaround:"


class MarkerError(ValueError):
    """The markers of an adapter do not pair up or name an unknown concern."""


@dataclass(slots=True)
class Region:
    concerns: tuple[str, ...]
    #: 1-based line number of the first line after the opening marker.
    start: int
    lines: list[str] = field(default_factory=list)
    workarounds: list[str] = field(default_factory=list)

    @property
    def code(self) -> str:
        return textwrap.dedent("\n".join(self.lines)).strip("\n")

    @property
    def code_lines(self) -> int:
        return code_lines(self.lines)


def code_lines(lines: list[str]) -> int:
    """Lines that are neither blank nor only a comment (docstrings count: they are code Python
    keeps)."""
    return sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))


def regions(source: str, where: str = "<source>") -> list[Region]:
    found: list[Region] = []
    current: Region | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        match = MARKER.match(line)
        if match is None:
            if current is not None:
                current.lines.append(line)
            continue
        text = match.group(1)
        if text.startswith(WORKAROUND):
            if current is None:
                raise MarkerError(f"{where}:{number}: a workaround outside a region")
            current.workarounds.append(text[len(WORKAROUND) :].strip())
        elif text == "end":
            if current is None:
                raise MarkerError(f"{where}:{number}: 'end' without an open region")
            found.append(current)
            current = None
        else:
            if current is not None:
                raise MarkerError(f"{where}:{number}: a region opened inside another")
            names = tuple(text.split())
            unknown = [name for name in names if name not in CONCERNS]
            if not names or unknown:
                raise MarkerError(f"{where}:{number}: unknown concern(s) {unknown or [text]}")
            current = Region(names, number + 1)
    if current is not None:
        raise MarkerError(f"{where}:{current.start - 1}: region never closed")
    return found


@dataclass(slots=True)
class Adapter:
    framework: str
    path: Path
    regions: list[Region]
    #: Code lines of the whole module.
    total_lines: int

    def of(self, concern: str) -> list[Region]:
        return [region for region in self.regions if concern in region.concerns]

    def concern_lines(self, concern: str) -> int:
        return sum(region.code_lines for region in self.of(concern))

    def workarounds(self, concern: str) -> list[str]:
        notes = [note for region in self.of(concern) for note in region.workarounds]
        return list(dict.fromkeys(notes))

    @property
    def marked_lines(self) -> int:
        """Code lines inside any region, each counted once."""
        return sum(region.code_lines for region in self.regions)


def source_path(root: Path, name: str) -> Path | None:
    """impl_<name>/app.py below `root`; else wherever the module is found (an implementation
    from outside the repository); None when there is none."""
    path = root / registry.package(name) / "app.py"
    if path.exists():
        return path
    try:
        spec = importlib.util.find_spec(registry.module(name))
    except ModuleNotFoundError:
        return None
    return Path(spec.origin) if spec is not None and spec.origin else None


def load(root: Path, frameworks: Iterable[str] | None = None) -> dict[str, Adapter]:
    """The adapters of `frameworks` (default: core.registry's implementations) that exist."""
    adapters = {}
    for framework in registry.IMPLEMENTATIONS if frameworks is None else frameworks:
        path = source_path(root, framework)
        if path is None:
            continue
        source = path.read_text()
        where = path.relative_to(root) if path.is_relative_to(root) else path
        adapters[framework] = Adapter(
            framework, path, regions(source, str(where)), code_lines(source.splitlines())
        )
    return adapters
