"""CONTRACT.md is the spec, in this repository: every rule a check cites exists there, and every
rule there is enforced by at least one check (or is listed below as not implemented yet)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from conformance.checks import Check

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "CONTRACT.md"
RULE = re.compile(r"\b([HS]\d+)\b")
#: Rules of CONTRACT.md that no implementation honours yet, with where the work is planned.
#: A rule leaves this list the day a check cites it.
NOT_YET: dict[str, str] = {}


def contract_rules() -> set[str]:
    return set(re.findall(r"^- ([HS]\d+) ", CONTRACT.read_text(), flags=re.MULTILINE))


def checks() -> list[Check]:
    found: list[Check] = []
    for path in sorted((ROOT / "conformance").glob("test_*.py")):
        module = importlib.import_module(f"conformance.{path.stem}")
        for value in vars(module).values():
            for mark in getattr(value, "pytestmark", []):
                if mark.name == "check" and isinstance(mark.args[0], Check):
                    found.append(mark.args[0])
    return found


def cited() -> dict[str, list[str]]:
    by_rule: dict[str, list[str]] = {}
    for meta in checks():
        for rule in RULE.findall(meta.rule):
            by_rule.setdefault(rule, []).append(meta.id)
    return by_rule


def test_the_contract_is_in_the_repository() -> None:
    text = CONTRACT.read_text()
    assert text.startswith("# The API contract")
    assert {f"H{n}" for n in range(1, 15)} <= contract_rules()


def test_every_rule_a_check_cites_exists() -> None:
    unknown = {rule: ids for rule, ids in cited().items() if rule not in contract_rules()}
    assert not unknown, f"checks cite rules CONTRACT.md does not have: {unknown}"


@pytest.mark.parametrize("rule", sorted(contract_rules(), key=lambda r: (r[0], int(r[1:]))))
def test_every_rule_is_enforced_by_a_check(rule: str) -> None:
    if rule in NOT_YET:
        assert rule not in cited(), f"{rule} is checked now: take it off NOT_YET"
        pytest.skip(f"{rule} is not implemented yet: {NOT_YET[rule]}")
    assert rule in cited(), f"no conformance check cites {rule}"


def test_check_ids_are_unique() -> None:
    ids = [meta.id for meta in checks()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_readme_points_at_the_repositorys_contract() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "](CONTRACT.md)" in readme
    assert "shared/" not in readme
