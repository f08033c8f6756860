"""FastAPI-specific wiring that the HTTP-level suite cannot see."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from core.settings import Settings
from impl_fastapi.app import create_app


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependants(sub)


def _is_async(call: Any) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 (a security scheme instance is a callable)
    )


def test_no_dependency_runs_in_the_thread_pool() -> None:
    """FastAPI runs a plain `def` dependency in its thread pool on every request; on the hot
    path that hop cost more than half of a request's time (see make bench)."""
    app = create_app(Settings(secret_key="k" * 32, database_url="memory://"))
    routes = [route for route in app.routes if isinstance(route, APIRoute)]
    assert {route.path for route in routes} >= {"/token", "/users/me/", "/users/me/items/"}
    sync = [
        f"{route.path}: {getattr(dep.call, '__qualname__', dep.call)}"
        for route in routes
        for dep in _dependants(route.dependant)
        if dep.call is not None
        and not _is_async(dep.call)
        # OAuth2PasswordRequestForm is a class: FastAPI builds it from the parsed form, no I/O.
        and not inspect.isclass(dep.call)
    ]
    assert sync == []
