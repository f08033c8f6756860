"""The `scopes-arena` CLI through Typer's runner, against a temporary SQLite store."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from conformance.servers import free_port
from core import cli, registry, server, usernames
from core.passwords import PasswordService
from core.service import Arena
from core.settings import Settings
from core.stores import MemoryStore, NoSuchDatabase, SQLiteStore, open_store
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
    before = time.time()
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
    # H13: tokens issued up to the end of this second, to any earlier bob, are cut off.
    assert int(before) + 1 <= bob.tokens_valid_after <= int(time.time()) + 1


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
    assert users(db) == []


def test_users_add_empty_password(db: Path) -> None:
    assert refused("users", "add", "bob", "--password-stdin", input="\n") == (
        "the password is empty"
    )
    assert not db.exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "the username is empty"),
        ("  ", f"{usernames.RULE}; ' ' is not allowed"),
    ],
)
def test_users_add_empty_name(db: Path, name: str, message: str) -> None:
    assert refused("users", "add", name, "--password-stdin", input="x\n") == message
    assert not db.exists()


def test_users_add_existing(db: Path) -> None:
    add_bob("--scopes", "me")
    before = users(db)
    assert refused("users", "add", "bob", "--password-stdin", input="x\n") == (
        "user bob already exists"
    )
    assert users(db) == before


def test_users_add_existing_fails_before_the_prompt(db: Path) -> None:
    add_bob()
    before = users(db)
    result = run("users", "add", "bob", input="typed-in-vain\ntyped-in-vain\n")
    assert (result.exit_code, result.stderr) == (1, "error: user bob already exists\n")
    assert "Password" not in result.output
    assert users(db) == before


# Usernames: one canonical form (core.usernames), for every command taking a NAME.

LOOK_ALIKES = [
    ("JohnDoe", "usernames are lowercase: did you mean johndoe?"),
    ("johndoe ", "usernames have no whitespace: did you mean johndoe?"),
    ("\uff4a\uff4f\uff48\uff4e", f"{usernames.RULE}: did you mean john?"),
    ("j\u043ehn", f"{usernames.RULE}; U+043E (CYRILLIC SMALL LETTER O) is not allowed"),
    ("john\u200ddoe", f"{usernames.RULE}: did you mean johndoe?"),
    ("jo\u0308rg", f"{usernames.RULE}; U+0308 (COMBINING DIAERESIS) is not allowed"),
    ("bob\nfake", f"{usernames.RULE}; U+000A is not allowed"),
    ("bob\x1b]8;;x\x07", f"{usernames.RULE}; U+001B is not allowed"),
    (".bob", "usernames start with a letter or digit"),
    ("b" * 65, "usernames are at most 64 characters (this one has 65)"),
]


@pytest.mark.parametrize(("name", "message"), LOOK_ALIKES)
def test_users_add_refuses_non_canonical_names(db: Path, name: str, message: str) -> None:
    assert refused("users", "add", name, "--password-stdin", input="x\n") == message
    assert not db.exists()


NAME_COMMANDS = [
    ("users", "disable", "{}"),
    ("users", "enable", "{}"),
    ("users", "set-scopes", "{}", "me"),
    ("users", "delete", "{}"),
    ("users", "set-password", "{}", "--password-stdin"),
    ("items", "add", "{}", "Foo"),
]


@pytest.mark.parametrize("args", NAME_COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_every_name_command_refuses_non_canonical_names(db: Path, args: tuple[str, ...]) -> None:
    ok("demo")
    before = users(db)
    command = [arg.format("JohnDoe") for arg in args]
    assert refused(*command, input="x\n") == "usernames are lowercase: did you mean johndoe?"
    assert users(db) == before


def test_canonical_names_are_accepted(db: Path) -> None:
    for name in ("a", "0", "bob.smith", "b_2-x", "b" * 64):
        assert ok("users", "add", name, "--password-stdin", input="pw\n").startswith(
            f"added user {name} "
        )


# users set-password


def test_set_password_from_stdin(db: Path) -> None:
    add_bob("--scopes", "me", "--disabled")
    [before] = users(db)
    time.sleep(1.0)  # so that the new cut-off second is a later one
    started = time.time()
    assert ok("users", "set-password", "bob", "--password-stdin", input="new-pw\n") == (
        "set the password of bob; the tokens issued before are refused from now on\n"
    )
    [after] = users(db)
    assert int(started) + 1 <= after.tokens_valid_after <= int(time.time()) + 1
    assert after.tokens_valid_after > before.tokens_valid_after
    assert CHEAP._check("new-pw", after.hashed_password).ok is True
    assert CHEAP._check("bob-password", after.hashed_password).ok is False
    assert (after.scopes, after.disabled, after.email) == (before.scopes, True, before.email)


def test_set_password_with_hidden_prompt(db: Path) -> None:
    add_bob()
    result = run("users", "set-password", "bob", input="pw-two\npw-two\n")
    assert result.exit_code == 0
    assert "pw-two" not in result.output
    assert result.stdout.endswith(
        "set the password of bob; the tokens issued before are refused from now on\n"
    )
    [bob] = users(db)
    assert CHEAP._check("pw-two", bob.hashed_password).ok is True


def test_revoke_cuts_off_the_tokens_issued_so_far(db: Path) -> None:
    add_bob("--scopes", "me")
    [before] = users(db)
    time.sleep(1.0)
    started = time.time()
    assert ok("users", "revoke", "bob") == "revoked the tokens of bob issued so far\n"
    [after] = users(db)
    assert int(started) + 1 <= after.tokens_valid_after <= int(time.time()) + 1
    assert after.tokens_valid_after > before.tokens_valid_after
    assert after == dataclasses.replace(before, tokens_valid_after=after.tokens_valid_after)


def test_revoke_of_a_missing_user(db: Path) -> None:
    add_bob()
    result = run("users", "revoke", "ghost")
    assert (result.exit_code, result.stderr) == (1, "error: no user named ghost\n")


def test_set_password_of_a_missing_user_fails_before_the_prompt(db: Path) -> None:
    add_bob()
    result = run("users", "set-password", "ghost", input="x\nx\n")
    assert (result.exit_code, result.stderr) == (1, "error: no user named ghost\n")
    assert "Password" not in result.output


def test_set_password_empty(db: Path) -> None:
    add_bob()
    [before] = users(db)
    assert refused("users", "set-password", "bob", "--password-stdin", input="\n") == (
        "the password is empty"
    )
    assert users(db) == [before]


def test_set_password_mismatch(db: Path) -> None:
    add_bob()
    [before] = users(db)
    result = run("users", "set-password", "bob", input="one\ntwo\n")
    assert result.exit_code == 1
    assert "Error: The two entered values do not match." in result.stdout
    assert users(db) == [before]


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


def _insert_raw(path: Path, username: str, full_name: str, email: str) -> None:
    """A row as an older version or another tool might have written it: no username check."""
    ok("demo")
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO users (username, full_name, email, hashed_password) VALUES (?, ?, ?, ?)",
            (username, full_name, email, "x"),
        )
    conn.close()


def test_users_list_escapes_what_it_prints(db: Path) -> None:
    _insert_raw(
        db,
        "mallory\u202e",
        "Mal\n│ evil │ row │",
        "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\\x41",
    )
    out = ok("users", "list")
    assert "\x1b" not in out
    assert "\u202e" not in out
    assert "mallory\\u202e" in out
    assert "Mal\\n│ evil │ row │" in out
    assert "\\x1b]8;;https://evil.example\\x07click\\x1b]8;;\\x07\\\\x41" in out
    assert sum("│" in line or "┃" in line for line in out.splitlines()) == 4  # head + 3 rows


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text, é ü 漢字", "plain text, é ü 漢字"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x1b[31m\x07\x00\x7f\x85", "\\x1b[31m\\x07\\x00\\x7f\\x85"),
        ("x\u200by\u202ez\u2028\ufeff", "x\\u200by\\u202ez\\u2028\\ufeff"),
        ("\ud800 \U000e0001 \U0010ffff", "\\ud800 \\U000e0001 \\U0010ffff"),
        ("back\\slash \\n", "back\\\\slash \\\\n"),
        ("[bold]markup[/bold]", "[bold]markup[/bold]"),
    ],
)
def test_shown(text: str, expected: str) -> None:
    assert cli.shown(text) == expected


def test_items_add_escapes_the_item(db: Path) -> None:
    add_bob()
    assert ok("items", "add", "bob", "\x1b[2Jx\ny") == "added item \\x1b[2Jx\\ny to bob\n"
    assert refused("items", "add", "bob", "\x1b[2Jx\ny") == "bob already has item \\x1b[2Jx\\ny"


def test_help_shows_no_type_noise_on_flags() -> None:
    out = runner.invoke(cli.app, ["users", "add", "--help"]).output
    flags = [
        line for line in out.splitlines() if "--disabled" in line or "--password-stdin" in line
    ]
    assert len(flags) == 2
    assert all("<bool>" not in line for line in flags)


@pytest.mark.parametrize(
    "args",
    [(), ("serve",), ("users",), ("users", "add"), ("users", "list"), ("items", "add"), ("demo",)],
)
def test_no_help_shows_bool_noise(args: tuple[str, ...]) -> None:
    result = runner.invoke(cli.app, [*args, "--help"])
    assert result.exit_code == 0
    assert "--help" in result.output
    assert "<bool>" not in result.output


def test_users_list_empty(db: Path) -> None:
    ok("demo")
    ok("users", "delete", "alice")
    ok("users", "delete", "johndoe")
    out = ok("users", "list")
    assert "username" in out
    assert "$argon2" not in out


@pytest.mark.parametrize("missing", ["arena.db", "no-such-dir/arena.db"])
def test_users_list_creates_no_database(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    path = tmp_path / missing
    monkeypatch.setenv("ARENA_DATABASE_URL", f"sqlite:///{path}")
    message = refused("users", "list")
    assert message == (
        f"no database at {path} (`scopes-arena users add` or `scopes-arena demo` creates it)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no file, no directory


def test_users_list_of_the_default_store_creates_no_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ARENA_DATABASE_URL", raising=False)
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path / "var"))
    assert refused("users", "list").startswith(f"no database at {tmp_path / 'var' / 'arena.db'}")
    assert not (tmp_path / "var").exists()


WRITES = [
    ("users", "add", "bob", "--password-stdin"),
    ("users", "set-password", "johndoe", "--password-stdin"),
    ("users", "revoke", "johndoe"),
    ("users", "disable", "johndoe"),
    ("users", "enable", "johndoe"),
    ("users", "set-scopes", "johndoe", "me"),
    ("users", "delete", "johndoe"),
    ("items", "add", "johndoe", "Baz"),
    ("demo",),
]


@pytest.mark.parametrize("args", WRITES, ids=" ".join)
def test_writes_refuse_the_memory_store(
    monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    monkeypatch.setenv("ARENA_DATABASE_URL", "memory://")
    monkeypatch.setenv("ARENA_PASSWORD_PROFILE", "cheap")
    assert refused(*args, input="pw\n") == (
        "ARENA_DATABASE_URL is memory://: the change would vanish when this command ends "
        "(use a sqlite:/// store)"
    )


def test_reads_and_serve_accept_the_memory_store(
    monkeypatch: pytest.MonkeyPatch, fake_uvicorn: FakeUvicorn
) -> None:
    monkeypatch.setenv("ARENA_DATABASE_URL", "memory://")
    monkeypatch.setenv("ARENA_SECRET_KEY", "k" * 32)
    assert "username" in ok("users", "list")
    ok("serve", "fastapi")
    assert len(fake_uvicorn.calls) == 1


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
        {"ARENA_DATABASE_URL": "postgresql://localhost/arena?bogus=1"},
        "bad PostgreSQL URL 'postgresql://localhost/arena?bogus=1': "
        'invalid URI query parameter: "bogus"',
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
    monkeypatch.setattr(server, "run", _never_serve)
    assert refused(*args) == message
    assert not db.exists()


@pytest.mark.parametrize(("env", "message"), BAD_SETTINGS)
def test_users_add_bad_settings(
    db: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert refused("users", "add", "bob", "--password-stdin", input="x\n") == message


def test_serve_runs_the_strict_profile(
    db: Path, monkeypatch: pytest.MonkeyPatch, fake_uvicorn: FakeUvicorn
) -> None:
    # It used to be refused as "not implemented yet"; now it is served like the tutorial one.
    monkeypatch.setenv("ARENA_PROFILE", "strict")
    ok("serve", "fastapi")
    assert len(fake_uvicorn.calls) == 1


def _short_key_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "secret.key").write_text("short\n")
    (tmp_path / "data" / "secret.key").chmod(0o600)


def test_serve_refuses_a_key_file_others_can_read(
    db: Path, tmp_path: Path, fake_uvicorn: FakeUvicorn
) -> None:
    key_file = tmp_path / "data" / "secret.key"
    (tmp_path / "data").mkdir()
    key_file.write_text("k" * 64 + "\n")
    key_file.chmod(0o640)
    assert refused("serve", "fastapi") == (
        f"key file {key_file} is readable by group or others (mode 0640): make it private "
        f"with chmod 600 {key_file}, or delete it to have a new one generated"
    )
    assert fake_uvicorn.calls == []


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


@pytest.mark.parametrize("args", COMMANDS[1:-1], ids=" ".join)
def test_unreachable_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: tuple[str, ...]
) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "arena.db"
    monkeypatch.setenv("ARENA_DATABASE_URL", f"sqlite:///{path}")
    message = refused(*args)
    assert message.startswith(f"the store cannot be reached: {path}: ")


def test_users_list_of_a_file_that_is_no_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "arena.db"
    path.write_bytes(b"not a database at all, but long enough to be read as one" * 20)
    path.chmod(0o600)
    monkeypatch.setenv("ARENA_DATABASE_URL", f"sqlite:///{path}")
    assert refused("users", "list") == (
        f"the store cannot be reached: {path}: file is not a database"
    )


def test_unreachable_store_for_users_add(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARENA_PASSWORD_PROFILE", "cheap")
    monkeypatch.setenv("ARENA_DATABASE_URL", f"sqlite:///{tmp_path}")  # a directory
    message = refused("users", "add", "bob", "--password-stdin", input="x\n")
    assert message == f"the store cannot be reached: {tmp_path}: unable to open database file"


# serve


def _never_serve(*args: object, **kwargs: object) -> None:
    raise AssertionError("uvicorn.run must not be called")


class FakeUvicorn:
    """core.server.run, recording the uvicorn configurations it is given."""

    def __init__(self) -> None:
        self.calls: list[server.ArenaConfig] = []

    def run(self, config: server.ArenaConfig) -> None:
        self.calls.append(config)

    def summary(self) -> list[tuple[object, ...]]:
        return [(c.app, c.host, c.port, c.workers, c.reload, c.http, c.limits) for c in self.calls]


@pytest.fixture
def fake_uvicorn(monkeypatch: pytest.MonkeyPatch) -> FakeUvicorn:
    fake = FakeUvicorn()
    monkeypatch.setattr(server, "run", fake.run)
    return fake


@pytest.mark.parametrize("impl", registry.BUILTIN)
def test_serve_defaults(db: Path, tmp_path: Path, fake_uvicorn: FakeUvicorn, impl: str) -> None:
    ok("serve", impl)
    # The key file is made before the workers start, so that they all share it.
    assert len((tmp_path / "data" / "secret.key").read_bytes()) == 65
    assert fake_uvicorn.summary() == [
        (
            f"impl_{impl}.app:app",
            "127.0.0.1",
            8000,
            1,
            False,
            server.ArenaHttpProtocol,
            server.ServerLimits(),
        )
    ]
    assert not db.exists()  # the app opens the store, not the CLI


def test_serve_options(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_uvicorn: FakeUvicorn
) -> None:
    monkeypatch.setenv("ARENA_SECRET_KEY", "k" * 32)
    monkeypatch.setenv("ARENA_MAX_HEADER_BYTES", "4096")
    monkeypatch.setenv("ARENA_MAX_HEADERS", "20")
    monkeypatch.setenv("ARENA_REQUEST_TIMEOUT", "2.5")
    monkeypatch.setenv("ARENA_KEEPALIVE_TIMEOUT", "3")
    monkeypatch.setenv("ARENA_MAX_CONNECTIONS", "9")
    ok("serve", "starlette", "--host", "localhost", "--port", "9001", "--workers", "2")
    # uvicorn logs what --reload watches: not an error, so not through ok().
    assert run("serve", "litestar", "--reload").exit_code == 0
    limits = server.ServerLimits(4096, 20, 2.5, 3, 9)
    assert fake_uvicorn.summary() == [
        ("impl_starlette.app:app", "localhost", 9001, 2, False, server.ArenaHttpProtocol, limits),
        ("impl_litestar.app:app", "127.0.0.1", 8000, 1, True, server.ArenaHttpProtocol, limits),
    ]
    assert fake_uvicorn.calls[0].timeout_keep_alive == 3
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("impl", ["bottle", "FastAPI", "", "fastapi.app"])
def test_serve_unknown_implementation(fake_uvicorn: FakeUvicorn, impl: str) -> None:
    assert refused("serve", impl) == (
        f"unknown implementation {impl!r} (choose from {', '.join(registry.IMPLEMENTATIONS)})"
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


# Arena.start's word on the store (what `scopes-arena serve` logs before the first request)

NO_USERS = (
    "the store has no users, so no login can succeed: start with ARENA_DEMO_USERS=1 for the "
    "demo users, or add one with `scopes-arena users add NAME`"
)
NOTHING_ADDED = "ARENA_DEMO_USERS=1: the store has users: added no demo users"


async def _start(tmp_path: Path, caplog: pytest.LogCaptureFixture, demo: bool) -> list[str]:
    arena = Arena(
        Settings(secret_key="k" * 32, data_dir=tmp_path, demo_users=demo, password_profile="cheap")
    )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="core.service"):
        await arena.start()
    await arena.close()
    return [r.getMessage() for r in caplog.records if r.name == "core.service"]


async def test_start_on_an_empty_store_says_how_to_fill_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert await _start(tmp_path, caplog, demo=False) == [NO_USERS]
    assert await _start(tmp_path, caplog, demo=True) == []  # the demo users went in: silent
    assert await _start(tmp_path, caplog, demo=False) == []
    assert await _start(tmp_path, caplog, demo=True) == [NOTHING_ADDED]


async def test_start_with_demo_users_on_a_store_of_other_users(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARENA_DATABASE_URL", f"sqlite:///{tmp_path / 'arena.db'}")
    monkeypatch.setenv("ARENA_PASSWORD_PROFILE", "cheap")
    await asyncio.to_thread(add_bob)
    assert await _start(tmp_path, caplog, demo=True) == [NOTHING_ADDED]
    assert [u.username for u in await asyncio.to_thread(users, tmp_path / "arena.db")] == ["bob"]


# scopes-arena serve, for real: what it says at start, and Ctrl-C


class Served:
    """A `scopes-arena serve` process and everything it writes to stderr (read by a thread, so
    that the test can wait for what the server says before it interrupts it)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        with self.process.stderr:
            for raw in self.process.stderr:
                self.lines.append(raw.decode(errors="replace"))

    def said(self, text: str) -> int:
        return sum(text in line for line in self.lines)


