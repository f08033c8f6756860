"""ROUTE: the endpoints' 200 answers and routing errors (CONTRACT.md "Endpoints", H7, and the
framework-dependent points where either answer is allowed and the variant is recorded)."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from conformance.checks import MUST, check
from conformance.conftest import Target
from conformance.support import (
    ITEMS,
    JOHNDOE,
    STATUS,
    USERS_ME,
    assert_error,
    bearer,
    describe,
    record_variant,
)

ANSWERS: dict[str, object] = {
    USERS_ME: JOHNDOE,
    ITEMS: [{"item_id": "Foo", "owner": "johndoe"}],
    STATUS: {"status": "ok"},
}


@check("ROUTE-001", MUST, "CONTRACT GET /users/me/", "johndoe's four keys, exactly")
async def test_users_me(target: Target, client: httpx.AsyncClient) -> None:
    response = await client.get(USERS_ME, headers=bearer(target.mint("johndoe", ("me",))))
    assert response.status_code == 200, f"expected 200, got {describe(response)}"
    body = response.json()
    assert body == JOHNDOE
    assert body["disabled"] is False


@check("ROUTE-002", MUST, "CONTRACT GET /users/me/items/", "the caller's items, ordered by item_id")
async def test_items(target: Target, client: httpx.AsyncClient) -> None:
    response = await client.get(ITEMS, headers=bearer(target.mint("johndoe", ("items", "me"))))
    assert response.status_code == 200, f"expected 200, got {describe(response)}"
    body = response.json()
    assert body == [{"item_id": "Foo", "owner": "johndoe"}]
    assert body == sorted(body, key=lambda item: item["item_id"])


@check("ROUTE-003", MUST, "CONTRACT GET /status/", '{"status": "ok"} with a scopeless token')
async def test_status(target: Target, client: httpx.AsyncClient) -> None:
    response = await client.get(STATUS, headers=bearer(target.mint("johndoe", ())))
    assert response.status_code == 200, f"expected 200, got {describe(response)}"
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", list(ANSWERS), ids=["me", "items", "status"])
@check("ROUTE-004", MUST, "CONTRACT Endpoints", "200 answers are application/json")
async def test_json_answers(target: Target, client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers=bearer(target.mint()))
    assert response.status_code == 200, f"expected 200, got {describe(response)}"
    assert response.headers["content-type"].split(";")[0].strip() == "application/json"


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/users/",
        "/users/me/items/Foo",
        "/users/johndoe/",
        "/token/x",
        "/openapi.yaml",
        "/static/x.js",
        "/%00",
        "/users/me/..%2F..%2Fetc/passwd",
    ],
)
@check("ROUTE-005", MUST, "CONTRACT H7", 'an unknown path: 404 {"detail": "Not Found"}')
async def test_not_found(target: Target, client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers=bearer(target.mint()))
    assert_error(response, 404, "Not Found")


def _allow(response: httpx.Response) -> set[str]:
    return {method.strip().upper() for method in response.headers.get("allow", "").split(",")}


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", USERS_ME), ("DELETE", STATUS), ("PUT", ITEMS), ("PATCH", STATUS), ("POST", STATUS)],
)
@check(
    "ROUTE-006",
    MUST,
    "CONTRACT H7",
    "another method on a GET route: 405 JSON with Allow containing GET, before authentication",
)
async def test_method_not_allowed_get(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path)
    assert_error(response, 405, "Method Not Allowed")
    assert "GET" in _allow(response)
    assert method not in _allow(response)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
@check("ROUTE-007", MUST, "CONTRACT H7", "another method on /token: 405 JSON with Allow: POST")
async def test_method_not_allowed_token(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, "/token")
    assert_error(response, 405, "Method Not Allowed")
    assert "POST" in _allow(response)
    assert method not in _allow(response)


@pytest.mark.parametrize(
    ("path", "slashed"),
    [("/users/me", USERS_ME), ("/users/me/items", ITEMS), ("/status", STATUS)],
    ids=["me", "items", "status"],
)
@pytest.mark.parametrize("authorized", [True, False], ids=["token", "no-token"])
@check(
    "ROUTE-008",
    MUST,
    "CONTRACT (framework-dependent points: trailing slash)",
    "no trailing slash: 307 to the slash form, or the slash form's answer (variant recorded)",
)
async def test_missing_trailing_slash(
    request: pytest.FixtureRequest,
    target: Target,
    client: httpx.AsyncClient,
    path: str,
    slashed: str,
    authorized: bool,
) -> None:
    headers = bearer(target.mint()) if authorized else {}
    response = await client.get(path, headers=headers)
    reference = await client.get(slashed, headers=headers)
    if response.status_code == 307:
        record_variant(request, "redirect-307")
        location = response.headers["location"]
        assert urlsplit(urljoin(str(response.request.url), location)).path == slashed
    else:
        record_variant(request, "same-answer")
        assert response.status_code == reference.status_code
        assert response.json() == reference.json()
        assert response.headers.get("www-authenticate") == reference.headers.get("www-authenticate")


@pytest.mark.parametrize("path", list(ANSWERS), ids=["me", "items", "status"])
@check(
    "ROUTE-009",
    MUST,
    "CONTRACT (framework-dependent points: HEAD)",
    "HEAD on a GET route: 405 with Allow containing GET, or 200 without a body (variant recorded)",
)
async def test_head(
    request: pytest.FixtureRequest, target: Target, client: httpx.AsyncClient, path: str
) -> None:
    response = await client.head(path, headers=bearer(target.mint()))
    assert response.content == b""
    if response.status_code == 405:
        record_variant(request, "head-405")
        assert "GET" in _allow(response)
    else:
        record_variant(request, "head-200")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
