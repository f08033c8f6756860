"""The bench's rungs that are no module of an implementation's own, as uvicorn imports them:
`bench.rungs:guard_<name>` is impl_<name>/bare.py's app wrapped in `core.asgi.Guard` as the
adapters wrap theirs (what Guard costs on that framework), `bench.rungs:loaded_<name>` the same
bare app unwrapped in a process that has loaded the core and built its Arena just as the guard
rung's has (what Guard's own code costs is guard against loaded, side by side), and
`bench.rungs:native_<name>` is impl_<name>/native.py's `create_app()` with the settings of the
environment (the framework's documented way). Each is built on first access, so that a server
imports only its own framework; the names are core.registry's.
"""

from __future__ import annotations

import importlib
from typing import Any

from core import registry
from core.asgi import Guard
from core.service import Arena

GUARD, LOADED, NATIVE = "guard_", "loaded_", "native_"
_BUILT: dict[str, Any] = {}
#: The Arena each loaded rung built, kept alive as the guard rung's is (by its render).
_ARENAS: list[Arena] = []


def load(path: str) -> Any:
    """The object a "module:attr" path names."""
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def guarded(name: str) -> Any:
    """The bare endpoint inside Guard, whose errors the core renders, as in every adapter."""
    return Guard(load(registry.bare_path(name)), render=Arena().render)


def loaded(name: str) -> Any:
    """The bare endpoint as it is, after what guarded() loads and builds besides Guard: the
    core's modules and an Arena."""
    _ARENAS.append(Arena())
    return load(registry.bare_path(name))


def native(name: str) -> Any:
    return load(registry.native_factory(name))()


def __getattr__(attribute: str) -> Any:
    for prefix, build in ((GUARD, guarded), (LOADED, loaded), (NATIVE, native)):
        name = attribute.removeprefix(prefix)
        if attribute.startswith(prefix) and name in registry.IMPLEMENTATIONS:
            if attribute not in _BUILT:
                _BUILT[attribute] = build(name)
            return _BUILT[attribute]
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


def guard_path(name: str) -> str:
    return f"{__name__}:{GUARD}{name}"


def loaded_path(name: str) -> str:
    return f"{__name__}:{LOADED}{name}"


def native_path(name: str) -> str:
    return f"{__name__}:{NATIVE}{name}"
