"""What the framework's own way shares: each implementation's `impl_<name>/native.py` is a
minimal app built as the framework's docs show it (FastAPI's OAuth2PasswordBearer +
SecurityScopes as the tutorial writes them, Litestar's OAuth2PasswordBearerAuth, Starlette's
AuthenticationMiddleware + `requires`), reusing core only for the user store, through this
module. They are measured, not fixed: `python -m conformance --app-factory
native-fastapi=impl_fastapi.native:create_app ...` shows how far each framework's default gets a
developer (`make compare` shows the result), and the bench serves them (native-<name>)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.service import Arena
from core.settings import Settings
from core.users import User

ALGORITHM = "HS256"
#: The tutorial's scopes.
SCOPES = {"me": "Read information about the current user.", "items": "Read items."}


class UserStore:
    """The one thing taken from core: the users (and items) in the configured store, demo users
    seeded as the implementations seed them."""

    def __init__(self, settings: Settings | None) -> None:
        self.settings = settings or Settings()
        self.arena = Arena(self.settings)
        self.key = self.settings.resolve_secret_key().decode()

    async def user(self, username: str) -> User | None:
        return await (await self.arena.store()).get_user(username)

    async def items(self, username: str) -> list[dict[str, str]]:
        return [item.public() for item in await (await self.arena.store()).items_for(username)]


def expires(minutes: int = 30) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def public(user: User) -> dict[str, Any]:
    return user.public()
