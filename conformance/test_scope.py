"""SCOPE: the granted-scope rule H1 (CONTRACT.md "Hardening" H1; the tutorial's "위험" note):
granted = requested (split on whitespace, de-duplicated, first-seen order) ∩ known ∩ allowed.

What was granted is read from the token's `scope` claim, without the key: a /token body that
lacks its `scope` field fails TOK-001 alone, and a wrong --secret-key skips none of these."""

from __future__ import annotations

import random

import httpx
import pytest

from conformance.checks import MUST, check
from conformance.support import (
    ITEMS,
    STATUS,
    USERS_ME,
    assert_error,
    bearer,
    granted_scope,
    issued_token,
    json_body,
    login,
    token_claims,
)

KNOWN = ("me", "items")


def reference_grant(requested: str, allowed: tuple[str, ...] = KNOWN) -> str:
    """H1 written out independently of the core."""
    granted: list[str] = []
    for name in requested.split():
        if name in KNOWN and name in allowed and name not in granted:
            granted.append(name)
    return " ".join(granted)


async def granted(client: httpx.AsyncClient, scope: str | None, username: str = "johndoe") -> str:
    password = {"johndoe": "secret", "alice": "secretalice"}[username]
    return granted_scope(await login(client, username, password, scope))


@pytest.mark.parametrize(
    ("requested", "expected"),
    [("me items", "me items"), ("items me", "items me"), ("me", "me"), ("items", "items")],
)
@check("SCOPE-001", MUST, "CONTRACT H1", "known, allowed scopes are granted in first-seen order")
async def test_grant_order(client: httpx.AsyncClient, requested: str, expected: str) -> None:
    assert await granted(client, requested) == expected


@pytest.mark.parametrize(
    ("requested", "expected"),
    [("me me items me", "me items"), ("items items", "items"), ("items me items me", "items me")],
)
@check("SCOPE-002", MUST, "CONTRACT H1", "repeated scopes are granted once")
async def test_grant_deduplicated(client: httpx.AsyncClient, requested: str, expected: str) -> None:
    assert await granted(client, requested) == expected


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("me admin items", "me items"),
        ("admin", ""),
        ("openid profile", ""),
        ("* me", "me"),
        ("users:write items", "items"),
    ],
)
@check("SCOPE-003", MUST, "CONTRACT H1 (never more)", "unknown scopes are dropped silently")
async def test_unknown_dropped(client: httpx.AsyncClient, requested: str, expected: str) -> None:
    assert await granted(client, requested) == expected


@pytest.mark.parametrize(
    "requested", [None, "", " ", "\t\n"], ids=["absent", "empty", "space", "ws"]
)
@check("SCOPE-004", MUST, "CONTRACT POST /token (scope default empty)", "no scope: granted ''")
async def test_no_scope_requested(client: httpx.AsyncClient, requested: str | None) -> None:
    assert await granted(client, requested) == ""


@pytest.mark.parametrize(
    ("path", "status"),
    [(USERS_ME, 401), (ITEMS, 401), (STATUS, 200)],
    ids=["me", "items", "status"],
)
@check(
    "SCOPE-005",
    MUST,
    "CONTRACT H1; Authentication 3",
    "a token granted no scope: 401 Not enough permissions, except on /status/",
)
async def test_scopeless_token(client: httpx.AsyncClient, path: str, status: int) -> None:
    response = await login(client, scope=None)
    assert granted_scope(response) == ""
    answer = await client.get(path, headers=bearer(issued_token(response)))
    if status == 200:
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"status": "ok"}
    else:
        challenge = 'Bearer scope="me"' if path == USERS_ME else 'Bearer scope="items me"'
        assert_error(answer, 401, "Not enough permissions", challenge)


