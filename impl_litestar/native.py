"""Litestar's own way: OAuth2PasswordBearerAuth with a retrieve-user handler, the login through
its `login()`, a guard reading the route's `opt` scopes, as Litestar's security docs show it;
the user store from core."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from litestar import Litestar, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Body
from litestar.security.jwt import OAuth2PasswordBearerAuth, Token

from bench.native import SCOPES, UserStore
from core.settings import Settings
from core.users import User


@dataclass
class LoginForm:
    username: str
    password: str
    scope: str = ""


def scopes_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    granted = str(connection.auth.extras.get("scope", "")).split()
    if not set(handler.opt.get("scopes", [])) <= set(granted):
        raise NotAuthorizedException("Not enough permissions")


def create_app(settings: Settings | None = None) -> Litestar:
    users = UserStore(settings)

    async def retrieve_user_handler(
        token: Token, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> User | None:
        return await users.user(token.sub)

    oauth2_auth = OAuth2PasswordBearerAuth[User](
        retrieve_user_handler=retrieve_user_handler,
        token_secret=users.key,
        token_url="/token",  # noqa: S106 (a path)
        oauth_scopes=SCOPES,
        exclude=["/token", "/schema"],
    )

    @post("/token")
    async def login(
        data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        user = await users.authenticate_user(data.username, data.password)
        if not user:
            raise NotAuthorizedException("Incorrect username or password")
        return oauth2_auth.login(
            identifier=user.username,
            token_extras={"scope": data.scope},
            token_expiration=timedelta(minutes=30),
        )

    @get("/users/me/", guards=[scopes_guard], opt={"scopes": ["me"]})
    async def users_me(request: Request[User, Token, Any]) -> dict[str, Any]:
        return request.user.public()

    @get("/users/me/items/", guards=[scopes_guard], opt={"scopes": ["me", "items"]})
    async def users_me_items(request: Request[User, Token, Any]) -> list[dict[str, str]]:
        return await users.items(request.user.username)

    @get("/status/")
    async def status() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(
        route_handlers=[login, users_me, users_me_items, status],
        on_app_init=[oauth2_auth.on_app_init],
    )
