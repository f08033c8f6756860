"""TOK: POST /token (CONTRACT.md "POST /token"; RFC 6749 §4.3.2 and §5.1 as the tutorial reads
them): the 200 answer, the form rules, the 400/422/413 answers and what they must not reveal."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest

from conformance.checks import MUST, PYTHON, check
from conformance.conftest import Target
from conformance.support import (
    ITEMS,
    STATUS,
    USERS_ME,
    assert_error,
    bearer,
    body_field,
    decode_segment,
    describe,
    granted_scope,
    header,
    issued_token,
    json_body,
    login,
    token_claims,
    token_for,
)

LIMIT = 64 * 1024
FORM = {"content-type": "application/x-www-form-urlencoded"}
BAD_CREDENTIALS = {"detail": "Incorrect username or password"}


def missing(field: str) -> dict[str, Any]:
    return {"type": "missing", "loc": ["body", field], "msg": "Field required", "input": None}


def pattern_mismatch(value: str) -> dict[str, Any]:
    return {
        "type": "string_pattern_mismatch",
        "loc": ["body", "grant_type"],
        "msg": "String should match pattern '^password$'",
        "input": value,
        "ctx": {"pattern": "^password$"},
    }


@check("TOK-001", MUST, "CONTRACT POST /token 200", "the 200 body: four keys, values and types")
async def test_login_body(client: httpx.AsyncClient) -> None:
    response = await login(client)
    assert response.status_code == 200, f"expected 200, got {describe(response)}"
    assert header(response, "content-type").startswith("application/json")
    body = json_body(response)
    keys = {"access_token", "token_type", "expires_in", "scope"}
    assert isinstance(body, dict), f"expected a JSON object, got {describe(response)}"
    missing_keys, extra_keys = sorted(keys - set(body)), sorted(set(body) - keys)
    assert (missing_keys, extra_keys) == ([], []), (
        f"expected exactly the keys {sorted(keys)}, got {sorted(body)} "
        f"(missing {missing_keys or 'none'}, extra {extra_keys or 'none'})"
    )
    assert isinstance(body["access_token"], str)
    assert body["access_token"].count(".") == 2
    assert body["token_type"] == "bearer"
    expires_in = body["expires_in"]
    assert type(expires_in) is int, f"expected an integer expires_in, got {expires_in!r}"
    assert body["expires_in"] == 1800
    assert body["scope"] == "me items"


@check("TOK-002", MUST, "CONTRACT POST /token 200; RFC 6749 §5.1", "no-store and no-cache")
async def test_login_cache_headers(client: httpx.AsyncClient) -> None:
    response = await login(client)
    assert response.status_code == 200, f"expected 200, got {describe(response)}"
    assert header(response, "cache-control") == "no-store"
    assert header(response, "pragma") == "no-cache"


@check(
    "TOK-003",
    MUST,
    "CONTRACT Tokens (tutorial)",
    'plain jwt.decode(token, key, algorithms=["HS256"]) accepts the token: sub, scope, no aud',
)
async def test_token_decodes_plainly(target: Target, client: httpx.AsyncClient) -> None:
    token = await token_for(client, "johndoe", "items me")
    alg = decode_segment(token.split(".")[0]).get("alg")
    assert alg == "HS256", f"expected alg HS256, got {alg!r}"
    key = target.secret_key
    try:
        payload = jwt.decode(token, key, algorithms=["HS256"])
    except jwt.InvalidTokenError as exc:
        raise AssertionError(
            f"expected jwt.decode(token, key, algorithms=['HS256']) to accept it, got "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    assert payload.get("sub") == "johndoe", f"expected sub 'johndoe', got {payload!r}"
    assert payload.get("scope") == "items me", f"expected scope 'items me', got {payload!r}"
    assert "aud" not in payload
    assert isinstance(payload.get("jti", ""), str)


@check("TOK-004", MUST, "CONTRACT Tokens (tutorial)", "exp is now + 30 minutes = expires_in")
async def test_token_expiry(client: httpx.AsyncClient) -> None:
    before = time.time()
    response = await login(client)
    # Read without the key: the lifetime is judged here, the signature by TOK-003.
    payload = token_claims(issued_token(response))
    assert "exp" in payload, f"expected an exp claim, got {payload!r}"
    assert type(payload["exp"]) is int, f"expected an integer exp, got {payload['exp']!r}"
    lifetime = payload["exp"] - before
    assert before + 1800 - 30 <= payload["exp"] <= time.time() + 1800 + 1, (
        f"expected exp = now + 1800 s, got now + {lifetime:.0f} s"
    )
    if "iat" in payload:
        assert isinstance(payload["iat"], int)
        assert payload["iat"] <= time.time() + 1


@check("TOK-005", MUST, "CONTRACT POST /token", "a token from /token opens the routes it grants")
async def test_token_from_login_works(client: httpx.AsyncClient) -> None:
    token = await token_for(client)
    response = await client.get(USERS_ME, headers=bearer(token))
    assert response.status_code == 200, f"expected 200, got {describe(response)}"
    assert body_field(response, "username") == "johndoe"


@check(
    "TOK-006",
    MUST,
    "CONTRACT POST /token (multipart accepted)",
    "multipart/form-data login",
    tier=PYTHON,
)
async def test_multipart_accepted(client: httpx.AsyncClient) -> None:
    fields = {"username": "johndoe", "password": "secret", "scope": "me"}
    files = {name: (None, value) for name, value in fields.items()}
    response = await client.post("/token", files=files)
    assert response.request.headers["content-type"].startswith("multipart/form-data")
    assert granted_scope(response) == "me"


@pytest.mark.parametrize("grant_type", [None, "", "password"], ids=["absent", "empty", "password"])
@check("TOK-007", MUST, "CONTRACT POST /token fields", "grant_type absent, empty or password")
async def test_grant_type_accepted(client: httpx.AsyncClient, grant_type: str | None) -> None:
    form = {"username": "johndoe", "password": "secret", "scope": "me"}
    if grant_type is not None:
        form["grant_type"] = grant_type
    response = await client.post("/token", data=form)
    assert response.status_code == 200, f"expected 200, got {describe(response)}"


@pytest.mark.parametrize(
    "grant_type",
    ["client_credentials", "refresh_token", "Password", "PASSWORD", "password ", " password"],
)
@check("TOK-008", MUST, "CONTRACT POST /token fields", "another grant_type: 422 pattern entry")
async def test_grant_type_refused(client: httpx.AsyncClient, grant_type: str) -> None:
    form = {"grant_type": grant_type, "username": "johndoe", "password": "secret"}
    response = await client.post("/token", data=form)
    assert response.status_code == 422, f"expected 422, got {describe(response)}"
    assert response.json() == {"detail": [pattern_mismatch(grant_type)]}


MISSING_CASES: dict[str, tuple[dict[str, str], list[str]]] = {
    "nothing": ({}, ["username", "password"]),
    "both-empty": ({"username": "", "password": ""}, ["username", "password"]),
    "no-password": ({"username": "johndoe"}, ["password"]),
    "empty-password": ({"username": "johndoe", "password": ""}, ["password"]),
    "no-username": ({"password": "secret"}, ["username"]),
    "empty-username": ({"username": "", "password": "secret"}, ["username"]),
    "only-scope": ({"scope": "me", "grant_type": "password"}, ["username", "password"]),
}


@pytest.mark.parametrize("case", list(MISSING_CASES))
@check(
    "TOK-009",
    MUST,
    "CONTRACT POST /token 422 (an empty field counts as absent)",
    "username/password missing or empty: FastAPI's exact 'missing' entries",
)
async def test_missing_fields(client: httpx.AsyncClient, case: str) -> None:
    form, fields = MISSING_CASES[case]
    response = await client.post("/token", data=form)
    assert response.status_code == 422, f"expected 422, got {describe(response)}"
    assert response.json() == {"detail": [missing(field) for field in fields]}


@check("TOK-010", MUST, "CONTRACT POST /token 422", "one entry per bad field, in field order")
async def test_errors_in_field_order(client: httpx.AsyncClient) -> None:
    response = await client.post("/token", data={"grant_type": "implicit", "scope": "me"})
    assert response.status_code == 422, f"expected 422, got {describe(response)}"
    assert response.json() == {
        "detail": [pattern_mismatch("implicit"), missing("username"), missing("password")]
    }


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("username=nobody&username=johndoe&password=wrong&password=secret", 200),
        ("username=johndoe&password=secret&password=wrong", 400),
        ("username=johndoe&username=&password=secret", 422),
        ("username=johndoe&password=secret&scope=me+items&scope=me", 200),
    ],
    ids=["last-is-right", "last-is-wrong", "last-is-empty", "last-scope"],
)
@check("TOK-011", MUST, "CONTRACT POST /token fields", "a repeated field: the last value wins")
async def test_repeated_field_last_wins(client: httpx.AsyncClient, body: str, status: int) -> None:
    response = await client.post("/token", content=body, headers=FORM)
    assert response.status_code == status, f"expected {status}, got {describe(response)}"
    if status == 200:
        assert granted_scope(response) == ("me" if "scope" in body else "")
    elif status == 400:
        assert json_body(response) == BAD_CREDENTIALS
    else:
        assert json_body(response) == {"detail": [missing("username")]}


@check("TOK-012", MUST, "CONTRACT POST /token fields", "unknown fields are ignored")
async def test_unknown_fields_ignored(client: httpx.AsyncClient) -> None:
    form = {
        "username": "johndoe",
        "password": "secret",
        "scope": "me",
        "admin": "true",
        "scopes": "items",
        "refresh_token": "x",
        "redirect_uri": "https://attacker.example/",
    }
    response = await client.post("/token", data=form)
    assert granted_scope(response) == "me"


@pytest.mark.parametrize(
    "extra",
    [
        {"client_id": "someone"},
        {"client_secret": "whatever"},
        {"client_id": "", "client_secret": ""},
        {"client_id": "johndoe", "client_secret": "not-the-password"},
    ],
    ids=["client_id", "client_secret", "both-empty", "both"],
)
@check("TOK-013", MUST, "CONTRACT POST /token fields", "client_id and client_secret are ignored")
async def test_client_credentials_ignored(client: httpx.AsyncClient, extra: dict[str, str]) -> None:
    response = await client.post(
        "/token", data={"username": "johndoe", "password": "secret", "scope": "me", **extra}
    )
    assert granted_scope(response) == "me"


@check(
    "TOK-014",
    MUST,
    "CONTRACT POST /token 400",
    "unknown user and wrong password: one status, one body, one set of headers",
)
async def test_no_user_enumeration_by_answer(client: httpx.AsyncClient) -> None:
    unknown = await login(client, "nosuchuser", "secret")
    wrong = await login(client, "johndoe", "not-the-password")
    for response in (unknown, wrong):
        assert_error(response, 400, BAD_CREDENTIALS["detail"])
        assert "www-authenticate" not in response.headers
    assert unknown.content == wrong.content
    volatile = {"date", "server"}
    assert {k for k in unknown.headers if k not in volatile} == {
        k for k in wrong.headers if k not in volatile
    }


CANARY = "Pw-Canary-7f3a9d2e"
Request = Callable[[str], dict[str, Any]]
#: Bad requests carrying the password canary in every place a password could go.
LEAK_REQUESTS: dict[str, tuple[str, str, Request]] = {
    "wrong-password": (
        "POST",
        "/token",
        lambda pw: {"data": {"username": "johndoe", "password": pw}},
    ),
    "unknown-user": ("POST", "/token", lambda pw: {"data": {"username": "ghost", "password": pw}}),
    "password-as-username": (
        "POST",
        "/token",
        lambda pw: {"data": {"username": pw, "password": pw}},
    ),
    "no-username": ("POST", "/token", lambda pw: {"data": {"password": pw}}),
    "bad-grant-type": (
        "POST",
        "/token",
        lambda pw: {"data": {"grant_type": "x", "username": "johndoe", "password": pw}},
    ),
    "repeated": (
        "POST",
        "/token",
        lambda pw: {"content": f"password={pw}&password={pw}x&username=", "headers": FORM},
    ),
    "password-file": (
        "POST",
        "/token",
        lambda pw: {
            "data": {"username": "johndoe"},
            "files": {"password": ("pw.txt", pw.encode())},
        },
    ),
    "client-secret-file": (
        "POST",
        "/token",
        lambda pw: {
            "data": {"username": "johndoe", "password": "secret"},
            "files": {"client_secret": ("s.txt", pw.encode())},
        },
    ),
    "client-secret": ("POST", "/token", lambda pw: {"data": {"client_secret": pw}}),
    "json-body": ("POST", "/token", lambda pw: {"json": {"username": "johndoe", "password": pw}}),
    "text-body": (
        "POST",
        "/token",
        lambda pw: {
            "content": f"username=johndoe&password={pw}",
            "headers": {"content-type": "text/plain"},
        },
    ),
    "broken-multipart": (
        "POST",
        "/token",
        lambda pw: {
            "content": f'--b\r\nContent-Disposition: form-data; name="password"\r\n\r\n{pw}',
            "headers": {"content-type": "multipart/form-data; boundary=b"},
        },
    ),
    "query-string": (
        "POST",
        "/token",
        lambda pw: {"params": {"username": "johndoe", "password": pw}},
    ),
    "too-large": (
        "POST",
        "/token",
        lambda pw: {"data": {"username": "johndoe", "password": pw, "pad": "x" * LIMIT}},
    ),
    "long-password": (
        "POST",
        "/token",
        lambda pw: {"data": {"username": "johndoe", "password": pw * 1000}},
    ),
    "get-token": ("GET", "/token", lambda pw: {"params": {"username": "johndoe", "password": pw}}),
    "basic-auth": ("GET", USERS_ME, lambda pw: {"auth": ("johndoe", pw)}),
    "bearer-password": ("GET", USERS_ME, lambda pw: {"headers": {"Authorization": f"Bearer {pw}"}}),
}


@pytest.mark.parametrize("case", list(LEAK_REQUESTS))
@check("TOK-015", MUST, "CONTRACT POST /token 422", "a password value never appears in a response")
async def test_password_never_echoed(client: httpx.AsyncClient, case: str) -> None:
    method, path, build = LEAK_REQUESTS[case]
    response = await client.request(method, path, **build(CANARY))
    assert response.status_code >= 400, response.text
    assert CANARY not in response.text
    assert CANARY.lower() not in response.text.lower()
    for name, value in response.headers.items():
        assert CANARY not in value, name


@check("TOK-016", MUST, "CONTRACT POST /token (a disabled user can log in)", "alice logs in")
async def test_disabled_user_logs_in(client: httpx.AsyncClient) -> None:
    response = await login(client, "alice", "secretalice")
    assert granted_scope(response) == "me items"
    # What the token names is read without the key: the signature is TOK-003's.
    sub = token_claims(issued_token(response)).get("sub")
    assert sub == "alice", f"expected sub 'alice', got {sub!r}"


@pytest.mark.parametrize("path", [USERS_ME, ITEMS])
@check(
    "TOK-017",
    MUST,
    "CONTRACT POST /token; Authentication 4",
    "alice's token from /token meets 400 Inactive user under /users/me/",
)
async def test_disabled_user_token_inactive(client: httpx.AsyncClient, path: str) -> None:
    token = await token_for(client, "alice")
    response = await client.get(path, headers=bearer(token))
    assert_error(response, 400, "Inactive user")


@check("TOK-018", MUST, "CONTRACT GET /status/ (no disabled check)", "alice's token opens /status/")
async def test_disabled_user_token_status(client: httpx.AsyncClient) -> None:
    token = await token_for(client, "alice", "")
    response = await client.get(STATUS, headers=bearer(token))
    assert response.status_code == 200, f"expected 200, got {describe(response)}"
    assert response.json() == {"status": "ok"}


def _form_of_size(size: int) -> bytes:
    prefix = b"username=johndoe&password=secret&scope=me&pad="
    return prefix + b"x" * (size - len(prefix))


@check("TOK-019", MUST, "CONTRACT POST /token 413", "a body over 64 KiB with Content-Length: 413")
async def test_body_too_large(client: httpx.AsyncClient) -> None:
    response = await client.post("/token", content=_form_of_size(LIMIT + 1), headers=FORM)
    assert response.request.headers["content-length"] == str(LIMIT + 1)
    assert_error(response, 413, "Request body too large")


@check(
    "TOK-020",
    MUST,
    "CONTRACT POST /token 413 (read no further)",
    "a chunked body over 64 KiB: 413, and in-process no more than the limit is read",
)
async def test_chunked_body_too_large(target: Target, client: httpx.AsyncClient) -> None:
    chunk = 8 * 1024
    total = 80 * 1024 if target.live else 1024 * 1024
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        yield b"username=johndoe&password=secret&pad="
        for _ in range(total // chunk):
            pulled += 1
            yield b"x" * chunk

    response = await client.post("/token", content=body(), headers=FORM)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_error(response, 413, "Request body too large")
    if not target.live:
        # The app may pull one chunk past the limit to notice it, never the rest.
        assert pulled <= LIMIT // chunk + 2, f"read {pulled * chunk} bytes"


@check(
    "TOK-021", MUST, "CONTRACT POST /token 413 (over 64 KiB)", "a body of exactly 64 KiB is read"
)
async def test_body_at_limit(client: httpx.AsyncClient) -> None:
    response = await client.post("/token", content=_form_of_size(LIMIT), headers=FORM)
    assert granted_scope(response) == "me"


@check(
    "TOK-022",
    MUST,
    "CONTRACT POST /token (fields are read from the body)",
    "credentials in the query string are not read",
)
async def test_query_string_not_read(client: httpx.AsyncClient) -> None:
    response = await client.post("/token", params={"username": "johndoe", "password": "secret"})
    assert response.status_code == 422, f"expected 422, got {describe(response)}"
    assert response.json() == {"detail": [missing("username"), missing("password")]}


@pytest.mark.parametrize("field", ["username", "password"])
@check(
    "TOK-023",
    MUST,
    "CONTRACT POST /token 422 (FastAPI's shape; a password value never appears)",
    "a file where a text field belongs: FastAPI's string_type entry, without the content",
    tier=PYTHON,
)
async def test_file_in_text_field(client: httpx.AsyncClient, field: str) -> None:
    fields = {"username": "johndoe", "password": "secret"}
    del fields[field]
    response = await client.post(
        "/token", data=fields, files={field: ("upload.txt", b"secret", "text/plain")}
    )
    assert response.status_code == 422, f"expected 422, got {describe(response)}"
    assert response.json() == {
        "detail": [
            {
                "type": "string_type",
                "loc": ["body", field],
                "msg": "Input should be a valid string",
                "input": None,
            }
        ]
    }
