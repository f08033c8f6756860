"""Machine instructions per request of bench targets, counted by valgrind's callgrind: a figure
that does not move with the machine's load, where req/s and CPU time on a 2-core machine move by
5 to 10% from run to run. It is the measure for small differences, such as what `core.asgi.Guard`
adds to a bare endpoint (guard-<name> against bare-<name>).

Each target is served as the bench serves it (bench.launcher: uvicorn, uvloop, httptools, one
worker), under `valgrind --tool=callgrind`. After a warm-up, the counters are zeroed, `--requests`
sequential `GET /users/me/items/` on one keep-alive connection are counted, and the instructions
the idle server spends in the same wall time (its event loop's timers, counted right after) are
taken off. Instructions are not time: an instruction that misses a cache costs more, so the µs a
difference costs over HTTP is usually larger than instructions / (instructions per µs of the
bare endpoint). Under valgrind a server runs about 50 times slower: the default run (every
implementation's bare, guard and implementation) takes a few minutes.

    .venv/bin/python -m bench.instructions [--only TARGET ...] [--requests 1000] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench.analysis import PATHS
from bench.launcher import launch
from bench.runner import Target, all_targets
from core.tokens import TokenService

#: The rungs counted (the documented ways need their own tokens; pg-* their own database).
KINDS = ("raw", "raw-core", "bare", "guard", "ceiling", "impl")
DEFAULT_KINDS = ("bare", "guard", "impl")
TOTALS = re.compile(r"^(?:summary|totals):\s*(\d+)", re.MULTILINE)


@dataclass(frozen=True)
class Count:
    target: str
    framework: str | None
    requests: int
    instructions: int
    idle_per_s: float
    per_request: float


def counted(dump: Path) -> int:
    """The instruction total of a callgrind dump file."""
    found = TOTALS.search(dump.read_text(errors="replace"))
    if found is None:
        raise RuntimeError(f"no instruction total in {dump}")
    return int(found.group(1))


class Callgrind:
    """callgrind_control on one process: zero its counters, dump them (to a new file)."""

    def __init__(self, pid: int, out: Path) -> None:
        self.pid, self.out = pid, out

    def _control(self, flag: str) -> None:
        subprocess.run(  # noqa: S603 (fixed argv)
            ["callgrind_control", flag, str(self.pid)],  # noqa: S607
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def zero(self) -> None:
        self._control("-z")

    def dump(self) -> int:
        before = set(self.out.parent.glob(f"{self.out.name}.*"))
        self._control("-d")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            new = sorted(set(self.out.parent.glob(f"{self.out.name}.*")) - before)
            if new and TOTALS.search(new[-1].read_text(errors="replace")):
                return counted(new[-1])
            time.sleep(0.1)
        raise RuntimeError(f"callgrind wrote no dump for {self.pid}")


def count(
    target: Target, secret_key: str, requests: int, warmup: int, idle_s: float, workdir: Path
) -> Count:
    out = workdir / f"callgrind.{target.name}"
    wrapper = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    token = TokenService(secret_key.encode, 1800).issue("johndoe", ("me", "items")).access_token
    with (
        launch(
            target.name, target.app, secret_key=secret_key, ready_path=target.ready_path,
            ready_status=target.ready_status, real=target.real, cpus=None, timeout=600.0,
            wrapper=wrapper,
        ) as server,
        httpx.Client(base_url=server.url, timeout=120.0) as client,
    ):  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}

        def get() -> None:
            answer = client.get(PATHS["items"], headers=headers)
            if answer.status_code != 200:
                raise RuntimeError(f"{target.name}: {answer.status_code} {answer.text[:200]}")

        for _ in range(warmup):
            get()
        grind = Callgrind(server.pid, out)
        grind.zero()
        started = time.monotonic()
        for _ in range(requests):
            get()
        elapsed = time.monotonic() - started
        busy = grind.dump()
        grind.zero()
        time.sleep(idle_s)
        idle_per_s = grind.dump() / idle_s
    per_request = (busy - idle_per_s * elapsed) / requests
    return Count(target.name, target.framework, requests, busy, idle_per_s, per_request)


def table(counts: Sequence[Count]) -> Table:
    shown = Table(title="Instructions per GET /users/me/items/ (callgrind), idle loop taken off")
    for column in ("target", "instructions / request", "vs bare", "adds to bare"):
        shown.add_column(column, justify="left" if column == "target" else "right")
    bare = {c.framework: c.per_request for c in counts if c.target == f"bare-{c.framework}"}
    for c in counts:
        base = bare.get(c.framework)
        ratio = f"{c.per_request / base:.3f}x" if base else "—"
        adds = f"{c.per_request - base:+,.0f}" if base else "—"
        shown.add_row(c.target, f"{c.per_request:,.0f}", ratio, adds)
    return shown


def main(argv: list[str] | None = None) -> int:
    targets = {t.name: t for t in all_targets() if t.kind in KINDS and t.database == "sqlite"}
    parser = argparse.ArgumentParser(
        prog="python -m bench.instructions",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only", action="append", choices=sorted(targets), metavar="TARGET",
        help=f"this target (repeatable; default: every {', '.join(DEFAULT_KINDS)} rung)",
    )  # fmt: skip
    parser.add_argument("--requests", type=int, default=1000, help="counted requests (1000)")
    parser.add_argument("--warmup", type=int, default=200, help="requests before (200)")
    parser.add_argument("--idle", type=float, default=2.0, help="idle seconds counted (2)")
    parser.add_argument("--json", type=Path, help="also write the counts here")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 1 or args.idle <= 0:
        parser.error("--requests and --warmup must be at least 1, --idle above 0")
    missing = [tool for tool in ("valgrind", "callgrind_control") if not shutil.which(tool)]
    if missing:
        print(
            f"{' and '.join(missing)} not found: install Debian's valgrind "
            "(apt-get install valgrind) to count instructions",
            file=sys.stderr,
        )
        return 2
    chosen = args.only or [n for n, t in targets.items() if t.kind in DEFAULT_KINDS]
    console = Console()
    counts = []
    with tempfile.TemporaryDirectory(prefix="arena-callgrind-") as tmp:
        workdir = Path(tmp)
        for index, name in enumerate(chosen, 1):
            console.print(f"[{index}/{len(chosen)}] {name}: under callgrind", highlight=False)
            found = count(
                targets[name], secrets.token_hex(32), args.requests, args.warmup, args.idle, workdir
            )
            counts.append(found)
            console.print(f"  {found.per_request:,.0f} instructions per request", highlight=False)
    console.print(table(counts))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(c) for c in counts], indent=2) + "\n")
        console.print(f"wrote {args.json}", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
