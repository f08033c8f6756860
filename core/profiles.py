"""How each profile answers: core errors rendered to status, JSON body and headers.

Adapters never branch on the profile: they hand raw credentials to `Arena.authenticate` (the
profile reads them) and call `arena.render(error)` in their one error handler. The strict
profile (CONTRACT.md §S) will be a second `Profile` here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from core import errors
from core.credentials import Credentials, bearer_token
from core.scopes import format_scopes

RETRY_AFTER_SECONDS = "5"


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


class Profile(Protocol):
    name: str

    def bearer(self, credentials: Credentials, required: tuple[str, ...]) -> str | None:
        """The bearer token the request presents, None when it presents none; raises for
        credentials the profile refuses as malformed."""

    def render(self, error: errors.ArenaError) -> ErrorResponse: ...


def _bearer_challenge(required: tuple[str, ...]) -> dict[str, str]:
    value = f'Bearer scope="{format_scopes(required)}"' if required else "Bearer"
    return {"WWW-Authenticate": value}


class TutorialProfile:
    """The tutorial's observable behaviour, hardened (CONTRACT.md H1-H10)."""

    name = "tutorial"

    def bearer(self, credentials: Credentials, required: tuple[str, ...]) -> str | None:
        # As FastAPI's request.headers.get(): the first Authorization header; the query is
        # not a place for tokens in the tutorial, and is not read.
        first = credentials.authorization[0] if credentials.authorization else None
        return bearer_token(first)

    def render(self, error: errors.ArenaError) -> ErrorResponse:
        match error:
            case errors.FormError():
                return ErrorResponse(422, {"detail": error.errors})
            case errors.InvalidCredentials():
                return ErrorResponse(400, {"detail": "Incorrect username or password"})
            case errors.NotAuthenticated():
                return ErrorResponse(401, {"detail": "Not authenticated"}, _bearer_challenge(()))
            case errors.InvalidToken():
                return ErrorResponse(
                    401,
                    {"detail": "Could not validate credentials"},
                    _bearer_challenge(error.required),
                )
            case errors.InsufficientScope():
                return ErrorResponse(
                    401, {"detail": "Not enough permissions"}, _bearer_challenge(error.required)
                )
            case errors.InactiveUser():
                return ErrorResponse(400, {"detail": "Inactive user"})
            case errors.MalformedBody():
                return ErrorResponse(400, {"detail": "There was an error parsing the body"})
            case errors.InvalidHost():
                return ErrorResponse(400, {"detail": "Invalid Host header"})
            case errors.BodyTooLarge():
                return ErrorResponse(413, {"detail": "Request body too large"})
            case errors.NotFound():
                return ErrorResponse(404, {"detail": "Not Found"})
            case errors.MethodNotAllowed():
                return ErrorResponse(
                    405, {"detail": "Method Not Allowed"}, {"Allow": ", ".join(error.allowed)}
                )
            case errors.StoreUnavailable() | errors.LoginBusy():
                return ErrorResponse(
                    503, {"detail": "Service Unavailable"}, {"Retry-After": RETRY_AFTER_SECONDS}
                )
            case errors.TooManyAttempts():  # H12: Retry-After is when the window passes
                return ErrorResponse(
                    429, {"detail": "Too Many Requests"}, {"Retry-After": str(error.retry_after)}
                )
            case _:
                return ErrorResponse(500, {"detail": "Internal Server Error"})


def get_profile(name: str) -> Profile:
    if name == "tutorial":
        return TutorialProfile()
    raise NotImplementedError(f"the {name!r} profile is not implemented yet")
