"""`python -m compare`: (re)make the reports that are missing or older than the code they
measure, build reports/index.html, print its path. `--readme` rewrites the README's comparison
block instead (`make readme-table`)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from compare import adapters, page, readme, reference, sources, targets
from compare.sources import ROOT, SOURCES


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m compare", description=__doc__)
    parser.add_argument(
        "--reports", type=Path, default=ROOT / "reports", help="where the reports are read"
    )
    parser.add_argument(
        "--out", type=Path, help="the page to write (default: <reports>/index.html)"
    )
    parser.add_argument(
        "--no-run", action="store_true", help="build from the reports as they are; run nothing"
    )
    parser.add_argument(
        "--bench",
        action="store_true",
        help="also run the benchmark (~40 min) when bench.json is missing or stale",
    )
    parser.add_argument(
        "--readme",
        type=Path,
        nargs="?",
        const=ROOT / "README.md",
        help="rewrite the comparison block of this README (default README.md) instead",
    )
    parser.add_argument(
        "--outside",
        type=Path,
        action="append",
        default=[],
        help="a conformance report (or its folder) of an implementation outside this repository "
        "to show as an extra column (reports/<name>/ of --target runs are found by themselves)",
    )
    parser.add_argument(
        "--save-reference",
        action="store_true",
        help="copy the reports into compare/reference/ (with meta.json: date, machine, commit); "
        "`make reference` runs everything first",
    )
    return parser.parse_args(argv)


def shown(path: Path) -> str:
    """A path as the user would type it: relative to the working directory where it can be."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def refresh(reports: Path, *, run: bool, bench: bool) -> list[str]:
    """Run what is missing or stale (the slow bench only with `bench`); what is left, as lines
    saying how to make it."""
    left = []
    for source in SOURCES:
        state = sources.state(source, reports)
        where = shown(reports / source.marker)
        if state == "fresh":
            continue
        if not run or (source.slow and not bench):
            flag = " (or make compare BENCH=1)" if source.slow else ""
            left.append(
                f"{source.name}: {where} is {state}: run {source.make}{flag}, "
                f"about {source.minutes} min"
            )
            continue
        log = reports / f"{source.name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f"{source.name}: {where} is {state}: {source.make} (about {source.minutes} min; "
              f"output in {shown(log)}) ...", flush=True)  # fmt: skip
        started = time.monotonic()
        # Quiet: the run's own output (the native apps' long failure lists, library warnings)
        # goes to its log; the page is where its results are read. A failing run still writes
        # its report (failures are what the page shows).
        with log.open("w") as out:
            done = subprocess.run(  # noqa: S603 (our own interpreter and modules)
                source.command(reports), cwd=ROOT, check=False, stdout=out,
                stderr=subprocess.STDOUT, env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )  # fmt: skip
        took = time.monotonic() - started
        if not (reports / source.marker).exists():
            left.append(f"{source.name}: {source.make} exited {done.returncode} with no report "
                        f"(see {shown(log)})")  # fmt: skip
        else:
            print(f"{source.name}: done in {took:.0f} s (exit {done.returncode})", flush=True)
    return left


def summary_lines(reports: sources.Reports) -> list[str]:
    """The short summary `make compare` ends with: where each report came from, what could
    not be read."""
    meta = reports.reference or {}
    lines = []
    for name, origin in reports.origin.items():
        where = {"local": "this machine's run", "missing": "no report"}.get(
            origin, f"the reference run of {meta.get('date', '?')}"
        )
        caveat = " (a fixture, not a measurement)" if "fixture" in str(meta.get(name, "")) else ""
        lines.append(f"{name}: {where}{caveat}" + (f", {reports.files[name]}"
                     if name in reports.files else ""))  # fmt: skip
    problems = sum(len(found) for found in reports.problems.values())
    if problems:
        lines.append(f"{problems} report field(s) could not be read: the page names them")
    return lines + reports.notes


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    found = adapters.load(ROOT, targets.implementations())

    def load() -> sources.Reports:
        return sources.load(
            args.reports, outside=tuple(args.outside), ours=targets.implementations()
        )

    if args.save_reference:
        print(reference.save(args.reports, sources.REFERENCE))
        return 0
    if args.readme is not None:
        changed = readme.rewrite(args.readme, load(), found)
        print(f"{args.readme}: comparison block {'rewritten' if changed else 'unchanged'}")
        return 0
    left = refresh(args.reports, run=not args.no_run, bench=args.bench)
    reports = load()
    for line in left:
        name = line.split(":", 1)[0]
        shown_instead = reports.origin.get(name) == "reference"
        print(line + ("; the page shows the reference run" if shown_instead else ""),
              file=sys.stderr)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a library's warning is no reader's business here
        out = page.build(reports, found, args.out or args.reports / "index.html")
    for line in summary_lines(reports):
        print(f"  {line}")
    print(out.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
