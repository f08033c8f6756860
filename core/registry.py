"""The one list of implementations, and everything the tools know about each: what
`scopes-arena serve` offers, what the conformance suite, the fuzzer, the browser test, the
benchmark and the comparison page run and show, and (through tests/test_registry.py) what
pyproject's package and mypy lists name.

Implementation NAME is one folder, the package `impl_NAME`:

    __init__.py  META = Implementation(...): display name, packages, colour, order, served
                 (imports nothing but core.registry, so that reading it costs nothing)
    app.py       create_app(settings) -> an ASGI app; a module-level `app`
    bare.py      a module-level `app`: the framework's bare endpoint (bench.baseline's paths
                 and JSON, no auth)
    ceiling.py   a module-level `app`: app.py's with the core's per-request work stubbed
                 (bench.ceiling.stub_core)
    native.py    create_app(settings) -> an ASGI app: the framework's documented way

The ones in this repository are discovered: every `impl_*` folder beside `core/` with an
`__init__.py`, in the order of their META. More, such as one outside this repository, are
named in SCOPES_ARENA_IMPLEMENTATIONS (comma separated; their package must be importable,
e.g. through PYTHONPATH); those may lack META (a default one stands in) and the bench's
rungs (bare, ceiling, native): the tools skip a missing rung and say so. No web framework is
imported here; discovery runs on first use, not at import (an impl_* package imports this
module).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

#: Where the built-in implementations live: the folder that holds `core/`.
ROOT = Path(__file__).resolve().parent.parent
#: Further implementations, comma separated (not ARENA_*: this is no setting of the app).
EXTRA_ENV = "SCOPES_ARENA_IMPLEMENTATIONS"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
#: The optional modules of an implementation: the bench's rungs around it.
Rung = Literal["bare", "ceiling", "native"]
RUNGS: tuple[Rung, ...] = ("bare", "ceiling", "native")
#: The colour of an implementation that names none.
GREY = "#6b7280"


class RegistryError(ValueError):
    """An implementation that cannot be one: a bad name, no package, a bad or missing META."""


@dataclass(frozen=True, slots=True)
class Implementation:
    """What the tools show about an implementation (its impl_<name>/__init__.py's META)."""

    #: The framework's name as people write it ("FastAPI").
    display: str
    #: The distributions whose versions the reports give, the framework's first.
    packages: tuple[str, ...]
    #: Its colour in the charts, "#rrggbb".
    colour: str
    #: Its place in the matrix and on the page (lower first).
    order: int
    #: How it is served, as the page says it ("ASGI (uvicorn)", "WSGI via a2wsgi (uvicorn)").
    served: str

    def __post_init__(self) -> None:
        if not isinstance(self.display, str) or not self.display.strip():
            raise RegistryError(f"display must be a non-empty string, not {self.display!r}")
        if not isinstance(self.packages, tuple) or not all(
            isinstance(p, str) and p for p in self.packages
        ):
            raise RegistryError(f"packages must be a tuple of names, not {self.packages!r}")
        if not isinstance(self.colour, str) or not _COLOUR.fullmatch(self.colour):
            raise RegistryError(f'colour must be "#rrggbb", not {self.colour!r}')
        if not isinstance(self.order, int) or isinstance(self.order, bool):
            raise RegistryError(f"order must be an int, not {self.order!r}")
        if not isinstance(self.served, str) or not self.served.strip():
            raise RegistryError(f"served must be a non-empty string, not {self.served!r}")


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


def bare_path(name: str) -> str:
    """ "module:attr" of the framework's bare endpoint."""
    return f"{package(name)}.bare:app"


def ceiling_path(name: str) -> str:
    """ "module:attr" of the wiring ceiling (importing it stubs the core in that process)."""
    return f"{package(name)}.ceiling:app"


def native_factory(name: str) -> str:
    """ "module:callable" of the documented way's `create_app(settings)`."""
    return f"{package(name)}.native:create_app"


def _spec_exists(dotted: str) -> bool:
    try:
        return importlib.util.find_spec(dotted) is not None
    except ModuleNotFoundError:  # no parent package at all
        return False


def has(name: str, part: Rung | Literal["app"]) -> bool:
    """Whether implementation `name` has the module `part` (app, bare, ceiling, native);
    finding it imports only the package's __init__."""
    return _spec_exists(f"{package(name)}.{part}")


def _read_meta(name: str, *, required: bool) -> Implementation:
    try:
        found = importlib.import_module(package(name))
    except ModuleNotFoundError as exc:
        if exc.name != package(name):
            raise
        raise RegistryError(
            f"{name}: no package {package(name)} (for one outside this repository: on PYTHONPATH?)"
        ) from exc
    meta_value = getattr(found, "META", None)
    if meta_value is None:
        if required:
            raise RegistryError(
                f"{package(name)}/__init__.py has no META = core.registry.Implementation(...)"
            )
        return Implementation(
            display=name, packages=(), colour=GREY, order=10_000, served="ASGI (uvicorn)"
        )
    if not isinstance(meta_value, Implementation):
        raise RegistryError(f"{package(name)}.META is not a core.registry.Implementation")
    return meta_value


def discover(root: Path = ROOT) -> tuple[str, ...]:
    """The implementations in `root` (importable from there): every impl_* folder with an
    __init__.py, in the order of their META (then by name)."""
    found: list[tuple[int, str]] = []
    for folder in sorted(root.glob("impl_*")):
        if not (folder / "__init__.py").is_file():
            continue  # e.g. a __pycache__ left behind by another branch
        name = folder.name.removeprefix("impl_")
        if not _NAME.fullmatch(name):
            raise RegistryError(f"{folder.name}: not an implementation name")
        found.append((_read_meta(name, required=True).order, name))
    return tuple(name for _, name in sorted(found))


@functools.cache
def _builtin() -> tuple[str, ...]:
    return discover()


def names(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The built-in implementations, then those of SCOPES_ARENA_IMPLEMENTATIONS."""
    env = os.environ if environ is None else environ
    found = list(_builtin())
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


@functools.cache
def _all() -> tuple[str, ...]:
    return names()


@functools.cache
def meta(name: str) -> Implementation:
    """The implementation's META; a default one (its name, grey) for one from outside this
    repository that has none."""
    return _read_meta(name, required=name in _builtin())


def display(name: str) -> str:
    """The display name of an implementation, or `name` itself where it is none of ours (a
    target such as "native-fastapi" or "mine")."""
    try:
        return meta(name).display if name in _all() else name
    except RegistryError:
        return name


def colour(name: str | None) -> str:
    """The chart colour of an implementation; grey for anything else."""
    return meta(name).colour if name in _all() else GREY


def distributions(implementations: Iterable[str] | None = None) -> list[str]:
    """The framework distributions whose versions the reports give, each once."""
    chosen = _all() if implementations is None else implementations
    return list(dict.fromkeys(p for name in chosen for p in meta(name).packages))


def importable(candidates: Iterable[str] | None = None) -> list[str]:
    """The implementations whose app module can be imported here (a partial install may lack
    one framework)."""
    chosen = _all() if candidates is None else candidates
    return [name for name in chosen if has(name, "app")]


def builtin_packages() -> list[str]:
    """The packages of the implementations in this repository: pyproject's hatch and mypy lists
    must name each (tests/test_registry.py)."""
    return [package(name) for name in _builtin()]


#: The built-in implementations (discovered) and all of them (plus SCOPES_ARENA_IMPLEMENTATIONS),
#: computed on first access and then the same tuple for every reader.
BUILTIN: tuple[str, ...]
IMPLEMENTATIONS: tuple[str, ...]


def __getattr__(attribute: str) -> tuple[str, ...]:
    if attribute == "BUILTIN":
        value = _builtin()
    elif attribute == "IMPLEMENTATIONS":
        value = _all()
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
    globals()[attribute] = value
    return value
