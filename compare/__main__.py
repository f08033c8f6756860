"""`python -m compare`: (re)make the reports that are missing or older than the code they
measure, build reports/index.html, print its path. `--readme` rewrites the README's comparison
block instead (`make readme-table`)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from compare import adapters, page, readme, sources, targets
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
        help="also run the benchmark (~15 min) when bench.json is missing or stale",
    )
    parser.add_argument(
        "--readme",
        type=Path,
        nargs="?",
        const=ROOT / "README.md",
        help="rewrite the comparison block of this README (default README.md) instead",
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
        print(f"{source.name}: {where} is {state}: {source.make} ...", flush=True)
        # A failing run still writes its report (failures are what the page shows).
        done = subprocess.run(source.command(reports), cwd=ROOT, check=False)  # noqa: S603
        if not (reports / source.marker).exists():
            left.append(f"{source.name}: {source.make} exited {done.returncode} with no report")
    return left


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    found = adapters.load(ROOT, targets.keys())
    if args.readme is not None:
        changed = readme.rewrite(args.readme, sources.load(args.reports), found)
        print(f"{args.readme}: comparison block {'rewritten' if changed else 'unchanged'}")
        return 0
    left = refresh(args.reports, run=not args.no_run, bench=args.bench)
    for line in left:
        print(line, file=sys.stderr)
    out = page.build(sources.load(args.reports), found, args.out or args.reports / "index.html")
    print(out.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
