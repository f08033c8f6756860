"""core.registry is the one list of implementations: it discovers every impl_<name>/ folder,
everything that names implementations reads it, the configuration that cannot read Python
agrees with it, and a throwaway implementation folder from outside the repository is served,
checked, fuzzed, benched and shown on the page with no other file edited."""

from __future__ import annotations

import ast
import contextlib
import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance.servers import free_port
from core import registry

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FIXTURES = Path(__file__).parent / "fixtures" / "compare"


def on_disk() -> list[str]:
    """The implementation folders of the repository (an impl_* folder with an __init__.py)."""
    return sorted(p.parent.name.removeprefix("impl_") for p in ROOT.glob("impl_*/__init__.py"))


def test_builtin_names_are_the_folders_in_their_order() -> None:
    assert sorted(registry.BUILTIN) == on_disk()
    orders = [registry.meta(name).order for name in registry.BUILTIN]
    assert orders == sorted(orders)
    assert [n for n in registry.BUILTIN if n in {"fastapi", "litestar", "starlette"}] == [
        "fastapi", "litestar", "starlette",
    ]  # fmt: skip
    assert registry.names({}) == registry.BUILTIN
    assert registry.app_path("litestar") == "impl_litestar.app:app"
    assert registry.factory_path("fastapi") == "impl_fastapi.app:create_app"
    assert registry.bare_path("starlette") == "impl_starlette.bare:app"
    assert registry.ceiling_path("litestar") == "impl_litestar.ceiling:app"
    assert registry.native_factory("fastapi") == "impl_fastapi.native:create_app"
    assert registry.importable(registry.BUILTIN) == list(registry.BUILTIN)
    assert registry.importable(("nosuchthing",)) == []
    assert not registry.has("nosuchthing", "bare")


@pytest.mark.parametrize("name", registry.BUILTIN)
def test_every_builtin_folder_has_every_part(name: str) -> None:
    """The layout every impl_<name>/ follows (README "Add a framework")."""
    for part in ("app", *registry.RUNGS):
        assert registry.has(name, part), f"impl_{name}/{part}.py"
    meta = registry.meta(name)
    assert meta.packages, name
    assert registry.display(name) == meta.display
    assert registry.colour(name) == meta.colour
    # __init__.py imports nothing but core.registry: reading META imports no framework.
    tree = ast.parse((ROOT / f"impl_{name}" / "__init__.py").read_text())
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert set(imported) <= {"core.registry", "__future__"}, imported


