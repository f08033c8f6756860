"""The API's JSON shapes as pydantic models, and the answers each operation documents.

FastAPI and Litestar read these for their generated OpenAPI documents; the Starlette adapter
assembles its document from their JSON schemas. One definition, three documents.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


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
