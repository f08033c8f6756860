"""What the framework's own way shares: each implementation's `impl_<name>/native.py` is a
minimal app built as the framework's docs show it (FastAPI's OAuth2PasswordBearer +
SecurityScopes as the tutorial writes them, Litestar's OAuth2PasswordBearerAuth, Starlette's
AuthenticationMiddleware + `requires`, ...), reusing core only for the user store, through this
module, which also holds the tutorial's own helpers (`authenticate_user`, `create_access_token`,
and the decoding its `get_current_user` does) with PyJWT and pwdlib, once for every documented
way that signs its tokens itself. They are measured, not fixed: `python -m conformance --app-factory
native-fastapi=impl_fastapi.native:create_app ...` shows how far each framework's default gets a
developer (`make compare` shows the result), and the bench serves them (native-<name>)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from pwdlib import PasswordHash

from core.service import Arena
from core.settings import Settings
from core.users import User

ALGORITHM = "HS256"
#: What decode_access_token raises for a token it does not accept.
InvalidToken = jwt.InvalidTokenError
#: The tutorial's scopes.
SCOPES = {"me": "Read information about the current user.", "items": "Read items."}


class UserStore:
    """The one thing taken from core: the users (and items) in the configured store, demo users
    seeded as the implementations seed them; with the tutorial's password and token helpers."""

    def __init__(self, settings: Settings | None) -> None:
        self.settings = settings or Settings()
        self.arena = Arena(self.settings)
        self.key = self.settings.resolve_secret_key().decode()
        self.password_hash = PasswordHash.recommended()

    async def user(self, username: str) -> User | None:
        return await (await self.arena.store()).get_user(username)

    async def items(self, username: str) -> list[dict[str, str]]:
        return [item.public() for item in await (await self.arena.store()).items_for(username)]

    async def authenticate_user(self, username: str, password: str) -> User | None:
        """The tutorial's authenticate_user: the user, if the password is theirs."""
        user = await self.user(username)
        if user is None or not self.password_hash.verify(password, user.hashed_password):
            return None
        return user

    def create_access_token(self, data: dict[str, Any]) -> str:
        """The tutorial's create_access_token: the claims signed, expiring in 30 minutes."""
        return jwt.encode({**data, "exp": expires()}, self.key, algorithm=ALGORITHM)

    def decode_access_token(self, token: str) -> dict[str, Any]:
        """The claims of a token this app signed; InvalidToken otherwise."""
        claims: dict[str, Any] = jwt.decode(token, self.key, algorithms=[ALGORITHM])
        return claims


def expires(minutes: int = 30) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def public(user: User) -> dict[str, Any]:
    return user.public()
