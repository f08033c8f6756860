"""`make fuzz`: schemathesis with every check and every phase against each implementation under
uvicorn, once on the implementation's own /openapi.json and once on the canonical document; then
every recorded case is replayed against all implementations (conformance/fuzz_replay.py). Both
profiles by default (`--profile`): the strict servers run ARENA_PROFILE=strict and their
canonical document is conformance/openapi.strict.json; the replay compares within a profile.

`FUZZ_EXAMPLES` (max examples per operation and phase, default 100) and `FUZZ_SEED` go deeper or
elsewhere; `FUZZ_PASSWORD_PROFILE` (default "cheap") is the servers' argon2 cost, which is not what
fuzzing tests. Reports: reports/fuzz/<impl>/<document>/{junit.xml,report.json,cassette.yaml,
schemathesis.log}, reports/fuzz/<impl>/summary.{json,md}, reports/fuzz/differential.md; the
strict profile's below reports/fuzz/strict/.
Exits non-zero on any failure, error or difference.

An outside server: `python -m conformance.fuzz --target NAME=URL [--profile tutorial]` fuzzes it
on its own document (fetched first within the suite's bounds: a deadline, 8 MiB at most) and on
the canonical one, with the same reports (reports/fuzz/NAME/...); each request has a timeout
(`--request-timeout`), and each schemathesis run a deadline (`--run-deadline`). Several
--target (or --target with --impl) are also replayed against each other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from conformance.bounded import REQUEST_DEADLINE, bounded_client
from conformance.evidence import safe
from conformance.evidence import terminal as escape
from conformance.fuzz_replay import operation_of, replay_all
from conformance.openapi import CANONICAL_PATH, STRICT_CANONICAL_PATH
from conformance.runner import target_pair
from conformance.servers import IMPLEMENTATIONS, Server, serve, server_env
from core import registry

CONFIG_PATH = Path(__file__).with_name("schemathesis.toml")
REPORTS_DIR = Path("reports") / "fuzz"
DOCUMENTS = ("own", "canonical")
PROFILES = ("tutorial", "strict")
#: Each profile's canonical document.
CANONICAL = {"tutorial": CANONICAL_PATH, "strict": STRICT_CANONICAL_PATH}
DEFAULT_SEED = 20260101
DEFAULT_EXAMPLES = 100
#: The servers' argon2 cost: the hash cost is not what fuzzing tests (see the docstring).
CHEAP = "cheap"


@dataclass(slots=True)
class FuzzRun:
    """One schemathesis run: one implementation, one document."""

    impl: str
    document: str
    seed: int
    examples: int
    exit_code: int
    seconds: float
    operations: int
    cases: int
    #: Requests per operation, from the cassette: unexpected-method probes count for their path.
    per_operation: dict[str, int]
    #: Requests per phase, from the cassette.
    per_phase: dict[str, int]
    phases: dict[str, str]
    failures: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    warnings: dict[str, list[str]]
    report_dir: str
    links_covered: str = ""
    notes: list[str] = field(default_factory=list)
    profile: str = "tutorial"

    @property
    def failed(self) -> int:
        return sum(int(failure.get("count", 1)) for failure in self.failures)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.failures and not self.errors


def available_implementations(names: Sequence[str] = IMPLEMENTATIONS) -> list[str]:
    return registry.importable(names)


@contextlib.contextmanager
def fuzz_server(
    name: str, password_profile: str = CHEAP, profile: str = "tutorial"
) -> Iterator[Server]:
    """`serve(name)` with fresh SQLite, the demo users, the chosen argon2 cost and profile."""
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as tmp:
        env = server_env(Path(tmp), ARENA_PASSWORD_PROFILE=password_profile, ARENA_PROFILE=profile)
        with serve(name, env=env) as server:
            yield server


def schemathesis_command(
    server: Server,
    document: str,
    out: Path,
    *,
    seed: int,
    examples: int,
    profile: str = "tutorial",
    location: str | None = None,
    request_timeout: float | None = None,
) -> list[str]:
    canonical = CANONICAL[profile]
    if location is None:
        location = f"{server.url}/openapi.json" if document == "own" else str(canonical)
    timeout = [] if request_timeout is None else ["--request-timeout", str(request_timeout)]
    return [*_schemathesis(location, server, seed, examples), *timeout, *_reports(out)]


def _schemathesis(location: str, server: Server, seed: int, examples: int) -> list[str]:
    return [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG_PATH), "run",
        location, "--url", server.url, "--seed", str(seed), "--max-examples", str(examples),
        "--no-color",
    ]  # fmt: skip


def _reports(out: Path) -> list[str]:
    return [
        "--report", "junit,json,vcr", "--report-preserve-bytes",
        "--report-junit-path", str(out / "junit.xml"),
        "--report-json-path", str(out / "report.json"),
        "--report-vcr-path", str(out / "cassette.yaml"),
    ]  # fmt: skip


def run_schemathesis(
    server: Server,
    document: str,
    out: Path,
    *,
    seed: int,
    examples: int,
    timeout: float | None = None,
    profile: str = "tutorial",
    location: str | None = None,
    request_timeout: float | None = None,
) -> FuzzRun:
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("junit.xml", "report.json", "cassette.yaml"):
        (out / stale).unlink(missing_ok=True)
    command = schemathesis_command(
        server,
        document,
        out,
        seed=seed,
        examples=examples,
        profile=profile,
        location=location,
        request_timeout=request_timeout,
    )
    started = time.monotonic()
    late = ""
    with (out / "schemathesis.log").open("w") as log:
        try:
            returncode = subprocess.run(  # noqa: S603 (fixed argv, our own interpreter)
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
                env={**os.environ, "NO_COLOR": "1", "COLUMNS": "120"},
            ).returncode
        except subprocess.TimeoutExpired:
            returncode, late = 1, f"stopped at its deadline ({timeout:g} s)"
    seconds = time.monotonic() - started
    report_path = out / "report.json"
    report: dict[str, Any] = json.loads(report_path.read_text()) if report_path.exists() else {}
    uris, phases = _cassette_index(out / "cassette.yaml")
    notes = [] if report else [f"no JSON report; see {out / 'schemathesis.log'}"]
    notes += [late] if late else []
    return FuzzRun(
        impl=server.name,
        document=document,
        seed=seed,
        examples=examples,
        exit_code=returncode,
        seconds=round(seconds, 1),
        operations=int(report.get("operations", {}).get("tested", 0)),
        cases=len(uris),
        per_operation=dict(sorted(Counter(operation_of(uri) for uri in uris).items())),
        per_phase=dict(Counter(phases)),
        phases={
            name: str(phase.get("status"))
            for name, phase in report.get("phases", {}).items()
            if isinstance(phase, dict)
        },
        failures=list(report.get("failures", [])),
        errors=list(report.get("errors", [])),
        warnings={key: value for key, value in report.get("warnings", {}).items() if value},
        report_dir=str(out),
        links_covered=_links_covered(out / "schemathesis.log"),
        notes=notes,
        profile=profile,
    )


_URI = re.compile(r"^    uri: '(.*)'$", re.MULTILINE)
_PHASE = re.compile(r"^  phase:\n    name: '(\w+)'$", re.MULTILINE)


def _cassette_index(path: Path) -> tuple[list[str], list[str]]:
    """Request URIs and phases of a cassette, read from schemathesis' fixed VCR layout: counting
    needs no YAML parse, which takes seconds per ten thousand cases (the replay does parse)."""
    if not path.exists():
        return [], []
    text = path.read_text(errors="replace")
    return _URI.findall(text), _PHASE.findall(text)


def _links_covered(log: Path) -> str:
    """'3/3' from the stateful phase's 'API Links: 3 covered / 3 selected / 3 total' line."""
    for line in log.read_text(errors="replace").splitlines():
        if "API Links:" in line:
            numbers = [word for word in line.split("API Links:", 1)[1].split() if word.isdigit()]
            return "/".join(numbers[:2])
    return ""


