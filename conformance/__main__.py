"""`python -m conformance`: the suite against every target, the side-by-side matrix, the
differential run, and the reports, for both profiles by default (the tutorial's checks on
targets running the tutorial profile, the STRICT checks on the same implementations started
with ARENA_PROFILE=strict, shown as `<name>-strict` columns; one differential run per
profile); exits non-zero when a MUST check fails, targets disagree, a target cannot be
reached, or its tokens are not signed with the key the suite was given.

Before the checks, each target is probed (reachable, /openapi.json, the demo users log in, the
key): what is wrong is said in one line each, at once. A run with --target or --app-factory
writes its reports to reports/<target names>/ unless --report-dir says where, so it never
overwrites the reports of `make conformance` (reports/)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from conformance.bounded import CHECK_DEADLINE, MAX_ANSWER_BYTES, REQUEST_DEADLINE
from conformance.checks import NEUTRAL, PYTHON, Tier
from conformance.differential import DiffResult, Probe, endpoint_for, run_differential
from conformance.evidence import terminal as escape
from conformance.report import CELL_ORDER, GLYPHS, Report, cell_of, last_line
from conformance.runner import (
    ROOT,
    Case,
    Setup,
    SuiteRun,
    TargetSpec,
    check_setup,
    count_selected,
    run_suite,
    target_pair,
)
from conformance.selection import Selection
from conformance.servers import IMPLEMENTATIONS, LIVE_SECRET_KEY, serve
from core import registry
from core.settings import Profile

PROFILES: tuple[Profile, ...] = ("tutorial", "strict")
#: The selection options: (kind, example); each also as --exclude-<kind>.
SELECTORS = (
    ("family", "AUTH"),
    ("rule", "H5 or 'RFC 6750'"),
    ("level", "MUST, SHOULD, neutral (the language-neutral contract) or python"),
    ("check", "AUTH-010 or 'AUTH-01*'"),
)
#: The whole run of one profile's checks (the full suite takes some minutes on this project's
#: implementations).
RUN_DEADLINE = 3600.0


def selection_of(args: argparse.Namespace) -> Selection:
    return Selection(
        families=tuple(args.family),
        rules=tuple(args.rule),
        levels=tuple(args.level),
        checks=tuple(args.check),
        exclude_families=tuple(args.exclude_family),
        exclude_rules=tuple(args.exclude_rule),
        exclude_levels=tuple(args.exclude_level),
        exclude_checks=tuple(args.exclude_check),
    )


def available_implementations() -> list[str]:
    return registry.importable(IMPLEMENTATIONS)


def _pair(text: str, what: str) -> tuple[str, str]:
    try:
        return target_pair(text, what)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 < s <= 3600)")
    return value


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
        "--postgres",
        action="store_true",
        help="with --serve-all: every implementation on a database of its own on a throwaway "
        "PostgreSQL server (deploy.postgres), not SQLite",
    )
    parser.add_argument(
        "--request-timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="with --serve-all: the ARENA_REQUEST_TIMEOUT the implementations are served with "
        "(default: theirs, 10 s); the LIMIT checks wait that long for each unfinished request, "
        "so make test serves them with 3 s",
    )
    parser.add_argument(
        "--app-factory",
        action="append",
        default=[],
        type=lambda text: _pair(text, "NAME=MODULE:CALLABLE"),
        metavar="NAME=MODULE:CALLABLE",
        help="an in-process target built by CALLABLE(settings) (repeatable)",
    )
    parser.add_argument(
        "--profile",
        default=None,
        choices=(*PROFILES, "both"),
        help="the profile(s) to check: the implementations are run with each (default: both; "
        "tutorial for --target and --app-factory, which run the profile they were given)",
    )
    parser.add_argument(
        "--opt-in",
        action="append",
        default=[],
        choices=[PYTHON],
        metavar="TIER",
        help="for --target servers: also hold them to this tier (python: the multipart "
        "parsing, bounds and names of this repository's Python stack), whose failures are "
        "otherwise reported as such and do not fail the run; this repository's "
        "implementations are always held to every tier",
    )
    parser.add_argument(
        "-k",
        dest="keyword",
        metavar="EXPR",
        help="pytest -k expression on node ids (beware: `-k 'not FORM'` matches "
        "'conFORMance' too); prefer the options below, which read the checks' metadata",
    )
    select = parser.add_argument_group(
        "selection (by the checks' metadata; each option repeatable; a case must match one "
        "value of every --family/--rule/--level/--check given, and none of the --exclude-*)"
    )
    for kind, example in SELECTORS:
        select.add_argument(
            f"--{kind}",
            dest=kind,
            action="append",
            default=[],
            metavar=kind.upper(),
            help=f"only checks of this {kind}, e.g. {example}",
        )
        select.add_argument(
            f"--exclude-{kind}",
            dest=f"exclude_{kind}",
            action="append",
            default=[],
            metavar=kind.upper(),
            help=f"leave out checks of this {kind}",
        )
    deadlines = parser.add_argument_group("deadlines (a target can never hang the run)")
    deadlines.add_argument(
        "--check-deadline",
        type=float,
        default=CHECK_DEADLINE,
        metavar="SECONDS",
        help="each case of a check: past it, it fails as timed out (default: %(default)s)",
    )
    deadlines.add_argument(
        "--request-deadline",
        type=float,
        default=REQUEST_DEADLINE,
        metavar="SECONDS",
        help="each request to a live target, its whole answer included (answers are read up "
        f"to {MAX_ANSWER_BYTES // 2**20} MiB) (default: %(default)s)",
    )
    deadlines.add_argument(
        "--run-deadline",
        type=float,
        default=RUN_DEADLINE,
        metavar="SECONDS",
        help="the checks of one profile: cases not started by then are blocked "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--no-diff", action="store_true", help="skip the differential run (default with 2+ targets)"
    )
    parser.add_argument(
        "--secret-key",
        default=LIVE_SECRET_KEY,
        help="the ARENA_SECRET_KEY the live targets run with; the checks that forge tokens need "
        "it (default: %(default)s, the one --serve-all uses)",
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=None,
        help="where the reports are written (default: reports/, or reports/<target names>/ "
        "for a run with --target or --app-factory)",
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
        self.by_target: dict[str, list[Case]] = {}

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
        # Failures are printed once, in the report at the end; here only the counts move.
        cell = cell_of([case])
        self.tally[cell] += 1
        self.by_target.setdefault(case.target, []).append(case)
        tally = "  ".join(f"{GLYPHS[c]} {self.tally[c]}" for c in CELL_ORDER)
        self.progress.update(
            self.task,
            advance=1,
            tally=f"cases {tally}",
            description=f"{case.target} {case.check.id}",
        )
        self.left[case.target] -= 1
        if self.left[case.target] == 0 and not self.console.is_terminal:
            done = self.by_target[case.target]
            by_check: dict[str, list[Case]] = {}
            for item in done:
                by_check.setdefault(item.check.id, []).append(item)
            cells = Counter(cell_of(cases) for cases in by_check.values())
            self.console.print(
                escape(f"{case.target}: {len(by_check)} checks [{len(done)} cases] done: ")
                + "  ".join(f"{GLYPHS[c]} {cells[c]}" for c in CELL_ORDER)
            )
        self.progress.refresh()


def profiles_of(args: argparse.Namespace) -> list[Profile]:
    if args.profile == "both":
        return list(PROFILES)
    if args.profile is not None:
        return [args.profile]
    return ["tutorial"] if args.target or args.app_factory else list(PROFILES)


def resolve_targets(
    args: argparse.Namespace,
    stack: contextlib.ExitStack,
    console: Console,
    profile: Profile = "tutorial",
) -> tuple[list[TargetSpec], dict[str, str]]:
    """The targets of one profile's run: those named (taken to run `profile`), and the
    implementations, under uvicorn with --serve-all (ARENA_PROFILE=`profile`) or in-process;
    an implementation's column is `<name>-strict` for the strict profile."""
    # An outside server is held to the neutral tier unless it opts into more (--opt-in).
    outside: tuple[Tier, ...] = (NEUTRAL, *(tier for tier in args.opt_in if tier != NEUTRAL))
    targets = [
        TargetSpec(name, url=url, profile=profile, tiers=outside) for name, url in args.target
    ]
    targets += [TargetSpec(name, factory=path, profile=profile) for name, path in args.app_factory]
    errors: dict[str, str] = {}
    implementations = args.impl or available_implementations()
    suffix = "" if profile == "tutorial" else f"-{profile}"
    if args.serve_all:
        postgres = None
        if args.postgres:
            from deploy.postgres import PostgresError, PostgresNotFound, TempPostgres

            try:
                postgres = stack.enter_context(TempPostgres())
            except (PostgresNotFound, PostgresError) as exc:
                errors["postgres"] = str(exc)
                console.print(f"[red]no PostgreSQL for --postgres[/]: {escape(str(exc))}")
                return targets, errors
        for name in implementations:
            extra: dict[str, str] = {} if profile == "tutorial" else {"ARENA_PROFILE": profile}
            if args.request_timeout is not None:
                extra["ARENA_REQUEST_TIMEOUT"] = f"{args.request_timeout:g}"
            if postgres is not None:
                database = "conformance_" + re.sub(r"[^a-z0-9_]", "_", (name + suffix).lower())
                extra["ARENA_DATABASE_URL"] = postgres.create_database(database)
            try:
                server = stack.enter_context(serve(name, extra_env=extra))
            except RuntimeError as exc:
                errors[name + suffix] = str(exc).strip()
                console.print(
                    f"[red]could not start impl_{name} ({profile})[/]: "
                    f"{escape(last_line(str(exc)))}"
                )
                continue
            console.print(
                f"serving impl_{name} ({profile} profile) at {server.url}"
                + (" on PostgreSQL" if postgres is not None else "")
            )
            targets.append(TargetSpec(name + suffix, url=server.url, profile=profile))
    elif args.impl or not (args.target or args.app_factory):
        targets += [
            TargetSpec(name + suffix, factory=registry.factory_path(name), profile=profile)
            if suffix
            else TargetSpec(name, profile=profile)
            for name in implementations
        ]
    return targets, errors


