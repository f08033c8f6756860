"""The implementations the page compares, with what the page shows of each (display name,
colour), in the page's order. The one place compare/ asks which frameworks there are: point
`frameworks()` at core.registry's metadata and every section, the verdict and the README table
follow, for any number of implementations."""

from __future__ import annotations

from dataclasses import dataclass

from core import registry

GREY = "#6b7280"


@dataclass(frozen=True, slots=True)
class Target:
    #: The implementation's name: impl_<key>, its report columns, its bench targets.
    key: str
    #: How the page writes it.
    name: str
    colour: str


def frameworks() -> tuple[Target, ...]:
    """core.registry's implementations, in its order, with their display names and colours."""
    found = []
    for key in registry.IMPLEMENTATIONS:
        try:
            meta = registry.meta(key)
        except registry.RegistryError:  # an outside implementation without its metadata
            found.append(Target(key, key, GREY))
            continue
        found.append(Target(key, meta.display, meta.colour))
    return tuple(found)


def implementations() -> tuple[str, ...]:
    """The implementations' names (impl_<name>), in the page's order."""
    return tuple(target.key for target in frameworks())


def display(key: str) -> str:
    """A column's name as the page writes it: the framework's display name, "-strict" kept."""
    base, strict = (key[: -len("-strict")], " (strict)") if key.endswith("-strict") else (key, "")
    found = {t.key: t.name for t in frameworks()}
    return found.get(base, base) + strict if base in found else key
