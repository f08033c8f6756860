"""The side-by-side report: the check-by-target matrix, results per contract rule, failures,
skips and blocks, the setup probe and differential findings; printed with Rich (led by what
matters: failures and the rows where targets differ) and written in full as conformance.json
and conformance.md.

Counting: the unit is the check (one row of the matrix); the cases (a check's parametrized
variants) are given in brackets. A check's cell on a target is "fail" if any case failed, else
"blocked" if any case could not run, else "pass" if any passed, else "skip".

conformance.json (keys are only ever added):
- generated_at, profile, versions, exit_code, duration_seconds
- targets: [{name, mode, url, factory}]
- startup_errors: {target: text}; errors: [text]
- setup: {target: {unreachable, notes: [text], key_problem}}   (the probe before the checks)
- summary: {target: {must_passed, must_failed, should_passed, should_failed, skipped, blocked,
  cases: {passed, failed, skipped, blocked}, python_passed, python_failed}}   (counts of
  checks; cases in `cases`; python_*: the python tier's checks on a target that does not
  claim it, counted apart from MUST)
- checks: [{id, level, rule, title, family, tier, source, origin, rules: [group],
  results: {target: {outcome, cases: [{variant, outcome, tier, duration_seconds, message?,
  detail?, properties?}]}}}]
  where outcome is pass | fail | skip | blocked and a case's outcome is passed | failed |
  skipped | blocked | not run
- rules: [{rule, title, checks: [id], results: {target: {outcome, passed, failed, skipped,
  blocked, failed_checks: [id]}}}]   (one group per CONTRACT.md rule: its sections for the
  tutorial's behaviour, then H1.., then S1..; a check citing several rules is in each)
- failures: [{check, level, counts_as, tier, target, variant, outcome, duration_seconds,
  message, detail, ...}]   (counts_as: MUST, SHOULD, or python: a python-tier case on a target
  that does not claim the python tier, which does not fail the run)
- targets[].tiers: the tiers whose failures fail the run for that target
- skipped: [{check, target, reason, cases}]   (blocked ones too, with outcome "blocked")
- differential: null or the differential run's findings
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from conformance.checks import MUST, NEUTRAL, PYTHON, SHOULD, TIERS, Check
from conformance.differential import DiffResult
from conformance.evidence import json_text, safe
from conformance.evidence import terminal as escape
from conformance.runner import SUITE_COLUMN, Case, Setup, SuiteRun
from core import registry

Cell = Literal["pass", "fail", "skip", "blocked"]
# The en dash is the matrix's "not run" mark, chosen to read apart from a minus sign.
GLYPHS: dict[Cell, str] = {"pass": "✓", "fail": "✗", "skip": "–", "blocked": "⊘"}  # noqa: RUF001
STYLES: dict[Cell, str] = {"pass": "green", "fail": "bold red", "skip": "dim", "blocked": "yellow"}
CELL_ORDER: tuple[Cell, ...] = ("pass", "fail", "skip", "blocked")
#: CONTRACT.md's sections, as the checks' `rule` fields cite them (longest prefix first).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("POST /token Body", "POST /token body"),
    ("POST /token", "POST /token"),
    ("GET /users/me/items/", "Endpoints"),
    ("GET /users/me/", "Endpoints"),
    ("GET /status/", "Endpoints"),
    ("Endpoints", "Endpoints"),
    ("Authentication", "Authentication"),
    ("Tokens", "Tokens"),
    ("Usernames", "Usernames"),
    ("OpenAPI document", "OpenAPI document"),
    ("Interactive docs", "Interactive docs"),
    ("Settings", "Settings"),
    ("framework-dependent points", "Framework-dependent points"),
)
TUTORIAL_GROUPS = tuple(dict.fromkeys(name for _, name in SECTIONS))
OUTSIDE_CONTRACT = "RFCs beyond the contract"
RULE_TITLES = {
    "H1": "granted = requested ∩ known ∩ allowed",
    "H2": "no input makes a 500",
    "H3": "unknown user and wrong password take the same time",
    "H4": "password work off the event loop",
    "H5": "algorithms pinned",
    "H6": "no hard-coded secret",
    "H7": "every error body is JSON with detail",
    "H8": "internal faults: 500/503 without traceback",
    "H9": "tokens work across implementations",
    "H10": "import touches nothing; works without lifespan",
    "H11": "bounded login queue",
    "H12": "brute-force protection",
    "H13": "tokens follow the user",
    "H14": "exact paths, safe redirects, Host checked",
}


def rule_groups(rule: str) -> list[str]:
    """The CONTRACT.md rule groups a check's `rule` field cites: H and S ids, else the sections
    of the tutorial's behaviour ("CONTRACT H2; POST /token 400" is in H2 and POST /token)."""
    text = re.sub(r"\([^)]*\)", "", rule)
    groups: list[str] = []
    for part in re.split(r"[;,]", text):
        part = part.strip().removeprefix("CONTRACT").strip()
        hardening = re.fullmatch(r"([HS]\d+)\b.*", part)
        if hardening:
            groups.append(hardening.group(1))
            continue
        for prefix, name in SECTIONS:
            if part.startswith(prefix):
                groups.append(name)
                break
    if not groups and "framework-dependent points" in rule:
        groups.append("Framework-dependent points")
    return list(dict.fromkeys(groups)) or [OUTSIDE_CONTRACT]


