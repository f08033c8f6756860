"""What a request presents to a protected route, as raw as the adapter can give it.

Adapters hand over every Authorization header value, the raw query string and the (buffered)
body; which of that counts as a bearer token, and what is malformed, is the profile's call (the
tutorial profile reads the first header as FastAPI does; the strict profile of RFC 6750 also
refuses two headers, or a token in the query or the body), so adapters never change when a
profile does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import NamedTuple
from urllib.parse import parse_qsl

#: How an adapter lets the core read the request body (e.g. `request.body`, not awaited): only a
#: profile that looks for a token in the body awaits it, so the tutorial's hot path never does
#: (reading a GET's empty body costs Starlette ~13 us a request).
BodyReader = Callable[[], Awaitable[bytes]]


class Credentials(NamedTuple):
    # A NamedTuple, not a frozen dataclass: one is built per request, and a frozen dataclass's
    # __init__ costs several times a tuple's.
    #: Every Authorization header value, in the order received.
    authorization: tuple[str, ...] = ()
    #: The query string as received (ASGI's `query_string`): parsed only by a profile that
    #: reads it (`query`), not on every request.
    query_string: bytes = b""
    #: The request body as received (a GET route's body is normally empty), once read: only
    #: for a profile that looks for a token in it (RFC 6750 §2.2), see `Arena.authenticate`.
    body: bytes = b""
    #: How to read it, where it has not been read yet.
    read_body: BodyReader | None = None

    @classmethod
    def of(
        cls,
        authorization: Iterable[str],
        query_string: bytes | str = b"",
        body: bytes | BodyReader = b"",
    ) -> Credentials:
        raw = query_string.encode("latin-1") if isinstance(query_string, str) else query_string
        if isinstance(body, bytes):
            return cls(tuple(authorization), raw, body)
        return cls(tuple(authorization), raw, b"", body)

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
