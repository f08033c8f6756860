"""F2 (issue 20): a login in flight while its user's record changes (`users set-password`,
`revoke`, `delete` then `add`) gets no token that the change should have cut off.

Deterministic: the password check is held open (a hasher whose verify waits on an event, in
place of pwdlib's), the record is changed through the CLI on the real SQLite store, and only
then is the check let go.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from typer.testing import CliRunner

from core import cli
from core.errors import InvalidCredentials, InvalidToken, LoginBusy
from core.forms import TokenRequest
from core.passwords import PasswordService
from core.service import Arena
from core.settings import Settings
from core.stores import MemoryStore
from core.users import DEMO_USERS, User

KEY = "r" * 32
CHEAP = PasswordService("cheap")
BOB_HASH = CHEAP.hash_sync("bob-password")
BOB = User("bob", BOB_HASH, None, None, False, ("me",))
runner = CliRunner()


class HeldHasher:
    """pwdlib's PasswordHash, except that a verify waits for `release` while `hold` is set."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.hashers = real.hashers
        self.hold = True
        self.entered = threading.Event()
        self.release = threading.Event()
        self.checked: list[str] = []

    def hash(self, password: str) -> str:
        return str(self.real.hash(password))

    def verify_and_update(self, password: str, hashed: str) -> tuple[bool, str | None]:
        self.checked.append(hashed)
        if self.hold:
            self.hold = False
            self.entered.set()
            assert self.release.wait(10), "the test never released the check"
        result: tuple[bool, str | None] = self.real.verify_and_update(password, hashed)
        return result


@pytest.fixture
async def arena(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Arena]:
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    monkeypatch.setenv("ARENA_DATABASE_URL", url)  # for the CLI
    monkeypatch.setenv("ARENA_PASSWORD_PROFILE", "cheap")
    made = Arena(Settings(secret_key=KEY, database_url=url, password_profile="cheap"))  # type: ignore[arg-type]
    await (await made.store()).add_user(BOB)
    try:
        yield made
    finally:
        await made.close()


def cli_run(*args: str, input: str | None = None) -> None:
    result = runner.invoke(cli.app, list(args), input=input)
    assert result.exit_code == 0, result.output


async def change(*args: str, input: str | None = None) -> None:
    """A CLI command, run to completion (in a thread: the CLI runs its own event loop)."""
    await asyncio.to_thread(cli_run, *args, input=input)


async def held_login(
    arena: Arena, username: str, password: str
) -> tuple[asyncio.Task[Any], HeldHasher]:
    """A login whose password check has begun and waits for `release`."""
    held = HeldHasher(arena.passwords._hasher)
    arena.passwords._hasher = held  # type: ignore[assignment]
    task = asyncio.create_task(arena.login(TokenRequest(username, password, "me")))
    assert await asyncio.to_thread(held.entered.wait, 10)
    return task, held


async def after_cut_off(arena: Arena, username: str) -> None:
    """Wait until the user's cut-off second has passed: a token issued now, from whatever
    check, would pass H13's `iat` rule alone."""
    user = await (await arena.store()).get_user(username)
    assert user is not None
    while (wait := user.tokens_valid_after - time.time()) > 0:  # noqa: ASYNC110
        await asyncio.sleep(wait)


async def assert_no_working_token(arena: Arena, task: asyncio.Task[Any]) -> None:
    """The login is refused, or its token opens nothing."""
    try:
        body = await task
    except InvalidCredentials:
        return
    with pytest.raises(InvalidToken):
        await arena.authenticate_token(body["access_token"], ("me",))


async def test_a_login_in_flight_across_set_password_gets_no_working_token(arena: Arena) -> None:
    task, held = await held_login(arena, "bob", "bob-password")
    await change("users", "set-password", "bob", "--password-stdin", input="new-password\n")
    await after_cut_off(arena, "bob")
    held.release.set()
    await assert_no_working_token(arena, task)
    # The new password works, the old one does not.
    body = await arena.login(TokenRequest("bob", "new-password", "me"))
    assert (await arena.authenticate_token(body["access_token"], ("me",))).username == "bob"
    with pytest.raises(InvalidCredentials):
        await arena.login(TokenRequest("bob", "bob-password", "me"))


