"""Django Ninja's own way: an HttpBearer subclass whose `authenticate` decodes the JWT, as
Ninja's authentication docs show it (here with the route's scopes given to it), a `Form[...]`
schema for the login and HttpError for refusals; Django's ASGI handler; the user store from
core."""

from __future__ import annotations

import itertools
from typing import Any

from impl_django import conf  # first: Django's settings, which Django Ninja reads on import

# isort: split
from django.http import HttpRequest
from django.urls import path
from ninja import Form, NinjaAPI, Schema
from ninja.errors import HttpError
from ninja.security import HttpBearer

from bench.native import InvalidToken, UserStore
from core.settings import Settings
from core.users import User

_instances = itertools.count()


class LoginForm(Schema):
    username: str
    password: str
    scope: str = ""


def create_app(settings: Settings | None = None) -> conf.Handler:
    users = UserStore(settings)
    instance = next(_instances)
    api = NinjaAPI(title="native Django Ninja", urls_namespace=f"native-{instance}")

    class AuthBearer(HttpBearer):
        def __init__(self, *scopes: str) -> None:
            super().__init__()
            self.scopes = scopes

        async def authenticate(self, request: HttpRequest, token: str) -> User | None:
            try:
                payload = users.decode_access_token(token)
            except InvalidToken:
                return None
            user = await users.user(str(payload.get("sub")))
            granted = str(payload.get("scope", "")).split()
            if user is None or not set(self.scopes) <= set(granted):
                return None
            return user

    @api.post("/token")
    async def login(request: HttpRequest, data: Form[LoginForm]) -> dict[str, str]:
        user = await users.authenticate_user(data.username, data.password)
        if not user:
            raise HttpError(400, "Incorrect username or password")
        token = users.create_access_token({"sub": user.username, "scope": data.scope})
        return {"access_token": token, "token_type": "bearer"}

    @api.get("/users/me/", auth=AuthBearer("me"))
    async def users_me(request: HttpRequest) -> dict[str, Any]:
        user: User = request.auth
        if user.disabled:
            raise HttpError(400, "Inactive user")
        return user.public()

    @api.get("/users/me/items/", auth=AuthBearer("me", "items"))
    async def users_me_items(request: HttpRequest) -> list[dict[str, str]]:
        user: User = request.auth
        if user.disabled:
            raise HttpError(400, "Inactive user")
        return await users.items(user.username)

    @api.get("/status/", auth=AuthBearer())
    async def status(request: HttpRequest) -> dict[str, str]:
        return {"status": "ok"}

    urlconf = conf.urlconf(f"{__name__}.urls_{instance}", [path("", api.urls)])
    return conf.Handler(urlconf)
