"""What a request presents to a protected route, as raw as the adapter can give it.

Adapters hand over every Authorization header value and the query's parameter names; which of
that counts as a bearer token, and what is malformed, is the profile's call (the tutorial
profile reads the first header as FastAPI does; the strict profile of RFC 6750 will also refuse
two headers or a token in the query), so adapters never change when a profile does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class Credentials(NamedTuple):
    # A NamedTuple, not a frozen dataclass: one is built per request, and a frozen dataclass's
    # __init__ costs several times a tuple's.
    #: Every Authorization header value, in the order received.
    authorization: tuple[str, ...] = ()
    #: The names of the query parameters.
    query: frozenset[str] = frozenset()

    @classmethod
    def of(cls, authorization: Iterable[str], query: Iterable[str] = ()) -> Credentials:
        return cls(tuple(authorization), frozenset(query))


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
