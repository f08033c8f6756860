"""The Swagger UI page with its local assets, and the response models every adapter documents."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from core import models
from core.docs import ASSETS_DIR, ASSETS_PATH, swagger_ui_page


def test_assets_ship_with_the_package() -> None:
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        assert (ASSETS_DIR / name).is_file()
    assert ASSETS_PATH == "/docs/assets"


def test_page_loads_local_assets_only() -> None:
    page = swagger_ui_page()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources == [
        "/docs/assets/swagger-ui.css",
        "/docs/assets/favicon-32x32.png",
        "/docs/assets/swagger-ui-bundle.js",
    ]
    assert "<title>scopes-arena - Swagger UI</title>" in page
    config = re.search(r"const config = (\{.*\});", page)
    assert config is not None
    assert json.loads(config.group(1)) == {
        "url": "/openapi.json",
        "dom_id": "#swagger-ui",
        "deepLinking": True,
    }


def test_page_escapes_its_title_and_quotes_its_url() -> None:
    page = swagger_ui_page("/api/openapi.json", title="<b>arena</b>")
    assert "<title>&lt;b&gt;arena&lt;/b&gt; - Swagger UI</title>" in page
    assert '"url": "/api/openapi.json"' in page


def test_user_model_has_exactly_the_public_keys() -> None:
    assert models.User(username="bob").model_dump() == {
        "username": "bob",
        "email": None,
        "full_name": None,
        "disabled": None,
    }
    with pytest.raises(ValidationError):
        models.User(username="bob", hashed_password="x")  # type: ignore[call-arg]


def test_token_item_status_error_models() -> None:
    token = models.Token(access_token="t", token_type="bearer", expires_in=1800, scope="me")
    assert token.model_dump() == {
        "access_token": "t",
        "token_type": "bearer",
        "expires_in": 1800,
        "scope": "me",
    }
    assert models.Item(item_id="Foo", owner="bob").model_dump() == {
        "item_id": "Foo",
        "owner": "bob",
    }
    assert models.Status(status="ok").model_dump() == {"status": "ok"}
    assert models.ErrorDetail(detail="Not Found").model_dump() == {"detail": "Not Found"}


def _header(description: str) -> dict[str, object]:
    return {"description": description, "required": True, "schema": {"type": "string"}}


TOO_LARGE = {"model": models.ErrorDetail, "description": "Request body over 64 KiB"}
UNAVAILABLE = {
    "model": models.ErrorDetail,
    "description": "The user store cannot be reached",
    "headers": {"Retry-After": _header("Seconds to wait before retrying")},
}
AUTH = {
    401: {
        "model": models.ErrorDetail,
        "description": "Not authenticated, invalid token or not enough permissions",
        "headers": {"WWW-Authenticate": _header("Bearer challenge, with the route's scopes")},
    },
    413: TOO_LARGE,
    503: UNAVAILABLE,
}


def test_token_responses() -> None:
    assert dict(models.TOKEN_RESPONSES) == {
        200: {
            "description": "The access token",
            "headers": {
                "Cache-Control": _header("Always no-store"),
                "Pragma": _header("Always no-cache"),
            },
        },
        400: {"model": models.ErrorDetail, "description": "Incorrect username or password"},
        413: TOO_LARGE,
        429: {
            "model": models.ErrorDetail,
            "description": "Too many failed logins for this username or from this address (H12)",
            "headers": {"Retry-After": _header("Seconds until the window of failed logins passes")},
        },
        503: UNAVAILABLE,
    }


def test_auth_and_active_responses() -> None:
    assert models.auth_responses() == AUTH
    active = models.active_responses()
    assert active == {400: {"model": models.ErrorDetail, "description": "Inactive user"}, **AUTH}
    assert list(active) == [400, 401, 413, 503]


def test_responses_are_fresh_per_route() -> None:
    # A framework that edits one route's responses must not change another's.
    first = models.auth_responses()
    first[401]["headers"]["X"] = {}
    del first[413]
    assert models.auth_responses() == AUTH
