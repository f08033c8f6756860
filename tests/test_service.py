"""The use cases: login (H1, H3, rehash), authenticate in CONTRACT.md's order, the demo seed,
and H10 (nothing opened before first use)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest

from core.credentials import Credentials, bearer_token
from core.errors import (
    InactiveUser,
    InsufficientScope,
    InvalidCredentials,
    InvalidToken,
    LoginBusy,
    NotAuthenticated,
    StoreUnavailable,
)
from core.forms import TokenRequest
from core.passwords import PasswordService
from core.profiles import ErrorResponse
from core.service import TOKEN_HEADERS, Arena, seed_demo
from core.settings import Settings
from core.stores import MemoryStore
from core.users import DEMO_USERS, Item, User, next_token_epoch

KEY = "s" * 32
CHEAP = PasswordService("cheap")
# Hashed once for the whole module.
BOB_HASH = CHEAP.hash_sync("bob-password")
BOB = User("bob", BOB_HASH, "bob@example.com", "Bob B", False, ("me",))
DORA = User("dora", BOB_HASH, None, None, True, ("me", "items"))


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "secret_key": KEY,
        "database_url": "memory://",
        "password_profile": "cheap",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def arena() -> AsyncIterator[Arena]:
    made = Arena(settings())
    store = await made.store()
    await store.add_user(BOB)
    await store.add_user(DORA)
    await store.add_item(Item("b", "bob"))
    await store.add_item(Item("a", "bob"))
    try:
        yield made
    finally:
        await made.close()


def token_for(arena: Arena, subject: str, scopes: tuple[str, ...]) -> str:
    return arena.tokens.issue(subject, scopes).access_token


@pytest.mark.parametrize(
    ("requested", "granted"),
    [
        ("", ""),
        ("me", "me"),
        ("items me", "me"),  # items not allowed for bob: dropped (H1)
        ("admin me me", "me"),
        ("ME", ""),
    ],
)
async def test_login_grants_requested_known_and_allowed(
    arena: Arena, requested: str, granted: str
) -> None:
    body = await arena.login(TokenRequest("bob", "bob-password", requested))
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("bearer", 1800, granted)
    claims = jwt.decode(body["access_token"], KEY, algorithms=["HS256"])
    assert (claims["sub"], claims["scope"]) == ("bob", granted)


async def test_login_keeps_requested_order(arena: Arena) -> None:
    body = await arena.login(TokenRequest("dora", "bob-password", "items me"))
    assert body["scope"] == "items me"


async def test_disabled_user_can_log_in(arena: Arena) -> None:
    body = await arena.login(TokenRequest("dora", "bob-password", "me"))
    user = await arena.authenticate_token(body["access_token"], ("me",))
    assert user == DORA
    with pytest.raises(InactiveUser):
        await arena.authenticate_token(body["access_token"], ("me",), active=True)


@pytest.mark.parametrize(
    ("username", "password"),
    [("nobody", "bob-password"), ("bob", "wrong"), ("bob", ""), ("Bob", "bob-password")],
)
async def test_login_refused(arena: Arena, username: str, password: str) -> None:
    with pytest.raises(InvalidCredentials):
        await arena.login(TokenRequest(username, password, "me"))
    assert arena.render(InvalidCredentials()) == ErrorResponse(
        400, {"detail": "Incorrect username or password"}
    )


async def test_login_rehashes_and_persists() -> None:
    arena = Arena(settings())
    store = await arena.store()
    await store.add_user(DEMO_USERS[0])  # the tutorial's recommended-cost hash of "secret"
    body = await arena.login(TokenRequest("johndoe", "secret", "me items"))
    assert body["scope"] == "me items"
    stored = await store.get_user("johndoe")
    assert stored is not None
    assert stored.hashed_password.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert stored == dataclasses.replace(DEMO_USERS[0], hashed_password=stored.hashed_password)
    # The new hash is the one checked from now on.
    assert (await arena.passwords.verify("secret", stored.hashed_password)).ok is True
    await arena.login(TokenRequest("johndoe", "secret"))
    assert await store.get_user("johndoe") == stored


async def test_no_rehash_when_current(arena: Arena) -> None:
    await arena.login(TokenRequest("bob", "bob-password"))
    assert await (await arena.store()).get_user("bob") == BOB


# authenticate, in CONTRACT.md's order.


async def test_authenticate_ok(arena: Arena) -> None:
    token = token_for(arena, "bob", ("me",))
    assert await arena.authenticate_token(token, ("me",), active=True) == BOB
    assert await arena.authenticate_token(token) == BOB
    assert await arena.authenticate_token(token, []) == BOB


@pytest.mark.parametrize("required", [(), ("me",), ("items", "me")])
async def test_no_token_is_not_authenticated(arena: Arena, required: tuple[str, ...]) -> None:
    with pytest.raises(NotAuthenticated) as caught:
        await arena.authenticate_token(None, required, active=True)
    assert caught.value.required == required
    assert arena.render(caught.value) == ErrorResponse(
        401, {"detail": "Not authenticated"}, {"WWW-Authenticate": "Bearer"}
    )


@pytest.mark.parametrize(
    ("required", "challenge"),
    [((), "Bearer"), (("me",), 'Bearer scope="me"'), (("items", "me"), 'Bearer scope="items me"')],
)
@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
async def test_bad_token_is_invalid_with_required_scopes(
    arena: Arena, token: str, required: tuple[str, ...], challenge: str
) -> None:
    with pytest.raises(InvalidToken) as caught:
        await arena.authenticate_token(token, required)
    assert caught.value.required == required
    assert caught.value.reason
    assert caught.value.__cause__ is None  # the PyJWT chain stays inside the core
    assert arena.render(caught.value) == ErrorResponse(
        401, {"detail": "Could not validate credentials"}, {"WWW-Authenticate": challenge}
    )


async def test_token_from_another_key_is_invalid(arena: Arena) -> None:
    other = Arena(settings(secret_key="o" * 32))
    with pytest.raises(InvalidToken):
        await arena.authenticate_token(token_for(other, "bob", ("me",)), ("me",))


async def test_unknown_subject_is_invalid_token(arena: Arena) -> None:
    token = token_for(arena, "ghost", ("me", "items"))
    with pytest.raises(InvalidToken) as caught:
        await arena.authenticate_token(token, ("items", "me"))
    assert (caught.value.required, caught.value.reason) == (("items", "me"), "unknown user")


async def test_deleted_user_token_is_invalid(arena: Arena) -> None:
    token = token_for(arena, "bob", ("me",))
    await (await arena.store()).delete_user("bob")
    with pytest.raises(InvalidToken):
        await arena.authenticate_token(token, ("me",))


@pytest.mark.parametrize(
    ("granted", "required"),
    [((), ("me",)), (("me",), ("items", "me")), (("items",), ("items", "me"))],
)
async def test_missing_scope(
    arena: Arena, granted: tuple[str, ...], required: tuple[str, ...]
) -> None:
    # The disabled user too: the scope check comes before the active check.
    token = token_for(arena, "dora", granted)
    with pytest.raises(InsufficientScope) as caught:
        await arena.authenticate_token(token, required, active=True)
    assert caught.value.required == required
    assert arena.render(caught.value) == ErrorResponse(
        401,
        {"detail": "Not enough permissions"},
        {"WWW-Authenticate": f'Bearer scope="{" ".join(required)}"'},
    )


async def test_scope_names_are_case_sensitive(arena: Arena) -> None:
    token = arena.tokens.issue("bob", ("ME",)).access_token
    with pytest.raises(InsufficientScope):
        await arena.authenticate_token(token, ("me",))


async def test_inactive_user_only_when_asked(arena: Arena) -> None:
    token = token_for(arena, "dora", ("me", "items"))
    assert await arena.authenticate_token(token, ("items", "me")) == DORA
    with pytest.raises(InactiveUser) as caught:
        await arena.authenticate_token(token, ("items", "me"), active=True)
    assert arena.render(caught.value) == ErrorResponse(400, {"detail": "Inactive user"})
    with pytest.raises(InactiveUser):
        arena.require_active(DORA)
    assert arena.require_active(BOB) == BOB


async def test_items(arena: Arena) -> None:
    assert await arena.items(BOB) == [
        {"item_id": "a", "owner": "bob"},
        {"item_id": "b", "owner": "bob"},
    ]
    assert await arena.items(DORA) == []


def test_render_unknown_exception_is_500() -> None:
    arena = Arena(settings())
    assert arena.render(RuntimeError("secret detail")) == ErrorResponse(
        500, {"detail": "Internal Server Error"}
    )
    assert arena.render(StoreUnavailable()) == ErrorResponse(
        503, {"detail": "Service Unavailable"}, {"Retry-After": "5"}
    )


def test_token_headers() -> None:
    assert TOKEN_HEADERS == {"Cache-Control": "no-store", "Pragma": "no-cache"}


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("", None),
        ("Basic dXNlcjpwdw==", None),
        ("Bearerx abc", None),
        ("Token abc", None),
        (" Bearer abc", None),
        ("bearer abc", "abc"),
        ("BEARER abc", "abc"),
        ("Bearer abc", "abc"),
        # As FastAPI's OAuth2PasswordBearer reads it: the rest after the first space, stripped.
        ("Bearer", ""),
        ("Bearer ", ""),
        ("Bearer a b", "a b"),
        ("Bearer  abc ", "abc"),
        ("Bearer\tabc", None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


async def test_empty_bearer_token_is_invalid_not_missing(arena: Arena) -> None:
    with pytest.raises(InvalidToken):
        await arena.authenticate_token(bearer_token("Bearer "), ("me",))


# The demo seed.


async def test_seed_demo_into_an_empty_store() -> None:
    store = MemoryStore()
    assert await seed_demo(store) is True
    assert await store.list_users() == sorted(DEMO_USERS, key=lambda user: user.username)
    assert await store.items_for("johndoe") == [Item("Foo", "johndoe")]
    assert await store.items_for("alice") == [Item("Foo", "alice")]
    assert await seed_demo(store) is False


async def test_seed_demo_leaves_a_used_store_alone() -> None:
    store = MemoryStore()
    await store.add_user(BOB)
    assert await seed_demo(store) is False
    assert await store.list_users() == [BOB]


async def test_arena_seeds_when_asked() -> None:
    arena = Arena(settings(demo_users=True))
    body = await arena.login(TokenRequest("johndoe", "secret", "me items"))
    user = await arena.authenticate_token(body["access_token"], ("items", "me"), active=True)
    assert user.username == "johndoe"
    assert await arena.items(user) == [{"item_id": "Foo", "owner": "johndoe"}]
    assert await arena.store() is await arena.store()


async def test_concurrent_first_requests_seed_once(tmp_path: Path) -> None:
    # SQLite awaits a worker thread, so the second caller really waits on the seeding lock.
    arena = Arena(settings(database_url=f"sqlite:///{tmp_path}/arena.db", demo_users=True))
    try:
        stores = await asyncio.gather(*(arena.store() for _ in range(3)))
        assert len({id(store) for store in stores}) == 1
        assert [user.username for user in await stores[0].list_users()] == ["alice", "johndoe"]
    finally:
        await arena.close()


async def test_arena_does_not_seed_by_default() -> None:
    arena = Arena(settings())
    assert await (await arena.store()).is_empty() is True


# H10: nothing opened before first use.


async def test_construction_creates_no_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    arena = Arena(Settings(data_dir=data_dir, password_profile="cheap", demo_users=True))
    try:
        assert not data_dir.exists()
        assert arena.settings.effective_database_url == f"sqlite:///{data_dir}/arena.db"
        with pytest.raises(InvalidCredentials):
            await arena.login(TokenRequest("johndoe", "wrong"))
        # The first login reads the key (H12 keys its username counters with it) and the store.
        assert sorted(path.name for path in data_dir.iterdir()) == [
            "arena.db",
            "arena.db-shm",
            "arena.db-wal",
            "secret.key",
        ]
        body = await arena.login(TokenRequest("johndoe", "secret", "me"))
        assert (data_dir / "secret.key").exists()
        key = (data_dir / "secret.key").read_bytes().strip()
        assert jwt.decode(body["access_token"], key, algorithms=["HS256"])["sub"] == "johndoe"
    finally:
        await arena.close()


def test_arena_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ARENA_ACCESS_TOKEN_EXPIRE_MINUTES", "2")
    arena = Arena()
    assert arena.settings.data_dir == tmp_path
    assert arena.tokens.lifetime_seconds == 120
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("credentials", "outcome"),
    [
        pytest.param(Credentials(), NotAuthenticated, id="no-header"),
        pytest.param(Credentials.of(["Basic abc"]), NotAuthenticated, id="other-scheme"),
        pytest.param(Credentials.of(["Bearer "]), InvalidToken, id="empty-token"),
        # The tutorial reads the first header, as FastAPI's request.headers.get() does.
        pytest.param(Credentials.of(["Basic abc", "Bearer {token}"]), NotAuthenticated, id="2nd"),
        pytest.param(Credentials.of(["Bearer {token}", "Basic abc"]), None, id="first"),
        # A token in the query is not read by the tutorial profile.
        pytest.param(Credentials.of([], "access_token=x"), NotAuthenticated, id="query-only"),
    ],
)
async def test_authenticate_reads_credentials_through_the_profile(
    arena: Arena, credentials: Credentials, outcome: type[Exception] | None
) -> None:
    body = await arena.login(TokenRequest("bob", "bob-password", "me"))
    filled = Credentials(
        tuple(value.format(token=body["access_token"]) for value in credentials.authorization),
        credentials.query_string,
    )
    if outcome is None:
        user = await arena.authenticate(filled, ("me",))
        assert user == BOB
    else:
        with pytest.raises(outcome) as caught:
            await arena.authenticate(filled, ("me",))
        assert caught.value.required == ("me",)  # type: ignore[attr-defined]


# H13: tokens follow the user.


def fresh_arena(**overrides: object) -> Arena:
    return Arena(settings(user_cache_ttl=0, **overrides))


async def test_effective_scopes_are_the_tokens_and_the_users() -> None:
    arena = fresh_arena()
    store = await arena.store()
    await store.add_user(dataclasses.replace(BOB, scopes=("me", "items")))
    token = token_for(arena, "bob", ("me", "items"))
    assert (await arena.authenticate_token(token, ("items", "me"))).username == "bob"
    await store.update_user("bob", scopes=("me",))  # `users set-scopes bob me`
    with pytest.raises(InsufficientScope) as caught:
        await arena.authenticate_token(token, ("items", "me"))
    assert caught.value.required == ("items", "me")
    assert (await arena.authenticate_token(token, ("me",))).username == "bob"


async def test_a_recreated_account_refuses_the_old_accounts_tokens() -> None:
    arena = fresh_arena()
    store = await arena.store()
    await store.add_user(BOB)
    old = token_for(arena, "bob", ("me",))
    await store.delete_user("bob")
    await store.add_user(dataclasses.replace(BOB, tokens_valid_after=next_token_epoch()))
    with pytest.raises(InvalidToken) as caught:
        await arena.authenticate_token(old, ("me",))
    assert caught.value.required == ("me",)
    # The new account's own login waits for the cut-off second to pass, then works.
    body = await arena.login(TokenRequest("bob", "bob-password", "me"))
    assert (await arena.authenticate_token(body["access_token"], ("me",))).username == "bob"


async def test_revoked_tokens_are_refused_and_new_ones_work() -> None:
    arena = fresh_arena()
    store = await arena.store()
    await store.add_user(BOB)
    before = (await arena.login(TokenRequest("bob", "bob-password", "me")))["access_token"]
    await store.update_user("bob", tokens_valid_after=next_token_epoch())  # `users revoke bob`
    with pytest.raises(InvalidToken):
        await arena.authenticate_token(before)
    after = (await arena.login(TokenRequest("bob", "bob-password", "me")))["access_token"]
    assert (await arena.authenticate_token(after, ("me",))).username == "bob"
    claims = jwt.decode(after, KEY, algorithms=["HS256"])
    stored = await store.get_user("bob")
    assert stored is not None
    assert claims["iat"] >= stored.tokens_valid_after


async def test_a_token_without_iat_is_refused_once_the_user_has_a_cut_off() -> None:
    arena = fresh_arena()
    store = await arena.store()
    await store.add_user(BOB)
    no_iat = jwt.encode({"sub": "bob", "scope": "me", "exp": time.time() + 60}, KEY, "HS256")
    assert (await arena.authenticate_token(no_iat, ("me",))).username == "bob"
    await store.update_user("bob", tokens_valid_after=next_token_epoch())
    with pytest.raises(InvalidToken):
        await arena.authenticate_token(no_iat, ("me",))


def test_next_token_epoch_is_the_next_whole_second() -> None:
    assert next_token_epoch(1000.0) == 1001
    assert next_token_epoch(1000.99) == 1001


# The user cache: reads within the TTL do not reach the store; changes are seen after it.


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get_user(self, username: str) -> User | None:
        self.reads += 1
        return await super().get_user(username)

    async def items_for(self, owner: str) -> list[Item]:
        self.reads += 1
        return await super().items_for(owner)


async def cached_arena(ttl: float) -> tuple[Arena, CountingStore]:
    arena = Arena(settings(user_cache_ttl=ttl))
    store = CountingStore()
    arena._store = store
    await store.add_user(BOB)
    await store.add_item(Item("a", "bob"))
    return arena, store


async def test_reads_within_the_ttl_make_no_store_query() -> None:
    arena, store = await cached_arena(60)
    token = token_for(arena, "bob", ("me",))
    for _ in range(20):
        user = await arena.authenticate_token(token, ("me",), active=True)
        assert await arena.items(user) == [{"item_id": "a", "owner": "bob"}]
    assert store.reads == 2  # one user read, one items read


async def test_a_disabled_user_is_refused_once_the_ttl_has_passed() -> None:
    arena, store = await cached_arena(0.2)
    token = token_for(arena, "bob", ("me",))
    await arena.authenticate_token(token, ("me",), active=True)
    await store.update_user("bob", disabled=True)
    await asyncio.sleep(0.25)
    with pytest.raises(InactiveUser):
        await arena.authenticate_token(token, ("me",), active=True)
    await store.delete_user("bob")
    await asyncio.sleep(0.25)
    with pytest.raises(InvalidToken):
        await arena.authenticate_token(token, ("me",))


async def test_ttl_zero_reads_the_store_every_time() -> None:
    arena, store = await cached_arena(0)
    token = token_for(arena, "bob", ("me",))
    for _ in range(3):
        await arena.authenticate_token(token, ("me",))
    assert store.reads == 3


async def test_logins_always_read_the_store() -> None:
    arena, store = await cached_arena(60)
    await arena.login(TokenRequest("bob", "bob-password", "me"))
    await store.update_user("bob", disabled=True, scopes=())
    body = await arena.login(TokenRequest("bob", "bob-password", "me"))
    assert body["scope"] == ""  # the change is seen at once, not after the TTL


async def test_a_full_login_queue_is_503_with_retry_after() -> None:
    arena = Arena(settings(login_queue=0, password_workers=1))
    store = await arena.store()
    await store.add_user(BOB)
    results = await asyncio.gather(
        *(arena.login(TokenRequest("bob", "bob-password")) for _ in range(3)),
        return_exceptions=True,
    )
    busy = [result for result in results if isinstance(result, LoginBusy)]
    assert len(busy) == 2
    assert sum(isinstance(result, dict) for result in results) == 1
    assert arena.render(busy[0]) == ErrorResponse(
        503, {"detail": "Service Unavailable"}, {"Retry-After": "5"}
    )
    await arena.close()
