"""The API's JSON shapes as pydantic models, and the answers each operation documents.

FastAPI and Litestar read these for their generated OpenAPI documents; the Starlette adapter
assembles its document from their JSON schemas. One definition, three documents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from core import openapi


class Token(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


class User(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str
    email: str | None = None
    full_name: str | None = None
    disabled: bool | None = None


class Item(BaseModel):
    item_id: str
    owner: str


class Status(BaseModel):
    status: str


class ErrorDetail(BaseModel):
    """Every error but 422: {"detail": "<text>"}."""

    detail: str


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "required": True, "schema": {"type": "string"}}


_CHALLENGE = {"WWW-Authenticate": _header("Bearer challenge, with the route's scopes")}
_TOO_LARGE = {"model": ErrorDetail, "description": "Request body over 64 KiB"}
_UNAVAILABLE = {
    "model": ErrorDetail,
    "description": "The user store cannot be reached",
    "headers": {"Retry-After": _header("Seconds to wait before retrying")},
}

#: /token answers other than 200 and 422 (the framework documents those itself).
TOKEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The access token",
        "headers": {
            "Cache-Control": _header("Always no-store"),
            "Pragma": _header("Always no-cache"),
        },
    },
    400: {"model": ErrorDetail, "description": "Incorrect username or password"},
    413: _TOO_LARGE,
    429: {
        "model": ErrorDetail,
        "description": "Too many failed logins for this username or from this address (H12)",
        "headers": {"Retry-After": _header("Seconds until the window of failed logins passes")},
    },
    503: _UNAVAILABLE,
}


def auth_responses() -> dict[int | str, dict[str, Any]]:
    """Answers of a route that needs a valid token."""
    return {
        401: {
            "model": ErrorDetail,
            "description": "Not authenticated, invalid token or not enough permissions",
            "headers": dict(_CHALLENGE),
        },
        413: _TOO_LARGE,
        503: _UNAVAILABLE,
    }


def active_responses() -> dict[int | str, dict[str, Any]]:
    """Answers of a route that also refuses disabled users."""
    return {400: {"model": ErrorDetail, "description": "Inactive user"}, **auth_responses()}


Table = dict[int | str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Answers:
    """What one profile documents: each operation's answers besides 200 (and the tutorial's
    422, which the adapters document as their framework does), the /token form's schema, and
    the models those answers use. Adapters ask `arena.answers` and never name a profile."""

    #: POST /token.
    token: Table
    #: /users/me/ and /users/me/items/ (scopes required, disabled users refused).
    active: Table
    #: /status/ (a valid token, no scope).
    auth: Table
    #: The /token form's JSON schema.
    form_schema: Callable[[], dict[str, Any]]
    #: Whether /token answers a 422 (FastAPI's validation shape): the tutorial only.
    validation_error: bool
    #: Every model the tables name (for a framework that lists component schemas itself).
    models: tuple[Any, ...]

    def for_path(self, path: str) -> Table:
        return {"/token": self.token, "/status/": self.auth}.get(path, self.active)

    def token_extra(self) -> dict[str, Any]:
        """/token's requestBody (and 422) for a framework that does not parse the form."""
        extra: dict[str, Any] = {"requestBody": openapi.token_request_body(self.form_schema())}
        if self.validation_error:
            extra["responses"] = {"422": openapi.validation_error_answer()}
        return extra


TUTORIAL = Answers(
    token=TOKEN_RESPONSES,
    active=active_responses(),
    auth=auth_responses(),
    form_schema=openapi.token_form_schema,
    validation_error=True,
    models=(Token, User, Item, Status, ErrorDetail),
)


# --- strict profile (CONTRACT.md S) ----------------------------------------------------------


class OAuthError(BaseModel):
    """RFC 6749 §5.2 / RFC 6750 §3.1: {"error": "<code>", "error_description": "<text>"}."""

    error: str
    error_description: str


_NO_STORE = {"Cache-Control": _header("Always no-store")}
_STRICT_UNAVAILABLE: dict[str, Any] = {
    "model": OAuthError,
    "description": "temporarily_unavailable: the user store cannot be reached, or too many "
    "logins wait for a password check",
    "headers": {"Retry-After": _header("Seconds to wait before retrying")},
}
_STRICT_CHALLENGE = {
    "WWW-Authenticate": _header('Bearer realm="api", with error= and error_description=')
}


def _strict_protected(scoped: bool) -> Table:
    table: Table = {
        400: {
            "model": OAuthError,
            "description": "invalid_request: malformed credentials (RFC 6750 §3.1)",
            "headers": dict(_STRICT_CHALLENGE),
        },
        401: {
            "model": ErrorDetail | OAuthError,
            "description": 'No credentials ({"detail": "Not authenticated"}), or invalid_token',
            "headers": dict(_STRICT_CHALLENGE),
        },
    }
    if scoped:
        table[403] = {
            "model": OAuthError,
            "description": "insufficient_scope, with the route's scope= in the challenge",
            "headers": dict(_STRICT_CHALLENGE),
        }
    return {**table, 413: _TOO_LARGE, 503: _STRICT_UNAVAILABLE}


STRICT_TOKEN_RESPONSES: Table = {
    200: TOKEN_RESPONSES[200],
    400: {
        "model": OAuthError,
        "description": "invalid_request, unsupported_grant_type, invalid_grant or invalid_scope "
        "(RFC 6749 §5.2)",
        "headers": dict(_NO_STORE),
    },
    413: _TOO_LARGE,
    429: {
        "model": OAuthError,
        "description": "invalid_request: too many failed logins (H12)",
        "headers": {
            "Retry-After": _header("Seconds until the window passes"),
            **_NO_STORE,
        },
    },
    503: {**_STRICT_UNAVAILABLE, "headers": {**_STRICT_UNAVAILABLE["headers"], **_NO_STORE}},
}

STRICT = Answers(
    token=STRICT_TOKEN_RESPONSES,
    active=_strict_protected(scoped=True),
    auth=_strict_protected(scoped=False),
    form_schema=openapi.strict_token_form_schema,
    validation_error=False,
    models=(Token, User, Item, Status, ErrorDetail, OAuthError),
)
