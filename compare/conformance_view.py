"""reports/conformance.json read for the page: checks grouped by the CONTRACT.md rule they
cite, cells, first assertion lines, the framework-dependent variants each target took."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RULE_ID = re.compile(r"\b([HS])(\d+)\b")
CONTRACT_ITEM = re.compile(r"^- ([HS]\d+) (.*)$")
HEADING = re.compile(r"^#{2,4} (.+)$")
OTHER = "Other references"


@dataclass(frozen=True, slots=True)
class Contract:
    """What the page needs of CONTRACT.md: each H/S rule's first words, the headings' order."""

    rules: dict[str, str]
    headings: list[str]

    @classmethod
    def read(cls, path: Path) -> Contract:
        rules: dict[str, str] = {}
        headings: list[str] = []
        text = path.read_text() if path.exists() else ""
        current: list[str] | None = None
        for line in [*text.splitlines(), ""]:
            if current is not None and line.startswith("  ") and not line.lstrip().startswith("-"):
                current.append(line.strip())  # the rule's text goes on
                continue
            if current is not None:
                rules[current[0]] = short(" ".join(current[1:]))
                current = None
            if item := CONTRACT_ITEM.match(line):
                current = [item.group(1), item.group(2)]
            elif heading := HEADING.match(line):
                headings.append(heading.group(1).strip())
        return cls(rules, headings)


def short(text: str, limit: int = 90) -> str:
    """The first sentence, cut at `limit` characters."""
    sentence = re.split(r"(?<=[.:])\s", text, maxsplit=1)[0].rstrip(".:")
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class Group:
    key: str
    title: str
    order: tuple[int, int, str]


def group_of(rule: str, contract: Contract) -> Group:
    """H/S rules by their id (the first one the rule cites); the tutorial's own sections by the
    CONTRACT.md heading they name; a rule citing only RFCs goes to "Other references"."""
    text = rule.strip()
    rest = text[len("CONTRACT") :].strip() if text.startswith("CONTRACT") else ""
    found = RULE_ID.match(rest) if rest else RULE_ID.search(text)
    if found:
        key = found.group(1) + found.group(2)
        kind = 1 if found.group(1) == "H" else 2
        title = f"{key}: {contract.rules[key]}" if key in contract.rules else key
        return Group(key, title, (kind, int(found.group(2)), key))
    text = rule.strip()
    if not rest:
        return Group(OTHER, OTHER, (3, 0, OTHER))
    if rest.startswith("("):  # "(framework-dependent points: trailing slash)"
        section = rest.strip("()").split(":")[0].strip()
    else:
        section = re.split(r"\s*[;(,]|\s\d", rest, maxsplit=1)[0].strip()
    section = section or "CONTRACT"
    for index, heading in enumerate(contract.headings):
        if heading.lower().startswith(section.lower()):
            return Group(section, heading, (0, index, section))
    return Group(section, section[:1].upper() + section[1:], (0, len(contract.headings), section))


def first_assertion(case: dict[str, Any]) -> str:
    """The line that says what failed: the first `E` line of the traceback, else the message."""
    for line in str(case.get("detail") or "").splitlines():
        if line.startswith("E "):
            return line[1:].strip()
    message = str(case.get("message") or "").strip()
    return message.splitlines()[0] if message else "(no message recorded)"


@dataclass(slots=True)
class Row:
    check: dict[str, Any]
    #: column -> "pass" | "fail" | "skip" | "" (not run there)
    cells: dict[str, str]
    #: column -> (variant, first assertion line) of each failed case
    failures: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #: column -> why it was skipped, where a skipped case says
    skips: dict[str, str] = field(default_factory=dict)
    #: column -> framework-dependent variant -> how many cases took it
    variants: dict[str, Counter[str]] = field(default_factory=dict)


def columns(report: dict[str, Any]) -> list[str]:
    names = [str(t.get("name")) for t in report.get("targets", []) if t.get("name")]
    for check in report.get("checks", []):
        names += [name for name in check.get("results", {}) if name not in names]
    return names


def skip_reasons(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(check, target) -> why it was not run, from the report's `skipped` list where it has one
    (newer reports), else from the skipped cases' messages."""
    reasons: dict[tuple[str, str], str] = {}
    for item in report.get("skipped") or []:
        if isinstance(item, dict) and item.get("reason"):
            key = (str(item.get("check")), str(item.get("target")))
            reasons[key] = "; ".join(filter(None, [reasons.get(key), str(item["reason"])]))
    return reasons


def rows(report: dict[str, Any]) -> list[Row]:
    out = []
    reasons = skip_reasons(report)
    for check in report.get("checks", []):
        results: dict[str, Any] = check.get("results") or {}
        row = Row(check, {})
        for name, result in results.items():
            row.cells[name] = str(result.get("outcome", ""))
            for case in result.get("cases", []):
                outcome = case.get("outcome")
                if outcome == "failed":
                    row.failures.setdefault(name, []).append(
                        (str(case.get("variant") or ""), first_assertion(case))
                    )
                elif outcome in ("skipped", "blocked", "not run") and (
                    reason := case.get("message") or case.get("reason")
                ):
                    row.skips.setdefault(name, str(reason))
                variant = (case.get("properties") or {}).get("variant")
                if variant:
                    row.variants.setdefault(name, Counter())[str(variant)] += 1
        for name in row.cells:
            if (str(check.get("id")), name) in reasons:
                row.skips[name] = reasons[(str(check.get("id")), name)]
        out.append(row)
    return out


def grouped(report: dict[str, Any], contract: Contract) -> list[tuple[Group, list[Row]]]:
    """The report's own `rules` groups where it has them (a check citing several rules is in
    each), else one group per check from its `rule` text."""
    listed = report.get("rules")
    if isinstance(listed, list) and listed and all(isinstance(g, dict) for g in listed):
        by_id = {str(row.check.get("id")): row for row in rows(report)}
        out = []
        for index, entry in enumerate(listed):
            key = str(entry.get("rule", ""))
            title = str(entry.get("title") or "")
            if key in contract.rules and not title:
                title = contract.rules[key]
            # The suite's titles already name their rule ("H1 granted = ...", "tutorial: ...").
            heading = title if key in title else f"{key}: {title}" if title else key
            members = [by_id[str(i)] for i in entry.get("checks", []) if str(i) in by_id]
            if members:
                out.append((Group(key, heading, (0, index, key)), members))
        return out
    groups: dict[str, tuple[Group, list[Row]]] = {}
    for row in rows(report):
        group = group_of(str(row.check.get("rule", "")), contract)
        groups.setdefault(group.key, (group, []))[1].append(row)
    return sorted(groups.values(), key=lambda pair: pair[0].order)


def totals(report: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per column: MUST/SHOULD passed and failed, skipped; from `summary`, else counted."""
    summary = report.get("summary")
    if isinstance(summary, dict) and summary:
        return {
            name: {key: int(value) for key, value in counts.items() if isinstance(value, int)}
            for name, counts in summary.items()
            if isinstance(counts, dict)
        }
    counted: dict[str, dict[str, int]] = {}
    for row in rows(report):
        level = "must" if row.check.get("level") == "MUST" else "should"
        for name, cell in row.cells.items():
            counts = counted.setdefault(name, Counter())
            key = (
                "skipped"
                if cell == "skip"
                else f"{level}_{'passed' if cell == 'pass' else 'failed'}"
            )
            counts[key] += 1
    return {name: dict(counts) for name, counts in counted.items()}


def levels(report: dict[str, Any]) -> Counter[str]:
    return Counter(str(check.get("level")) for check in report.get("checks", []))
