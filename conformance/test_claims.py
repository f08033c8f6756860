"""AUTH (numbers): a token's numeric claims must be JSON numbers a float can hold (RFC 8259 §6,
RFC 7519 NumericDate); a signed token whose `exp`, `nbf` or `iat` is an integer beyond any
float is an invalid token, answered 401 with the route's challenge, never a 500 (H2)."""

from __future__ import annotations

import time

import httpx
import pytest

from conformance.checks import MUST, check
from conformance.conftest import Target
from conformance.support import HS256, PROTECTED, assert_error, bearer, forge

HUGE = "1" + "0" * 400  # an integer that no float holds (float() overflows)


def _payload(name: str) -> str:
    exp = int(time.time()) + 600
    claims = {"exp": str(exp), "iat": str(exp - 600), "nbf": str(exp - 600), name: HUGE}
    fields = ",".join(f'"{key}":{value}' for key, value in claims.items())
    return f'{{"sub":"johndoe","scope":"me items",{fields}}}'


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize(("path", "challenge"), PROTECTED)
@check(
    "AUTH-045",
    MUST,
    "CONTRACT Authentication 2; H2",
    "a numeric claim beyond any float (exp, iat, nbf of 401 digits) is an invalid token, not a 500",
)
async def test_claims_beyond_a_float(
    target: Target, client: httpx.AsyncClient, path: str, challenge: str, claim: str
) -> None:
    token = forge(HS256, _payload(claim), target.secret_key.encode())
    response = await client.get(path, headers=bearer(token))
    assert_error(response, 401, "Could not validate credentials", challenge)