async def test_a_login_in_flight_across_delete_and_add_gets_no_working_token(arena: Arena) -> None:
    task, held = await held_login(arena, "bob", "bob-password")
    await change("users", "delete", "bob")
    await change("users", "add", "bob", "--password-stdin", input="other-password\n")
    await after_cut_off(arena, "bob")
    held.release.set()
    await assert_no_working_token(arena, task)


async def test_a_login_in_flight_across_delete_is_refused(arena: Arena) -> None:
    task, held = await held_login(arena, "bob", "bob-password")
    await change("users", "delete", "bob")
    held.release.set()
    with pytest.raises(InvalidCredentials):
        await task


async def test_a_re_added_account_with_the_same_password_is_checked_again(arena: Arena) -> None:
    # The password does open the account as it stands when the token is issued: checked against
    # the new record's hash, not the deleted one's.
    task, held = await held_login(arena, "bob", "bob-password")
    await change("users", "delete", "bob")
    await change("users", "add", "bob", "--password-stdin", input="bob-password\n")
    held.release.set()
    body = await task
    new = await (await arena.store()).get_user("bob")
    assert new is not None
    assert held.checked == [BOB_HASH, new.hashed_password]
    assert (await arena.authenticate_token(body["access_token"], ("me",))).username == "bob"
    assert jwt.decode(body["access_token"], KEY, ["HS256"])["iat"] >= new.tokens_valid_after


async def test_a_login_in_flight_across_revoke_gets_a_token_of_the_new_generation(
    arena: Arena,
) -> None:
    # The password still holds; the token must not be one that the revoke cuts off (a 200 with
    # a dead token): the login waits for the new cut-off.
    task, held = await held_login(arena, "bob", "bob-password")
    await change("users", "revoke", "bob")
    held.release.set()
    body = await task
    new = await (await arena.store()).get_user("bob")
    assert new is not None
    assert jwt.decode(body["access_token"], KEY, ["HS256"])["iat"] >= new.tokens_valid_after
    assert (await arena.authenticate_token(body["access_token"], ("me",))).username == "bob"


async def test_a_rehash_never_brings_back_a_password_changed_meanwhile(arena: Arena) -> None:
    # johndoe's hash has the recommended cost: a login with "secret" rehashes it (cheap here).
    store = await arena.store()
    await store.add_user(DEMO_USERS[0])
    task, held = await held_login(arena, "johndoe", "secret")
    await change("users", "set-password", "johndoe", "--password-stdin", input="new-secret\n")
    held.release.set()
    await assert_no_working_token(arena, task)
    stored = await store.get_user("johndoe")
    assert stored is not None
    assert CHEAP._check("new-secret", stored.hashed_password).ok is True
    assert CHEAP._check("secret", stored.hashed_password).ok is False


class ChurningStore(MemoryStore):
    """bob's password stays the same, but every read finds it hashed anew."""

    def __init__(self) -> None:
        super().__init__()
        self.hashes = iter([CHEAP.hash_sync("bob-password") for _ in range(8)])

    async def get_user(self, username: str) -> User | None:
        user = await super().get_user(username)
        return (
            None if user is None else dataclasses.replace(user, hashed_password=next(self.hashes))
        )


async def test_a_record_that_keeps_changing_under_the_checks_is_busy_not_a_token() -> None:
    arena = Arena(Settings(secret_key=KEY, database_url="memory://", password_profile="cheap"))  # type: ignore[arg-type]
    store = ChurningStore()
    await store.add_user(BOB)
    arena._store = store
    try:
        with pytest.raises(LoginBusy):
            await arena.login(TokenRequest("bob", "bob-password", "me"))
    finally:
        await arena.close()
