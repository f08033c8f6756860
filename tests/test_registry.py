"""core.registry is the one list of implementations: everything that names them reads it, the
configuration that cannot read Python agrees with it, and a fourth one registered from outside
the repository is served, checked and listed with no other list edited."""

from __future__ import annotations

import importlib
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from conformance.servers import free_port
from core import registry

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_builtin_names() -> None:
    assert registry.BUILTIN == ("fastapi", "litestar", "starlette")
    assert registry.names({}) == registry.BUILTIN
    assert registry.app_path("litestar") == "impl_litestar.app:app"
    assert registry.factory_path("fastapi") == "impl_fastapi.app:create_app"
    assert registry.importable(registry.BUILTIN) == list(registry.BUILTIN)
    assert registry.importable(("nosuchthing",)) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ()),
        ("fourth", ("fourth",)),
        (" fourth , fifth_2 ,", ("fourth", "fifth_2")),
        ("starlette,fourth,fourth", ("fourth",)),  # a name once, the built-in ones first
    ],
)
def test_extra_names_from_the_environment(value: str, expected: tuple[str, ...]) -> None:
    assert registry.names({registry.EXTRA_ENV: value}) == (*registry.BUILTIN, *expected)


@pytest.mark.parametrize("bad", ["Fourth", "4th", "fourth.app", "my-impl", "a" * 41, "é"])
def test_bad_extra_names(bad: str) -> None:
    with pytest.raises(registry.RegistryError, match=re.escape(repr(bad))):
        registry.names({registry.EXTRA_ENV: bad})


def test_every_reader_has_the_registry_list() -> None:
    readers = [
        "conformance.servers",
        "conformance.conftest",
        "conformance.support",
        "conformance.__main__",
        "conformance.fuzz",
        "core.cli",
        "tests.test_docs_browser",
        "tests.test_lifespan",
    ]
    for name in readers:
        assert importlib.import_module(name).IMPLEMENTATIONS is registry.IMPLEMENTATIONS, name


def test_no_other_list_of_the_implementations() -> None:
    """A literal list of the three names elsewhere in the code is a list a fourth would miss
    (the bench keeps its own: the frameworks it has bare endpoints and ceilings for; tests may
    name the built-in ones they test)."""
    literal = re.compile(r"""["']fastapi["'],\s*["']litestar["'],\s*["']starlette["']""")
    allowed = {Path("core/registry.py"), Path("bench/analysis.py"), Path("bench/ceiling.py")}
    found = [
        path.relative_to(ROOT)
        for folder in ("core", "conformance", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if path.relative_to(ROOT) not in allowed and literal.search(path.read_text())
    ]
    assert found == []


def test_pyproject_lists_agree_with_the_registry() -> None:
    """mypy and hatch cannot read Python: their package lists must name every implementation
    of the registry (and no other impl_ package)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mypy = pyproject["tool"]["mypy"]["packages"]
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    expected = registry.builtin_packages()
    assert [p for p in mypy if p.startswith("impl_")] == expected
    assert [p for p in wheel if p.startswith("impl_")] == expected
    assert "core" in mypy
    assert {"core", "conformance", "bench"} <= set(wheel)
    on_disk = sorted(p.name for p in ROOT.glob("impl_*") if (p / "app.py").is_file())
    assert on_disk == sorted(expected)


def test_makefile_help_names_the_registry() -> None:
    serve = next(
        line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("serve:")
    )
    assert f"IMPL={'|'.join(registry.BUILTIN)} " in serve


# --- a throwaway fourth implementation, from outside the repository -------------------------

FOURTH_APP = '''"""A throwaway fourth implementation: impl_starlette's app under another name."""

from impl_starlette.app import create_app

__all__ = ["app", "create_app"]
app = create_app()
'''


@pytest.fixture(scope="module")
def fourth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment that registers `fourth`: its package on PYTHONPATH, its name in
    SCOPES_ARENA_IMPLEMENTATIONS; no file of the repository changes."""
    where = tmp_path_factory.mktemp("fourth")
    (where / "impl_fourth").mkdir()
    (where / "impl_fourth" / "__init__.py").write_text("")
    (where / "impl_fourth" / "app.py").write_text(FOURTH_APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(PYTHONPATH=str(where), **{registry.EXTRA_ENV: "fourth"})
    env.update(ARENA_PASSWORD_PROFILE="cheap", ARENA_DATA_DIR=str(where / "var"))
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own interpreter and scripts)
        list(args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_fourth_is_listed(fourth: dict[str, str]) -> None:
    helps = {
        "serve": _run(fourth, str(BIN / "scopes-arena"), "serve", "--help").stdout,
        "suite": _run(fourth, sys.executable, "-m", "conformance", "--help").stdout,
        "pytest": _run(fourth, sys.executable, "-m", "pytest", "conformance", "--help").stdout,
        "fuzz": _run(fourth, sys.executable, "-m", "conformance.fuzz", "--help").stdout,
        "bench": _run(fourth, sys.executable, "-m", "bench", "--help").stdout,
    }
    for name, text in helps.items():
        assert "fourth" in text, (name, text)
    assert "fastapi, litestar, starlette, fourth" in " ".join(helps["serve"].split())
    # And without the variable, nowhere.
    plain = {k: v for k, v in fourth.items() if k != registry.EXTRA_ENV}
    assert "fourth" not in _run(plain, str(BIN / "scopes-arena"), "serve", "--help").stdout


def test_fourth_is_checked_in_process(fourth: dict[str, str]) -> None:
    result = _run(
        fourth, sys.executable, "-m", "pytest", "conformance", "--impl", "fourth",
        "-k", "test_users_me", "-q", "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^1 passed", result.stdout, re.MULTILINE), result.stdout


def test_fourth_is_in_the_matrix(fourth: dict[str, str], tmp_path: Path) -> None:
    result = _run(
        fourth, sys.executable, "-m", "conformance", "--impl", "fourth", "--impl", "starlette",
        "-k", "test_users_me", "--no-diff", "--report-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    # The terminal's per-rule table has a column per target; the full matrix is in the .md.
    header = next(line for line in result.stdout.splitlines() if "┃ rule" in line)
    assert [cell.strip() for cell in header.split("┃")[-3:-1]] == ["fourth", "starlette"], header
    assert "fourth: 1 checks [1 cases]: MUST 1 passed, 0 failed" in result.stdout
    matrix = (tmp_path / "conformance.md").read_text()
    assert "| check | level | title | fourth | starlette |" in matrix
    assert '"fourth"' in (tmp_path / "conformance.json").read_text()


@pytest.mark.live
def test_fourth_is_served(fourth: dict[str, str]) -> None:
    port = free_port()
    env = {**fourth, "ARENA_DEMO_USERS": "1"}
    process = subprocess.Popen(  # noqa: S603 (our own console script)
        [str(BIN / "scopes-arena"), "serve", "fourth", "--port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "not ready in 30 s"
            try:
                if httpx.get(f"{url}/openapi.json").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        login = httpx.post(
            f"{url}/token", data={"username": "johndoe", "password": "secret", "scope": "me"}
        )
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        me = httpx.get(f"{url}/users/me/", headers={"Authorization": f"Bearer {token}"})
        assert (me.status_code, me.json()["username"]) == (200, "johndoe")
    finally:
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err.decode()
