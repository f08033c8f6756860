"""Access tokens: minted and verified here and nowhere else (one place where a token is verified).

A token is valid only if (CONTRACT.md "Authentication" 2, H5): it is a compact JWS of at most
8 KiB in canonical base64url; its header is a JSON object saying HS256 with no `crit`; its
HMAC verifies with the configured key; `exp` is numeric and not past; `nbf`/`iat`, where present,
are numeric and not in the future; `sub` is a non-empty string; `scope` and `jti`, where present,
are strings; no `aud` is present (the tutorial profile has no audience). Numbers are finite
and fit a float (RFC 8259 §6). Every PyJWT, base64 or JSON error becomes `InvalidToken`; none
leaks upward.

Verified tokens are kept in a bounded LRU cache keyed by the exact token string. A hit skips
the signature and the parsing but re-checks what depends on the time (`exp` not past, `nbf` and
`iat` not in the future), so an entry never outlives its `exp`. Only tokens that verified are
cached: a flood of distinct bad tokens neither grows it nor evicts good entries.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt.algorithms import HMACAlgorithm

from core.errors import InvalidToken
from core.scopes import format_scopes, parse_granted

ALGORITHM = "HS256"
MAX_TOKEN_BYTES = 8 * 1024
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
# Header parameters that change how a token must be processed: refused, never honoured.
_REFUSED_HEADERS = frozenset({"crit", "b64"})
_HS256 = HMACAlgorithm(HMACAlgorithm.SHA256)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


@dataclass(frozen=True, slots=True)
class Claims:
    subject: str
    scopes: frozenset[str]
    #: `iat`, when the token says when it was issued (H13 compares it with the user's record).
    issued_at: float | None = None
    #: When the token stops being valid (`exp`), and before when it is not valid yet (the later
    #: of `nbf` and `iat`): what a cache hit re-checks.
    expires_at: float = field(default=math.inf, compare=False)
    not_before: float = field(default=-math.inf, compare=False)


class _Malformed(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Malformed("duplicate member")
    return result


def _reject_constant(name: str) -> Any:
    raise _Malformed(f"non-standard JSON constant {name}")


def _segment(text: str) -> bytes:
    """Decode one base64url segment, refusing padding, other alphabets and non-canonical forms."""
    if not _SEGMENT.fullmatch(text) or len(text) % 4 == 1:
        raise _Malformed("not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Canonical form: re-encoding gives back the same text (no stray trailing bits).
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text:
        raise _Malformed("non-canonical base64url")
    return raw


def _json_object(raw: bytes) -> dict[str, Any]:
    value = json.loads(
        raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_reject_constant
    )
    if not isinstance(value, dict):
        raise _Malformed("not a JSON object")
    return value


def _is_number(value: object) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond any float: no NumericDate
        return False


class TokenService:
    def __init__(
        self, key: Callable[[], bytes], lifetime_seconds: int, cache_size: int = 0
    ) -> None:
        self._key_source = key
        self._key: bytes | None = None
        self.lifetime_seconds = lifetime_seconds
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Claims] = OrderedDict()

    @property
    def key(self) -> bytes:
        # Resolved on first use, so that building an app touches no disk (H10).
        if self._key is None:
            self._key = self._key_source()
        return self._key

    @functools.cached_property
    def _signing_key(self) -> bytes:
        # What jwt.encode would use: PyJWT's checks on an HMAC key (not empty, not a PEM/JWK).
        return _HS256.prepare_key(self.key)

    def issue(
        self,
        subject: str,
        scopes: tuple[str, ...],
        now: float | None = None,
        client_id: str | None = None,
    ) -> IssuedToken:
        """A token for `subject` with `scopes`; the tutorial's tokens carry no client_id."""
        issued_at = int(time.time() if now is None else now)
        scope = format_scopes(scopes)
        claims = {
            "sub": subject,
            "scope": scope,
            "iat": issued_at,
            "exp": issued_at + self.lifetime_seconds,
            "jti": secrets.token_urlsafe(16),
        }
        token = jwt.encode(claims, self.key, algorithm=ALGORITHM)
        return IssuedToken(access_token=token, expires_in=self.lifetime_seconds, scope=scope)

    def verify(self, token: str, now: float | None = None) -> Claims:
        moment = time.time() if now is None else now
        cached = self._cache.get(token)
        if cached is not None:
            # Each step one dict operation, an entry gone between two no error: a synchronous
            # framework's worker threads (core.sync) verify tokens concurrently.
            if cached.not_before <= moment < cached.expires_at:
                try:  # noqa: SIM105 (a try costs nothing here; contextlib.suppress would)
                    self._cache.move_to_end(token)
                except KeyError:  # evicted meanwhile
                    pass
                return cached
            if moment >= cached.expires_at:
                self._cache.pop(token, None)
            raise InvalidToken(reason="exp past, or nbf/iat in the future")
        try:
            payload = self._verified_payload(token)
            claims = self._check_claims(payload, moment)
        except (_Malformed, jwt.PyJWTError, ValueError, RecursionError) as exc:
            # ValueError covers binascii, UnicodeDecodeError and JSONDecodeError.
            raise InvalidToken(reason=f"{type(exc).__name__}: {exc}") from exc
        if self.cache_size:
            self._cache[token] = claims
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return claims

    @property
    def cached(self) -> int:
        """How many verified tokens the cache holds now."""
        return len(self._cache)

    def _verified_payload(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_BYTES or not token.isascii():
            raise _Malformed("token too long or not ASCII")
        parts = token.split(".")
        if len(parts) != 3:
            raise _Malformed("not a compact JWS")
        header_raw, payload_raw, signature = (_segment(part) for part in parts)
        header = _json_object(header_raw)
        if header.get("alg") != ALGORITHM or not _REFUSED_HEADERS.isdisjoint(header):
            raise _Malformed("algorithm or header not accepted")
        self._check_header(header)
        # PyJWT's HS256 (constant-time comparison) on the segments already decoded above, rather
        # than jwt.decode parsing the whole token a second time on every request.
        signing_input = token.rpartition(".")[0].encode("ascii")
        if not _HS256.verify(signing_input, self._signing_key, signature):
            raise jwt.InvalidSignatureError("Signature verification failed")
        return _json_object(payload_raw)

    def _check_header(self, header: dict[str, Any]) -> None:
        """What a profile requires of the header beyond `alg` (the tutorial: nothing)."""

    def _check_profile_claims(self, payload: dict[str, Any]) -> None:
        if "aud" in payload:
            raise _Malformed("aud present but no audience is configured")

    def _check_claims(self, payload: dict[str, Any], now: float) -> Claims:
        exp = payload.get("exp")
        if not _is_number(exp) or now >= exp:  # type: ignore[operator]
            raise _Malformed("exp missing, not numeric or past")
        for name in ("nbf", "iat"):
            if name in payload and (not _is_number(payload[name]) or payload[name] > now):
                raise _Malformed(f"{name} not numeric or in the future")
        subject = payload.get("sub")
        if not isinstance(subject, str) or not subject:
            raise _Malformed("sub missing or not a non-empty string")
        scope = payload.get("scope", "")
        if not isinstance(scope, str):
            raise _Malformed("scope not a string")
        if "jti" in payload and not isinstance(payload["jti"], str):
            raise _Malformed("jti not a string")
        self._check_profile_claims(payload)
        issued_at = payload.get("iat")
        return Claims(
            subject=subject,
            scopes=parse_granted(scope),
            issued_at=None if issued_at is None else float(issued_at),
            expires_at=float(exp),  # type: ignore[arg-type]
            not_before=max(float(payload.get(name, -math.inf)) for name in ("nbf", "iat")),
        )


#: RFC 9068 §4: the `typ` of an access token, with or without the `application/` prefix
#: (media types compare case-insensitively, RFC 7515 §4.1.9).
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})


