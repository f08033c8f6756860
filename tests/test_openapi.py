"""core.openapi: the document assembled from the core's models equals the canonical one."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.openapi import canonical, normalize
from core import models, openapi

API = (
    openapi.Operation(
        "POST", "/token", models.Token, models.TOKEN_RESPONSES, form=True, name="login"
    ),
    openapi.Operation(
        "GET", "/users/me/", models.User, models.active_responses(), security=("me",), name="me"
    ),
    openapi.Operation(
        "GET",
        "/users/me/items/",
        list[models.Item],
        models.active_responses(),
        security=("items", "me"),
        name="read_own_items",
    ),
    openapi.Operation(
        "GET", "/status/", models.Status, models.auth_responses(), security=(), name="status"
    ),
)
DOCUMENT = openapi.document(API, title="scopes-arena")


def test_document_equals_the_canonical_one() -> None:
    assert normalize(DOCUMENT) == normalize(canonical())


def test_document_head() -> None:
    assert DOCUMENT["openapi"] == "3.1.0"
    assert DOCUMENT["info"] == {"title": "scopes-arena", "version": "1.0.0"}
    assert openapi.document([], title="t", version="2")["info"] == {"title": "t", "version": "2"}
    assert list(DOCUMENT["paths"]) == ["/token", "/users/me/", "/users/me/items/", "/status/"]


@pytest.mark.parametrize(
    ("path", "method", "security"),
    [
        ("/token", "post", None),
        ("/users/me/", "get", [{"OAuth2PasswordBearer": ["me"]}]),
        ("/users/me/items/", "get", [{"OAuth2PasswordBearer": ["items", "me"]}]),
        ("/status/", "get", [{"OAuth2PasswordBearer": []}]),
    ],
)
def test_operation_security(path: str, method: str, security: list[Any] | None) -> None:
    assert DOCUMENT["paths"][path][method].get("security") == security


def test_operation_ids_and_statuses() -> None:
    token = DOCUMENT["paths"]["/token"]["post"]
    assert (token["operationId"], token["summary"]) == ("login", "Login")
    assert sorted(token["responses"]) == ["200", "400", "413", "422", "429", "503"]
    assert token["responses"]["200"]["description"] == "The access token"
    assert sorted(DOCUMENT["paths"]["/users/me/"]["get"]["responses"]) == [
        "200",
        "400",
        "401",
        "413",
        "503",
    ]
    assert sorted(DOCUMENT["paths"]["/status/"]["get"]["responses"]) == ["200", "401", "413", "503"]
    assert "requestBody" not in DOCUMENT["paths"]["/status/"]["get"]


def test_security_schemes() -> None:
    assert DOCUMENT["components"]["securitySchemes"] == {
        "OAuth2PasswordBearer": {
            "type": "oauth2",
            "flows": {
                "password": {
                    "scopes": {
                        "me": "Read information about the current user.",
                        "items": "Read items.",
                    },
                    "tokenUrl": "token",
                }
            },
        }
    }


def test_token_form_schema() -> None:
    text = {"type": "string"}
    optional = {"anyOf": [text, {"type": "null"}]}
    assert openapi.token_form_schema() == {
        "properties": {
            "grant_type": {
                "anyOf": [{"type": "string", "pattern": "^password$"}, {"type": "null"}],
                "title": "Grant Type",
            },
            "username": {**text, "minLength": 1, "title": "Username"},
            "password": {**text, "minLength": 1, "format": "password", "title": "Password"},
            "scope": {**text, "default": "", "title": "Scope"},
            "client_id": {**optional, "title": "Client Id"},
            "client_secret": {**optional, "format": "password", "title": "Client Secret"},
        },
        "type": "object",
        "required": ["username", "password"],
        "title": "TokenForm",
    }


def test_token_body_and_422_inline() -> None:
    """For an adapter that reads /token's body itself (FastAPI documents no body it does not
    parse): the same schemas as the $ref'd ones, written out."""
    assert openapi.token_request_body() == {
        "content": {openapi.FORM_MEDIA_TYPE: {"schema": openapi.token_form_schema()}},
        "required": True,
    }
    inline = openapi.validation_error_answer()["content"]["application/json"]["schema"]
    assert inline["properties"]["detail"]["items"] == openapi.VALIDATION_ERROR
    assert {**inline, "properties": None} == {**openapi.HTTP_VALIDATION_ERROR, "properties": None}


def test_schemas_sorted_and_without_null_defaults() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assert list(schemas) == sorted(schemas)
    assert schemas["User"]["properties"]["email"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "title": "Email",
    }


def test_without_none() -> None:
    assert openapi.without_none(
        {"a": None, "b": [{"c": None, "d": 1}, None, 2], "e": {"f": {"g": None}}}
    ) == {"b": [{"d": 1}, None, 2], "e": {"f": {}}}


def test_answer_without_a_model_has_no_content() -> None:
    operation = openapi.Operation(
        "DELETE", "/x", models.Status, {204: {"description": "Gone"}}, security=(), name="x"
    )
    responses = openapi.document([operation], title="t")["paths"]["/x"]["delete"]["responses"]
    assert responses["204"] == {"description": "Gone"}
    assert responses["200"] == {
        "description": "Successful Response",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}},
    }
