"""The one list of implementations: what `scopes-arena serve` offers, what the conformance suite,
the fuzzer, the browser test and the benchmark run, and (through tests/test_registry.py) what
pyproject's package and mypy lists name.

Implementation NAME lives in the package `impl_NAME`, whose module `impl_NAME.app` has
`create_app(settings)` and a module-level `app`. More implementations than the built-in ones,
such as one outside this repository, are named in SCOPES_ARENA_IMPLEMENTATIONS (comma
separated; their `impl_NAME` package must be importable, e.g. through PYTHONPATH).
Names only: nothing is imported here, so reading the list costs nothing and core stays free of
any web framework.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

#: The implementations in this repository, in the order the matrix shows them.
BUILTIN: tuple[str, ...] = ("fastapi", "litestar", "starlette")
#: Further implementations, comma separated (not ARENA_*: this is no setting of the app).
EXTRA_ENV = "SCOPES_ARENA_IMPLEMENTATIONS"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


@dataclass(frozen=True, slots=True)
class Implementation:
    """What the tools need to know about one implementation besides its code: `impl_<name>`'s
    `META` (its package must import no framework to give it)."""

    #: How the page and the reports name it, e.g. "Django (Ninja)".
    display: str
    #: The distributions whose versions are reported beside its figures.
    packages: tuple[str, ...]
    #: Its colour in the charts ("#rrggbb").
    colour: str
    #: Its place in tables and charts (lower first).
    order: int
    #: How it is served, in one line.
    served: str


class RegistryError(ValueError):
    """A name in SCOPES_ARENA_IMPLEMENTATIONS that cannot be an implementation's."""


def names(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The built-in implementations, then those of SCOPES_ARENA_IMPLEMENTATIONS."""
    env = os.environ if environ is None else environ
    found = list(BUILTIN)
    for name in (part.strip() for part in env.get(EXTRA_ENV, "").split(",")):
        if not name or name in found:
            continue
        if not _NAME.fullmatch(name):
            raise RegistryError(
                f"{EXTRA_ENV}: {name!r} is not an implementation name "
                "(a lowercase letter, then up to 39 lowercase letters, digits or _)"
            )
        found.append(name)
    return tuple(found)


#: Read once, at import: every reader of the list sees the same one.
IMPLEMENTATIONS: tuple[str, ...] = names()


def package(name: str) -> str:
    return f"impl_{name}"


def module(name: str) -> str:
    """The module with `create_app` and `app`."""
    return f"{package(name)}.app"


def app_path(name: str) -> str:
    """ "module:attr" of the module-level app, as uvicorn takes it."""
    return f"{module(name)}:app"


def factory_path(name: str) -> str:
    """ "module:callable" of `create_app(settings)`."""
    return f"{module(name)}:create_app"


def importable(candidates: tuple[str, ...] = IMPLEMENTATIONS) -> list[str]:
    """The implementations whose app module can be imported here (a partial install may lack
    one framework)."""
    found = []
    for name in candidates:
        try:
            if importlib.util.find_spec(module(name)) is not None:
                found.append(name)
        except ModuleNotFoundError:  # no impl_<name> package at all
            continue
    return found


def builtin_packages() -> list[str]:
    """The packages of the implementations in this repository: pyproject's hatch and mypy lists
    must name each (tests/test_registry.py)."""
    return [package(name) for name in BUILTIN]
