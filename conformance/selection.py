"""Which checks a run selects, read from their metadata (never from pytest node ids, in which
`-k "not FORM"` also matches "conFORMance"): by family, rule, level or tier, and check id, each
to include (a case must match one value of every kind given) or to exclude (a case matching any
is dropped).

    --family AUTH --level neutral --exclude-check AUTH-015 --rule "RFC 8725"

A level is MUST or SHOULD (the check's), or a tier: neutral or python (the case's). A rule is a
contract rule id (H5, S3), or words of the rule text ("RFC 6750", "POST /token Body"). A check
id may end with `*` (AUTH-01*)."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from conformance.checks import TIERS, Check

LEVELS = ("MUST", "SHOULD", *TIERS)


def _word(value: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE) is not None


@dataclass(frozen=True, slots=True)
class Selection:
    families: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    exclude_families: tuple[str, ...] = ()
    exclude_rules: tuple[str, ...] = ()
    exclude_levels: tuple[str, ...] = ()
    exclude_checks: tuple[str, ...] = ()

    @property
    def given(self) -> bool:
        return any(getattr(self, name) for name in self.__slots__)

    @staticmethod
    def _level(value: str, check: Check, tier: str) -> bool:
        return (
            value.upper() == check.level
            if value.upper() in ("MUST", "SHOULD")
            else (value.lower() == tier)
        )

    @staticmethod
    def _check(value: str, check: Check) -> bool:
        return fnmatch.fnmatchcase(check.id.upper(), value.upper())

    def matches(self, check: Check, tier: str) -> bool:
        family = check.family.upper()
        kinds = (
            (self.families, lambda v: v.upper() == family),
            (self.rules, lambda v: _word(v, check.rule)),
            (self.levels, lambda v: self._level(v, check, tier)),
            (self.checks, lambda v: self._check(v, check)),
        )
        for values, test in kinds:
            if values and not any(test(value) for value in values):
                return False
        dropped = (
            (self.exclude_families, lambda v: v.upper() == family),
            (self.exclude_rules, lambda v: _word(v, check.rule)),
            (self.exclude_levels, lambda v: self._level(v, check, tier)),
            (self.exclude_checks, lambda v: self._check(v, check)),
        )
        return not any(test(value) for values, test in dropped for value in values)

    def describe(self) -> str:
        parts = []
        for name in self.__slots__:
            for value in getattr(self, name):
                option = "--" + name.replace("_", "-").removesuffix("s").replace(
                    "familie", "family"
                )
                parts.append(f"{option} {value}")
        return " ".join(parts) or "(everything)"

    def invalid(self) -> str | None:
        """Why the selection can never match (an unknown level), or None."""
        for value in (*self.levels, *self.exclude_levels):
            if value.upper() not in ("MUST", "SHOULD") and value.lower() not in TIERS:
                return f"unknown level {value!r}: one of {', '.join(LEVELS)}"
        return None
