"""Check metadata: every conformance test carries a stable id, a level, the rule it enforces and
the tier it belongs to.

    @check("AUTH-003", MUST, "CONTRACT Authentication 2; RFC 8725 §3.1", "alg none is refused")
    async def test_alg_none(target, client): ...

Ids are stable across releases: a check that changes meaning gets a new id.

Two tiers (CONTRACT.md marks each rule's):
- `neutral`: the language-neutral contract, MUST for every implementation in any language;
- `python`: choices tied to this repository's parser, server or language (multipart parsing
  beyond RFC 7578 as python-multipart reads it, uvicorn's header and body bounds, Python's JSON
  nesting limit, Swagger UI's asset file names). This repository's implementations always meet
  it (a failure there is a MUST failure); an outside implementation (`--target`) may opt into it
  with `--opt-in python`, else its failures there are reported as such, not as MUST failures.

A check is of one tier, or of the neutral tier with some cases of the python tier: those cases
are parametrized with `python_case(...)`.

Where each rule comes from (`Check.source`, read from the `rule` field unless given): an RFC
clause ("rfc"), the tutorial's observable behaviour ("tutorial"), or this project's hardening
("hardening", the contract's H and S rules that cite no RFC).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import pytest

MUST: Literal["MUST"] = "MUST"
SHOULD: Literal["SHOULD"] = "SHOULD"
Level = Literal["MUST", "SHOULD"]
NEUTRAL: Literal["neutral"] = "neutral"
PYTHON: Literal["python"] = "python"
Tier = Literal["neutral", "python"]
TIERS: tuple[Tier, ...] = (NEUTRAL, PYTHON)
Source = Literal["rfc", "tutorial", "hardening"]

F = TypeVar("F", bound=Callable[..., Any])

_RFC = re.compile(r"RFC \d+(?: §[\d.]+(?:, §[\d.]+)*)?")
_HARDENING = re.compile(r"\b([HS]\d+)\b")


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    level: Level
    rule: str
    title: str
    #: The profile whose contract the check judges: a run of one profile runs only its checks.
    profile: str = "tutorial"
    #: `neutral` (every implementation) or `python` (this repository's stack; opt-in elsewhere).
    tier: Tier = NEUTRAL

    @property
    def family(self) -> str:
        return self.id.split("-", 1)[0]

    @property
    def source(self) -> Source:
        """Where the rule comes from: an RFC clause cited, else a hardening rule (H/S), else the
        tutorial's observable behaviour."""
        if _RFC.search(self.rule):
            return "rfc"
        if _HARDENING.search(self.rule.replace("CONTRACT", "")):
            return "hardening"
        return "tutorial"

    @property
    def origin(self) -> str:
        """The source in a few words: "RFC 8725 §3.1", "hardening H14" or "tutorial"."""
        rfc = _RFC.search(self.rule)
        if rfc:
            return rfc.group(0)
        hardening = _HARDENING.search(self.rule.replace("CONTRACT", ""))
        if hardening:
            return f"hardening {hardening.group(1)}"
        return "tutorial"


def check(
    id: str,
    level: Level,
    rule: str,
    title: str,
    *,
    profile: str = "tutorial",
    tier: Tier = NEUTRAL,
) -> Callable[[F], F]:
    """Mark a test as conformance check `id` (of `profile`'s contract, the tutorial's unless
    said: the strict checks, STRICT-*, say profile="strict"; of the neutral tier unless said)."""
    meta = Check(id=id, level=level, rule=rule, title=title, profile=profile, tier=tier)
    return pytest.mark.check(meta)


def python_case(value: Any, id: str | None = None) -> Any:
    """One parametrized case of a neutral check that belongs to the python tier."""
    return pytest.param(value, id=id, marks=pytest.mark.tier(PYTHON))


def check_of(item: pytest.Item) -> Check | None:
    marker = item.get_closest_marker("check")
    if marker is None:
        return None
    meta = marker.args[0]
    return meta if isinstance(meta, Check) else None


def tier_of(item: pytest.Item, meta: Check | None = None) -> Tier:
    """The tier of one collected case: its own (python_case), else its check's."""
    marker = item.get_closest_marker("tier")
    if marker is not None and marker.args and marker.args[0] in TIERS:
        tier: Tier = marker.args[0]
        return tier
    meta = meta if meta is not None else check_of(item)
    return NEUTRAL if meta is None else meta.tier
