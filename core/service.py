"""The use cases: login, authenticate, the items query. The composition root of the core.

An adapter builds one `Arena` per app and calls it; every decision is made here.
Nothing is opened at construction (H10): the store and the key are reached on first use.

The authentication path is built to cost a few microseconds on a warm cache: verified tokens
come from the token service's LRU cache, users and their items from a short-lived cache
(`ARENA_USER_CACHE_TTL`), so a read makes no store query and no HMAC while both are warm.
What the caches cost in propagation: a user disabled, deleted or changed in the store (by the
CLI, or by another instance) is seen by this instance within the TTL. Logins always read the
store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import Any

from core import usernames
from core.cache import TTLCache
from core.credentials import Credentials
from core.errors import (
    ArenaError,
    InactiveUser,
    InsufficientScope,
    InternalError,
    InvalidCredentials,
    InvalidToken,
    LoginBusy,
    NotAuthenticated,
    StoreUnavailable,
)
from core.forms import TokenRequest
from core.passwords import PasswordService
from core.profiles import ErrorResponse, Profile, get_profile
from core.ratelimit import LoginLimiter, Peer
from core.settings import Settings
from core.stores import UserStore, open_store
from core.tokens import TokenService
from core.users import DEMO_ITEMS, DEMO_USERS, User

logger = logging.getLogger(__name__)

#: Headers every successful /token answer carries (RFC 6749 §5.1).
TOKEN_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}
#: Password checks a login may repeat when the user's record changes under it (F2).
MAX_RECHECKS = 2


class Arena:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else Settings()
        self.profile: Profile = get_profile(self.settings.profile)
        settings = self.settings
        self.passwords = PasswordService(
            settings.password_profile,
            workers=settings.password_workers,
            queue=settings.login_queue,
            nice=settings.password_nice,
        )
        # The profile's tokens (tutorial: core.tokens.TokenService; strict: RFC 9068's), and
        # what the adapters document for it.
        self.tokens: TokenService = self.profile.token_service(settings)
        self.answers = self.profile.answers
        self._refuses_disabled = self.profile.refuses_disabled
        self._reads_body = self.profile.reads_body
        self._users: TTLCache[str, User | None] = TTLCache(
            settings.user_cache_ttl, settings.user_cache_size
        )
        self._items: TTLCache[str, list[dict[str, str]]] = TTLCache(
            settings.user_cache_ttl, settings.user_cache_size
        )
        self._store = open_store(
            settings.effective_database_url,
            pool_size=settings.db_pool_size,
            timeout=settings.db_timeout,
        )
        # H12: counters keyed with a sub-key of the token key, read on first use (H10).
        self.limiter = LoginLimiter(settings, lambda: self.tokens.key)
        self._seeded = not self.settings.demo_users
        self._seeding = asyncio.Lock()

    async def store(self) -> UserStore:
        """The store, with the demo users put into it first when asked for and it is empty."""
        if not self._seeded:
            async with self._seeding:
                if not self._seeded:
                    await seed_demo(self._store)
                    self._seeded = True
        return self._store

    async def start(self) -> None:
        """What first use would do, done at server start (ASGI lifespan): the key is read or
        created and the store opened (and seeded), so a bad key fails the start and the first
        request is not the slow one. Optional: without lifespan events all of it happens on
        first use (H10). A store that cannot be reached does not stop the start: requests get
        503 until it can (H8)."""
        _ = self.tokens.key
        await self.passwords.warm()
        try:
            if not self._seeded:  # as store() would, but here the outcome is told
                async with self._seeding:
                    if not self._seeded and not await seed_demo(self._store):
                        logger.warning(
                            "ARENA_DEMO_USERS=1: the store has users: added no demo users"
                        )
                    self._seeded = True
            if await self._store.is_empty():
                # The tutorial's login fails on an empty store: say at once how to fill it.
                logger.warning(
                    "the store has no users, so no login can succeed: start with "
                    "ARENA_DEMO_USERS=1 for the demo users, or add one with "
                    "`scopes-arena users add NAME`"
                )
        except StoreUnavailable as exc:
            logger.warning("store not reachable at start, answering 503 until it is: %s", exc)

    async def close(self) -> None:
        self.passwords.close()
        await self._store.close()

    def render(self, error: Exception) -> ErrorResponse:
        """Status, body and headers for any error, in the active profile's words. Every 500
        passes here once (adapters and core.asgi do not log): it is logged here, with its
        traceback and, for a framework's own fault, the framework exception it came from."""
        response = self.profile.render(error if isinstance(error, ArenaError) else InternalError())
        if response.status == 500:
            logger.error("Internal Server Error: %r", error, exc_info=error)
        return response

    def read_token_request(
        self, content_type: Sequence[str], body: bytes, query_string: bytes = b""
    ) -> TokenRequest:
        """POST /token's request, read by the profile from the raw parts every adapter has: the
        Content-Type header value(s), the whole (buffered) body and the raw query string."""
        return self.profile.read_token_request(content_type, body, query_string)

    async def login(self, form: TokenRequest, peer: Peer | None = None) -> dict[str, Any]:
        """POST /token: the token response body, or InvalidCredentials; TooManyAttempts (H12)
        before any password check once the username or `peer`'s address failed too often."""
        # H12, reserve then check (core.ratelimit): the attempt is counted before the password
        # check, so concurrent wrong logins cannot pass the limit. Only a failed check keeps
        # its count; a cancelled login keeps it too (its check may have run).
        store = await self.store()
        attempt = await self.limiter.reserve(store, form.username, peer)
        try:
            body = await self._login(form)
        except InvalidCredentials:
            raise
        except Exception:
            await self.limiter.release(store, attempt)
            raise
        await self.limiter.release(store, attempt)
        return body

    async def _login(self, form: TokenRequest) -> dict[str, Any]:
        """The login itself: the token response body, or InvalidCredentials."""
        store = await self.store()
        # A name outside the canonical form cannot exist (core.usernames): unknown, without
        # asking the store (which could not even encode some of them), but with the same
        # dummy-hash check, so the answer and its time reveal nothing.
        canonical = usernames.is_canonical(form.username)
        user = await store.get_user(form.username) if canonical else None
        result = await self.passwords.verify(
            form.password, None if user is None else user.hashed_password
        )
        if user is None or not result.ok:
            raise InvalidCredentials()
        if result.new_hash is not None and await store.replace_hash(
            user.username, user.hashed_password, result.new_hash
        ):
            user = dataclasses.replace(user, hashed_password=result.new_hash)
        user, now = await self._current(store, form.password, user)
        # S4 (strict): a disabled user cannot log in. Refused after the same password check,
        # with the same answer, so that it reveals nothing a wrong password would not.
        if self._refuses_disabled and user.disabled:
            raise InvalidCredentials()
        granted = self.profile.grant(form.scope, user.scopes)
        issued = self.tokens.issue(user.username, granted, now, client_id=form.client_id)
        return {
            "access_token": issued.access_token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }

    async def _current(self, store: UserStore, password: str, checked: User) -> tuple[User, float]:
        """The user's record as it stands now, which `password` was checked against, and the
        time to issue the token at (F2): the record read before the password check may have
        been replaced while the check waited or ran (`users set-password`, `revoke`, `delete`
        then `add`). So it is read again, after its cut-off second, and the token is issued
        only if its password hash is still the one checked (else the password is checked
        against the new one) and its cut-off has passed. `iat` is the time taken before that
        read: a change the read did not see has a cut-off after it, so it cuts the token off."""
        for _ in range(MAX_RECHECKS + 1):
            # H13: a token must not be issued in the second its account's tokens were cut off.
            # In a loop: the event loop's timers (uvloop's count milliseconds) may wake a
            # sleeper just before the wall clock's second has ended, and the token would be
            # cut off. (A loop, not an Event: what is awaited is the wall clock.)
            while (wait := checked.tokens_valid_after - time.time()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)
            now = time.time()
            current = await store.get_user(checked.username)
            if current is None:  # deleted meanwhile
                raise InvalidCredentials()
            if current.hashed_password != checked.hashed_password:
                # Another password now (or the same one hashed again): checked against it.
                result = await self.passwords.verify(password, current.hashed_password)
                if not result.ok:
                    raise InvalidCredentials()
            elif current.tokens_valid_after <= now:
                return current, now  # nothing awaited from here until the token is issued
            checked = current
        # The record changed under every check: a login racing a loop of changes.
        raise LoginBusy()

    async def authenticate(
        self, credentials: Credentials, required: Sequence[str] = (), *, active: bool = False
    ) -> User:
        """A protected route's caller, from what the request presented. `required` is the
        route's scope chain (core.scopes.chain); `active` refuses disabled users."""
        if self._reads_body and credentials.read_body is not None:
            # Only a profile that looks for a token in the body has it read (strict, S3).
            credentials = credentials._replace(body=await credentials.read_body(), read_body=None)
        token = self.profile.bearer(credentials, tuple(required))
        return await self.authenticate_token(token, required, active=active)

    async def authenticate_token(
        self, token: str | None, required: Sequence[str] = (), *, active: bool = False
    ) -> User:
        """Checked in CONTRACT.md's order: credentials present, token valid and naming an
        existing user, and (H13) issued to the user's current account and not before its
        tokens were cut off; then the required scopes, held both by the token and, still, by
        the user; then (with `active`) not disabled."""
        if token is None:
            raise NotAuthenticated(tuple(required))
        try:
            claims = self.tokens.verify(token)
        except InvalidToken as exc:
            raise InvalidToken(tuple(required), exc.reason) from None
        subject = claims.subject
        hit = self._users.fresh(subject)
        user = hit[0] if hit is not None else await self._users.get(subject, self._load_user)
        if user is None:
            raise InvalidToken(tuple(required), "unknown user")
        # S4 (strict): a disabled user's tokens open no route, /status/ included.
        if user.disabled and self._refuses_disabled:
            raise InvalidToken(tuple(required), "disabled user")
        if user.tokens_valid_after and (
            claims.issued_at is None or claims.issued_at < user.tokens_valid_after
        ):
            raise InvalidToken(tuple(required), "issued before the user's tokens were cut off")
        held = user.scopes
        for scope in required:
            if scope not in claims.scopes or scope not in held:
                raise InsufficientScope(tuple(required))
        if active and user.disabled:
            raise InactiveUser()
        return user

    async def _load_user(self, username: str) -> User | None:
        # A `sub` outside the canonical form names nobody (core.usernames), and never reaches
        # the store, which could not even encode some of them (a lone surrogate).
        if not usernames.is_canonical(username):
            return None
        return await (await self.store()).get_user(username)

    async def _load_items(self, username: str) -> list[dict[str, str]]:
        return [item.public() for item in await (await self.store()).items_for(username)]

    def require_active(self, user: User) -> User:
        """Routes under /users/me/ refuse disabled users, after the scope check."""
        if user.disabled:
            raise InactiveUser()
        return user

    async def items(self, user: User) -> list[dict[str, str]]:
        """GET /users/me/items/: the caller's items ordered by item_id."""
        # The cached list itself: callers serialise it and must not change it.
        hit = self._items.fresh(user.username)
        return hit[0] if hit is not None else await self._items.get(user.username, self._load_items)


async def seed_demo(store: UserStore) -> bool:
    """Put the demo users and their items into an empty store, in one transaction (instances
    starting together add them once). True if it did."""
    return await store.seed(DEMO_USERS, DEMO_ITEMS)
