"""The strict profile (CONTRACT.md section S): RFC 6749 §4.3/§5.2 at /token, RFC 6750 §3 on the
protected routes, RFC 9068 access tokens (RFC 8725's advice), on the same paths and adapters.

What it changes, and where the tutorial profile's answer is kept:

- S1 /token reads only an `application/x-www-form-urlencoded` body with no parameter in the
  query string and none of its parameters repeated (RFC 6749 §3.2: an empty one is an absent
  one); every refusal is a 400 RFC 6749 §5.2 error object with `Cache-Control: no-store`.
- S2 A login without `scope` is granted nothing; each requested scope must be RFC 6749 §3.3
  text, known, and allowed for the user (else `invalid_scope`: nothing is silently dropped).
- S3 Bearer credentials as RFC 6750 §2.1 and §3 read them: the challenge carries
  `realm="api"` and an `error` code; malformed credentials are a 400, a missing scope a 403.
- S4 A disabled user cannot log in (`invalid_grant`, the same answer and the same password
  check as a wrong password) and their tokens open no route (`invalid_token`).
- S6 Tokens are RFC 9068 JWT access tokens (core.tokens.StrictTokenService).
- H11/H8 (503) is RFC 6749's `temporarily_unavailable`, H12 (429) `invalid_request`.
- Not part of section S, answered as the tutorial does: 404, 405, 413, the Host check's 400,
  500.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from python_multipart.multipart import parse_options_header

from core import errors, models
from core import scopes as scope_rules
from core.credentials import Credentials
from core.formparse import URLENCODED, read_form
from core.forms import FIELDS, TokenRequest
from core.openapi import CLIENT_ID_MAX_LENGTH
from core.profiles import RETRY_AFTER_SECONDS, ErrorResponse, TutorialProfile
from core.scopes import format_scopes
from core.tokens import StrictTokenService, TokenService

if TYPE_CHECKING:
    from core.settings import Settings

REALM = "api"
NO_STORE = {"Cache-Control": "no-store"}
#: RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
#: RFC 6749 §3.3: scope = scope-token *( SP scope-token ), scope-token = 1*NQCHAR.
SCOPE = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*")
#: RFC 6749 Appendix A.1: client-id = *VSCHAR.
CLIENT_ID = re.compile(r"[\x20-\x7E]*")
#: Where RFC 6750 §2.2/§2.3 would put a token besides the header: refused here (§3.1).
ACCESS_TOKEN = "access_token"  # noqa: S105 (a parameter name)

#: The error_description of each refusal: fixed text in RFC 6749's %x20-21 / %x23-5B /
#: %x5D-7E (never an echo of the request), so it can stand in a quoted challenge parameter.
DESCRIPTIONS = {
    "not_authenticated": "Not authenticated",
    "invalid_grant": "The username or password is incorrect",
    "invalid_token": "The access token is invalid, expired or revoked",
    "insufficient_scope": "The access token lacks a scope this route requires",
    "malformed_credentials": "The request presents malformed or several credentials",
    "malformed_body": "The request body could not be read",
    "too_many_attempts": "Too many failed logins: retry after the time Retry-After gives",
    "temporarily_unavailable": "The service is temporarily unavailable: retry later",
}


def _refuse(code: str, reason: str) -> errors.TokenRequestRefused:
    return errors.TokenRequestRefused(code, reason)


def _names(raw: bytes) -> list[str]:
    return [name for name, _ in parse_qsl(raw.decode("latin-1"), keep_blank_values=True)]


def read_strict_token_request(
    content_type: Sequence[str], body: bytes, query_string: bytes
) -> TokenRequest:
    """S1: the /token request RFC 6749 §4.3.2 and §3.2 describe, or TokenRequestRefused.

    Checked in this order: parameters in the query, the media type (exactly one Content-Type,
    url-encoded), the body as core.formparse reads a url-encoded one (its limits: 400), a
    parameter repeated, grant_type absent (invalid_request) or not `password`
    (unsupported_grant_type), username or password absent, client_id not VSCHAR or too long
    (invalid_request), scope not §3.3 text or naming an unknown scope (invalid_scope)."""
    if query_string and _names(query_string):
        raise _refuse("invalid_request", "The token request has parameters in the query string")
    values = list(content_type)
    media_type = parse_options_header(values[0])[0] if len(values) == 1 else b""
    if media_type != URLENCODED.encode():
        raise _refuse(
            "invalid_request", "The token request body must be application/x-www-form-urlencoded"
        )
    try:
        pairs = read_form(values[0], body)
    except errors.MalformedBody:
        raise _refuse("invalid_request", "The token request body could not be read") from None
    # RFC 6749 §3.2: a parameter without a value is an omitted one; one with a value appears once.
    present = [(name, value) for name, value in pairs if name in FIELDS and value != ""]
    if any(count > 1 for count in Counter(name for name, _ in present).values()):
        raise _refuse("invalid_request", "A token request parameter is repeated")
    fields = {name: str(value) for name, value in present}
    grant_type = fields.get("grant_type")
    if grant_type is None:
        raise _refuse("invalid_request", "The grant_type parameter is missing")
    if grant_type != "password":
        raise _refuse("unsupported_grant_type", "The only grant_type is password")
    for name in ("username", "password"):
        if name not in fields:
            raise _refuse("invalid_request", f"The {name} parameter is missing")
    client_id = fields.get("client_id")
    if client_id is not None and (
        len(client_id) > CLIENT_ID_MAX_LENGTH or not CLIENT_ID.fullmatch(client_id)
    ):
        raise _refuse("invalid_request", "The client_id parameter is not a valid client id")
    scope = fields.get("scope", "")
    if scope and not SCOPE.fullmatch(scope):
        raise _refuse("invalid_scope", "The scope parameter is not RFC 6749 scope syntax")
    if any(name not in scope_rules.SCOPES for name in scope.split(" ") if name):
        raise _refuse("invalid_scope", "The scope parameter names an unknown scope")
    return TokenRequest(
        username=fields["username"],
        password=fields["password"],
        scope=scope,
        grant_type=grant_type,
        client_id=client_id,
    )


def _challenge(error: str | None = None, description: str | None = None, **params: str) -> str:
    parts = [f'realm="{REALM}"']
    if error is not None:
        parts.append(f'error="{error}"')
    if description is not None:
        parts.append(f'error_description="{description}"')
    parts += [f'{name}="{value}"' for name, value in params.items()]
    return "Bearer " + ", ".join(parts)


def _oauth_error(
    status: int, error: str, description: str, headers: dict[str, str] | None = None
) -> ErrorResponse:
    return ErrorResponse(status, {"error": error, "error_description": description}, headers or {})


class StrictProfile:
    """CONTRACT.md section S (see the module's docstring)."""

    name = "strict"
    answers = models.STRICT
    refuses_disabled = True
    reads_body = True

    def __init__(self) -> None:
        self._tutorial = TutorialProfile()

    def read_token_request(
        self, content_type: Sequence[str], body: bytes, query_string: bytes
    ) -> TokenRequest:
        return read_strict_token_request(content_type, body, query_string)

    def grant(self, requested: str, allowed: Iterable[str]) -> tuple[str, ...]:
        # S2: what is asked for (already known: read_strict_token_request), all of it or a
        # refusal; nothing when nothing is asked for.
        wanted = tuple(dict.fromkeys(requested.split(" "))) if requested else ()
        granted = scope_rules.grant(wanted, allowed)
        if granted != wanted:
            raise _refuse("invalid_scope", "A requested scope is not allowed for this user")
        return granted

    def token_service(self, settings: Settings) -> TokenService:
        return StrictTokenService(
            settings.resolve_secret_key,
            settings.access_token_expire_minutes * 60,
            cache_size=settings.token_cache_size,
            issuer=settings.token_issuer,
            audience=settings.token_audience,
        )

    def bearer(self, credentials: Credentials, required: tuple[str, ...]) -> str | None:
        """RFC 6750 §2.1 only: one Authorization header `Bearer <b64token>` (several spaces
        allowed, RFC 7235's 1*SP); a token in the query or the body, or two headers, is a
        second way of sending it (§3.1 invalid_request), so is `Bearer` with no token or with
        more than one part."""
        if (credentials.query_string and ACCESS_TOKEN in _names(credentials.query_string)) or (
            credentials.body and ACCESS_TOKEN in _names(credentials.body)
        ):
            raise errors.MalformedCredentials(required, "access_token in the query or the body")
        headers = credentials.authorization
        if len(headers) > 1:
            raise errors.MalformedCredentials(required, "several Authorization headers")
        if not headers or not headers[0]:
            return None
        scheme, _, token = headers[0].partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = token.lstrip(" ")
        if not B64TOKEN.fullmatch(token):
            raise errors.MalformedCredentials(required, "no token, or not one b64token")
        return token

    def render(self, error: errors.ArenaError) -> ErrorResponse:
        match error:
            case errors.TokenRequestRefused():
                return _oauth_error(400, error.code, error.reason, NO_STORE)
            case errors.InvalidCredentials():
                return _oauth_error(400, "invalid_grant", DESCRIPTIONS["invalid_grant"], NO_STORE)
            case errors.FormError() | errors.MalformedBody():
                return _oauth_error(
                    400, "invalid_request", DESCRIPTIONS["malformed_body"], NO_STORE
                )
            case errors.NotAuthenticated():
                text = DESCRIPTIONS["not_authenticated"]
                return ErrorResponse(401, {"detail": text}, {"WWW-Authenticate": _challenge()})
            case errors.MalformedCredentials():
                text = DESCRIPTIONS["malformed_credentials"]
                challenge = _challenge("invalid_request", text)
                return _oauth_error(400, "invalid_request", text, {"WWW-Authenticate": challenge})
            case errors.InvalidToken() | errors.InactiveUser():
                text = DESCRIPTIONS["invalid_token"]
                challenge = _challenge("invalid_token", text)
                return _oauth_error(401, "invalid_token", text, {"WWW-Authenticate": challenge})
            case errors.InsufficientScope():
                challenge = _challenge("insufficient_scope", scope=format_scopes(error.required))
                return _oauth_error(
                    403,
                    "insufficient_scope",
                    DESCRIPTIONS["insufficient_scope"],
                    {"WWW-Authenticate": challenge},
                )
            case errors.TooManyAttempts():
                return _oauth_error(
                    429,
                    "invalid_request",
                    DESCRIPTIONS["too_many_attempts"],
                    {"Retry-After": str(error.retry_after), **NO_STORE},
                )
            case errors.StoreUnavailable() | errors.LoginBusy():
                return _oauth_error(
                    503,
                    "temporarily_unavailable",
                    DESCRIPTIONS["temporarily_unavailable"],
                    {"Retry-After": RETRY_AFTER_SECONDS, **NO_STORE},
                )
            case _:
                return self._tutorial.render(error)