def test_reading_the_registry_imports_no_framework() -> None:
    code = (
        "import sys; from core import registry; registry.IMPLEMENTATIONS; "
        "[registry.meta(n) for n in registry.IMPLEMENTATIONS]; "
        "[registry.has(n, r) for n in registry.IMPLEMENTATIONS for r in registry.RUNGS]; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{p for n in registry.IMPLEMENTATIONS for p in registry.meta(n).packages}))"
    )
    out = subprocess.run(  # noqa: S603 (our own interpreter)
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


META_TEMPLATE = """from core.registry import Implementation

META = Implementation(
    display={display!r}, packages=("starlette",), colour="#123456", order={order},
    served="ASGI (uvicorn)",
)
"""


def test_discovery_orders_by_meta_and_refuses_half_made_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    for name, order in (("zz_first", 1), ("aa_second", 2)):
        (tmp_path / f"impl_{name}").mkdir()
        (tmp_path / f"impl_{name}" / "__init__.py").write_text(
            META_TEMPLATE.format(display=name.title(), order=order)
        )
    (tmp_path / "impl_leftover" / "__pycache__").mkdir(parents=True)  # no __init__.py: not one
    assert registry.discover(tmp_path) == ("zz_first", "aa_second")
    (tmp_path / "impl_nometa").mkdir()
    (tmp_path / "impl_nometa" / "__init__.py").write_text("")
    with pytest.raises(
        registry.RegistryError, match=re.escape("impl_nometa/__init__.py has no META")
    ):
        registry.discover(tmp_path)


@pytest.mark.parametrize(
    ("field", "value"),
    [("colour", "red"), ("colour", "#12345"), ("display", ""), ("order", "1"),
     ("packages", ["starlette"]), ("served", " ")],
)  # fmt: skip
def test_bad_meta_is_refused(field: str, value: object) -> None:
    fields: dict[str, object] = {
        "display": "X", "packages": ("x",), "colour": "#abcdef", "order": 1, "served": "ASGI",
    }  # fmt: skip
    registry.Implementation(**fields)  # type: ignore[arg-type]
    with pytest.raises(registry.RegistryError, match=field):
        registry.Implementation(**{**fields, field: value})  # type: ignore[arg-type]


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
    """Outside impl_*/ and core/registry.py, no code names an implementation: no string that is
    one's name, package, module path or target name (bare-<name>, ...), so that nothing lists
    them but the registry (prose in docstrings may mention frameworks)."""
    names = "|".join(map(re.escape, registry.IMPLEMENTATIONS))
    named = re.compile(
        rf"(?:impl_|bare-|guard-|ceiling-|native-|pg-)?(?:{names})(?:[.:_].*)?", re.IGNORECASE
    )
    found = []
    for folder in ("core", "conformance", "bench", "compare", "deploy"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == ROOT / "core" / "registry.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                text = node.value if isinstance(node, ast.Constant) else None
                if isinstance(text, str) and named.fullmatch(text):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text!r}")
    assert found == []


def test_pyproject_lists_agree_with_the_registry() -> None:
    """mypy and hatch cannot read Python: their package lists must name every implementation
    of the registry (and no other impl_ package)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mypy = pyproject["tool"]["mypy"]["packages"]
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    expected = sorted(registry.builtin_packages())
    assert sorted(p for p in mypy if p.startswith("impl_")) == expected
    assert sorted(p for p in wheel if p.startswith("impl_")) == expected
    assert "core" in mypy
    assert {"core", "conformance", "bench"} <= set(wheel)
    assert sorted(f"impl_{name}" for name in on_disk()) == expected


def test_makefile_help_names_the_registry() -> None:
    serve = next(
        line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("serve:")
    )
    # No list of names to keep up to date: the help points at the one that is.
    assert "IMPL=<name> (scopes-arena serve --help lists them)" in serve


# --- a throwaway implementation folder, from outside the repository --------------------------

#: impl_starlette's folder, copied and renamed: what a contributor adding a framework writes.
FOURTH_META = {
    'display="Starlette"': 'display="Fourth"',
    'colour="#5161d6"': 'colour="#123456"',
    "order=30": "order=99",
}


@pytest.fixture(scope="module")
def fourth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment that registers `fourth`: a copy of impl_starlette/ as impl_fourth/ on
    PYTHONPATH, its name in SCOPES_ARENA_IMPLEMENTATIONS; no file of the repository changes."""
    where = tmp_path_factory.mktemp("fourth")
    (where / "impl_fourth").mkdir()
    for source in (ROOT / "impl_starlette").glob("*.py"):
        text = source.read_text().replace("impl_starlette", "impl_fourth")
        if source.name == "__init__.py":
            for old, new in FOURTH_META.items():
                assert old in text, old
                text = text.replace(old, new)
        (where / "impl_fourth" / source.name).write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(PYTHONPATH=str(where), **{registry.EXTRA_ENV: "fourth"})
    env.update(ARENA_PASSWORD_PROFILE="cheap", ARENA_DATA_DIR=str(where / "var"))
    # Wide enough that no --help wraps a target name at its hyphen (bench's choices list).
    env.update(COLUMNS="1000")
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own interpreter and scripts)
        list(args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_fourth_is_listed(fourth: dict[str, str]) -> None:
    helps = {
        "serve": _run(fourth, str(BIN / "scopes-arena"), "serve", "--help").stdout,
        "suite": _run(fourth, sys.executable, "-m", "conformance", "--help").stdout,
        "fuzz": _run(fourth, sys.executable, "-m", "conformance.fuzz", "--help").stdout,
        "bench": _run(fourth, sys.executable, "-m", "bench", "--help").stdout,
    }
    for name, text in helps.items():
        assert "fourth" in text, (name, text)
    assert ", ".join((*registry.BUILTIN, "fourth")) in " ".join(helps["serve"].split())
    # Every rung of its ladder is a bench target.
    for target in ("bare-fourth", "guard-fourth", "ceiling-fourth", "native-fourth", "pg-fourth"):
        assert target in helps["bench"], target
    # And without the variable, nowhere.
    plain = {k: v for k, v in fourth.items() if k != registry.EXTRA_ENV}
    assert "fourth" not in _run(plain, str(BIN / "scopes-arena"), "serve", "--help").stdout


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
    assert "| check | level | tier | source | title | fourth | starlette |" in matrix
    assert '"fourth"' in (tmp_path / "conformance.json").read_text()


@contextlib.contextmanager
def started(env: dict[str, str], *args: str) -> Iterator[subprocess.Popen[str]]:
    """A process running beside the others (the test's parts overlap: it stays fast)."""
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and scripts)
        list(args), env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def finished(process: subprocess.Popen[str], timeout: float = 60) -> str:
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, out
    return out


