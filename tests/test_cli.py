"""The `scopes-arena` CLI through Typer's runner, against a temporary SQLite store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner, Result

from core import cli
from core.passwords import PasswordService
from core.stores import SQLiteStore
from core.users import DEMO_USERS, Item, User

CHEAP = PasswordService("cheap")
# A wide terminal for Rich, whatever the developer's: tables and panels do not wrap.
runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "arena.db"
    monkeypatch.setenv("ARENA_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("ARENA_PASSWORD_PROFILE", "cheap")
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path / "data"))
    return path


def run(*args: str, input: str | None = None) -> Result:
    return runner.invoke(cli.app, list(args), input=input)


def ok(*args: str, input: str | None = None) -> str:
    result = run(*args, input=input)
    assert (result.exit_code, result.stderr) == (0, ""), result.output
    return result.stdout


def refused(*args: str, input: str | None = None) -> str:
    """The one line a refusal prints on stderr."""
    result = run(*args, input=input)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ")
    return result.stderr.removeprefix("error: ").rstrip("\n")


def users(path: Path) -> list[User]:
    async def read() -> list[User]:
        store = SQLiteStore(path)
        try:
            return await store.list_users()
        finally:
            await store.close()

    return asyncio.run(read())


def items(path: Path, owner: str) -> list[Item]:
    async def read() -> list[Item]:
        store = SQLiteStore(path)
        try:
            return await store.items_for(owner)
        finally:
            await store.close()

    return asyncio.run(read())


def add_bob(*extra: str) -> str:
    return ok("users", "add", "bob", "--password-stdin", *extra, input="bob-password\n")


# users add


def test_users_add_with_password_from_stdin(db: Path) -> None:
    out = add_bob("--full-name", "Bob B", "--email", "bob@example.com", "--scopes", "me")
    assert out == "added user bob (scopes: me)\n"
    [bob] = users(db)
    assert (bob.username, bob.full_name, bob.email, bob.disabled, bob.scopes) == (
        "bob",
        "Bob B",
        "bob@example.com",
        False,
        ("me",),
    )
    assert bob.hashed_password.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert CHEAP._check("bob-password", bob.hashed_password).ok is True


def test_users_add_defaults(db: Path) -> None:
    assert add_bob() == "added user bob (scopes: me items)\n"
    assert [(u.full_name, u.email, u.disabled, u.scopes) for u in users(db)] == [
        (None, None, False, ("me", "items"))
    ]


@pytest.mark.parametrize(
    ("scopes", "expected", "shown"),
    [
        ("items,me", ("items", "me"), "items me"),
        ("me items", ("me", "items"), "me items"),
        (" me, items ,me ", ("me", "items"), "me items"),
        ("", (), "none"),
    ],
)
def test_users_add_scope_lists(
    db: Path, scopes: str, expected: tuple[str, ...], shown: str
) -> None:
    assert add_bob("--scopes", scopes, "--disabled") == f"added user bob (scopes: {shown})\n"
    [bob] = users(db)
    assert (bob.scopes, bob.disabled) == (expected, True)


@pytest.mark.parametrize("ending", ["\n", "\r\n", ""])
def test_password_stdin_drops_one_line_ending(db: Path, ending: str) -> None:
    ok("users", "add", "bob", "--password-stdin", input=f" two words {ending}")
    [bob] = users(db)
    assert CHEAP._check(" two words ", bob.hashed_password).ok is True


def test_users_add_with_hidden_prompt(db: Path) -> None:
    result = run("users", "add", "bob", input="pw-one\npw-one\n")
    assert result.exit_code == 0
    assert "pw-one" not in result.output
    assert result.stdout.endswith("added user bob (scopes: me items)\n")
    [bob] = users(db)
    assert CHEAP._check("pw-one", bob.hashed_password).ok is True


def test_users_add_prompt_confirmation_mismatch(db: Path) -> None:
    result = run("users", "add", "bob", input="one\ntwo\n")
    assert result.exit_code == 1
    assert "Error: The two entered values do not match." in result.stdout
    assert result.stderr == "Aborted.\n"
    assert "one" not in result.output
    assert not db.exists()


def test_users_add_empty_password(db: Path) -> None:
    assert refused("users", "add", "bob", "--password-stdin", input="\n") == (
        "the password is empty"
    )
    assert not db.exists()


@pytest.mark.parametrize("name", ["", "  "])
def test_users_add_empty_name(db: Path, name: str) -> None:
    assert refused("users", "add", name, "--password-stdin", input="x\n") == "the username is empty"
    assert not db.exists()


def test_users_add_existing(db: Path) -> None:
    add_bob("--scopes", "me")
    before = users(db)
    assert refused("users", "add", "bob", "--password-stdin", input="x\n") == (
        "user bob already exists"
    )
    assert users(db) == before


@pytest.mark.parametrize(
    ("scopes", "message"),
    [
        ("admin", "unknown scope(s): admin (known: me, items)"),
        ("me,ME", "unknown scope(s): ME (known: me, items)"),
        ("me;items", "unknown scope(s): me;items (known: me, items)"),
    ],
)
def test_users_add_unknown_scope(db: Path, scopes: str, message: str) -> None:
    assert refused("users", "add", "bob", "--scopes", scopes, "--password-stdin", input="x\n") == (
        message
    )
    assert not db.exists()


# users list


def test_users_list(db: Path) -> None:
    ok("demo")
    add_bob("--full-name", "[bold]Bob[/bold]", "--scopes", "me")
    out = ok("users", "list")
    lines = [line for line in out.splitlines() if "│" in line or "┃" in line]
    rows = [
        [cell.strip() for cell in line.strip("│┃ ").replace("┃", "│").split("│")] for line in lines
    ]
    assert rows == [
        ["username", "full name", "email", "disabled", "scopes"],
        ["alice", "Alice Chains", "alicechains@example.com", "yes", "me items"],
        ["bob", "[bold]Bob[/bold]", "", "no", "me"],
        ["johndoe", "John Doe", "johndoe@example.com", "no", "me items"],
    ]
    assert "$argon2" not in out
    for user in users(db):
        assert user.hashed_password not in out


def test_users_list_empty(db: Path) -> None:
    out = ok("users", "list")
    assert "username" in out
    assert "$argon2" not in out


# users disable / enable / set-scopes / delete


def test_disable_and_enable(db: Path) -> None:
    add_bob()
    assert ok("users", "disable", "bob") == "disabled user bob\n"
    assert [u.disabled for u in users(db)] == [True]
    assert ok("users", "disable", "bob") == "disabled user bob\n"
    assert [u.disabled for u in users(db)] == [True]
    assert ok("users", "enable", "bob") == "enabled user bob\n"
    assert [u.disabled for u in users(db)] == [False]


@pytest.mark.parametrize(
    ("scopes", "expected", "shown"),
    [
        ("items", ("items",), "items"),
        ("items me", ("items", "me"), "items me"),
        ("me,items", ("me", "items"), "me items"),
        ("", (), "none"),
    ],
)
def test_set_scopes(db: Path, scopes: str, expected: tuple[str, ...], shown: str) -> None:
    add_bob("--scopes", "me")
    hashed = users(db)[0].hashed_password
    assert ok("users", "set-scopes", "bob", scopes) == f"set the scopes of bob to: {shown}\n"
    assert [(u.scopes, u.hashed_password) for u in users(db)] == [(expected, hashed)]


def test_set_scopes_unknown_scope(db: Path) -> None:
    add_bob("--scopes", "me")
    assert refused("users", "set-scopes", "bob", "me admin") == (
        "unknown scope(s): admin (known: me, items)"
    )
    assert [u.scopes for u in users(db)] == [("me",)]


def test_delete(db: Path) -> None:
    ok("demo")
    assert ok("users", "delete", "johndoe") == "deleted user johndoe\n"
    assert [u.username for u in users(db)] == ["alice"]
    assert items(db, "johndoe") == []
    assert items(db, "alice") == [Item("Foo", "alice")]


@pytest.mark.parametrize(
    "args",
    [
        ("users", "disable", "ghost"),
        ("users", "enable", "ghost"),
        ("users", "set-scopes", "ghost", "me"),
        ("users", "delete", "ghost"),
        ("items", "add", "ghost", "Foo"),
    ],
)
def test_missing_user(db: Path, args: tuple[str, ...]) -> None:
    add_bob()
    assert refused(*args) == "no user named ghost"
    assert [u.username for u in users(db)] == ["bob"]


# items add


def test_items_add(db: Path) -> None:
    add_bob()
    assert ok("items", "add", "bob", "b") == "added item b to bob\n"
    assert ok("items", "add", "bob", "a") == "added item a to bob\n"
    assert items(db, "bob") == [Item("a", "bob"), Item("b", "bob")]


def test_items_add_duplicate(db: Path) -> None:
    add_bob()
    ok("items", "add", "bob", "Foo")
    assert refused("items", "add", "bob", "Foo") == "bob already has item Foo"
    assert items(db, "bob") == [Item("Foo", "bob")]


# demo


def test_demo_into_an_empty_store(db: Path) -> None:
    assert ok("demo") == "added the demo users: johndoe, alice\n"
    assert users(db) == sorted(DEMO_USERS, key=lambda user: user.username)
    assert items(db, "johndoe") == [Item("Foo", "johndoe")]
    assert ok("demo") == "the store is not empty: demo users not added\n"
    assert len(users(db)) == 2


def test_demo_into_a_used_store(db: Path) -> None:
    add_bob()
    assert ok("demo") == "the store is not empty: demo users not added\n"
    assert [u.username for u in users(db)] == ["bob"]


# Settings and stores that cannot be used.

BAD_SETTINGS = [
    (
        {"ARENA_SECRET_KEY": "too-short"},
        "ARENA_SECRET_KEY must be at least 32 bytes "
        "(generate one with: python -c 'import secrets; print(secrets.token_hex(32))')",
    ),
    ({"ARENA_PROFILE": "lenient"}, "ARENA_PROFILE: Input should be 'tutorial' or 'strict'"),
    (
        {"ARENA_ACCESS_TOKEN_EXPIRE_MINUTES": "0"},
        "ARENA_ACCESS_TOKEN_EXPIRE_MINUTES: Input should be greater than 0",
    ),
    (
        {"ARENA_DATABASE_URL": "postgresql://localhost/arena"},
        "the PostgreSQL store is not implemented yet; use sqlite:/// or memory://",
    ),
    (
        {"ARENA_DATABASE_URL": "mysql://x"},
        "unsupported database URL 'mysql://x': expected memory://, sqlite:///path or postgresql://",
    ),
    (
        {"ARENA_DATABASE_URL": "sqlite:///"},
        "bad SQLite URL 'sqlite:///': use sqlite:///relative/path.db or sqlite:////abs/path.db",
    ),
]
COMMANDS = [
    ("users", "list"),
    ("users", "disable", "bob"),
    ("items", "add", "bob", "Foo"),
    ("demo",),
    ("serve", "fastapi"),
]


@pytest.mark.parametrize(("env", "message"), BAD_SETTINGS)
@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_bad_settings(
    db: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    message: str,
    args: tuple[str, ...],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(uvicorn, "run", _never_serve)
    assert refused(*args) == message
    assert not db.exists()


@pytest.mark.parametrize(("env", "message"), BAD_SETTINGS)
def test_users_add_bad_settings(
    db: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert refused("users", "add", "bob", "--password-stdin", input="x\n") == message


def test_serve_refuses_a_profile_not_implemented_yet(
    db: Path, monkeypatch: pytest.MonkeyPatch, fake_uvicorn: FakeUvicorn
) -> None:
    # The app would raise at import inside uvicorn, with a traceback; one line instead.
    monkeypatch.setenv("ARENA_PROFILE", "strict")
    assert refused("serve", "fastapi") == (
        "ARENA_PROFILE: the 'strict' profile is not implemented yet"
    )
    assert fake_uvicorn.calls == []


def _short_key_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "secret.key").write_text("short\n")


def test_store_commands_need_no_key(db: Path, tmp_path: Path) -> None:
    _short_key_file(tmp_path)
    assert add_bob() == "added user bob (scopes: me items)\n"
    assert (tmp_path / "data" / "secret.key").read_text() == "short\n"


def test_serve_refuses_a_short_key_file(
    db: Path, tmp_path: Path, fake_uvicorn: FakeUvicorn
) -> None:
    _short_key_file(tmp_path)
    assert refused("serve", "fastapi") == (
        f"key file {tmp_path / 'data' / 'secret.key'} holds fewer than 32 bytes; "
        "delete it to have a new one generated"
    )
    assert fake_uvicorn.calls == []


def test_serve_refuses_an_unusable_data_dir(
    db: Path, tmp_path: Path, fake_uvicorn: FakeUvicorn
) -> None:
    (tmp_path / "data").write_text("a file where the data directory should be")
    assert refused("serve", "fastapi") == (
        f"cannot read or create the key file {tmp_path / 'data' / 'secret.key'}: File exists"
    )
    assert fake_uvicorn.calls == []


@pytest.mark.parametrize("args", COMMANDS[:-1], ids=" ".join)
def test_unreachable_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: tuple[str, ...]
) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "arena.db"
    monkeypatch.setenv("ARENA_DATABASE_URL", f"sqlite:///{path}")
    message = refused(*args)
    assert message.startswith(f"the store cannot be reached: {path}: ")


def test_unreachable_store_for_users_add(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARENA_PASSWORD_PROFILE", "cheap")
    monkeypatch.setenv("ARENA_DATABASE_URL", f"sqlite:///{tmp_path}")  # a directory
    message = refused("users", "add", "bob", "--password-stdin", input="x\n")
    assert message == f"the store cannot be reached: {tmp_path}: unable to open database file"


# serve


def _never_serve(*args: object, **kwargs: object) -> None:
    raise AssertionError("uvicorn.run must not be called")


class FakeUvicorn:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def run(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append((args, kwargs))


@pytest.fixture
def fake_uvicorn(monkeypatch: pytest.MonkeyPatch) -> FakeUvicorn:
    fake = FakeUvicorn()
    monkeypatch.setattr(uvicorn, "run", fake.run)
    return fake


@pytest.mark.parametrize("impl", ["fastapi", "litestar", "starlette"])
def test_serve_defaults(db: Path, tmp_path: Path, fake_uvicorn: FakeUvicorn, impl: str) -> None:
    ok("serve", impl)
    # The key file is made before the workers start, so that they all share it.
    assert len((tmp_path / "data" / "secret.key").read_bytes()) == 65
    assert fake_uvicorn.calls == [
        (
            (f"impl_{impl}.app:app",),
            {"host": "127.0.0.1", "port": 8000, "workers": 1, "reload": False},
        )
    ]
    assert not db.exists()  # the app opens the store, not the CLI


def test_serve_options(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_uvicorn: FakeUvicorn
) -> None:
    monkeypatch.setenv("ARENA_SECRET_KEY", "k" * 32)
    ok("serve", "starlette", "--host", "localhost", "--port", "9001", "--workers", "2", "--reload")
    assert fake_uvicorn.calls == [
        (
            ("impl_starlette.app:app",),
            {"host": "localhost", "port": 9001, "workers": 2, "reload": True},
        )
    ]
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("impl", ["django", "FastAPI", "", "fastapi.app"])
def test_serve_unknown_implementation(fake_uvicorn: FakeUvicorn, impl: str) -> None:
    assert refused("serve", impl) == (
        f"unknown implementation {impl!r} (choose from fastapi, litestar, starlette)"
    )
    assert fake_uvicorn.calls == []


@pytest.mark.parametrize("args", [("--port", "0"), ("--port", "70000"), ("--workers", "0")])
def test_serve_bad_numbers(fake_uvicorn: FakeUvicorn, args: tuple[str, ...]) -> None:
    result = run("serve", "fastapi", *args)
    assert result.exit_code == 2
    assert f"Invalid value for '{args[0]}'" in result.stderr
    assert "Traceback" not in result.output
    assert fake_uvicorn.calls == []


def test_no_arguments_shows_help() -> None:
    result = run()
    assert result.exit_code == 2
    assert "serve" in result.output
    assert "users" in result.output
    assert "Traceback" not in result.output


def test_main_runs_the_app(monkeypatch: pytest.MonkeyPatch, db: Path) -> None:
    monkeypatch.setattr("sys.argv", ["scopes-arena", "demo"])
    with pytest.raises(SystemExit) as caught:
        cli.main()
    assert caught.value.code == 0
    assert [u.username for u in users(db)] == ["alice", "johndoe"]