def group_order(group: str) -> tuple[int, int, str]:
    if group in TUTORIAL_GROUPS:
        return (0, TUTORIAL_GROUPS.index(group), group)
    match = re.fullmatch(r"([HS])(\d+)", group)
    if match:
        return (1 if match.group(1) == "H" else 2, int(match.group(2)), group)
    return (3, 0, group)


def group_title(group: str) -> str:
    if group in TUTORIAL_GROUPS:
        return f"tutorial: {group}"
    return f"{group} {RULE_TITLES.get(group, '')}".strip()


#: Versions reported besides each implementation's own packages (core.registry).
DISTRIBUTIONS = ("uvicorn", "pydantic", "pyjwt", "pwdlib", "httpx", "pytest")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in (*registry.distributions(), *DISTRIBUTIONS):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def check_order(check: Check) -> tuple[str, int, str]:
    """AUTH-002 before AUTH-010: family, then the number, then the raw id."""
    number = re.search(r"(\d+)$", check.id)
    return (check.family, int(number.group(1)) if number else 0, check.id)


def cell_of(cases: Iterable[Case]) -> Cell:
    """A check passes on a target only if every case of it passes (skipped cases aside); one
    case that could not run makes it blocked, unless another failed."""
    outcomes = {case.outcome for case in cases}
    if "failed" in outcomes:
        return "fail"
    if "blocked" in outcomes:
        return "blocked"
    if "passed" in outcomes:
        return "pass"
    return "skip"


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts of checks on one target; `cases` counts their cases by outcome."""

    must_passed: int = 0
    must_failed: int = 0
    should_passed: int = 0
    should_failed: int = 0
    skipped: int = 0
    blocked: int = 0
    cases: dict[str, int] = field(default_factory=dict)
    python_passed: int = 0
    python_failed: int = 0

    @property
    def checks(self) -> int:
        counted = (self.must_passed, self.must_failed, self.should_passed, self.should_failed)
        return sum(counted) + self.python_passed + self.python_failed + self.skipped + self.blocked

    def line(self) -> str:
        cases = self.cases
        python = (
            f"python tier (not claimed) {self.python_passed} passed, {self.python_failed} failed · "
            if self.python_passed or self.python_failed
            else ""
        )
        return (
            f"{self.checks} checks [{sum(cases.values())} cases]: "
            f"MUST {self.must_passed} passed, {self.must_failed} failed · "
            f"SHOULD {self.should_passed} passed, {self.should_failed} failed · {python}"
            f"{self.skipped} skipped · {self.blocked} blocked "
            f"[cases: {cases.get('passed', 0)} passed, {cases.get('failed', 0)} failed, "
            f"{cases.get('skipped', 0)} skipped, {cases.get('blocked', 0)} blocked]"
        )


@dataclass(frozen=True, slots=True)
class RuleResult:
    outcome: Cell
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    blocked: int = 0
    failed_checks: tuple[str, ...] = ()

    def label(self) -> str:
        total = self.passed + self.failed + self.skipped + self.blocked
        if self.outcome == "fail":
            return f"{GLYPHS['fail']} {self.failed}/{total}"
        if self.outcome == "blocked":
            return f"{GLYPHS['blocked']} {self.blocked}/{total}"
        return f"{GLYPHS[self.outcome]} {total}"


@dataclass(slots=True)
class Report:
    run: SuiteRun
    diff: DiffResult | None = None
    profile: str = "tutorial"
    #: Targets that could not be started or reached; each fails the run.
    startup_errors: dict[str, str] = field(default_factory=dict)
    #: What the probe before the checks found, per target.
    setup: dict[str, Setup] = field(default_factory=dict)
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def columns(self) -> list[str]:
        # A target none of whose cases was selected (a `-k` that only names checks of the other
        # profile) would be an empty column: left out.
        ran = {case.target for case in self.run.cases}
        names = [target.name for target in self.run.targets if target.name in ran] or [
            target.name for target in self.run.targets
        ]
        if any(case.target == SUITE_COLUMN for case in self.run.cases):
            names.append(SUITE_COLUMN)
        return names

    @property
    def checks(self) -> list[Check]:
        return sorted(self.run.checks.values(), key=check_order)

    def cases(self, check_id: str, target: str) -> list[Case]:
        return [c for c in self.run.cases if c.check.id == check_id and c.target == target]

    def cell(self, check_id: str, target: str) -> Cell:
        return cell_of(self.cases(check_id, target))

    def tiers(self, target: str) -> tuple[str, ...]:
        """The tiers whose failures fail the run on `target` (every tier unless it is an
        outside server that did not opt in)."""
        for spec in self.run.targets:
            if spec.name == target:
                return spec.tiers
        return TIERS

    def counts_as(self, case: Case) -> str:
        """MUST or SHOULD (the check's level), or "python": a python-tier case on a target
        that does not claim that tier, reported as such and never failing the run."""
        if case.tier != NEUTRAL and case.tier not in self.tiers(case.target):
            return PYTHON
        return case.check.level

    @staticmethod
    def level_label(check: Check) -> str:
        """The matrix's level column: MUST or SHOULD; PY for a python-tier check."""
        return "PY" if check.tier == PYTHON else check.level

    def summary(self, target: str) -> Summary:
        counts = {"must_passed": 0, "must_failed": 0, "should_passed": 0, "should_failed": 0}
        python = {"python_passed": 0, "python_failed": 0}
        skipped = blocked = 0
        cases: dict[str, int] = {"passed": 0, "failed": 0, "skipped": 0, "blocked": 0}
        for check in self.checks:
            ran = self.cases(check.id, target)
            if not ran:
                continue
            for case in ran:
                if case.outcome in cases:
                    cases[case.outcome] += 1
            required = [case for case in ran if self.counts_as(case) != PYTHON]
            optional = [case for case in ran if self.counts_as(case) == PYTHON]
            cell = cell_of(required) if required else "skip"
            extra = cell_of(optional) if optional else "skip"
            level = "must" if check.level == MUST else "should"
            if cell == "fail":
                counts[f"{level}_failed"] += 1
            elif extra == "fail":
                python["python_failed"] += 1
            elif cell == "blocked" or (not required and extra == "blocked"):
                blocked += 1
            elif cell == "pass":
                counts[f"{level}_passed"] += 1
            elif extra == "pass":
                python["python_passed"] += 1
            else:
                skipped += 1
        return Summary(skipped=skipped, blocked=blocked, cases=cases, **counts, **python)

    def rules(self) -> list[tuple[str, list[Check]]]:
        """Every rule group the checks cite, in CONTRACT.md's order, with its checks."""
        groups: dict[str, list[Check]] = {}
        for check in self.checks:
            for group in rule_groups(check.rule):
                groups.setdefault(group, []).append(check)
        return sorted(groups.items(), key=lambda item: group_order(item[0]))

    def rule_result(self, checks: list[Check], target: str) -> RuleResult | None:
        cells = {check.id: self.cell(check.id, target) for check in checks}
        cells = {k: v for k, v in cells.items() if self.cases(k, target)}
        if not cells:
            return None
        counted = {cell: sum(1 for v in cells.values() if v == cell) for cell in CELL_ORDER}
        outcome: Cell = (
            "fail"
            if counted["fail"]
            else "blocked"
            if counted["blocked"]
            else "pass"
            if counted["pass"]
            else "skip"
        )
        return RuleResult(
            outcome=outcome,
            passed=counted["pass"],
            failed=counted["fail"],
            skipped=counted["skip"],
            blocked=counted["blocked"],
            failed_checks=tuple(k for k, v in cells.items() if v == "fail"),
        )

    def differing(self) -> list[Check]:
        """The rows that matter: a check failing or blocked somewhere, or not alike everywhere."""
        rows = []
        for check in self.checks:
            cells = {
                self.cell(check.id, name) for name in self.columns if self.cases(check.id, name)
            }
            if cells & {"fail", "blocked"} or len(cells) > 1:
                rows.append(check)
        return rows

    def not_run(self) -> list[tuple[str, str, Cell, str, int]]:
        """(check id, target, cell, reason, cases) for each skipped or blocked check, one row per
        reason: what a reader needs to see to know what was not judged, and why."""
        rows: dict[tuple[str, str, str], list[Case]] = {}
        for case in self.run.cases:
            if case.outcome in ("skipped", "blocked"):
                rows.setdefault((case.check.id, case.target, case.message), []).append(case)
        out = []
        for (check_id, target, reason), cases in rows.items():
            cell: Cell = "blocked" if cases[0].outcome == "blocked" else "skip"
            out.append((check_id, target, cell, reason, len(cases)))
        return sorted(out, key=lambda row: (check_order(self.run.checks[row[0]]), row[1]))

    def failures(self, level: str | None = None) -> list[Case]:
        """Failed cases; `level`: only those counting as it (MUST, SHOULD or python)."""
        failed = [case for case in self.run.cases if case.outcome == "failed"]
        if level is not None:
            failed = [case for case in failed if self.counts_as(case) == level]
        return sorted(failed, key=lambda case: (check_order(case.check), case.target, case.variant))

    @property
    def findings(self) -> int:
        return 0 if self.diff is None else len(self.diff.findings)

    @property
    def exit_code(self) -> int:
        """1 when a MUST check fails anywhere, the targets disagree, the run itself broke, or a
        target's tokens are not signed with the suite's key (its key checks did not run)."""
        key_problem = any(setup.key_problem for setup in self.setup.values())
        broken = self.run.errors or self.startup_errors or not self.run.cases or key_problem
        return 1 if broken or self.failures(MUST) or self.findings else 0

    # --- JSON ---------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        columns = self.columns
        return {
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "profile": self.profile,
            "versions": versions(),
            "exit_code": self.exit_code,
            "duration_seconds": round(self.run.duration, 3),
            "targets": [
                {
                    "name": t.name,
                    "mode": t.mode,
                    "url": t.url,
                    "factory": t.factory,
                    "profile": t.profile,
                    "tiers": list(t.tiers),
                }
                for t in self.run.targets
            ],
            "startup_errors": self.startup_errors,
            "errors": self.run.errors,
            "setup": {name: setup.to_json() for name, setup in self.setup.items()},
            "summary": {name: asdict(self.summary(name)) for name in columns},
            "checks": [
                {
                    "id": check.id,
                    "level": check.level,
                    "rule": check.rule,
                    "title": check.title,
                    "family": check.family,
                    "profile": check.profile,
                    "tier": check.tier,
                    "source": check.source,
                    "origin": check.origin,
                    "rules": rule_groups(check.rule),
                    "results": {
                        name: {
                            "outcome": self.cell(check.id, name),
                            "cases": [_case_json(c) for c in self.cases(check.id, name)],
                        }
                        for name in columns
                        if self.cases(check.id, name)
                    },
                }
                for check in self.checks
            ],
            "rules": [
                {
                    "rule": group,
                    "title": group_title(group),
                    "checks": [check.id for check in checks],
                    "results": {
                        name: asdict(result)
                        for name in columns
                        if (result := self.rule_result(checks, name)) is not None
                    },
                }
                for group, checks in self.rules()
            ],
            "failures": [
                {**_case_json(case, with_check=True), "counts_as": self.counts_as(case)}
                for case in self.failures()
            ],
            "skipped": [
                {
                    "check": check_id,
                    "target": target,
                    "outcome": cell,
                    "reason": reason,
                    "cases": count,
                }
                for check_id, target, cell, reason, count in self.not_run()
            ],
            "differential": None if self.diff is None else self.diff.to_json(),
        }

    def write(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        json_path = directory / "conformance.json"
        md_path = directory / "conformance.md"
        text = json.dumps(self.to_json(), indent=2, ensure_ascii=False)
        json_path.write_text(json_text(text) + "\n")
        md_path.write_text(self.to_markdown())
        return json_path, md_path

    # --- Markdown -----------------------------------------------------------------------------

    def rate_limited(self) -> dict[str, int]:
        """Per target, how many failing cases met a 429 (brute-force protection, H12)."""
        counts: dict[str, int] = {}
        for case in self.failures():
            exchanges = evidence(case)
            response = exchanges[-1].get("response") if exchanges else None
            status = response.get("status") if isinstance(response, dict) else None
            if status == 429 or "got 429" in case.message:
                counts[case.target] = counts.get(case.target, 0) + 1
        return counts

    def brute_force_lines(self) -> list[str]:
        return [
            f"{name}: {count} failing case(s) met 429 Too Many Requests: its brute-force "
            "protection (H12) is on, and the suite makes many failed logins from one address. "
            "Restart it with the protection off (ARENA_LOGIN_RATE_LIMIT=off for this project's "
            "servers, e.g. `ARENA_LOGIN_RATE_LIMIT=off make cluster`) and run again"
            for name, count in self.rate_limited().items()
        ]

    def setup_lines(self) -> list[str]:
        """One line per thing the probe before the checks found (plain text), and a target
        whose brute-force protection turned the checks' logins into 429s."""
        lines = self.brute_force_lines()
        for name, setup in self.setup.items():
            if setup.unreachable:
                lines.append(f"{name}: {setup.unreachable}")
            lines += [f"{name}: {note}" for note in setup.notes]
            if setup.key_problem:
                skipped = {
                    case.check.id
                    for case in self.run.cases
                    if case.target == name and case.message == setup.key_problem
                }
                count = f"{len(skipped)} checks" if self.run.cases else "the checks"
                lines.append(
                    f"{setup.key_problem.removeprefix('key: ')}; {count} that forge tokens or "
                    "verify signatures are skipped: pass the key the server runs with"
                )
        return lines

    def to_markdown(self) -> str:
        columns = self.columns
        stamp = self.generated_at.isoformat(timespec="seconds")
        lines = [
            "# Conformance report",
            "",
            f"Profile `{self.profile}`, {stamp}. "
            + ", ".join(f"{k} {v}" for k, v in versions().items())
            + ".",
            "",
            "Counting: checks (rows), with their cases in brackets. Cells: "
            + ", ".join(f"{GLYPHS[cell]} {cell}" for cell in CELL_ORDER)
            + ".",
            "",
        ]
        setup = self.setup_lines()
        if setup:
            lines += ["## Setup", "", *[f"- {_md(line)}" for line in setup], ""]
        lines += ["## Summary", ""]
        lines += [f"- **{name}**: {self.summary(name).line()}" for name in columns]
        for name, error in self.startup_errors.items():
            lines.append(f"- **{name}**: could not be started: `{_code(last_line(error))}`")
        lines += [f"- error: {_md(error)}" for error in self.run.errors]
        lines += [
            "",
            "## Results per rule",
            "",
            "| rule | checks | " + " | ".join(columns) + " |",
            "|---|---|" + "---|" * len(columns),
        ]
        for group, checks in self.rules():
            cells = []
            for name in columns:
                result = self.rule_result(checks, name)
                if result is None:
                    cells.append("")
                else:
                    failed = f" ({', '.join(result.failed_checks)})" if result.failed_checks else ""
                    cells.append(result.label() + failed)
            lines.append(
                f"| {_md(group_title(group))} | {len(checks)} | " + " | ".join(cells) + " |"
            )
        lines += [
            "",
            "## Matrix",
            "",
            "| check | level | tier | source | title | " + " | ".join(columns) + " |",
            "|---|---|---|---|---|" + "---|" * len(columns),
        ]
        for check in self.checks:
            cells = [GLYPHS[self.cell(check.id, name)] for name in columns]
            title = _md(check.title)
            lines.append(
                f"| {check.id} | {check.level} | {check.tier} | {_md(check.origin)} | {title} | "
                + " | ".join(cells)
                + " |"
            )
        failures = self.failures()
        lines += ["", f"## Failures ({len(failures)} cases)", ""]
        for case in failures:
            lines.append(
                f"- {case.check.id} ({_counted_label(self.counts_as(case))}) on "
                f"**{_md(case.target)}**"
                + (f" `[{_code(case.variant)}]`" if case.variant else "")
                + f": `{_code(case.message)}`"
            )
            exchanges = evidence(case)
            if exchanges:
                last = exchanges[-1]
                more = f" (the last of {len(exchanges)}; all in conformance.json)"
                lines += [
                    f"  - sent{more if len(exchanges) > 1 else ''}:",
                    "    ```sh",
                    f"    {_cut(safe(str(last.get('replay', ''))), 8000)}",
                    "    ```",
                    f"  - got: `{_code(_cut(str(last.get('answer', '')), 1000))}`",
                ]
        if not failures:
            lines.append("None.")
        not_run = self.not_run()
        lines += ["", f"## Skipped and blocked ({len(not_run)})", ""]
        lines += [
            f"- {GLYPHS[cell]} {check_id} on **{target}** [{count} cases]: {_md(reason)}"
            for check_id, target, cell, reason, count in not_run
        ] or ["None."]
        if self.diff is not None:
            lines += ["", *self._markdown_diff(self.diff)]
        return "\n".join(lines) + "\n"

    @staticmethod
    def _markdown_diff(diff: DiffResult) -> list[str]:
        lines = [
            f"## Differential run: {diff.probes} requests to {', '.join(diff.targets)}",
            "",
            f"### Findings ({len(diff.findings)})",
            "",
        ]
        if not diff.findings:
            lines.append("None: every target answered every request alike.")
        for finding in diff.findings:
            lines += [
                f"#### {finding.probe.id}: differs in {', '.join(finding.fields)}",
                "",
                "```sh",
                finding.probe.curl(),
                "```",
                "",
            ]
            if finding.paths:
                lines += ["Body differs at: " + ", ".join(f"`{p}`" for p in finding.paths), ""]
            for obs in finding.observations:
                lines.append(f"- **{obs.target}**: `{_code(obs.answer.summary())}`")
                if obs.followed is not None:
                    lines.append(f"  - after the redirect: `{_code(obs.followed.summary())}`")
            lines.append("")
        lines += [
            "",
            f"### Framework differences the contract allows ({len(diff.framework_differences)})",
            "",
        ]
        for difference in diff.framework_differences:
            answers = "; ".join(
                f"{target}: {', '.join(labels) or 'as specified'}"
                for target, labels in difference.labels.items()
            )
            lines.append(f"- {difference.probe.id}: {answers}")
        if not diff.framework_differences:
            lines.append("None.")
        return lines

    # --- Rich ---------------------------------------------------------------------------------

    def target_groups(self, width: int, reserved: int, cell: int = 1) -> list[list[str]]:
        """The targets in groups whose columns fit beside `reserved` columns in `width`: one
        group per profile, split further where it would not fit (every verdict stays visible
        at 80 columns)."""
        by_profile: dict[str, list[str]] = {}
        profiles = {spec.name: spec.profile for spec in self.run.targets}
        first = self.run.targets[0].profile if self.run.targets else ""
        for name in self.columns:  # the (suite) column beside the first profile's targets
            by_profile.setdefault(profiles.get(name, first), []).append(name)
        room = max(width - reserved, 1)
        groups: list[list[str]] = []
        for names in by_profile.values():
            group: list[str] = []
            used = 0
            for name in names:
                cost = max(len(name), cell) + 3
                if group and used + cost > room:
                    groups.append(group)
                    group, used = [], 0
                group.append(name)
                used += cost
            if group:
                groups.append(group)
        return groups

    def matrix_table(
        self,
        width: int = 120,
        checks: list[Check] | None = None,
        targets: list[str] | None = None,
    ) -> Table:
        """The matrix in `width` columns: ids, levels and cells keep their width; titles shrink.
        `checks`: only these rows (the terminal shows the rows that matter); `targets`: only
        these columns."""
        columns = self.columns if targets is None else targets
        full = checks is None
        title = f"Conformance ({self.profile} profile)" + (
            "" if full else ": checks failing, blocked or not alike"
        )
        if targets is not None and targets != self.columns:
            title += f": {', '.join(targets)}"
        table = Table(title=title, title_justify="left")
        checks = self.checks if checks is None else checks
        id_width = max((len(check.id) for check in checks), default=5)
        # Each column costs its width plus 3 for padding and border; one more for the left edge.
        fixed = id_width + 6 + sum(max(len(name), 1) for name in columns) + 3 * (len(columns) + 3)
        title_width = max(12, min(60, width - fixed - 1))
        table.add_column("check", style="bold", no_wrap=True, min_width=id_width)
        table.add_column("level", no_wrap=True, min_width=6)
        table.add_column("title", overflow="ellipsis", max_width=title_width, no_wrap=True)
        for name in columns:
            table.add_column(name, justify="center", no_wrap=True, min_width=len(name))
        for check in checks:
            cells = [self.cell(check.id, name) for name in columns]
            level_style = "" if check.level == SHOULD else "bold"
            table.add_row(
                check.id,
                Text(self.level_label(check), style=level_style),
                escape(check.title),
                *(Text(GLYPHS[cell], style=STYLES[cell]) for cell in cells),
            )
        return table

    def rules_table(self, targets: list[str] | None = None, width: int = 120) -> Table:
        columns = self.columns if targets is None else targets
        title = "Results per CONTRACT.md rule (checks)"
        if targets is not None and targets != self.columns:
            title += f": {', '.join(targets)}"
        table = Table(title=title, title_justify="left")
        used = sum(max(len(name), 8) + 3 for name in columns) + 4
        table.add_column(
            "rule", overflow="ellipsis", no_wrap=True, max_width=max(16, min(46, width - used))
        )
        for name in columns:
            table.add_column(name, no_wrap=True, min_width=len(name))
        for group, checks in self.rules():
            cells = []
            for name in columns:
                result = self.rule_result(checks, name)
                if result is None:
                    cells.append(Text(""))
                else:
                    cells.append(Text(result.label(), style=STYLES[result.outcome]))
            table.add_row(escape(group_title(group)), *cells)
        return table

    def render(self, console: Console) -> None:
        """What matters first: per-target counts, results per rule, the rows that are not all
        passing alike, each failing check once (its first failing case), then why checks were
        skipped or blocked. The full matrix is in conformance.md. A target's brute-force
        protection, when its 429s failed checks, is named in the first lines."""
        for line in self.brute_force_lines():
            console.print(f"[bold yellow]{escape(line)}[/]", soft_wrap=True)
        for name in self.columns:
            line = escape(self.summary(name).line())
            console.print(f"[bold]{escape(name)}[/]: {line}")
        for name, error in self.startup_errors.items():
            console.print(
                f"[bold red]{escape(name)} could not be started:[/] {escape(last_line(error))}",
            )
        for error in self.run.errors:
            console.print(f"[bold red]error:[/] {escape(error)}")
        width = console.width
        if self.run.checks:
            for group in self.target_groups(width, reserved=16 + 4, cell=8):
                console.print(self.rules_table(group, width))
        rows = self.differing()
        if rows:
            id_width = max(len(check.id) for check in rows)
            for group in self.target_groups(width, reserved=id_width + 6 + 12 + 3 * 3 + 1):
                console.print(self.matrix_table(width, rows, group))
        failures = self.failures()
        if failures:
            first: dict[tuple[str, str], list[Case]] = {}
            for case in failures:
                first.setdefault((case.check.id, case.target), []).append(case)
            heading = escape(f"Failures: {len(first)} checks [{len(failures)} cases]")
            console.print(f"\n[bold]{heading}[/] (every case in conformance.md)")
            for (_, target), cases in first.items():
                case = cases[0]
                total = len(self.cases(case.check.id, target))
                variant = f" [{case.variant}]" if case.variant else ""
                more = f" ({len(cases)} of {total} cases fail)" if total > 1 else ""
                # The terminal keeps the start of a long message; the .md has it whole.
                message = case.message if len(case.message) <= 300 else case.message[:300] + "…"
                console.print(
                    f"  [red]✗[/] {case.check.id} {_counted_label(self.counts_as(case))} on "
                    f"{escape(target)}"
                    f"{escape(variant)}{more}: {escape(message)}",
                )
                exchanges = evidence(case)
                if exchanges:
                    last = exchanges[-1]
                    replay = _cut(str(last.get("replay", "")), 400)
                    console.print(f"      [dim]sent:[/] {escape(replay)}", soft_wrap=True)
                    answer = _cut(str(last.get("answer", "")), 300)
                    console.print(f"      [dim]got:[/]  {escape(answer)}", soft_wrap=True)
        not_run = self.not_run()
        if not_run:
            reasons: dict[tuple[Cell, str], set[str]] = {}
            counts: dict[tuple[Cell, str], int] = {}
            for check_id, target, cell, reason, count in not_run:
                reasons.setdefault((cell, reason), set()).add(f"{check_id}@{target}")
                counts[(cell, reason)] = counts.get((cell, reason), 0) + count
            console.print("\n[bold]Skipped and blocked[/] " + escape("(checks [cases]: reason)"))
            for (cell, reason), where in reasons.items():
                ids = sorted({item.split("@")[0] for item in where})
                shown = ", ".join(ids[:6]) + (f", +{len(ids) - 6}" if len(ids) > 6 else "")
                tally = escape(f"{len(where)} [{counts[(cell, reason)]}] {reason}: {shown}")
                console.print(f"  [{STYLES[cell]}]{GLYPHS[cell]}[/] {tally}")
        if self.diff is not None:
            self._render_diff(console, self.diff)

    @staticmethod
    def _render_diff(console: Console, diff: DiffResult) -> None:
        console.print(
            f"\n[bold]Differential run[/]: {diff.probes} requests to {', '.join(diff.targets)}: "
            f"{len(diff.findings)} finding(s), "
            f"{len(diff.framework_differences)} framework difference(s) the contract allows",
            soft_wrap=True,
        )
        for finding in diff.findings:
            console.print(
                f"  [red]≠[/] {finding.probe.id}: differs in {', '.join(finding.fields)}",
                soft_wrap=True,
            )
            console.print(f"    {escape(finding.probe.curl())}", soft_wrap=True, style="dim")
            if finding.paths:
                console.print(
                    f"    body differs at: {escape(', '.join(finding.paths))}", soft_wrap=True
                )
            for obs in finding.observations:
                console.print(
                    f"    {escape(obs.target)}: {escape(obs.answer.summary())}", soft_wrap=True
                )
                if obs.followed is not None:
                    console.print(
                        f"      after the redirect: {escape(obs.followed.summary())}",
                        soft_wrap=True,
                    )
        for difference in diff.framework_differences:
            answers = "; ".join(
                f"{target}: {', '.join(labels) or 'as specified'}"
                for target, labels in difference.labels.items()
            )
            console.print(f"  [cyan]~[/] {difference.probe.id}: {escape(answers)}", soft_wrap=True)


def _counted_label(counts_as: str) -> str:
    return "python tier, not claimed" if counts_as == PYTHON else counts_as


def last_line(text: str) -> str:
    """The line of a server's log that says what went wrong: the end of its traceback."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _case_json(case: Case, *, with_check: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "variant": case.variant,
        "outcome": case.outcome,
        "tier": case.tier,
        "duration_seconds": round(case.duration, 4),
    }
    if with_check:
        data = {"check": case.check.id, "level": case.check.level, "target": case.target, **data}
    if case.message:
        data["message"] = case.message
    if case.outcome == "failed":
        data["detail"] = case.detail
        if evidence(case):
            data["exchanges"] = evidence(case)
    # The exchanges are kept once, as `exchanges` (a failure's evidence), not among properties.
    properties = {name: _jsonable(value) for name, value in case.properties if name != "exchanges"}
    if properties:
        data["properties"] = properties
    return data


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _md(text: str) -> str:
    return safe(text.replace("|", "\\|").replace("\n", " "))


def _code(text: str) -> str:
    return safe(text.replace("`", "'").replace("\n", " "))


def evidence(case: Case) -> list[dict[str, Any]]:
    """The exchanges a failing case made (conformance.evidence), oldest first."""
    for name, value in case.properties:
        if name == "exchanges" and isinstance(value, list):
            return [item for item in value if isinstance(item, dict)]
    return []


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"
