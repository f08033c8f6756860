"""The error tree rendered by the tutorial profile, and framework statuses mapped to it."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from core import errors
from core.profiles import ErrorResponse, TutorialProfile, get_profile

PROFILE = TutorialProfile()
FORM_ENTRIES = [{"type": "missing", "loc": ["body", "username"], "msg": "Field required"}]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (errors.FormError(FORM_ENTRIES), ErrorResponse(422, {"detail": FORM_ENTRIES})),
        (
            errors.InvalidCredentials(),
            ErrorResponse(400, {"detail": "Incorrect username or password"}),
        ),
        (
            errors.NotAuthenticated(("items", "me")),
            ErrorResponse(401, {"detail": "Not authenticated"}, {"WWW-Authenticate": "Bearer"}),
        ),
        (
            errors.InvalidToken(("items", "me"), "expired"),
            ErrorResponse(
                401,
                {"detail": "Could not validate credentials"},
                {"WWW-Authenticate": 'Bearer scope="items me"'},
            ),
        ),
        (
            errors.InvalidToken(),
            ErrorResponse(
                401, {"detail": "Could not validate credentials"}, {"WWW-Authenticate": "Bearer"}
            ),
        ),
        (
            errors.InsufficientScope(("me",)),
            ErrorResponse(
                401, {"detail": "Not enough permissions"}, {"WWW-Authenticate": 'Bearer scope="me"'}
            ),
        ),
        (
            errors.InsufficientScope(),
            ErrorResponse(
                401, {"detail": "Not enough permissions"}, {"WWW-Authenticate": "Bearer"}
            ),
        ),
        (errors.InactiveUser(), ErrorResponse(400, {"detail": "Inactive user"})),
        (
            errors.MalformedBody(),
            ErrorResponse(400, {"detail": "There was an error parsing the body"}),
        ),
        (errors.BodyTooLarge(), ErrorResponse(413, {"detail": "Request body too large"})),
        (errors.NotFound(), ErrorResponse(404, {"detail": "Not Found"})),
        (
            errors.MethodNotAllowed(["GET", "HEAD"]),
            ErrorResponse(405, {"detail": "Method Not Allowed"}, {"Allow": "GET, HEAD"}),
        ),
        (
            errors.MethodNotAllowed([]),
            ErrorResponse(405, {"detail": "Method Not Allowed"}, {"Allow": ""}),
        ),
        (
            errors.StoreUnavailable("db down"),
            ErrorResponse(503, {"detail": "Service Unavailable"}, {"Retry-After": "5"}),
        ),
        (errors.InternalError("boom"), ErrorResponse(500, {"detail": "Internal Server Error"})),
        (errors.ArenaError(), ErrorResponse(500, {"detail": "Internal Server Error"})),
        (
            errors.AuthError(("me",)),
            ErrorResponse(500, {"detail": "Internal Server Error"}),
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "",
)
def test_render(error: errors.ArenaError, expected: ErrorResponse) -> None:
    assert PROFILE.render(error) == expected


def test_reason_is_never_rendered() -> None:
    rendered = PROFILE.render(errors.InvalidToken(("me",), "DecodeError: secret detail"))
    assert "secret detail" not in repr(rendered)


def test_auth_error_attributes() -> None:
    error = errors.InvalidToken(["items", "me"], "why")
    assert (error.required, error.reason, str(error)) == (("items", "me"), "why", "why")
    assert str(errors.NotAuthenticated()) == "NotAuthenticated"
    assert str(errors.MethodNotAllowed(["GET", "POST"])) == "allowed: GET, POST"


@pytest.mark.parametrize(
    ("status", "headers", "expected_type", "rendered"),
    [
        (404, None, errors.NotFound, ErrorResponse(404, {"detail": "Not Found"})),
        (
            405,
            {"Allow": "GET, HEAD"},
            errors.MethodNotAllowed,
            ErrorResponse(405, {"detail": "Method Not Allowed"}, {"Allow": "GET, HEAD"}),
        ),
        (
            405,
            {"Allow": " POST ,, GET "},
            errors.MethodNotAllowed,
            # Sorted: frameworks keep methods in a set, the header must not vary per process.
            ErrorResponse(405, {"detail": "Method Not Allowed"}, {"Allow": "GET, POST"}),
        ),
        (
            405,
            None,
            errors.MethodNotAllowed,
            ErrorResponse(405, {"detail": "Method Not Allowed"}, {"Allow": ""}),
        ),
        (
            413,
            {},
            errors.BodyTooLarge,
            ErrorResponse(413, {"detail": "Request body too large"}),
        ),
        (
            400,
            None,
            errors.MalformedBody,
            ErrorResponse(400, {"detail": "There was an error parsing the body"}),
        ),
        (418, None, errors.InternalError, ErrorResponse(500, {"detail": "Internal Server Error"})),
        (500, None, errors.InternalError, ErrorResponse(500, {"detail": "Internal Server Error"})),
    ],
)
def test_for_http_status(
    status: int,
    headers: Mapping[str, str] | None,
    expected_type: type[errors.ArenaError],
    rendered: ErrorResponse,
) -> None:
    error = errors.for_http_status(status, headers)
    assert type(error) is expected_type
    assert PROFILE.render(error) == rendered


def test_get_profile() -> None:
    assert isinstance(get_profile("tutorial"), TutorialProfile)
    assert get_profile("tutorial").name == "tutorial"
    # The strict profile exists now (tests/test_strict.py); an unknown name is refused.
    assert get_profile("strict").name == "strict"
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("lenient")
