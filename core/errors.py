"""One exception tree for every decision the core makes, and its rendering per profile.

    ArenaError                    every refusal the API can answer with
    ├── FormError                 /token input that fails the form rules        (422)
    ├── InvalidCredentials        unknown user or wrong password                (400)
    ├── AuthError                 protected routes
    │   ├── NotAuthenticated      no credentials or another scheme               (401)
    │   ├── InvalidToken          any token that fails verification              (401)
    │   ├── InsufficientScope     a required scope missing                       (401 / 403)
    │   ├── InactiveUser          a disabled user on /users/me/...               (400)
    │   └── MalformedCredentials  strict: credentials RFC 6750 calls malformed   (400)
    ├── TokenRequestRefused       strict: a /token request RFC 6749 §5.2 refuses (400)
    ├── MalformedBody             a body that cannot be parsed                   (400)
    ├── InvalidHost               several Host headers, or not host[:port]       (400)
    ├── BodyTooLarge              request body over the limit                    (413)
    ├── NotFound / MethodNotAllowed  routing (H7)                               (404 / 405)
    ├── StoreUnavailable          the user store cannot be reached               (503)
    ├── LoginBusy                 more logins waiting than the queue admits (H11) (503)
    ├── TooManyAttempts           too many failed logins in a window (H12)       (429)
    └── InternalError             anything unexpected                            (500)

An adapter renders any of them with one handler: `profile.render(error)` (see profiles.py)
gives status, JSON body and headers. Errors carry facts, never wording: the wording
belongs to the profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class ArenaError(Exception):
    """Base of every error the API answers with."""


class FormError(ArenaError):
    """FastAPI-shaped validation entries: [{"type", "loc", "msg", "input"(, "ctx")}]."""

    def __init__(self, errors: Sequence[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} invalid form field(s)")
        self.errors = list(errors)


class InvalidCredentials(ArenaError):
    """Unknown user or wrong password (one error for both: no user enumeration)."""


class AuthError(ArenaError):
    def __init__(self, required: Sequence[str] = (), reason: str = "") -> None:
        super().__init__(reason or type(self).__name__)
        self.required = tuple(required)
        self.reason = reason


class NotAuthenticated(AuthError):
    pass


class InvalidToken(AuthError):
    pass


class InsufficientScope(AuthError):
    pass


class InactiveUser(AuthError):
    pass


class MalformedCredentials(AuthError):
    """Strict profile (S3): credentials RFC 6750 §3.1 calls an invalid_request (`Bearer` with
    no token or extra parts, two Authorization headers, a token in the query or the body)."""


class TokenRequestRefused(ArenaError):
    """Strict profile (S1): a /token request refused with an RFC 6749 §5.2 error `code`
    (invalid_request, unsupported_grant_type, invalid_scope); `reason` says which rule, in
    fixed words (never the request's own text)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class InvalidHost(ArenaError):
    """Several Host headers, or one that is not RFC 9110's `host[:port]` (H14)."""


class BodyTooLarge(ArenaError):
    pass


class MalformedBody(ArenaError):
    """A body the framework could not parse at all (e.g. broken multipart)."""


class StoreUnavailable(ArenaError):
    pass


class LoginBusy(ArenaError):
    """The password-check queue is full (H11): answered at once, never queued. Also a login
    whose user record kept changing under its password checks (core.service): try again."""


class TooManyAttempts(ArenaError):
    """Too many failed logins for one username or from one address (H12): refused before any
    password check until the window passes."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class InternalError(ArenaError):
    pass


class NotFound(ArenaError):
    """No route for the path (H7)."""


class MethodNotAllowed(ArenaError):
    """The path exists, the method does not (H7)."""

    def __init__(self, allowed: Sequence[str]) -> None:
        super().__init__(f"allowed: {', '.join(allowed)}")
        self.allowed = tuple(allowed)


def for_http_status(status: int, headers: Mapping[str, str] | None = None) -> ArenaError:
    """The core error for a status a framework raised by itself (routing, body parsing)."""
    if status == 404:
        return NotFound()
    if status == 405:
        allow = (headers or {}).get("Allow", "")
        # Frameworks keep a route's methods in a set; sorted, the header is the same in every
        # process whatever the hash seed.
        return MethodNotAllowed(
            sorted(method.strip() for method in allow.split(",") if method.strip())
        )
    if status == 413:
        return BodyTooLarge()
    if status == 400:
        return MalformedBody()
    return InternalError(f"unexpected framework status {status}")