@pytest.mark.live
def test_fourth_appears_everywhere(fourth: dict[str, str], tmp_path: Path) -> None:
    """Served by `scopes-arena serve`, checked by the suite in-process, fuzzed (tiny), benched
    in the smoke run (every rung), and a column of the comparison page: all at once."""
    reports = tmp_path / "reports"
    shutil.copytree(FIXTURES, reports, ignore=shutil.ignore_patterns("*.py"))
    port = free_port()
    py = sys.executable
    with contextlib.ExitStack() as stack:
        serve = stack.enter_context(
            started({**fourth, "ARENA_DEMO_USERS": "1"},
                    str(BIN / "scopes-arena"), "serve", "fourth", "--port", str(port))
        )  # fmt: skip
        suite = stack.enter_context(
            started(fourth, py, "-m", "pytest", "conformance", "--impl", "fourth",
                    "-k", "test_users_me", "-q", "-p", "no:cacheprovider")
        )  # fmt: skip
        fuzz = stack.enter_context(
            started(fourth, py, "-m", "conformance.fuzz", "--impl", "fourth", "--document",
                    "own", "--profile", "tutorial", "--examples", "1", "--no-differential",
                    "--reports", str(tmp_path / "fuzz"))
        )  # fmt: skip
        bench_args = ["--smoke", "--impl", "fourth", "--scenario", "status"]
        bench = (
            stack.enter_context(
                started(fourth, py, "-m", "bench", *bench_args, "--report-dir", str(tmp_path))
            )
            if shutil.which("wrk")
            else None
        )
        page = stack.enter_context(
            started(fourth, py, "-m", "compare", "--no-run", "--reports", str(reports))
        )
        _served(serve, f"http://127.0.0.1:{port}")
        assert re.search(r"^1 passed", finished(suite), re.MULTILINE)
        finished(fuzz, timeout=120)
        summary = json.loads((tmp_path / "fuzz" / "fourth" / "summary.json").read_text())
        assert summary["implementation"] == "fourth"
        assert summary["runs"][0]["cases"] > 0
        finished(page)
        built = (reports / "index.html").read_text()
        assert ">Fourth</th>" in built  # a column of its own, by its display name
        assert '<h4>Fourth <span class="muted">' in built  # its adapter code, cut at its markers
        if bench is not None:
            finished(bench, timeout=120)
            data = json.loads((tmp_path / "bench-smoke.json").read_text())
            assert set(data["targets"]) == {
                "bare-fourth", "guard-fourth", "ceiling-fourth", "fourth", "native-fourth",
            }  # fmt: skip
            assert data["failed"] == []


def _served(process: subprocess.Popen[str], url: str) -> None:
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
    os.killpg(process.pid, signal.SIGINT)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out
    assert "Traceback" not in out
