"""The /token form (RFC 6749 §4.3.2 as OAuth2PasswordRequestForm reads it), checked with
FastAPI's error shape so that every implementation answers a bad form identically.

Rules (CONTRACT.md POST /token): an empty field is absent; the last repeated value wins;
unknown fields are ignored; a password value never appears in an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import FormError

GRANT_TYPE_PATTERN = "^password$"
#: Field order is validation order, as in OAuth2PasswordRequestForm.
FIELDS = ("grant_type", "username", "password", "scope", "client_id", "client_secret")
REQUIRED = ("username", "password")
SECRET_FIELDS = frozenset({"password", "client_secret"})


@dataclass(frozen=True, slots=True)
class TokenRequest:
    username: str
    password: str
    scope: str = ""
    grant_type: str | None = None
    #: Strict profile only (RFC 9068 §2.2 `client_id`, where one was sent); the tutorial's form
    #: ignores it.
    client_id: str | None = None


def missing(field: str) -> dict[str, Any]:
    return {"type": "missing", "loc": ["body", field], "msg": "Field required", "input": None}


def not_a_string(field: str, value: object) -> dict[str, Any]:
    return {
        "type": "string_type",
        "loc": ["body", field],
        "msg": "Input should be a valid string",
        "input": None if field in SECRET_FIELDS else _json_safe(value),
    }


def bad_grant_type(value: str) -> dict[str, Any]:
    return {
        "type": "string_pattern_mismatch",
        "loc": ["body", "grant_type"],
        "msg": f"String should match pattern '{GRANT_TYPE_PATTERN}'",
        "input": value,
        "ctx": {"pattern": GRANT_TYPE_PATTERN},
    }


def _json_safe(value: object) -> object:
    # An uploaded file stands where a string was expected: show its name, never its content.
    return value if isinstance(value, str | int | float | bool | None) else None


def parse_token_form(items: Iterable[tuple[str, object]]) -> TokenRequest:
    """Read the form's (name, value) pairs; raise FormError with one entry per bad field."""
    values: dict[str, object] = {}
    for name, value in items:
        if name in FIELDS:
            values[name] = value  # the last repeated value wins
    errors: list[dict[str, Any]] = []
    for field in FIELDS:
        value = values.get(field)
        if value is None or value == "":
            if field in REQUIRED:
                errors.append(missing(field))
            values.pop(field, None)
        elif not isinstance(value, str):
            errors.append(not_a_string(field, value))
        elif field == "grant_type" and value != "password":
            errors.append(bad_grant_type(value))
    if errors:
        raise FormError(errors)
    return TokenRequest(
        username=str(values["username"]),
        password=str(values["password"]),
        scope=str(values.get("scope", "")),
        grant_type=None if values.get("grant_type") is None else str(values["grant_type"]),
    )


def normalize_errors(framework_errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A framework's own validation entries for the form, rebuilt in the canonical shape above:
    the same type/loc/msg everywhere, JSON-safe inputs, and never a secret's value."""
    result: list[dict[str, Any]] = []
    for entry in framework_errors:
        loc = [str(part) for part in entry.get("loc", ())]
        field = loc[-1] if loc else ""
        kind = str(entry.get("type", ""))
        value = entry.get("input")
        if kind == "missing":
            result.append(missing(field))
        elif kind == "string_pattern_mismatch" and field == "grant_type":
            result.append(bad_grant_type(str(value)))
        elif kind == "string_type":
            result.append(not_a_string(field, value))
        else:
            result.append(
                {
                    "type": kind,
                    "loc": loc,
                    "msg": str(entry.get("msg", "")),
                    "input": None if field in SECRET_FIELDS else _json_safe(value),
                }
            )
    return result
