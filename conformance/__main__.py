"""`python -m conformance`: the suite against every target, the side-by-side matrix, the
differential run, and the reports; exits non-zero when a MUST check fails or targets disagree."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from conformance.differential import DiffResult, Probe, endpoint_for, run_differential
from conformance.report import GLYPHS, Report, cell_of, last_line
from conformance.runner import ROOT, Case, SuiteRun, TargetSpec, run_suite
from conformance.servers import IMPLEMENTATIONS, LIVE_SECRET_KEY, serve

PROFILES = ("tutorial", "strict")


def available_implementations() -> list[str]:
    return [name for name in IMPLEMENTATIONS if importlib.util.find_spec(f"impl_{name}.app")]


def _pair(text: str, what: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return name, value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m conformance",
        description="Run the conformance suite against implementations of CONTRACT.md, print the "
        "check x target matrix and compare the targets' answers (differential mode).",
    )
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        type=lambda text: _pair(text, "NAME=URL"),
        metavar="NAME=URL",
        help="a live server claiming the contract (repeatable)",
    )
    parser.add_argument(
        "--impl",
        action="extend",
        nargs="+",
        default=[],
        choices=IMPLEMENTATIONS,
        metavar="NAME",
        help=f"implementations to run ({', '.join(IMPLEMENTATIONS)}): in-process, or with "
        "--serve-all under uvicorn; default: every one that exists",
    )
    parser.add_argument(
        "--serve-all",
        action="store_true",
        help="start every implementation under uvicorn and run against them live",
    )
    parser.add_argument(
        "--app-factory",
        action="append",
        default=[],
        type=lambda text: _pair(text, "NAME=MODULE:CALLABLE"),
        metavar="NAME=MODULE:CALLABLE",
        help="an in-process target built by CALLABLE(settings) (repeatable)",
    )
    parser.add_argument("--profile", default="tutorial", choices=PROFILES)
    parser.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k expression")
    parser.add_argument(
        "--family",
        action="append",
        default=[],
        metavar="FAMILY",
        help="only checks of this family, e.g. AUTH (repeatable)",
    )
    parser.add_argument(
        "--no-diff", action="store_true", help="skip the differential run (default with 2+ targets)"
    )
    parser.add_argument(
        "--secret-key",
        default=LIVE_SECRET_KEY,
        help="the ARENA_SECRET_KEY the live targets run with (default: the one --serve-all uses)",
    )
    parser.add_argument(
        "--report-dir", type=Path, default=ROOT / "reports", help="where the reports are written"
    )
    return parser.parse_args(argv)


class RunProgress:
    """A progress bar on a terminal; elsewhere one line per finished target. Failures are
    printed as they happen in both cases."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[tally]}"),
            TimeElapsedColumn(),
            console=console,
            auto_refresh=False,  # refreshed from pytest's hooks, never while a test runs
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.task = self.progress.add_task("collecting", total=None, tally="")
        self.tally: Counter[str] = Counter()
        self.left: Counter[str] = Counter()
        self.by_target: dict[str, Counter[str]] = {}

    def __enter__(self) -> RunProgress:
        self.progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.progress.stop()

    def collected(self, cases: list[Case]) -> None:
        self.left = Counter(case.target for case in cases)
        self.progress.update(self.task, total=len(cases), description="running")
        self.progress.refresh()

    def finished(self, case: Case) -> None:
        cell = cell_of([case])
        self.tally[cell] += 1
        self.by_target.setdefault(case.target, Counter())[cell] += 1
        tally = "  ".join(f"{GLYPHS[c]} {self.tally[c]}" for c in ("pass", "fail", "skip"))
        self.progress.update(
            self.task, advance=1, tally=tally, description=f"{case.target} {case.check.id}"
        )
        if case.outcome == "failed":
            variant = f" [{case.variant}]" if case.variant else ""
            self.progress.console.print(
                f"[red]✗[/] {case.check.id} on {escape(case.target)}{escape(variant)}: "
                f"{escape(case.message)}",
                soft_wrap=True,
            )
        self.left[case.target] -= 1
        if self.left[case.target] == 0 and not self.console.is_terminal:
            done = self.by_target[case.target]
            self.console.print(
                f"{case.target}: {sum(done.values())} cases, "
                + "  ".join(f"{GLYPHS[c]} {done[c]}" for c in ("pass", "fail", "skip"))
            )
        self.progress.refresh()


