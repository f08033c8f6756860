"""The implementations the page compares, with what the page shows of each (display name,
colour), in the page's order. The one place compare/ asks which frameworks there are: point
`frameworks()` at core.registry's metadata and every section, the verdict and the README table
follow, for any number of implementations."""

from __future__ import annotations

from dataclasses import dataclass

GREY = "#6b7280"


@dataclass(frozen=True, slots=True)
class Target:
    #: The implementation's name: impl_<key>, its report columns, its bench targets.
    key: str
    #: How the page writes it.
    name: str
    colour: str


def frameworks() -> tuple[Target, ...]:
    """Today: compare's own lists (adapters.FRAMEWORKS, summary.NAMES, perf.COLORS)."""
    # Imported here, not at the top: summary imports sources, which the page's modules import
    # before this one; the registry version of this function needs neither.
    from compare import adapters, perf, summary

    return tuple(
        Target(key, summary.NAMES.get(key, key), perf.COLORS.get(key, GREY))
        for key in adapters.FRAMEWORKS
    )


def implementations() -> tuple[str, ...]:
    """The implementations' names (impl_<name>), in the page's order."""
    return tuple(target.key for target in frameworks())


def display(key: str) -> str:
    """A column's name as the page writes it: the framework's display name, "-strict" kept."""
    base, strict = (key[: -len("-strict")], " (strict)") if key.endswith("-strict") else (key, "")
    found = {t.key: t.name for t in frameworks()}
    return found.get(base, base) + strict if base in found else key
