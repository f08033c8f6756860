"""STRICT: the strict profile (CONTRACT.md section S): RFC 6749 §4.3/§5.2 at /token, RFC 6750
§3 on the protected routes, RFC 9068 access tokens, and the strict OpenAPI document.

Each check runs against `strict_target`: the target itself in a run with `--profile strict`
(a live server started with ARENA_PROFILE=strict), else an in-process build of it with the
strict profile. The tutorial's checks (every other family) judge the tutorial profile."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from conformance.checks import MUST, check
from conformance.conftest import STRICT_AUDIENCE, STRICT_ISSUER, Target
from conformance.openapi import normalize, strict_canonical
from conformance.support import (
    ITEMS,
    JOHNDOE,
    STATUS,
    USERS_ME,
    asgi_client,
    bearer,
    build_app,
    decode_segment,
    describe,
    forge,
    json_body,
    skip_if_live,
    token_claims,
)
from core.settings import Settings
from core.stores import open_store

FORM = "application/x-www-form-urlencoded"
GOOD = {"grant_type": "password", "username": "johndoe", "password": "secret", "scope": "me items"}
#: Each protected route with the scope= of its 403 challenge (None: it requires no scope).
ROUTES: tuple[tuple[str, str | None], ...] = ((USERS_ME, "me"), (ITEMS, "items me"), (STATUS, None))
REALM = 'Bearer realm="api"'


def _encode(pairs: list[tuple[str, str]] | dict[str, str]) -> bytes:
    items: list[tuple[str, str | int | float | bool | None]] = list(
        pairs.items() if isinstance(pairs, dict) else pairs
    )
    return str(httpx.QueryParams(items)).encode()


async def _token_request(
    client: httpx.AsyncClient,
    pairs: list[tuple[str, str]] | dict[str, str],
    *,
    content_type: str | None = FORM,
    query: str = "",
) -> httpx.Response:
    headers = {} if content_type is None else {"Content-Type": content_type}
    return await client.post(f"/token{query}", content=_encode(pairs), headers=headers)


def assert_token_error(response: httpx.Response, code: str) -> None:
    """S1: 400 {"error": code, "error_description": <text>} with Cache-Control: no-store."""
    assert response.status_code == 400, f"expected 400 {code}, got {describe(response)}"
    body = json_body(response)
    assert isinstance(body, dict), f"expected a JSON object, got {describe(response)}"
    assert set(body) == {"error", "error_description"}, (
        f"expected exactly error and error_description, got {describe(response)}"
    )
    assert body["error"] == code, f"expected error {code!r}, got {describe(response)}"
    assert isinstance(body["error_description"], str)
    assert body["error_description"]
    assert response.headers.get("cache-control") == "no-store", (
        f"expected Cache-Control: no-store, got {response.headers.get('cache-control')!r}"
    )


AUTH_PARAM = r'[A-Za-z_]+="[^"\\]*"'
CHALLENGE = re.compile(rf"Bearer {AUTH_PARAM}(?:, {AUTH_PARAM})*")


def _challenge_params(value: str) -> dict[str, str]:
    """The auth-params of a `Bearer k="v", k="v"` challenge (RFC 6750 §3: quoted values)."""
    assert CHALLENGE.fullmatch(value), f'expected Bearer k="v", ... got {value!r}'
    params = re.findall(r'([A-Za-z_]+)="([^"\\]*)"', value)
    assert len({name for name, _ in params}) == len(params), f"a repeated param in {value!r}"
    return dict(params)


def assert_bearer_error(
    response: httpx.Response, status: int, code: str, scope: str | None = None
) -> None:
    """S3: status, {"error": code, "error_description": …}, and the challenge
    `Bearer realm="api", error="<code>", ...` (scope= for insufficient_scope)."""
    assert response.status_code == status, f"expected {status} {code}, got {describe(response)}"
    body = json_body(response)
    assert isinstance(body, dict), f"expected a JSON object, got {describe(response)}"
    assert set(body) == {"error", "error_description"}, (
        f"expected exactly error and error_description, got {describe(response)}"
    )
    assert body["error"] == code, f"expected error {code!r}, got {describe(response)}"
    challenge = response.headers.get("www-authenticate", "")
    params = _challenge_params(challenge)
    assert params.get("realm") == "api", f'expected realm="api", got {challenge!r}'
    assert params.get("error") == code, f'expected error="{code}", got {challenge!r}'
    if scope is not None:
        assert params.get("scope") == scope, f'expected scope="{scope}", got {challenge!r}'
        assert challenge.startswith(f'{REALM}, error="{code}"'), challenge


async def strict_token(client: httpx.AsyncClient, **form: str) -> str:
    response = await _token_request(client, {**GOOD, **form})
    assert response.status_code == 200, f"expected a token from /token, got {describe(response)}"
    token = json_body(response)["access_token"]
    assert isinstance(token, str)
    return token


def _strict_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": STRICT_ISSUER,
        "sub": "johndoe",
        "aud": STRICT_AUDIENCE,
        "iat": now,
        "exp": now + 1800,
        "jti": "strict-check-jti",
        "scope": "me items",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


AT_JWT = {"alg": "HS256", "typ": "at+jwt"}


# --- S1: /token errors ----------------------------------------------------------------------


@check(
    "STRICT-001",
    MUST,
    "CONTRACT S1; RFC 6749 §4.3.2, §5.2",
    "grant_type, username or password missing or empty: 400 invalid_request, no-store",
    profile="strict",
)
@pytest.mark.parametrize(
    "drop", ["grant_type", "username", "password", "empty-grant_type", "empty-password"]
)
async def test_missing_parameter(strict_client: httpx.AsyncClient, drop: str) -> None:
    form = dict(GOOD)
    name = drop.removeprefix("empty-")
    if drop.startswith("empty-"):
        form[name] = ""
    else:
        del form[name]
    assert_token_error(await _token_request(strict_client, form), "invalid_request")


@check(
    "STRICT-002",
    MUST,
    "CONTRACT S1; RFC 6749 §3.2",
    "a parameter repeated: 400 invalid_request",
    profile="strict",
)
@pytest.mark.parametrize("name", ["grant_type", "username", "password", "scope"])
async def test_repeated_parameter(strict_client: httpx.AsyncClient, name: str) -> None:
    pairs = [*GOOD.items(), (name, GOOD[name])]
    assert_token_error(await _token_request(strict_client, pairs), "invalid_request")


@check(
    "STRICT-003",
    MUST,
    "CONTRACT S1; RFC 6749 §4.3.2",
    "a body that is not application/x-www-form-urlencoded: 400 invalid_request",
    profile="strict",
)
@pytest.mark.parametrize("kind", ["multipart", "json", "text", "none", "two-content-types"])
async def test_not_urlencoded(strict_client: httpx.AsyncClient, kind: str) -> None:
    if kind == "multipart":
        response = await strict_client.post("/token", data=GOOD, files={"x": ("x", b"x")})
    elif kind == "json":
        response = await strict_client.post("/token", json=GOOD)
    elif kind == "text":
        response = await _token_request(strict_client, GOOD, content_type="text/plain")
    elif kind == "none":
        response = await _token_request(strict_client, GOOD, content_type=None)
    else:
        headers = [("Content-Type", FORM), ("Content-Type", FORM)]
        response = await strict_client.post("/token", content=_encode(GOOD), headers=headers)
    assert_token_error(response, "invalid_request")


@check(
    "STRICT-004",
    MUST,
    "CONTRACT S1; RFC 6749 §3.2, RFC 9700 §4.3.2",
    "parameters in the query string: 400 invalid_request (a password never in a URL)",
    profile="strict",
)
@pytest.mark.parametrize("query", ["?password=secret", "?scope=me", "?x=1"])
async def test_query_parameters(strict_client: httpx.AsyncClient, query: str) -> None:
    assert_token_error(await _token_request(strict_client, GOOD, query=query), "invalid_request")


@check(
    "STRICT-005",
    MUST,
    "CONTRACT S1; RFC 6749 §5.2",
    "grant_type other than password: 400 unsupported_grant_type",
    profile="strict",
)
@pytest.mark.parametrize("grant", ["client_credentials", "authorization_code", "PASSWORD"])
async def test_unsupported_grant(strict_client: httpx.AsyncClient, grant: str) -> None:
    response = await _token_request(strict_client, {**GOOD, "grant_type": grant})
    assert_token_error(response, "unsupported_grant_type")


@check(
    "STRICT-006",
    MUST,
    "CONTRACT S1, S4; RFC 6749 §5.2",
    "unknown user, wrong password, disabled user: one 400 invalid_grant answer",
    profile="strict",
)
async def test_invalid_grant_is_one_answer(strict_client: httpx.AsyncClient) -> None:
    answers = [
        await _token_request(strict_client, {**GOOD, "username": "nobody"}),
        await _token_request(strict_client, {**GOOD, "password": "wrong"}),
        await _token_request(
            strict_client, {**GOOD, "username": "alice", "password": "secretalice"}
        ),
        await _token_request(strict_client, {**GOOD, "username": "JohnDoe"}),
    ]
    for response in answers:
        assert_token_error(response, "invalid_grant")
    assert len({(r.content, r.headers.get("cache-control")) for r in answers}) == 1, [
        describe(r) for r in answers
    ]


@check(
    "STRICT-007",
    MUST,
    "CONTRACT S1 (one timing), S4, H3",
    "unknown user, wrong password and disabled user take the same time",
    profile="strict",
)
async def test_invalid_grant_is_one_timing(
    request: pytest.FixtureRequest, strict_target: Target
) -> None:
    if strict_target.live:
        client = strict_target.client()
    else:
        settings = Settings(
            secret_key=SecretStr(strict_target.secret_key),
            database_url="memory://",
            demo_users=True,
            password_profile="recommended",
            profile="strict",
            login_rate_limit=False,  # many failed logins on purpose (H12: STRICT-023, RATE)
        )
        client = asgi_client(build_app(request.config, strict_target.name, settings))
    logins = {
        "unknown": {**GOOD, "username": "no-such-user", "password": "x"},
        "wrong": {**GOOD, "password": "not-the-password"},
        "disabled": {**GOOD, "username": "alice", "password": "secretalice"},
    }
    samples: dict[str, list[float]] = {name: [] for name in logins}
    async with client:
        for index in range(12):
            names = list(logins) if index % 2 else list(reversed(logins))
            for name in names:
                start = time.perf_counter()
                response = await _token_request(client, logins[name])
                elapsed = time.perf_counter() - start
                assert_token_error(response, "invalid_grant")
                if index >= 2:  # warm-up
                    samples[name].append(elapsed)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    summary = ", ".join(f"{name} {value * 1000:.1f} ms" for name, value in medians.items())
    request.node.user_properties.append(("measurement", summary))
    if min(medians.values()) < 0.01:
        pytest.skip(f"password checks too cheap to compare: {summary}")
    slower, faster = max(medians.values()), min(medians.values())
    assert slower - faster <= max(0.015, faster), f"expected alike medians, got {summary}"


@check(
    "STRICT-008",
    MUST,
    "CONTRACT S1; RFC 6749 §3.3, §5.2",
    "a scope unknown or outside RFC 6749 §3.3's characters: 400 invalid_scope",
    profile="strict",
)
@pytest.mark.parametrize(
    "scope",
    ["admin", "me admin", "Me", "me\titems", 'me"', "me\\", "me  items", " me", "me ", "ме"],
)
async def test_invalid_scope(strict_client: httpx.AsyncClient, scope: str) -> None:
    response = await _token_request(strict_client, {**GOOD, "scope": scope})
    assert_token_error(response, "invalid_scope")


@pytest.fixture
async def strict_instance(
    request: pytest.FixtureRequest, strict_target: Target, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """A strict in-process instance on a SQLite file, and a second connection to that file
    (the CLI's way in), to change a user while the instance runs."""
    skip_if_live(strict_target, "changes users in the target's store")
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    settings = Settings(
        secret_key=SecretStr(strict_target.secret_key),
        database_url=url,
        demo_users=True,
        password_profile="cheap",
        user_cache_ttl=0.5,
        profile="strict",
        login_rate_limit=False,
    )
    store = open_store(url)
    async with asgi_client(build_app(request.config, strict_target.name, settings)) as client:
        # The first login seeds the demo users.
        assert (await _token_request(client, GOOD)).status_code == 200
        try:
            yield client, store
        finally:
            await store.close()


@check(
    "STRICT-009",
    MUST,
    "CONTRACT S1, S2; RFC 6749 §3.3, §5.2",
    "a scope not allowed for the user: 400 invalid_scope, never a narrower token",
    profile="strict",
)
async def test_scope_not_allowed(strict_instance: tuple[httpx.AsyncClient, Any]) -> None:
    client, store = strict_instance
    await store.update_user("johndoe", scopes=("me",))  # users set-scopes johndoe me
    response = await _token_request(client, GOOD)
    assert_token_error(response, "invalid_scope")
    response = await _token_request(client, {**GOOD, "scope": "me"})
    assert response.status_code == 200, describe(response)


# --- S2: scope omitted ----------------------------------------------------------------------


@check(
    "STRICT-010",
    MUST,
    "CONTRACT S2; RFC 6749 §3.3, §5.1",
    "scope omitted: nothing granted; the answer always carries scope",
    profile="strict",
)
@pytest.mark.parametrize("scope", [None, "", "me", "items me"])
async def test_scope_omitted(strict_client: httpx.AsyncClient, scope: str | None) -> None:
    form = {key: value for key, value in GOOD.items() if key != "scope"}
    if scope is not None:
        form["scope"] = scope
    response = await _token_request(strict_client, form)
    assert response.status_code == 200, describe(response)
    body = json_body(response)
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}, body
    assert body["scope"] == (scope or ""), body
    assert token_claims(body["access_token"])["scope"] == (scope or "")
    assert response.headers.get("cache-control") == "no-store"
    if not scope:
        answer = await strict_client.get(USERS_ME, headers=bearer(body["access_token"]))
        assert_bearer_error(answer, 403, "insufficient_scope", "me")
        assert (
            await strict_client.get(STATUS, headers=bearer(body["access_token"]))
        ).status_code == 200


