"""Targets for the conformance suite: the implementations in-process (httpx.ASGITransport, no
lifespan, as H10 requires) or any live server given with --target NAME=URL."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from conformance.checks import check_of
from conformance.servers import IMPLEMENTATIONS, LIVE_SECRET_KEY
from core.settings import Settings
from core.tokens import TokenService

# The checks also assert inside conformance.support: rewrite it so a failure shows its values.
pytest.register_assert_rewrite("conformance.support")

ASGIApp = Callable[..., Any]


@dataclass
class Target:
    """One implementation under test. `app` is set for in-process targets, `url` for live ones."""

    name: str
    secret_key: str
    url: str | None = None
    app: ASGIApp | None = None

    @property
    def live(self) -> bool:
        return self.url is not None

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        if self.url is not None:
            return httpx.AsyncClient(base_url=self.url, timeout=30.0, **kwargs)
        assert self.app is not None
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="http://testserver", **kwargs)

    def mint(self, subject: str = "johndoe", scope: tuple[str, ...] = ("me", "items")) -> str:
        """A token minted by the core with this target's key, as any implementation would."""
        return TokenService(self.secret_key.encode, 1800).issue(subject, scope).access_token


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance")
    group.addoption(
        "--target",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="a live server claiming CONTRACT.md (repeatable); default: every impl in-process",
    )
    group.addoption(
        "--impl",
        action="append",
        default=[],
        choices=IMPLEMENTATIONS,
        help="in-process implementations to test (repeatable); default: all that import",
    )
    group.addoption(
        "--app-factory",
        action="append",
        default=[],
        metavar="NAME=MODULE:CALLABLE",
        help="an in-process target built by CALLABLE(settings) (repeatable); how the tests "
        "prove that the suite catches deliberately broken implementations",
    )
    group.addoption(
        "--secret-key",
        default=LIVE_SECRET_KEY,
        help="the ARENA_SECRET_KEY the live targets were started with",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "check(meta): a conformance check with a stable id")


def _target_names(config: pytest.Config) -> list[str]:
    live = [spec.split("=", 1)[0] for spec in config.getoption("--target")]
    built = [spec.split("=", 1)[0] for spec in config.getoption("--app-factory")]
    if live or built:
        return live + built
    chosen = config.getoption("--impl") or list(IMPLEMENTATIONS)
    return [name for name in chosen if importlib.util.find_spec(f"impl_{name}.app") is not None]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target_name" in metafunc.fixturenames:
        names = _target_names(metafunc.config)
        metafunc.parametrize("target_name", names, ids=names, scope="session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        meta = check_of(item)
        if meta is not None:
            item.user_properties.append(("check", meta.id))


_TEST_KEY = "in-process-conformance-key-0123456789abcdef0123456789"


@pytest.fixture(scope="session")
def target(
    target_name: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Target:
    specs = dict(spec.split("=", 1) for spec in request.config.getoption("--target"))
    if target_name in specs:
        return Target(target_name, request.config.getoption("--secret-key"), url=specs[target_name])
    factories = dict(spec.split("=", 1) for spec in request.config.getoption("--app-factory"))
    data_dir = tmp_path_factory.mktemp(f"conformance-{target_name}")
    settings = Settings(
        secret_key=_TEST_KEY,
        database_url=f"sqlite:///{data_dir / 'arena.db'}",
        data_dir=data_dir,
        demo_users=True,
        password_profile="cheap",
    )
    if target_name in factories:
        module_name, _, attribute = factories[target_name].partition(":")
        factory = getattr(importlib.import_module(module_name), attribute)
    else:
        factory = importlib.import_module(f"impl_{target_name}.app").create_app
    return Target(target_name, _TEST_KEY, app=factory(settings))


@pytest.fixture
async def client(target: Target) -> AsyncIterator[httpx.AsyncClient]:
    async with target.client() as http:
        yield http
