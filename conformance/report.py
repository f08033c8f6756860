"""The side-by-side report: the check-by-target matrix, failures, differential findings; printed
with Rich and written as reports/conformance.json and reports/conformance.md."""

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
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from conformance.checks import MUST, SHOULD, Check
from conformance.differential import DiffResult
from conformance.runner import SUITE_COLUMN, Case, SuiteRun

Cell = Literal["pass", "fail", "skip"]
# The en dash is the matrix's "not run" mark, chosen to read apart from a minus sign.
GLYPHS: dict[Cell, str] = {"pass": "✓", "fail": "✗", "skip": "–"}  # noqa: RUF001
STYLES: dict[Cell, str] = {"pass": "green", "fail": "bold red", "skip": "dim"}
DISTRIBUTIONS = (
    "fastapi", "starlette", "litestar", "uvicorn", "pydantic", "pyjwt", "pwdlib", "httpx", "pytest",
)  # fmt: skip


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in DISTRIBUTIONS:
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
    """A check passes on a target only if every case of it passes (skipped cases aside)."""
    outcomes = {case.outcome for case in cases}
    if "failed" in outcomes:
        return "fail"
    if "passed" in outcomes:
        return "pass"
    return "skip"


@dataclass(frozen=True, slots=True)
class Summary:
    must_passed: int = 0
    must_failed: int = 0
    should_passed: int = 0
    should_failed: int = 0
    skipped: int = 0

    def line(self) -> str:
        return (
            f"MUST {self.must_passed} passed, {self.must_failed} failed · "
            f"SHOULD {self.should_passed} passed, {self.should_failed} failed · "
            f"{self.skipped} skipped"
        )


@dataclass(slots=True)
class Report:
    run: SuiteRun
    diff: DiffResult | None = None
    profile: str = "tutorial"
    #: Targets that could not be started; each fails the run.
    startup_errors: dict[str, str] = field(default_factory=dict)
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def columns(self) -> list[str]:
        names = [target.name for target in self.run.targets]
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

    def summary(self, target: str) -> Summary:
        counts = {"must_passed": 0, "must_failed": 0, "should_passed": 0, "should_failed": 0}
        skipped = 0
        for check in self.checks:
            cell = self.cell(check.id, target)
            if cell == "skip":
                skipped += 1
            else:
                level = "must" if check.level == MUST else "should"
                counts[f"{level}_{'passed' if cell == 'pass' else 'failed'}"] += 1
        return Summary(skipped=skipped, **counts)

    def failures(self, level: str | None = None) -> list[Case]:
        failed = [case for case in self.run.cases if case.outcome == "failed"]
        if level is not None:
            failed = [case for case in failed if case.check.level == level]
        return sorted(failed, key=lambda case: (check_order(case.check), case.target, case.variant))

    @property
    def findings(self) -> int:
        return 0 if self.diff is None else len(self.diff.findings)

    @property
    def exit_code(self) -> int:
        """1 when a MUST check fails anywhere, the targets disagree, or the run itself broke."""
        broken = self.run.errors or self.startup_errors or not self.run.cases
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
                {"name": t.name, "mode": t.mode, "url": t.url, "factory": t.factory}
                for t in self.run.targets
            ],
            "startup_errors": self.startup_errors,
            "errors": self.run.errors,
            "summary": {name: asdict(self.summary(name)) for name in columns},
            "checks": [
                {
                    "id": check.id,
                    "level": check.level,
                    "rule": check.rule,
                    "title": check.title,
                    "family": check.family,
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
            "failures": [_case_json(case, with_check=True) for case in self.failures()],
            "differential": None if self.diff is None else self.diff.to_json(),
        }

    def write(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        json_path = directory / "conformance.json"
        md_path = directory / "conformance.md"
        json_path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")
        md_path.write_text(self.to_markdown())
        return json_path, md_path

    # --- Markdown -----------------------------------------------------------------------------

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
            "| check | level | title | " + " | ".join(columns) + " |",
            "|---|---|---|" + "---|" * len(columns),
        ]
        for check in self.checks:
            cells = [GLYPHS[self.cell(check.id, name)] for name in columns]
            title = _md(check.title)
            lines.append(f"| {check.id} | {check.level} | {title} | " + " | ".join(cells) + " |")
        lines += ["", "## Summary", ""]
        lines += [f"- **{name}**: {self.summary(name).line()}" for name in columns]
        for name, error in self.startup_errors.items():
            lines.append(f"- **{name}**: could not be started: `{_code(last_line(error))}`")
        lines += [f"- error: {_md(error)}" for error in self.run.errors]
        failures = self.failures()
        lines += ["", f"## Failures ({len(failures)})", ""]
        lines += [
            f"- {case.check.id} ({case.check.level}) on **{case.target}**"
            + (f" `[{case.variant}]`" if case.variant else "")
            + f": `{_code(case.message)}`"
            for case in failures
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

    def matrix_table(self, width: int = 120) -> Table:
        """The matrix in `width` columns: ids, levels and cells keep their width; titles shrink."""
        columns = self.columns
        table = Table(title=f"Conformance ({self.profile} profile)", title_justify="left")
        checks = self.checks
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
                Text(check.level, style=level_style),
                escape(check.title),
                *(Text(GLYPHS[cell], style=STYLES[cell]) for cell in cells),
            )
        return table

    def render(self, console: Console) -> None:
        console.print(self.matrix_table(console.width))
        for name in self.columns:
            console.print(f"[bold]{escape(name)}[/]: {self.summary(name).line()}")
        for name, error in self.startup_errors.items():
            console.print(
                f"[bold red]{escape(name)} could not be started:[/] {escape(last_line(error))}",
                soft_wrap=True,
            )
        for error in self.run.errors:
            console.print(f"[bold red]error:[/] {escape(error)}")
        failures = self.failures()
        if failures:
            console.print(f"\n[bold]Failures ({len(failures)})[/]")
            for case in failures:
                variant = f" [{case.variant}]" if case.variant else ""
                console.print(
                    f"  [red]✗[/] {case.check.id} {case.check.level} on {escape(case.target)}"
                    f"{escape(variant)}: {escape(case.message)}",
                    soft_wrap=True,
                )
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


def last_line(text: str) -> str:
    """The line of a server's log that says what went wrong: the end of its traceback."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _case_json(case: Case, *, with_check: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "variant": case.variant,
        "outcome": case.outcome,
        "duration_seconds": round(case.duration, 4),
    }
    if with_check:
        data = {"check": case.check.id, "level": case.check.level, "target": case.target, **data}
    if case.message:
        data["message"] = case.message
    if case.outcome == "failed":
        data["detail"] = case.detail
    if case.properties:
        data["properties"] = {name: _jsonable(value) for name, value in case.properties}
    return data


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return text.replace("`", "'").replace("\n", " ")