def merge_runs(runs: Sequence[SuiteRun]) -> SuiteRun:
    """One profile's runs side by side: their targets are the matrix's columns."""
    return SuiteRun(
        targets=[target for run in runs for target in run.targets],
        checks={check_id: check for run in runs for check_id, check in run.checks.items()},
        cases=[case for run in runs for case in run.cases],
        errors=[error for run in runs for error in run.errors],
        pytest_exit_code=max(run.pytest_exit_code for run in runs),
        output="".join(run.output for run in runs),
        duration=sum(run.duration for run in runs),
    )


def merge_diffs(diffs: Sequence[DiffResult]) -> DiffResult | None:
    """The differential runs of each profile (targets compared within a profile only)."""
    if not diffs:
        return None
    return DiffResult(
        targets=[target for diff in diffs for target in diff.targets],
        probes=sum(diff.probes for diff in diffs),
        findings=[finding for diff in diffs for finding in diff.findings],
        framework_differences=[item for diff in diffs for item in diff.framework_differences],
        duration=sum(diff.duration for diff in diffs),
    )


def run_checks(
    args: argparse.Namespace,
    targets: list[TargetSpec],
    console: Console,
    key_problems: dict[str, str] | None = None,
) -> SuiteRun:
    with RunProgress(console) as progress:
        return run_suite(
            targets,
            secret_key=args.secret_key,
            keyword=args.keyword,
            selection=selection_of(args),
            on_collected=progress.collected,
            on_case=progress.finished,
            key_problems=key_problems,
            check_deadline=args.check_deadline,
            run_deadline=args.run_deadline,
            request_deadline=args.request_deadline,
        )


