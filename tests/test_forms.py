"""The /token form rules and FastAPI-shaped validation entries."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import FormError
from core.forms import TokenRequest, normalize_errors, parse_token_form

MISSING_USERNAME = {
    "type": "missing",
    "loc": ["body", "username"],
    "msg": "Field required",
    "input": None,
}
MISSING_PASSWORD = {**MISSING_USERNAME, "loc": ["body", "password"]}


def bad_grant(value: str) -> dict[str, Any]:
    return {
        "type": "string_pattern_mismatch",
        "loc": ["body", "grant_type"],
        "msg": "String should match pattern '^password$'",
        "input": value,
        "ctx": {"pattern": "^password$"},
    }


def not_a_string(field: str, value: object) -> dict[str, Any]:
    return {
        "type": "string_type",
        "loc": ["body", field],
        "msg": "Input should be a valid string",
        "input": value,
    }


class Upload:
    """Stands where a multipart form puts a file."""

    filename = "secret.txt"


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("username", "u"), ("password", "p")], TokenRequest("u", "p")),
        (
            [("grant_type", "password"), ("username", "u"), ("password", "p"), ("scope", "me")],
            TokenRequest("u", "p", "me", "password"),
        ),
        (
            [("username", "u"), ("password", "p"), ("grant_type", ""), ("scope", "")],
            TokenRequest("u", "p"),
        ),
        (
            [("username", "first"), ("password", "p"), ("username", "last")],
            TokenRequest("last", "p"),
        ),
        ([("username", "u"), ("password", "p"), ("username", "")], None),
        (
            [("username", "u"), ("password", "p"), ("client_id", "c"), ("client_secret", "s")],
            TokenRequest("u", "p"),
        ),
        (
            [("username", "u"), ("password", "p"), ("unknown", object()), ("Username", "x")],
            TokenRequest("u", "p"),
        ),
        ([("username", " "), ("password", " ")], TokenRequest(" ", " ")),
        (
            [("username", "u"), ("password", "p"), ("scope", "items  me")],
            TokenRequest("u", "p", "items  me"),
        ),
    ],
)
def test_parse_valid(pairs: list[tuple[str, object]], expected: TokenRequest | None) -> None:
    if expected is None:
        # The last value wins, even an empty one: then the field is absent.
        with pytest.raises(FormError) as caught:
            parse_token_form(pairs)
        assert caught.value.errors == [MISSING_USERNAME]
        return
    assert parse_token_form(pairs) == expected


@pytest.mark.parametrize(
    ("pairs", "errors"),
    [
        ([], [MISSING_USERNAME, MISSING_PASSWORD]),
        ([("username", ""), ("password", "")], [MISSING_USERNAME, MISSING_PASSWORD]),
        ([("username", "u")], [MISSING_PASSWORD]),
        ([("password", "p")], [MISSING_USERNAME]),
        (
            [("grant_type", "client_credentials"), ("username", "u"), ("password", "p")],
            [bad_grant("client_credentials")],
        ),
        (
            [("grant_type", "Password"), ("username", "u")],
            [bad_grant("Password"), MISSING_PASSWORD],
        ),
        (
            [("grant_type", "password "), ("username", "u"), ("password", "p")],
            [bad_grant("password ")],
        ),
        ([("username", "u"), ("password", Upload())], [not_a_string("password", None)]),
        ([("username", "u"), ("password", 12345)], [not_a_string("password", None)]),
        ([("username", Upload()), ("password", "p")], [not_a_string("username", None)]),
        ([("username", 7), ("password", "p")], [not_a_string("username", 7)]),
        (
            [("username", "u"), ("password", "p"), ("client_secret", 9), ("scope", 1.5)],
            [not_a_string("scope", 1.5), not_a_string("client_secret", None)],
        ),
        (
            [("grant_type", True), ("password", "p")],
            [not_a_string("grant_type", True), MISSING_USERNAME],
        ),
    ],
)
def test_parse_invalid(pairs: list[tuple[str, object]], errors: list[dict[str, Any]]) -> None:
    with pytest.raises(FormError) as caught:
        parse_token_form(pairs)
    assert caught.value.errors == errors
    assert str(caught.value) == f"{len(errors)} invalid form field(s)"


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([], []),
        (
            [{"type": "missing", "loc": ("body", "username"), "msg": "x", "input": {"a": 1}}],
            [MISSING_USERNAME],
        ),
        (
            [
                {
                    "type": "string_pattern_mismatch",
                    "loc": ["body", "grant_type"],
                    "msg": "whatever",
                    "input": "implicit",
                    "ctx": {"pattern": "^password$"},
                }
            ],
            [bad_grant("implicit")],
        ),
        (
            [{"type": "string_type", "loc": ["body", "password"], "msg": "x", "input": b"pw"}],
            [not_a_string("password", None)],
        ),
        (
            [{"type": "string_type", "loc": ["body", "username"], "msg": "x", "input": 3}],
            [not_a_string("username", 3)],
        ),
        (
            [{"type": "string_type", "loc": ["body", "scope"], "msg": "x", "input": [1]}],
            [not_a_string("scope", None)],
        ),
        (
            [
                {
                    "type": "string_pattern_mismatch",
                    "loc": ["body", "scope"],
                    "msg": "String should match pattern 'x'",
                    "input": "me",
                }
            ],
            [
                {
                    "type": "string_pattern_mismatch",
                    "loc": ["body", "scope"],
                    "msg": "String should match pattern 'x'",
                    "input": "me",
                }
            ],
        ),
        (
            [
                {
                    "type": "string_too_long",
                    "loc": ["body", "password"],
                    "msg": "too long",
                    "input": "hunter2",
                }
            ],
            [
                {
                    "type": "string_too_long",
                    "loc": ["body", "password"],
                    "msg": "too long",
                    "input": None,
                }
            ],
        ),
        (
            [{"type": "model_attributes_type", "input": Upload()}],
            [{"type": "model_attributes_type", "loc": [], "msg": "", "input": None}],
        ),
        ([{}], [{"type": "", "loc": [], "msg": "", "input": None}]),
        (
            [{"type": "missing", "loc": ("body", 0), "msg": "x"}],
            [{**MISSING_USERNAME, "loc": ["body", "0"]}],
        ),
    ],
)
def test_normalize_errors(entries: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert normalize_errors(entries) == expected


def test_password_never_echoed() -> None:
    entries = [
        {"type": t, "loc": ["body", field], "msg": "m", "input": "hunter2"}
        for t in ("string_type", "string_too_short", "value_error")
        for field in ("password", "client_secret")
    ]
    assert "hunter2" not in repr(normalize_errors(entries))
