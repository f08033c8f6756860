"""USER: tokens follow the user (CONTRACT.md H13) and the login queue (H11).

These checks change users while a token is out, as an operator does with the CLI: they run
in-process, on an instance built with a SQLite file that a second connection (the CLI's way in)
changes underneath it. A live target has no such door; they are skipped there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from conformance.checks import MUST, check
from conformance.conftest import Target
from conformance.support import (
    ITEMS,
    STATUS,
    USERS_ME,
    asgi_client,
    assert_error,
    bearer,
    build_app,
    describe,
    login,
    skip_if_live,
    token_for,
)
from core.settings import Settings
from core.stores import UserStore, open_store
from core.users import DEMO_USERS, next_token_epoch

INVALID = "Could not validate credentials"
JOHNDOE = DEMO_USERS[0]


@dataclasses.dataclass
class Instance:
    client: httpx.AsyncClient
    #: The same database through another connection: what `scopes-arena users ...` changes.
    store: UserStore


@pytest.fixture
async def instance(
    request: pytest.FixtureRequest, target: Target, tmp_path: Path
) -> AsyncIterator[Instance]:
    skip_if_live(target, "changes users in the target's store while its tokens are out")
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    ttl = getattr(request, "param", 0.0)
    settings = Settings(
        secret_key=SecretStr(target.secret_key),
        database_url=url,
        demo_users=True,
        password_profile="cheap",
        user_cache_ttl=ttl,
    )
    store = open_store(url)
    async with asgi_client(build_app(request.config, target.name, settings)) as client:
        # The first request seeds the demo users.
        assert (await client.get(STATUS)).status_code == 401
        try:
            yield Instance(client, store)
        finally:
            await store.close()


@check("USER-001", MUST, "CONTRACT H13", "a token's scopes shrink with the user's")
async def test_scopes_follow_the_user(instance: Instance) -> None:
    token = await token_for(instance.client, "johndoe", "me items")
    assert (await instance.client.get(ITEMS, headers=bearer(token))).status_code == 200
    await instance.store.update_user("johndoe", scopes=("me",))  # users set-scopes johndoe me
    response = await instance.client.get(ITEMS, headers=bearer(token))
    assert_error(response, 401, "Not enough permissions", 'Bearer scope="items me"')
    response = await instance.client.get(USERS_ME, headers=bearer(token))
    assert response.status_code == 200, f"expected 200, got {describe(response)}"


@check(
    "USER-002",
    MUST,
    "CONTRACT H13",
    "a token of an earlier account of the same name opens nothing",
)
async def test_recreated_account(instance: Instance) -> None:
    token = await token_for(instance.client, "johndoe", "me items")
    await instance.store.delete_user("johndoe")  # users delete johndoe; users add johndoe
    await instance.store.add_user(
        dataclasses.replace(JOHNDOE, tokens_valid_after=next_token_epoch())
    )
    for path, challenge in ((USERS_ME, 'Bearer scope="me"'), (STATUS, "Bearer")):
        response = await instance.client.get(path, headers=bearer(token))
        assert_error(response, 401, INVALID, challenge)
    fresh = await token_for(instance.client, "johndoe", "me")
    response = await instance.client.get(USERS_ME, headers=bearer(fresh))
    assert response.status_code == 200, f"expected 200, got {describe(response)}"


@check(
    "USER-003",
    MUST,
    "CONTRACT H13",
    "after a revocation or a password change, earlier tokens are refused, new ones work",
)
@pytest.mark.parametrize("change", ["revoke", "set-password"])
async def test_revoked(instance: Instance, change: str) -> None:
    token = await token_for(instance.client, "johndoe", "me items")
    if change == "revoke":
        await instance.store.update_user("johndoe", tokens_valid_after=next_token_epoch())
    else:  # the new password's hash, as `users set-password` writes it
        alice_hash = DEMO_USERS[1].hashed_password  # the hash of "secretalice"
        await instance.store.update_user(
            "johndoe", hashed_password=alice_hash, tokens_valid_after=next_token_epoch()
        )
    response = await instance.client.get(ITEMS, headers=bearer(token))
    assert_error(response, 401, INVALID, 'Bearer scope="items me"')
    password = "secret" if change == "revoke" else "secretalice"
    started = time.monotonic()
    response = await login(instance.client, "johndoe", password, "me items")
    assert response.status_code == 200, f"expected 200, got {describe(response)}"
    assert time.monotonic() - started < 2.5  # waits at most for the cut-off second to end
    fresh = response.json()["access_token"]
    assert (await instance.client.get(ITEMS, headers=bearer(fresh))).status_code == 200


@pytest.mark.parametrize("instance", [0.5], indirect=True, ids=["ttl-0.5s"])
@check(
    "USER-004",
    MUST,
    "CONTRACT H13, Settings (user cache)",
    "a user disabled or deleted is refused within the user cache's lifetime",
)
async def test_disable_and_delete_propagate(instance: Instance) -> None:
    token = await token_for(instance.client, "johndoe", "me items")
    assert (await instance.client.get(USERS_ME, headers=bearer(token))).status_code == 200
    await instance.store.update_user("johndoe", disabled=True)
    await asyncio.sleep(0.6)
    assert_error(await instance.client.get(USERS_ME, headers=bearer(token)), 400, "Inactive user")
    await instance.store.delete_user("johndoe")
    await asyncio.sleep(0.6)
    response = await instance.client.get(STATUS, headers=bearer(token))
    assert_error(response, 401, INVALID, "Bearer")


@check(
    "USER-005",
    MUST,
    "CONTRACT H11",
    "a full login queue answers 503 with Retry-After at once; reads go on",
)
async def test_login_queue(request: pytest.FixtureRequest, target: Target) -> None:
    skip_if_live(target, "builds an instance with a login queue of 0 and one hashing thread")
    settings = Settings(
        secret_key=SecretStr(target.secret_key),
        database_url="memory://",
        demo_users=True,
        password_profile="recommended",
        password_workers=1,
        login_queue=0,
    )
    async with asgi_client(build_app(request.config, target.name, settings)) as client:
        headers = bearer(target.mint("johndoe", ()))
        assert (await client.get(STATUS, headers=headers)).status_code == 200
        first = asyncio.create_task(login(client, "johndoe", "wrong"))
        await asyncio.sleep(0.02)  # the first check now holds the only thread
        started = time.perf_counter()
        busy = await login(client, "johndoe", "secret")
        busy_time = time.perf_counter() - started
        read = await client.get(STATUS, headers=headers)
        assert_error(busy, 503, "Service Unavailable")
        assert busy.headers.get("retry-after", "").isdigit(), busy.headers
        assert "access_token" not in busy.text
        assert read.status_code == 200, read.text
        assert (await first).status_code == 400
        assert busy_time < 0.1, busy_time  # at once: no argon2 run, no queueing