def report_dir(args: argparse.Namespace) -> Path:
    """--report-dir, else reports/ for the default run and reports/<names>/ for a run of
    named targets, so that it never overwrites the reports of `make conformance`."""
    if args.report_dir is not None:
        return Path(args.report_dir)
    names = [name for name, _ in args.target] + [name for name, _ in args.app_factory]
    reports = ROOT / "reports"
    if not names:
        return reports
    safe = "+".join("".join(c if c.isalnum() or c in "-_." else "_" for c in n) for n in names)
    folder = (reports / safe[:200]).resolve()
    # The names are checked (TARGET_NAME); this keeps any name from ever leaving reports/.
    if folder.parent != reports.resolve():
        raise ValueError(f"the report folder {folder} would be outside {reports}")
    return folder


def probe(
    targets: list[TargetSpec],
    secret_key: str,
    console: Console,
    startup_errors: dict[str, str],
    request_deadline: float | None = None,
) -> tuple[list[TargetSpec], dict[str, Setup]]:
    """The setup probe: each problem in one line, at once; unreachable targets are dropped."""
    found = check_setup(targets, secret_key, request_deadline)
    setups = {setup.target: setup for setup in found}
    for setup in setups.values():
        if setup.unreachable:
            console.print(
                f"[bold red]{escape(setup.target)}:[/] {escape(setup.unreachable)}", soft_wrap=True
            )
            startup_errors[setup.target] = setup.unreachable
        for note in setup.notes:
            console.print(f"[yellow]{escape(setup.target)}:[/] {escape(note)}", soft_wrap=True)
        if setup.key_problem:
            console.print(
                f"[yellow]{escape(setup.key_problem.removeprefix('key: '))}; the checks that "
                "forge tokens or verify signatures are skipped: pass the key the server runs "
                "with[/]",
                soft_wrap=True,
            )
    kept = [target for target in targets if not setups[target.name].unreachable]
    return kept, setups


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