# --- S3: protected routes -------------------------------------------------------------------


@check(
    "STRICT-011",
    MUST,
    "CONTRACT S3; RFC 6750 §3",
    'no credentials or another scheme: 401 {"detail": "Not authenticated"}, Bearer realm="api"',
    profile="strict",
)
@pytest.mark.parametrize("route", [route for route, _ in ROUTES])
@pytest.mark.parametrize("authorization", [None, "", "Basic am9objpzZWNyZXQ=", "Token abc"])
async def test_no_credentials(
    strict_client: httpx.AsyncClient, route: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await strict_client.get(route, headers=headers)
    assert response.status_code == 401, describe(response)
    assert json_body(response) == {"detail": "Not authenticated"}
    assert response.headers.get("www-authenticate") == REALM


@check(
    "STRICT-012",
    MUST,
    "CONTRACT S3; RFC 6750 §2, §3.1",
    "malformed credentials (Bearer alone, extra parts, two headers, token in query or body): "
    "400 invalid_request",
    profile="strict",
)
@pytest.mark.parametrize("route", [route for route, _ in ROUTES])
# ("Bearer " with a trailing space is "Bearer" on the wire: HTTP strips trailing whitespace.)
@pytest.mark.parametrize("how", ["bare", "extra-part", "two-headers", "query", "body"])
async def test_malformed_credentials(
    strict_client: httpx.AsyncClient, route: str, how: str
) -> None:
    token = await strict_token(strict_client)
    if how == "bare":
        response = await strict_client.get(route, headers={"Authorization": "Bearer"})
    elif how == "extra-part":
        response = await strict_client.get(route, headers={"Authorization": f"Bearer {token} x"})
    elif how == "two-headers":
        headers = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
        response = await strict_client.get(route, headers=headers)
    elif how == "query":
        response = await strict_client.get(
            route, params={"access_token": token}, headers=bearer(token)
        )
    else:
        response = await strict_client.request(
            "GET",
            route,
            content=f"access_token={token}".encode(),
            headers={**bearer(token), "Content-Type": FORM},
        )
    assert_bearer_error(response, 400, "invalid_request")


@check(
    "STRICT-013",
    MUST,
    "CONTRACT S3; RFC 6750 §3.1",
    "invalid, expired or unknown-user tokens: 401 invalid_token with its challenge",
    profile="strict",
)
@pytest.mark.parametrize("route", [route for route, _ in ROUTES])
@pytest.mark.parametrize("kind", ["garbage", "expired", "unknown-user", "other-key", "future-iat"])
async def test_invalid_token(strict_target: Target, route: str, kind: str) -> None:
    key = strict_target.secret_key.encode()
    now = int(time.time())
    token = {
        "garbage": "abc.def.ghi",
        "expired": forge(AT_JWT, _strict_claims(iat=now - 4000, exp=now - 100), key),
        "unknown-user": forge(AT_JWT, _strict_claims(sub="nobody"), key),
        "other-key": forge(AT_JWT, _strict_claims(), b"another-key-that-is-long-enough-0123456789"),
        "future-iat": forge(AT_JWT, _strict_claims(iat=now + 600), key),
    }[kind]
    async with strict_target.client() as client:
        response = await client.get(route, headers=bearer(token))
    assert_bearer_error(response, 401, "invalid_token")


@check(
    "STRICT-014",
    MUST,
    "CONTRACT S3; RFC 6750 §3.1",
    'a missing scope: 403 insufficient_scope, Bearer realm="api", error=..., scope="<required>"',
    profile="strict",
)
@pytest.mark.parametrize(("route", "required"), [r for r in ROUTES if r[1] is not None])
async def test_insufficient_scope(
    strict_client: httpx.AsyncClient, route: str, required: str
) -> None:
    token = await strict_token(strict_client, scope="items" if route == USERS_ME else "me")
    response = await strict_client.get(route, headers=bearer(token))
    assert_bearer_error(response, 403, "insufficient_scope", required)
    expected = f'{REALM}, error="insufficient_scope", scope="{required}"'
    assert response.headers["www-authenticate"] == expected


@check(
    "STRICT-015",
    MUST,
    "CONTRACT S3, S6",
    "a strict token from /token opens every route it has the scopes for",
    profile="strict",
)
async def test_valid_token(strict_client: httpx.AsyncClient) -> None:
    token = await strict_token(strict_client)
    response = await strict_client.get(USERS_ME, headers={"Authorization": f"Bearer   {token}"})
    assert response.status_code == 200, describe(response)
    assert json_body(response) == JOHNDOE
    items = await strict_client.get(ITEMS, headers=bearer(token))
    assert json_body(items) == [{"item_id": "Foo", "owner": "johndoe"}]
    assert json_body(await strict_client.get(STATUS, headers=bearer(token))) == {"status": "ok"}


# --- S4: disabled users ---------------------------------------------------------------------


@check(
    "STRICT-016",
    MUST,
    "CONTRACT S4; RFC 6750 §3.1",
    "a disabled user's token is refused on every route, /status/ included: 401 invalid_token",
    profile="strict",
)
@pytest.mark.parametrize("route", [route for route, _ in ROUTES])
async def test_disabled_user_token(strict_target: Target, route: str) -> None:
    token = strict_target.mint_strict("alice")  # the demo user alice is disabled
    async with strict_target.client() as client:
        response = await client.get(route, headers=bearer(token))
    assert_bearer_error(response, 401, "invalid_token")


@check(
    "STRICT-017",
    MUST,
    "CONTRACT S4, H13",
    "the live token of a user disabled later is refused within the user cache's lifetime",
    profile="strict",
)
async def test_disabled_later(strict_instance: tuple[httpx.AsyncClient, Any]) -> None:
    client, store = strict_instance
    token = await strict_token(client)
    assert (await client.get(STATUS, headers=bearer(token))).status_code == 200
    await store.update_user("johndoe", disabled=True)
    await asyncio.sleep(0.6)
    for route, _ in ROUTES:
        assert_bearer_error(await client.get(route, headers=bearer(token)), 401, "invalid_token")
    assert_token_error(await _token_request(client, GOOD), "invalid_grant")


# --- S6: RFC 9068 tokens --------------------------------------------------------------------


@check(
    "STRICT-018",
    MUST,
    "CONTRACT S6; RFC 9068 §2.1, §2.2",
    "a token from /token: typ at+jwt; iss, aud, sub, iat, exp, jti, scope (client_id where sent)",
    profile="strict",
)
@pytest.mark.parametrize("client_id", [None, "first-party-app"])
async def test_token_shape(strict_client: httpx.AsyncClient, client_id: str | None) -> None:
    form = dict(GOOD) if client_id is None else {**GOOD, "client_id": client_id}
    response = await _token_request(strict_client, form)
    assert response.status_code == 200, describe(response)
    token = json_body(response)["access_token"]
    header = decode_segment(token.split(".")[0])
    assert header.get("typ") == "at+jwt", header
    assert header.get("alg") == "HS256", header
    claims = token_claims(token)
    expected = {"iss", "aud", "sub", "iat", "exp", "jti", "scope"}
    assert set(claims) == expected | ({"client_id"} if client_id else set()), claims
    assert claims["iss"] == STRICT_ISSUER, claims
    assert claims["aud"] == STRICT_AUDIENCE, claims
    assert claims["sub"] == "johndoe", claims
    assert claims["scope"] == "me items", claims
    assert isinstance(claims["jti"], str), claims
    assert claims["jti"], claims
    assert claims["exp"] - claims["iat"] == json_body(response)["expires_in"], claims
    if client_id:
        assert claims["client_id"] == client_id


@check(
    "STRICT-019",
    MUST,
    "CONTRACT S6, S3; RFC 9068 §4, RFC 8725 §3.11",
    "wrong or missing typ, iss, aud, iat, jti or scope: 401 invalid_token",
    profile="strict",
)
@pytest.mark.parametrize(
    "kind",
    [
        "typ-JWT", "typ-missing", "iss-other", "iss-missing", "aud-other", "aud-missing",
        "iat-missing", "jti-missing", "scope-missing", "client_id-number",
    ],
)  # fmt: skip
async def test_claims_verified(strict_target: Target, kind: str) -> None:
    key = strict_target.secret_key.encode()
    header: dict[str, Any] = dict(AT_JWT)
    claims = _strict_claims()
    name, _, what = kind.partition("-")
    if name == "typ":
        header = {"alg": "HS256", "typ": "JWT"} if what == "JWT" else {"alg": "HS256"}
    elif what == "missing":
        del claims[name]
    elif what == "number":
        claims[name] = 42
    else:
        claims[name] = "someone-else"
    async with strict_target.client() as client:
        response = await client.get(USERS_ME, headers=bearer(forge(header, claims, key)))
        assert_bearer_error(response, 401, "invalid_token")
        # The same claims, well formed, pass: the check is about the one thing changed.
        good = forge(AT_JWT, _strict_claims(aud=[STRICT_AUDIENCE, "other"]), key)
        assert (await client.get(USERS_ME, headers=bearer(good))).status_code == 200


@check(
    "STRICT-020",
    MUST,
    "CONTRACT S6, Tokens; RFC 8725 §3.12",
    "a tutorial token is invalid under strict, and a strict token under tutorial",
    profile="strict",
)
async def test_profiles_do_not_mix(
    request: pytest.FixtureRequest, strict_target: Target, tmp_path: Path
) -> None:
    async with strict_target.client() as client:
        response = await client.get(STATUS, headers=bearer(strict_target.mint()))
        assert_bearer_error(response, 401, "invalid_token")
        strict = await strict_token(client)
    skip_if_live(strict_target, "the tutorial half needs a tutorial instance of the target")
    settings = Settings(
        secret_key=SecretStr(strict_target.secret_key),
        database_url="memory://",
        demo_users=True,
        password_profile="cheap",
        login_rate_limit=False,
    )
    async with asgi_client(build_app(request.config, strict_target.name, settings)) as tutorial:
        response = await tutorial.get(STATUS, headers=bearer(strict))
        assert response.status_code == 401, describe(response)
        assert json_body(response) == {"detail": "Could not validate credentials"}


# --- S5: the document -----------------------------------------------------------------------


@check(
    "STRICT-021",
    MUST,
    "CONTRACT S5, OpenAPI document",
    "the strict /openapi.json equals conformance/openapi.strict.json after normalisation",
    profile="strict",
)
async def test_strict_document(strict_client: httpx.AsyncClient) -> None:
    response = await strict_client.get("/openapi.json")
    assert response.status_code == 200, describe(response)
    assert normalize(json_body(response)) == normalize(strict_canonical())


@check(
    "STRICT-022",
    MUST,
    "CONTRACT S5, S1, S3",
    "every status the strict checks provoke is documented for its operation",
    profile="strict",
)
async def test_statuses_documented(strict_client: httpx.AsyncClient) -> None:
    document = json_body(await strict_client.get("/openapi.json"))
    token = await strict_token(strict_client, scope="")
    provoked = {
        ("/token", "post"): [
            await _token_request(strict_client, {**GOOD, "grant_type": "x"}),
            await _token_request(strict_client, GOOD),
        ],
        (USERS_ME, "get"): [
            await strict_client.get(USERS_ME),
            await strict_client.get(USERS_ME, headers={"Authorization": "Bearer"}),
            await strict_client.get(USERS_ME, headers=bearer(token)),
        ],
        (STATUS, "get"): [
            await strict_client.get(STATUS, headers={"Authorization": "Bearer a b"}),
            await strict_client.get(STATUS, headers=bearer("x.y.z")),
        ],
    }
    for (path, method), answers in provoked.items():
        documented = set(document["paths"][path][method]["responses"])
        statuses = {str(response.status_code) for response in answers}
        assert statuses <= documented, f"{method.upper()} {path}"


# --- H12 in the strict profile's words ------------------------------------------------------


@check(
    "STRICT-023",
    MUST,
    "CONTRACT S6 (H12's 429), H12",
    'too many failed logins: 429 {"error": "invalid_request", ...}, Retry-After, no-store',
    profile="strict",
)
async def test_too_many_attempts(
    request: pytest.FixtureRequest, strict_target: Target, tmp_path: Path
) -> None:
    skip_if_live(strict_target, "builds an instance with a small brute-force limit")
    settings = Settings(
        secret_key=SecretStr(strict_target.secret_key),
        database_url=f"sqlite:///{tmp_path / 'arena.db'}",
        data_dir=tmp_path,
        demo_users=True,
        password_profile="cheap",
        profile="strict",
        login_rate_limit=True,
        login_failures_per_username=2,
        login_failures_per_address=1000,
        login_failure_window=60.0,
    )
    async with asgi_client(build_app(request.config, strict_target.name, settings)) as client:
        for _ in range(2):
            wrong = await _token_request(client, {**GOOD, "password": "wrong"})
            assert_token_error(wrong, "invalid_grant")
        response = await _token_request(client, GOOD)  # the right password, too late
    assert response.status_code == 429, describe(response)
    body = json_body(response)
    assert isinstance(body, dict), describe(response)
    assert set(body) == {"error", "error_description"}, describe(response)
    assert body["error"] == "invalid_request", describe(response)
    assert response.headers.get("cache-control") == "no-store", response.headers
    retry_after = response.headers.get("retry-after", "")
    assert retry_after.isdigit(), f"expected Retry-After in seconds, got {retry_after!r}"
    assert 1 <= int(retry_after) <= 60, retry_after