def write_summary(impl: str, runs: Sequence[FuzzRun], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    payload = {"implementation": impl, "runs": [asdict(run) for run in runs]}
    (directory / "summary.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [f"# schemathesis: {impl}", ""]
    for run in runs:
        verdict = "pass" if run.ok else "FAIL"
        lines += [
            f"## {run.document} document: {verdict}",
            "",
            f"- seed {run.seed}, max examples {run.examples}, {run.seconds} s, "
            f"exit code {run.exit_code}",
            f"- phases: {', '.join(f'{k} {v}' for k, v in run.phases.items())}",
            f"- stateful phase: links covered / selected {run.links_covered or 'n/a'}",
            f"- cases per phase: {', '.join(f'{k} {v}' for k, v in run.per_phase.items())}",
            "",
            "| operation | cases |",
            "|---|---|",
            *(f"| `{op}` | {count} |" for op, count in run.per_operation.items()),
            "",
        ]
        for failure in run.failures:
            lines.append(
                f"- failure {failure.get('code')} {failure.get('title')} x{failure.get('count')}"
                f" on {', '.join(failure.get('operations', []))}"
            )
        for error in run.errors:
            lines.append(f"- error: {error.get('title')} x{error.get('count')}")
        for note in run.notes:
            lines.append(f"- note: {note}")
        lines.append("")
    (directory / "summary.md").write_text("\n".join(lines))


def results_table(runs: Sequence[FuzzRun]) -> Table:
    table = Table(title="schemathesis: every check, every phase")
    for column in ("impl", "profile", "document", "operations", "cases", "links"):
        table.add_column(column)
    table.add_column("failures", justify="right")
    table.add_column("time (s)", justify="right")
    for run in runs:
        failures = str(run.failed + len(run.errors))
        style = "green" if run.ok else "bold red"
        table.add_row(
            run.impl,
            run.profile,
            run.document,
            str(run.operations),
            str(run.cases),
            run.links_covered or "-",
            f"[{style}]{failures}[/{style}]",
            f"{run.seconds:.1f}",
        )
    return table


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m conformance.fuzz", description=__doc__)
    parser.add_argument("--impl", action="append", choices=IMPLEMENTATIONS, default=[])
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        type=_target,
        metavar="NAME=URL",
        help="a live server claiming the contract, in any language (repeatable); with "
        "--target alone no implementation of this repository is started",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=REQUEST_DEADLINE,
        help="seconds for each request (default: %(default)s)",
    )
    parser.add_argument(
        "--run-deadline",
        type=float,
        default=None,
        help="seconds for each schemathesis run (default: none; 1800 for --target)",
    )
    parser.add_argument("--document", action="append", choices=DOCUMENTS, default=[])
    parser.add_argument(
        "--profile", action="append", choices=PROFILES, default=[], help="default: both"
    )
    parser.add_argument("--examples", type=int, default=_int_env("FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
    parser.add_argument("--seed", type=int, default=_int_env("FUZZ_SEED", DEFAULT_SEED))
    parser.add_argument("--reports", type=Path, default=REPORTS_DIR)
    parser.add_argument("--no-differential", action="store_true")
    parser.add_argument(
        "--password-profile", default=os.environ.get("FUZZ_PASSWORD_PROFILE", CHEAP)
    )
    return parser.parse_args(argv)


def _target(text: str) -> tuple[str, str]:
    try:
        return target_pair(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def own_document(url: str, out: Path, deadline: float) -> tuple[str | None, str]:
    """An outside server's /openapi.json, fetched within the suite's bounds into `out`: the
    file's path (schemathesis then reads a file, never an unbounded answer), or None and why."""

    async def fetch() -> httpx.Response:
        async with bounded_client(url, deadline=deadline) as client:
            return await client.get("/openapi.json")

    try:
        response = asyncio.run(fetch())
    except httpx.HTTPError as exc:
        return None, f"/openapi.json: {type(exc).__name__}: {safe(str(exc))}"
    if response.status_code != 200:
        return None, f"/openapi.json: expected 200, got {response.status_code}"
    out.mkdir(parents=True, exist_ok=True)
    path = out / "openapi.json"
    path.write_bytes(response.content)
    return str(path), ""


def fuzz_targets(args: argparse.Namespace, console: Console) -> list[FuzzRun]:
    """Each --target fuzzed on its own document and the canonical one."""
    runs: list[FuzzRun] = []
    profile = (args.profile or ["tutorial"])[0]
    deadline = 1800.0 if args.run_deadline is None else args.run_deadline
    for name, url in args.target:
        server = Server(name, url.rstrip("/"), Path("."))
        target_runs: list[FuzzRun] = []
        for document in args.document or list(DOCUMENTS):
            out = args.reports / name / document
            console.print(f"[bold]{escape(name)}[/bold] ({profile}) / {document} document ...")
            location = None
            if document == "own":
                location, problem = own_document(server.url, out, args.request_timeout)
                if location is None:
                    console.print(f"  [bold red]FAILED[/bold red]: {escape(problem)}")
                    target_runs.append(_unfuzzed(server, document, out, args, problem, profile))
                    continue
            run = run_schemathesis(
                server,
                document,
                out,
                seed=args.seed,
                examples=args.examples,
                profile=profile,
                location=location,
                request_timeout=args.request_timeout,
                timeout=deadline,
            )
            verdict = "[green]ok[/green]" if run.ok else "[bold red]FAILED[/bold red]"
            console.print(f"  {verdict}: {run.cases} cases in {run.seconds} s ({out})")
            target_runs.append(run)
        write_summary(name, target_runs, args.reports / name)
        runs.extend(target_runs)
    return runs


def _unfuzzed(
    server: Server,
    document: str,
    out: Path,
    args: argparse.Namespace,
    problem: str,
    profile: str,
) -> FuzzRun:
    return FuzzRun(
        impl=server.name, document=document, seed=args.seed, examples=args.examples,
        exit_code=1, seconds=0.0, operations=0, cases=0, per_operation={}, per_phase={},
        phases={}, failures=[], errors=[{"message": problem}], warnings={},
        report_dir=str(out), notes=[problem], profile=profile,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    if args.target:
        return main_targets(args, console)
    impls = available_implementations(args.impl or IMPLEMENTATIONS)
    if not impls:
        console.print("[red]no implementation module found[/red]")
        return 2
    documents = args.document or list(DOCUMENTS)
    runs: list[FuzzRun] = []
    differences = 0
    for profile in args.profile or list(PROFILES):
        # The tutorial's reports where they always were; the strict profile's below strict/.
        reports = args.reports if profile == "tutorial" else args.reports / profile
        profile_runs: list[FuzzRun] = []
        for impl in impls:
            impl_runs: list[FuzzRun] = []
            with fuzz_server(impl, args.password_profile, profile) as server:
                for document in documents:
                    console.print(
                        f"[bold]{impl}[/bold] ({profile}) / {document} document: schemathesis ..."
                    )
                    out = reports / impl / document
                    run = run_schemathesis(
                        server,
                        document,
                        out,
                        seed=args.seed,
                        examples=args.examples,
                        profile=profile,
                    )
                    verdict = "[green]ok[/green]" if run.ok else "[bold red]FAILED[/bold red]"
                    console.print(f"  {verdict}: {run.cases} cases in {run.seconds} s ({out})")
                    impl_runs.append(run)
            write_summary(impl, impl_runs, reports / impl)
            profile_runs.extend(impl_runs)
        runs.extend(profile_runs)
        if not args.no_differential:
            cassettes = [Path(run.report_dir) / "cassette.yaml" for run in profile_runs]
            with contextlib.ExitStack() as stack:
                # Fresh servers of this profile, all at once; one implementation: nothing to
                # compare.
                servers = {
                    name: stack.enter_context(fuzz_server(name, args.password_profile, profile)).url
                    for name in impls
                    if len(impls) > 1
                }
                differences += replay_all(servers, cassettes, reports, console, impls)
    console.print(results_table(runs))
    failed = [run for run in runs if not run.ok]
    for run in failed:
        console.print(f"[bold red]{run.impl}/{run.document}[/bold red]: see {run.report_dir}")
    return 1 if failed or differences else 0


def main_targets(args: argparse.Namespace, console: Console) -> int:
    """Outside servers (and any --impl beside them, under uvicorn): fuzzed, then replayed
    against each other when there are two or more."""
    runs = fuzz_targets(args, console)
    profile = (args.profile or ["tutorial"])[0]
    impls = available_implementations(args.impl) if args.impl else []
    for impl in impls:
        with fuzz_server(impl, args.password_profile, profile) as server:
            impl_runs = [
                run_schemathesis(
                    server, document, args.reports / impl / document, seed=args.seed,
                    examples=args.examples, profile=profile,
                )
                for document in args.document or list(DOCUMENTS)
            ]  # fmt: skip
        write_summary(impl, impl_runs, args.reports / impl)
        runs.extend(impl_runs)
    differences = 0
    names = [name for name, _ in args.target] + impls
    if not args.no_differential and len(names) > 1:
        cassettes = [Path(run.report_dir) / "cassette.yaml" for run in runs]
        with contextlib.ExitStack() as stack:
            servers = dict(args.target)
            for impl in impls:
                servers[impl] = stack.enter_context(
                    fuzz_server(impl, args.password_profile, profile)
                ).url
            differences = replay_all(servers, cassettes, args.reports, console, names)
    console.print(results_table(runs))
    failed = [run for run in runs if not run.ok]
    for run in failed:
        console.print(
            f"[bold red]{escape(run.impl)}/{run.document}[/bold red]: see {run.report_dir}"
        )
    return 1 if failed or differences else 0


if __name__ == "__main__":
    sys.exit(main())