class StrictTokenService(TokenService):
    """RFC 9068 JWT access tokens (CONTRACT.md S6): header `typ: at+jwt`; claims `iss`, `aud`,
    `sub`, `iat`, `exp`, `jti`, `scope` and `client_id` where one was sent. Verification adds
    to the tutorial's rules: `typ` is at+jwt, `iss` is the configured issuer, `aud` is (or, as
    a list, contains) the configured audience, `iat`, `jti` and `scope` are present, `client_id`
    where present is a string. A tutorial token (no typ, iss or aud) is invalid here, and a
    strict token (it has `aud`) is invalid to the tutorial profile."""

    def __init__(
        self,
        key: Callable[[], bytes],
        lifetime_seconds: int,
        cache_size: int = 0,
        *,
        issuer: str,
        audience: str,
    ) -> None:
        super().__init__(key, lifetime_seconds, cache_size)
        self.issuer = issuer
        self.audience = audience

    def issue(
        self,
        subject: str,
        scopes: tuple[str, ...],
        now: float | None = None,
        client_id: str | None = None,
    ) -> IssuedToken:
        issued_at = int(time.time() if now is None else now)
        scope = format_scopes(scopes)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "iat": issued_at,
            "exp": issued_at + self.lifetime_seconds,
            "jti": secrets.token_urlsafe(16),
            "scope": scope,
        }
        if client_id is not None:
            claims["client_id"] = client_id
        # PyJWT starts from {"typ": "JWT", "alg": ...} and lets `headers` override typ.
        token = jwt.encode(claims, self.key, algorithm=ALGORITHM, headers={"typ": "at+jwt"})
        return IssuedToken(access_token=token, expires_in=self.lifetime_seconds, scope=scope)

    def _check_header(self, header: dict[str, Any]) -> None:
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise _Malformed("typ is not at+jwt (RFC 9068 §4)")

    def _check_profile_claims(self, payload: dict[str, Any]) -> None:
        aud = payload.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if not audiences or self.audience not in audiences:
            raise _Malformed("aud missing or not this audience")
        if not all(isinstance(item, str) for item in audiences):
            raise _Malformed("aud not a string or a list of strings")
        if payload.get("iss") != self.issuer:
            raise _Malformed("iss missing or not this issuer")
        for name in ("iat", "jti", "scope"):
            if name not in payload:
                raise _Malformed(f"{name} missing (RFC 9068 §2.2)")
        if "client_id" in payload and not isinstance(payload["client_id"], str):
            raise _Malformed("client_id not a string")
