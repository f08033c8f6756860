"""The scope registry, scope strings, the granted-scope rule (H1) and requirement chains."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

ME = "me"
ITEMS = "items"

#: Every scope the API knows, with the description shown in the OpenAPI document and /docs.
SCOPES: Mapping[str, str] = {
    ME: "Read information about the current user.",
    ITEMS: "Read items.",
}


def parse_requested(scope: str) -> tuple[str, ...]:
    """A requested scope string: split on whitespace, de-duplicated, first-seen order."""
    return tuple(dict.fromkeys(scope.split()))


def parse_granted(claim: str) -> frozenset[str]:
    """The scopes a token carries. RFC 6749 §3.3 separates them with single spaces."""
    return frozenset(part for part in claim.split(" ") if part)


def grant(requested: Iterable[str], allowed: Iterable[str]) -> tuple[str, ...]:
    """H1: what is granted is requested AND known AND allowed for the user, never more."""
    permitted = frozenset(allowed) & SCOPES.keys()
    return tuple(scope for scope in dict.fromkeys(requested) if scope in permitted)


def format_scopes(scopes: Iterable[str]) -> str:
    return " ".join(scopes)


def chain(*levels: Sequence[str]) -> tuple[str, ...]:
    """Required scopes as FastAPI's SecurityScopes orders them: the route's own first, then
    those of each dependency below it, without repeats. chain(["items"], ["me"]) == ("items", "me").
    """
    return tuple(dict.fromkeys(scope for level in levels for scope in level))


def missing(required: Iterable[str], granted: frozenset[str]) -> tuple[str, ...]:
    """The required scopes a token lacks; exact, case-sensitive comparison."""
    return tuple(scope for scope in required if scope not in granted)


def validate_names(names: Iterable[str]) -> tuple[str, ...]:
    """Scope names given by an operator (CLI): each must be known."""
    result = tuple(dict.fromkeys(names))
    unknown = [name for name in result if name not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)} (known: {', '.join(SCOPES)})")
    return result
