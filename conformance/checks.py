"""Check metadata: every conformance test carries a stable id, a level and the rule it enforces.

    @check("AUTH-003", MUST, "CONTRACT Authentication 2; RFC 8725 §3.1", "alg none is refused")
    async def test_alg_none(target, client): ...

Ids are stable across releases: a check that changes meaning gets a new id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import pytest

MUST: Literal["MUST"] = "MUST"
SHOULD: Literal["SHOULD"] = "SHOULD"
Level = Literal["MUST", "SHOULD"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    level: Level
    rule: str
    title: str
    #: The profile whose contract the check judges: a run of one profile runs only its checks.
    profile: str = "tutorial"

    @property
    def family(self) -> str:
        return self.id.split("-", 1)[0]


def check(
    id: str, level: Level, rule: str, title: str, *, profile: str = "tutorial"
) -> Callable[[F], F]:
    """Mark a test as conformance check `id` (of `profile`'s contract, the tutorial's unless
    said: the strict checks, STRICT-*, say profile="strict")."""
    return pytest.mark.check(Check(id=id, level=level, rule=rule, title=title, profile=profile))


def check_of(item: pytest.Item) -> Check | None:
    marker = item.get_closest_marker("check")
    if marker is None:
        return None
    meta = marker.args[0]
    return meta if isinstance(meta, Check) else None
