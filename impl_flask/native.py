"""Flask's own way: flask-jwt-extended as its docs show it (JWTManager, create_access_token with
additional claims, `jwt_required`, and a custom decorator checking a claim, from its "Custom
Decorators" page, here for the scopes), Flask's async views for the async user store, pwdlib
for the password; the user store from core. Served as the implementation is: WSGI through
a2wsgi (with a2wsgi's defaults)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from a2wsgi import WSGIMiddleware
from flask import Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    get_jwt,
    get_jwt_identity,
    jwt_required,
    verify_jwt_in_request,
)

from bench.native import UserStore
from core.settings import Settings


def scopes_required(*required: str) -> Callable[[Any], Any]:
    """The docs' `admin_required`, for the token's `scope` claim."""

    def wrapper(fn: Any) -> Any:
        @wraps(fn)
        def decorator(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            verify_jwt_in_request()
            granted = str(get_jwt().get("scope", "")).split()
            if all(scope in granted for scope in required):
                return current_app.ensure_sync(fn)(*args, **kwargs)  # type: ignore[no-any-return]
            return jsonify(msg="Not enough permissions"), 403

        return decorator

    return wrapper


def create_app(settings: Settings | None = None) -> Any:
    users = UserStore(settings)
    app = Flask(__name__)
    app.config["JWT_SECRET_KEY"] = users.key
    app.config["JWT_ACCESS_TOKEN_EXPIRES"] = timedelta(minutes=30)
    JWTManager(app)

    @app.post("/token")
    async def token() -> ResponseReturnValue:
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        if not await users.authenticate_user(username, password):
            return jsonify(detail="Incorrect username or password"), 400
        scope = request.form.get("scope", "")
        access_token = create_access_token(identity=username, additional_claims={"scope": scope})
        return jsonify(access_token=access_token, token_type="bearer")  # noqa: S106 (a type)

    @app.get("/users/me/")
    @scopes_required("me")
    async def users_me() -> ResponseReturnValue:
        user = await users.user(get_jwt_identity())
        if user is None:
            return jsonify(msg="User not found"), 404
        if user.disabled:
            return jsonify(detail="Inactive user"), 400
        return jsonify(user.public())

    @app.get("/users/me/items/")
    @scopes_required("me", "items")
    async def users_me_items() -> ResponseReturnValue:
        return jsonify(await users.items(get_jwt_identity()))

    @app.get("/status/")
    @jwt_required()  # type: ignore[untyped-decorator]  # (flask-jwt-extended: untyped)
    def status() -> ResponseReturnValue:
        return jsonify(status="ok")

    return WSGIMiddleware(app)  # type: ignore[arg-type]