def resolve_targets(
    args: argparse.Namespace, stack: contextlib.ExitStack, console: Console
) -> tuple[list[TargetSpec], dict[str, str]]:
    targets = [TargetSpec(name, url=url) for name, url in args.target]
    targets += [TargetSpec(name, factory=path) for name, path in args.app_factory]
    errors: dict[str, str] = {}
    implementations = args.impl or available_implementations()
    if args.serve_all:
        for name in implementations:
            try:
                server = stack.enter_context(serve(name))
            except RuntimeError as exc:
                errors[name] = str(exc).strip()
                console.print(f"[red]could not start impl_{name}[/]: {escape(last_line(str(exc)))}")
                continue
            console.print(f"serving impl_{name} at {server.url}")
            targets.append(TargetSpec(name, url=server.url))
    elif args.impl or not targets:
        targets += [TargetSpec(name) for name in implementations]
    return targets, errors


def run_checks(args: argparse.Namespace, targets: list[TargetSpec], console: Console) -> SuiteRun:
    with RunProgress(console) as progress:
        return run_suite(
            targets,
            secret_key=args.secret_key,
            keyword=args.keyword,
            families=args.family,
            on_collected=progress.collected,
            on_case=progress.finished,
        )


def run_diff(
    args: argparse.Namespace,
    targets: list[TargetSpec],
    stack: contextlib.ExitStack,
    console: Console,
) -> DiffResult:
    endpoints = [endpoint_for(target, args.secret_key, stack) for target in targets]
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("differential run", total=None)

        def advance(_: Probe) -> None:
            progress.advance(task)

        return asyncio.run(run_differential(endpoints, args.secret_key, on_probe=advance))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile != "tutorial":
        print(
            f"conformance: the {args.profile} profile is not implemented yet "
            "(only --profile tutorial exists)",
            file=sys.stderr,
        )
        return 2
    # Bound to the real stdout now: pytest's own output is redirected while the suite runs.
    console = Console(file=sys.stdout, highlight=False)
    # Should an in-process app turn logging on, the report stays the output here, not one INFO
    # line per request of the differential run.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with contextlib.ExitStack() as stack:
        targets, startup_errors = resolve_targets(args, stack, console)
        if not targets:
            console.print("[red]no target to run the suite against[/]")
            return 1 if startup_errors else 2
        try:
            run = run_checks(args, targets, console)
        except ValueError as exc:  # e.g. two targets of one name
            console.print(f"[red]{escape(str(exc))}[/]")
            return 2
        if run.errors and run.pytest_exit_code not in (0, 1):
            console.print(escape(run.output), soft_wrap=True)
        diff = None
        if len(targets) >= 2 and not args.no_diff:
            diff = run_diff(args, targets, stack, console)
    report = Report(run, diff, profile=args.profile, startup_errors=startup_errors)
    report.render(console)
    json_path, md_path = report.write(args.report_dir)
    console.print(f"\nreports: {json_path}, {md_path}")
    must_failed = len({(c.check.id, c.target) for c in report.failures("MUST")})
    verdict = (
        f"FAIL: {must_failed} MUST check result(s) failed, {report.findings} differential "
        f"finding(s), {len(run.errors) + len(startup_errors)} error(s)"
        if report.exit_code
        else "OK: every MUST check passed on every target"
        + ("" if diff is None else " and the targets agree")
    )
    console.print(f"[bold {'red' if report.exit_code else 'green'}]{verdict}[/]")
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