def _serve_until_ready(args: list[str], env: dict[str, str], port: int, workers: int = 1) -> Served:
    # A session of its own: SIGINT goes to the whole group, as a terminal's Ctrl-C does.
    process = subprocess.Popen(  # noqa: S603 (our own console script)
        [str(Path(sys.executable).with_name("scopes-arena")), *args, "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    served = Served(process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "".join(served.lines)
        # Every worker up (a Ctrl-C while a worker is still importing is another matter).
        if served.said("Application startup complete") >= workers:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/openapi.json").status_code == 200:
                    return served
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"not ready: {''.join(served.lines)}")


def _interrupt(served: Served) -> tuple[int, str]:
    os.killpg(served.process.pid, signal.SIGINT)
    served.process.wait(timeout=30)
    served._reader.join(timeout=10)
    return served.process.returncode, "".join(served.lines)


def _serve_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    return {**env, "ARENA_DATA_DIR": str(tmp_path), "ARENA_PASSWORD_PROFILE": "cheap", **extra}


@pytest.mark.live
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_says_the_store_is_empty_and_ends_quietly_on_ctrl_c(
    tmp_path: Path, workers: int
) -> None:
    process = _serve_until_ready(
        ["serve", "starlette", "--workers", str(workers)],
        _serve_env(tmp_path),
        free_port(),
        workers=workers,
    )
    code, err = _interrupt(process)
    assert code == 0, err
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err
    # Each worker starts its own Arena (the second may not be up yet when the first answers).
    assert 1 <= err.count(NO_USERS) <= workers
    assert "Finished server process" in err


@pytest.mark.live
def test_serve_with_demo_users_on_a_used_store(tmp_path: Path) -> None:
    env = _serve_env(tmp_path, ARENA_DEMO_USERS="1")
    code, err = _interrupt(_serve_until_ready(["serve", "litestar"], env, free_port()))
    assert (code, NO_USERS in err, NOTHING_ADDED in err) == (0, False, False), err
    code, err = _interrupt(_serve_until_ready(["serve", "litestar"], env, free_port()))
    assert (code, err.count(NOTHING_ADDED)) == (0, 1), err


# the store's must-exist opening (what `users list` uses)


async def test_a_store_that_must_exist_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sub dir?#" / "arena.db"
    store = open_store(f"sqlite:///{path}", create=False)
    with pytest.raises(NoSuchDatabase, match=re.escape(f"no database at {path}")):
        await store.list_users()
    await store.close()
    assert os.listdir(tmp_path) == []
    writer = open_store(f"sqlite:///{path}")
    await writer.add_user(DEMO_USERS[0])
    await writer.close()
    reader = open_store(f"sqlite:///{path}", create=False)
    assert [u.username for u in await reader.list_users()] == ["johndoe"]
    await reader.close()
    assert isinstance(open_store("memory://", create=False), MemoryStore)


# F6 (issue 20): no secret in any message, one line for any URL, command-line values escaped.

SECRET_URLS = [
    "postgresql://127.0.0.1:{port}/db?password=SECRETPW",
    "postgresql://127.0.0.1:{port}/db?sslmode=disable&pass%77ord=SECRETPW",
    "postgresql://u@127.0.0.1:{port}/db?sslpassword=SECRETPW&password=SECRET%50W",
    "postgresql://u:SECRETPW@127.0.0.1:{port}/db",
    "postgresql://u:SECRETPW@[::1/db",
    "postgresql://u:SECRETPW@127.0.0.1:{port}/db?bogus=1",
    "postgresql://u:SECRETPW@h\uff03x/db",
    "mysql://u:SECRETPW@127.0.0.1/db?password=SECRETPW",
    "host=127.0.0.1 password=SECRETPW",
]


@pytest.mark.parametrize("template", SECRET_URLS)
@pytest.mark.parametrize("args", [("users", "list"), ("db", "status")])
def test_no_password_in_any_message(
    db: Path, monkeypatch: pytest.MonkeyPatch, template: str, args: tuple[str, ...]
) -> None:
    monkeypatch.setenv("ARENA_DATABASE_URL", template.format(port=free_port()))
    monkeypatch.setenv("ARENA_DB_TIMEOUT", "1")
    said = refused(*args)  # one line, no traceback
    assert "SECRETPW" not in said
    assert "SECRETPW" not in said.replace("%50", "P")


@pytest.mark.parametrize("template", [url for url in SECRET_URLS if "{port}" not in url])
def test_serve_refuses_a_bad_url_without_its_password(
    db: Path, monkeypatch: pytest.MonkeyPatch, fake_uvicorn: FakeUvicorn, template: str
) -> None:
    monkeypatch.setenv("ARENA_DATABASE_URL", template)
    assert "SECRETPW" not in refused("serve", "fastapi")
    assert fake_uvicorn.calls == []


def test_an_unparsable_url_is_one_line(monkeypatch: pytest.MonkeyPatch, db: Path) -> None:
    monkeypatch.setenv("ARENA_DATABASE_URL", "postgresql://u:SECRETPW@[::1/db")
    assert refused("users", "list") == (
        "bad database URL: it cannot be parsed (a '[' or ']' without its pair); not shown, as "
        "it may hold a password"
    )


def test_the_query_password_is_shown_as_stars(monkeypatch: pytest.MonkeyPatch, db: Path) -> None:
    port = free_port()
    monkeypatch.setenv(
        "ARENA_DATABASE_URL", f"postgresql://127.0.0.1:{port}/db?password=SECRETPW&sslmode=disable"
    )
    monkeypatch.setenv("ARENA_DB_TIMEOUT", "1")
    shown = f"postgresql://127.0.0.1:{port}/db?password=***&sslmode=disable"
    assert refused("users", "list").startswith(f"the store cannot be reached: {shown}: ")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("users", "add", "bob", "--scopes", "me,\x1b]0;T\x07", "--password-stdin"),
            "unknown scope(s): \\x1b]0;T\\x07 (known: me, items)",
        ),
        (
            ("users", "set-scopes", "bob", "items \u202eme\\x41"),
            "unknown scope(s): \u202eme\\x41 (known: me, items)".replace(
                "\u202e", "\\u202e"
            ).replace("\\x41", "\\\\x41"),
        ),
        (
            ("serve", "\x1b[2Jfastapi"),
            "unknown implementation '\\x1b[2Jfastapi' (choose from "
            + ", ".join(registry.IMPLEMENTATIONS)
            + ")",
        ),
    ],
)
def test_values_from_the_command_line_are_escaped(
    db: Path, args: tuple[str, ...], expected: str
) -> None:
    assert refused(*args, input="pw\n") == expected


def test_a_setting_is_escaped_too(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_DATABASE_URL", "sqlite:\x1b]0;T\x07")
    said = refused("users", "list")
    assert "\x1b" not in said
    assert "\x07" not in said


def test_set_password_moves_a_late_cut_off_past_its_commit(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # F2's residual window: the change committed in a later second than its cut-off was taken
    # in (a busy store); a login that read the record before the commit issues its token at a
    # time before the commit, so the cut-off must reach past the commit.
    add_bob()
    epochs = iter([1000, 2000])
    monkeypatch.setattr(cli, "next_token_epoch", lambda: next(epochs))
    ok("users", "set-password", "bob", "--password-stdin", input="new-password\n")
    [bob] = users(db)
    assert bob.tokens_valid_after == 2000
    assert CHEAP._check("new-password", bob.hashed_password).ok is True
    epochs = iter([3000, 3000])  # the same second: one change
    ok("users", "revoke", "bob")
    assert users(db)[0].tokens_valid_after == 3000
