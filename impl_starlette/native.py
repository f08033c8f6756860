"""Starlette's own way: AuthenticationMiddleware with a bearer backend and `requires` on each
endpoint, as Starlette's authentication docs show it; the user store from core."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    SimpleUser,
    requires,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.native import InvalidToken, UserStore
from core.settings import Settings


class BearerBackend(AuthenticationBackend):
    def __init__(self, users: UserStore) -> None:
        self.users = users

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        if "Authorization" not in conn.headers:
            return None
        scheme, _, token = conn.headers["Authorization"].partition(" ")
        if scheme.lower() != "bearer":
            return None
        try:
            payload = self.users.decode_access_token(token)
        except InvalidToken as exc:
            raise AuthenticationError("Invalid token") from exc
        user = await self.users.user(str(payload.get("sub")))
        if user is None:
            raise AuthenticationError("Invalid token")
        scopes = str(payload.get("scope", "")).split()
        return AuthCredentials(["authenticated", *scopes]), SimpleUser(user.username)


def create_app(settings: Settings | None = None) -> Starlette:
    users = UserStore(settings)

    async def token(request: Request) -> Response:
        form = await request.form()
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        if not await users.authenticate_user(username, password):
            return JSONResponse({"detail": "Incorrect username or password"}, status_code=400)
        claims = {"sub": username, "scope": str(form.get("scope", ""))}
        access_token = users.create_access_token(claims)
        return JSONResponse({"access_token": access_token, "token_type": "bearer"})

    @requires(["authenticated", "me"])
    async def users_me(request: Request) -> Response:
        user = await users.user(request.user.username)
        assert user is not None
        return JSONResponse(user.public())

    @requires(["authenticated", "me", "items"])
    async def users_me_items(request: Request) -> Response:
        return JSONResponse(await users.items(request.user.username))

    @requires("authenticated")
    async def status(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/token", token, methods=["POST"]),
            Route("/users/me/", users_me),
            Route("/users/me/items/", users_me_items),
            Route("/status/", status),
        ],
        middleware=[Middleware(AuthenticationMiddleware, backend=BearerBackend(users))],
    )
