"""How each profile answers: core errors rendered to status, JSON body and headers.

Adapters never branch on the profile: they hand raw credentials to `Arena.authenticate` and
the raw /token request to `Arena.read_token_request` (the profile reads them), document what
`arena.answers` lists, and call `arena.render(error)` in their one error handler. The strict
profile (CONTRACT.md §S) is the second `Profile`, in core/strict.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from core import errors, models
from core import scopes as scope_rules
from core.credentials import Credentials, bearer_token
from core.forms import TokenRequest
from core.scopes import format_scopes
from core.tokens import TokenService

if TYPE_CHECKING:
    from core.settings import Settings

RETRY_AFTER_SECONDS = "5"


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


class Profile(Protocol):
    name: str
    #: What the OpenAPI document says each operation answers.
    answers: models.Answers
    #: S4: a disabled user cannot log in and no token of theirs opens any route.
    refuses_disabled: bool
    #: Whether `bearer` looks at the request body (Credentials.body is read for it).
    reads_body: bool

    def bearer(self, credentials: Credentials, required: tuple[str, ...]) -> str | None:
        """The bearer token the request presents, None when it presents none; raises for
        credentials the profile refuses as malformed."""

    def read_token_request(
        self, content_type: Sequence[str], body: bytes, query_string: bytes
    ) -> TokenRequest:
        """The /token request: its Content-Type header value(s), its whole body and its raw
        query string."""

    def grant(self, requested: str, allowed: Iterable[str]) -> tuple[str, ...]:
        """The scopes a login grants: the request's `scope` and the user's allowed scopes."""

    def token_service(self, settings: Settings) -> TokenService: ...

    def render(self, error: errors.ArenaError) -> ErrorResponse: ...


def _bearer_challenge(required: tuple[str, ...]) -> dict[str, str]:
    value = f'Bearer scope="{format_scopes(required)}"' if required else "Bearer"
    return {"WWW-Authenticate": value}


class TutorialProfile:
    """The tutorial's observable behaviour, hardened (CONTRACT.md H1-H10)."""

    name = "tutorial"
    answers = models.TUTORIAL
    refuses_disabled = False
    reads_body = False

    def read_token_request(
        self, content_type: Sequence[str], body: bytes, query_string: bytes
    ) -> TokenRequest:
        # Imported here: core.formparse imports core.asgi, which imports this module.
        from core.formparse import read_token_form

        # The query is not read: FastAPI's OAuth2PasswordRequestForm reads the body only.
        return read_token_form(content_type, body)

    def grant(self, requested: str, allowed: Iterable[str]) -> tuple[str, ...]:
        return scope_rules.grant(scope_rules.parse_requested(requested), allowed)

    def token_service(self, settings: Settings) -> TokenService:
        return TokenService(
            settings.resolve_secret_key,
            settings.access_token_expire_minutes * 60,
            cache_size=settings.token_cache_size,
        )

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
    if name == "strict":
        # Imported here: core.strict builds on this module (ErrorResponse, the tutorial's
        # renderings of what section S leaves as it is).
        from core.strict import StrictProfile

        return StrictProfile()
    raise ValueError(f"unknown profile {name!r} (known: tutorial, strict)")