@pytest.mark.parametrize(
    "requested",
    [
        "ME",
        "Me",
        "ITEMS",
        "me ",
        "items:read",
        "me:items",
        "meitems",
        "me,items",
        "me;items",
        "me+items",
        "'me'",
        '"me"',
        "m e",
        "me\x00",
        "\uff4d\uff45",
    ],
)
@check("SCOPE-006", MUST, "CONTRACT H1; Authentication 3 (exact names)", "near-misses not granted")
async def test_near_misses(client: httpx.AsyncClient, requested: str) -> None:
    # "me " is "me" plus whitespace: it *is* "me"; every other value names no known scope.
    assert await granted(client, requested) == ("me" if requested == "me " else "")


@pytest.mark.parametrize(
    "requested",
    ["me\titems", "me\nitems", "me\r\nitems", "me   items", "  me items  ", "\tme\t\titems\n"],
    ids=["tab", "newline", "crlf", "spaces", "padded", "mixed"],
)
@check("SCOPE-007", MUST, "CONTRACT H1 (split on whitespace)", "any whitespace separates scopes")
async def test_whitespace_split(client: httpx.AsyncClient, requested: str) -> None:
    assert await granted(client, requested) == "me items"


@pytest.mark.parametrize("requested", ["items me", "me admin", ""], ids=["both", "me", "none"])
@check("SCOPE-008", MUST, "CONTRACT H1; Tokens", "the token's scope claim is the granted string")
async def test_claim_matches_answer(client: httpx.AsyncClient, requested: str) -> None:
    response = await login(client, scope=requested)
    claim = token_claims(issued_token(response)).get("scope")
    assert claim == reference_grant(requested), (
        f"expected the scope claim {reference_grant(requested)!r}, got {claim!r}"
    )
    # The body's own field, where there is one, says the same; its absence is TOK-001's.
    body = json_body(response)
    if isinstance(body, dict) and "scope" in body:
        assert body["scope"] == claim, f"expected the body's scope {claim!r}, got {body['scope']!r}"


def _requests(count: int) -> list[str]:
    rng = random.Random(6749)  # fixed: the same cases every run
    words = ["me", "items", "ME", "Items", "admin", "me:", "items.read", "", "scope", "me\x7f"]
    spaces = [" ", "  ", "\t", "\n"]
    return [
        "".join(rng.choice(words) + rng.choice(spaces) for _ in range(rng.randint(1, 6)))
        for _ in range(count)
    ]


@pytest.mark.parametrize("requested", _requests(12), ids=[f"r{i}" for i in range(12)])
@check(
    "SCOPE-009",
    MUST,
    "CONTRACT H1 (never more)",
    "granted never exceeds the request and never names an unknown scope",
)
async def test_grant_is_a_subset(client: httpx.AsyncClient, requested: str) -> None:
    value = await granted(client, requested)
    names = value.split(" ") if value else []
    assert set(names) <= set(requested.split()) & set(KNOWN)
    assert len(names) == len(set(names))
    assert value == reference_grant(requested)


@check(
    "SCOPE-010",
    MUST,
    "CONTRACT H1; Authentication 3",
    "a token granted only `me` opens /users/me/ and not /users/me/items/",
)
async def test_granted_scope_enforced(client: httpx.AsyncClient) -> None:
    # Only `me` is asked for: what an unknown name does to the grant is SCOPE-003's verdict.
    response = await login(client, scope="me")
    assert granted_scope(response) == "me"
    headers = bearer(issued_token(response))
    me = await client.get(USERS_ME, headers=headers)
    assert me.status_code == 200, me.text
    items = await client.get(ITEMS, headers=headers)
    assert_error(items, 401, "Not enough permissions", 'Bearer scope="items me"')


@pytest.mark.parametrize("requested", ["items me", "me", "items"])
@check(
    "SCOPE-011",
    MUST,
    "CONTRACT H1 (allowed for that user)",
    "a disabled user is granted only what she asks for, too",
)
async def test_alice_grant(client: httpx.AsyncClient, requested: str) -> None:
    # Known names only: unknown ones are SCOPE-003's (one rule, one verdict).
    assert await granted(client, requested, "alice") == requested
