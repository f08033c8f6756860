"""Scope strings, the granted-scope rule (H1), requirement chains, name validation."""

from __future__ import annotations

import pytest

from core import scopes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("   ", ()),
        ("me", ("me",)),
        ("me items", ("me", "items")),
        ("items me", ("items", "me")),
        ("  me\titems\n me  ", ("me", "items")),
        ("items items me items", ("items", "me")),
        ("ME me", ("ME", "me")),
    ],
)
def test_parse_requested(text: str, expected: tuple[str, ...]) -> None:
    assert scopes.parse_requested(text) == expected


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        ("", frozenset()),
        ("me", {"me"}),
        ("items me", {"items", "me"}),
        ("me  items", {"me", "items"}),
        # RFC 6749 separates with single spaces; a tab is part of a (then unknown) name.
        ("me\titems", {"me\titems"}),
    ],
)
def test_parse_granted(claim: str, expected: set[str]) -> None:
    assert scopes.parse_granted(claim) == frozenset(expected)


@pytest.mark.parametrize(
    ("requested", "allowed", "expected"),
    [
        (("me", "items"), ("me", "items"), ("me", "items")),
        (("items", "me"), ("me", "items"), ("items", "me")),
        (("me", "items"), ("me",), ("me",)),
        (("admin", "me"), ("me", "items", "admin"), ("me",)),  # unknown: dropped even if allowed
        (("me", "me", "items"), ("items", "me"), ("me", "items")),
        (("ME",), ("me",), ()),
        ((), ("me", "items"), ()),
        (("me", "items"), (), ()),
    ],
)
def test_grant_never_more_than_requested_known_and_allowed(
    requested: tuple[str, ...], allowed: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    assert scopes.grant(requested, allowed) == expected


def test_format_scopes() -> None:
    assert scopes.format_scopes(("items", "me")) == "items me"
    assert scopes.format_scopes(()) == ""


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ((), ()),
        ((["me"],), ("me",)),
        ((["items"], ["me"]), ("items", "me")),
        ((["items", "me"], ["me"], []), ("items", "me")),
        (([], ["me"], ["items"]), ("me", "items")),
    ],
)
def test_chain(levels: tuple[list[str], ...], expected: tuple[str, ...]) -> None:
    assert scopes.chain(*levels) == expected


@pytest.mark.parametrize(
    ("required", "granted", "expected"),
    [
        (("items", "me"), {"items", "me"}, ()),
        (("items", "me"), {"me"}, ("items",)),
        (("items", "me"), set(), ("items", "me")),
        (("me",), {"ME"}, ("me",)),
        (("me",), {"me "}, ("me",)),
        ((), set(), ()),
    ],
)
def test_missing_is_exact_and_case_sensitive(
    required: tuple[str, ...], granted: set[str], expected: tuple[str, ...]
) -> None:
    assert scopes.missing(required, frozenset(granted)) == expected


def test_registry() -> None:
    assert dict(scopes.SCOPES) == {
        "me": "Read information about the current user.",
        "items": "Read items.",
    }


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], ()),
        (["me"], ("me",)),
        (["items", "me", "items"], ("items", "me")),
    ],
)
def test_validate_names(names: list[str], expected: tuple[str, ...]) -> None:
    assert scopes.validate_names(names) == expected


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["admin"], "unknown scope(s): admin (known: me, items)"),
        (["me", "Items", "x", "x"], "unknown scope(s): Items, x (known: me, items)"),
    ],
)
def test_validate_names_refuses_unknown(names: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=r"^unknown scope\(s\): ") as caught:
        scopes.validate_names(names)
    assert str(caught.value) == message
