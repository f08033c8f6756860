"""What a request presents to a protected route, as raw as the adapter can give it.

Adapters hand over every Authorization header value, the raw query string and the (buffered)
body; which of that counts as a bearer token, and what is malformed, is the profile's call (the
tutorial profile reads the first header as FastAPI does; the strict profile of RFC 6750 also
refuses two headers, or a token in the query or the body), so adapters never change when a
profile does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import parse_qsl


class Credentials(NamedTuple):
    # A NamedTuple, not a frozen dataclass: one is built per request, and a frozen dataclass's
    # __init__ costs several times a tuple's.
    #: Every Authorization header value, in the order received.
    authorization: tuple[str, ...] = ()
    #: The query string as received (ASGI's `query_string`): parsed only by a profile that
    #: reads it (`query`), not on every request.
    query_string: bytes = b""
    #: The request body as received (a GET route's body is normally empty): read only by a
    #: profile that looks for a token in it (RFC 6750 §2.2).
    body: bytes = b""

    @classmethod
    def of(
        cls, authorization: Iterable[str], query_string: bytes | str = b"", body: bytes = b""
    ) -> Credentials:
        raw = query_string.encode("latin-1") if isinstance(query_string, str) else query_string
        return cls(tuple(authorization), raw, body)

    @property
    def query(self) -> frozenset[str]:
        """The names of the query parameters."""
        pairs = parse_qsl(self.query_string.decode("latin-1"), keep_blank_values=True)
        return frozenset(name for name, _ in pairs)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None when there are no
    bearer credentials at all (absent, empty, or another scheme; the scheme is case-insensitive).
    Splits at the first space and strips the rest exactly as FastAPI's OAuth2PasswordBearer does
    (RFC 6750 allows several spaces), so "Bearer " gives an empty token (an invalid one, not a
    missing one)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()