def empty_selection(args: argparse.Namespace, profiles: Sequence[Profile]) -> str | None:
    """The one line to print when the selection can select nothing, else None."""
    selection = selection_of(args)
    if not selection.given and not args.keyword:
        return None
    problem = selection.invalid()
    if problem is None and any(
        count_selected(selection, profile, args.keyword) for profile in profiles
    ):
        return None
    what = " ".join(
        [*([f"-k {args.keyword!r}"] if args.keyword else []), selection.describe()]
    ).replace(" (everything)", "")
    hint = (
        " (-k matches node ids: 'FORM' is in 'conformance' too; use --exclude-family FORM)"
        if args.keyword
        else ""
    )
    return f"error: the selection {what} matches no check{hint}" + (
        f": {problem}" if problem else ""
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    profiles = profiles_of(args)
    nothing = empty_selection(args, profiles)
    if nothing is not None:
        # One line, exit 2, and no report written: an empty run must not overwrite one.
        print(nothing, file=sys.stderr)
        return 2
    # Bound to the real stdout now: pytest's own output is redirected while the suite runs.
    # No emoji codes: "module:factory:" in a message must not become a picture.
    console = Console(file=sys.stdout, highlight=False, emoji=False)
    # Should an in-process app turn logging on, the report stays the output here, not one INFO
    # line per request of the differential run.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    runs: list[SuiteRun] = []
    diffs: list[DiffResult] = []
    startup_errors: dict[str, str] = {}
    setups: dict[str, Setup] = {}
    key_problems: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for profile in profiles:
            # One run of the suite (and one differential run) per profile, in one report.
            targets, errors = resolve_targets(args, stack, console, profile)
            startup_errors.update(errors)
            if not targets:
                continue
            names = [target.name for target in targets]
            if len(set(names)) != len(names):
                console.print(f"[red]target names must be unique: {escape(', '.join(names))}[/]")
                return 2
            targets, found = probe(
                targets, args.secret_key, console, startup_errors, args.request_deadline
            )
            setups.update(found)
            if not targets:
                continue
            problems = {name: s.key_problem for name, s in found.items() if s.key_problem}
            key_problems.update(problems)
            try:
                run = run_checks(args, targets, console, problems)
            except ValueError as exc:
                console.print(f"[red]{escape(str(exc))}[/]")
                return 2
            if run.errors and run.pytest_exit_code not in (0, 1):
                console.print(escape(run.output), soft_wrap=True)
            runs.append(run)
            if len(targets) >= 2 and not args.no_diff and problems:
                # Its probes carry tokens signed with --secret-key: every answer would differ.
                console.print("differential run skipped: a target does not sign with --secret-key")
            elif len(targets) >= 2 and not args.no_diff:
                diffs.append(run_diff(args, targets, stack, console))
        if not runs:
            if not setups:
                console.print("[red]no target to run the suite against[/]")
                return 1 if startup_errors else 2
            console.print("[red]FAIL: no target could be reached[/]")
            return 1
    run, diff = merge_runs(runs), merge_diffs(diffs)
    report = Report(
        run,
        diff,
        profile=" + ".join(profiles),
        startup_errors=startup_errors,
        setup=setups,
    )
    report.render(console)
    for line in report.setup_lines():
        console.print(f"[yellow]setup: {escape(line)}[/]", soft_wrap=True)
    json_path, md_path = report.write(report_dir(args))
    console.print(f"\nreports (the full matrix is in the .md): {json_path}, {md_path}")
    must_failed = len({(c.check.id, c.target) for c in report.failures("MUST")})
    verdict = (
        f"FAIL: {must_failed} MUST check result(s) failed, {report.findings} differential "
        f"finding(s), {len(run.errors) + len(startup_errors) + len(key_problems)} error(s)"
        if report.exit_code
        else "OK: every MUST check passed on every target"
        + ("" if diff is None else " and the targets agree")
    )
    console.print(f"[bold {'red' if report.exit_code else 'green'}]{verdict}[/]")
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
