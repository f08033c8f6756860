"""A first handful of checks; the full catalogue lives in the test_*.py files beside this one."""

from __future__ import annotations

import httpx

from conformance.checks import MUST, check
from conformance.conftest import Target


@check("TOK-001", MUST, "CONTRACT POST /token 200", "johndoe logs in and gets a bearer token")
async def test_login_ok(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/token", data={"username": "johndoe", "password": "secret", "scope": "me items"}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "bearer"
    assert body["scope"] == "me items"
    assert body["expires_in"] == 1800
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


@check("AUTH-001", MUST, "CONTRACT Authentication 1", "no Authorization header: 401")
async def test_no_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/me/items/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    assert response.headers["www-authenticate"] == "Bearer"


@check("ITEM-001", MUST, "CONTRACT GET /users/me/items/", "items of the caller")
async def test_items(target: Target, client: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {target.mint()}"}
    response = await client.get("/users/me/items/", headers=headers)
    assert response.status_code == 200
    assert response.json() == [{"item_id": "Foo", "owner": "johndoe"}]
