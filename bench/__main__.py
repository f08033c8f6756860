"""`make bench`: every implementation under uvicorn next to what bounds it.

Targets, per implementation of core.registry, its cost ladder: its framework's bare endpoint
(same paths and JSON, no auth; bare-<name>), the same inside core.asgi.Guard (guard-<name>),
its wiring ceiling (the real adapter with the core's authenticate/items stubbed; ceiling-<name>),
the implementation (<name>, and on PostgreSQL pg-<name>) and the framework's documented way
(native-<name>); a raw ASGI app (the floor) and a raw ASGI app doing the auth work through the
core with no framework. Scenarios: GET /status/, /users/me/, /users/me/items/ with a valid
token; logins alone at capacity; reads while other clients log in; per implementation a soak
over thousands of distinct tokens, cold start and peak RSS. Every response is checked; a
non-2xx answer to a read fails the run (the documented way's other JSON is noted). Reads report
req/s, µs per request and the server's CPU µs per request (/proc); each ladder the µs each step
adds. Each guard-<name> also runs side by side with bare-<name> (both servers up at once on the
server CPU, each under its own wrk), whose CPU µs per request judge the guard-vs-bare target.
Writes reports/bench.json and reports/bench.md (--smoke: reports/bench-smoke.*).

Load comes from wrk (Debian package), pinned to its own CPU; without wrk, one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from bench import wrk
from bench.analysis import SCENARIOS, TargetResult, evaluate
from bench.launcher import uvicorn_command
from bench.machine import machine
from bench.report import grids, print_grids, write
from bench.runner import (
    PG_PREFIX,
    Options,
    Runner,
    Target,
    all_targets,
    choose_cpus,
    groups,
    missing_rungs,
    parse_cpus,
)
from core import registry

#: The smoke run's targets besides the ladder of its implementation(s) (--impl; default the
#: registry's first).
SMOKE_BASE = ("raw-asgi", "raw-core")
#: Versions reported besides each implementation's own packages (core.registry).
PACKAGES = (
    "pydantic", "pydantic-core", "uvicorn", "uvloop", "httptools", "pyjwt", "pwdlib",
    "argon2-cffi", "httpx", "rich",
)  # fmt: skip


def ladder(targets: list[Target], impls: list[str]) -> list[str]:
    """The names of the targets of these implementations (every rung, and pg-<name>)."""
    return [t.name for t in targets if t.framework in impls]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    targets = all_targets()
    names = [t.name for t in targets]
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=int, default=5, help="seconds per run (default 5)")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (default 3)")
    parser.add_argument(
        "--warmup", type=int, default=1, help="warm-up seconds per scenario (default 1)"
    )
    parser.add_argument(
        "--connections", type=int, default=32, help="wrk connections for reads (default 32)"
    )
    parser.add_argument(
        "--login-connections", type=int, default=4, help="concurrent login clients (default 4)"
    )
    parser.add_argument(
        "--only", action="append", default=[], choices=names, metavar="TARGET",
        help=f"only this target (repeatable): {', '.join(names)}",
    )  # fmt: skip
    parser.add_argument(
        "--impl", action="append", default=[], choices=registry.IMPLEMENTATIONS,
        help="only this implementation's targets, every rung (repeatable): "
        f"{', '.join(registry.IMPLEMENTATIONS)}",
    )  # fmt: skip
    parser.add_argument(
        "--scenario", action="append", default=[], choices=SCENARIOS,
        help="only this scenario (repeatable; mixed also runs items, its reference)",
    )  # fmt: skip
    parser.add_argument(
        "--soak-requests", type=int, default=200_000, help="soak length (default 200,000)"
    )
    parser.add_argument("--soak-tokens", type=int, default=3_000, help="distinct soak tokens")
    parser.add_argument("--server-cpus", help="taskset list for servers (default: first CPU)")
    parser.add_argument("--client-cpus", help="taskset list for wrk (default: second CPU)")
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports"),
        help="where bench.json/.md go (bench-smoke.json/.md with --smoke)",
    )
    parser.add_argument(
        "--smoke", action="store_true",
        help="tiny run: 1 s, 1 run, no warm-up, soak 2k; the targets of --only and --impl "
        f"(no pg-* of --impl), else {', '.join(SMOKE_BASE)} and the ladder of "
        f"{registry.IMPLEMENTATIONS[0]}",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.runs, args.warmup = 1, 1, 0
        args.soak_requests, args.soak_tokens = 2_000, 200
        if not args.only and not args.impl:
            args.only, args.impl = list(SMOKE_BASE), [registry.IMPLEMENTATIONS[0]]
    # A ladder without its PostgreSQL twin in a smoke run (no PostgreSQL needed there).
    args.only += [
        name for name in ladder(targets, args.impl)
        if not (args.smoke and name.startswith(PG_PREFIX))
    ]  # fmt: skip
    if min(args.seconds, args.runs, args.connections, args.login_connections) < 1:
        parser.error("--seconds, --runs and the connection counts must be at least 1")
    return args


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in (*registry.distributions(), *PACKAGES):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)  # noqa: S607
    found["wrk"] = (
        (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else None
    )
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    if not wrk.available():
        # One plain line (no Rich wrapping): what is missing and how to get it.
        print(
            "wrk is not installed: apt-get install wrk (make bench does it as root)",
            file=sys.stderr,
        )
        return 2
    scenarios = args.scenario or list(SCENARIOS)
    if "mixed" in scenarios and "items" not in scenarios:
        scenarios.append("items")
    server_cpus, client_cpus = choose_cpus(args.server_cpus, args.client_cpus)
    if client_cpus is not None:
        # The bench's own process (httpx, Rich) stays off the server's CPU too.
        os.sched_setaffinity(0, parse_cpus(client_cpus))
    options = Options(
        seconds=args.seconds,
        runs=args.runs,
        warmup=args.warmup,
        connections=args.connections,
        login_connections=args.login_connections,
        soak_requests=args.soak_requests,
        soak_tokens=args.soak_tokens,
        scenarios=tuple(s for s in SCENARIOS if s in scenarios),
        server_cpus=server_cpus,
        client_cpus=client_cpus,
    )
    chosen: list[Target] = [t for t in all_targets() if not args.only or t.name in args.only]
    skipped = missing_rungs(list(dict.fromkeys(t.framework for t in chosen if t.framework)))
    for note in skipped:
        console.print(f"[yellow]{note}")
    if server_cpus is None:
        console.print("[yellow]taskset not found: servers and wrk are not pinned to CPUs")
    started = time.time()
    results: dict[str, TargetResult] = {}
    with tempfile.TemporaryDirectory(prefix="arena-bench-") as tmp:
        runner = Runner(options, console, Path(tmp), secrets.token_hex(32))
        with runner.tracking(chosen), runner.databases():
            for group in groups(chosen):
                results.update(runner.run_group(group))
            runner.step("done")
        script_dir = Path(tmp) / "lua"
        scripts = {name: str(script_dir / f"{name}.lua") for name in wrk.SCRIPTS}
    ratios, goals = evaluate(results)
    meta = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": time.time() - started,
        "smoke": args.smoke,
        "skipped": skipped,
        "python": platform.python_version(),
        "machine": machine(),
        "versions": versions(),
        "options": options.as_dict(),
        "commands": {
            "uvicorn": uvicorn_command("<module:app>", 0, server_cpus),
            "server_env": ["ARENA_SECRET_KEY=<random per bench run>", "ARENA_DATA_DIR=<fresh tmp>",
                           "ARENA_DEMO_USERS=1", "ARENA_LOGIN_RATE_LIMIT=off (real cores only)",
                           "ARENA_DATABASE_URL=postgresql://... (pg-* targets: a database of "
                           "their own on a throwaway local PostgreSQL, fsync off)"],
            "lua_scripts": scripts,
            "lua_script_text": wrk.SCRIPTS,
        },
        "notes": [
            "Each target's exact uvicorn argv is under targets.<name>.command, each wrk argv "
            "under its scenario's commands (the Lua scripts lived in a temporary directory; "
            "their text is under meta.commands.lua_script_text).",
            *skipped,
            "Logins (alone and in the mixed scenario) come from httpx client threads logging "
            "in back to back; each run's login rate counts the logins completed within that "
            "run's window, after a lead in which every client finished one login.",
        ],
    }  # fmt: skip
    tables = grids(results, ratios, goals)
    # Wide enough for the tables when stdout is a file or a pipe (make test, CI logs).
    print_grids(Console(width=None if sys.stdout.isatty() else 180), tables)
    stem = "bench-smoke" if args.smoke else "bench"
    json_path, md_path = write(args.report_dir, meta, results, ratios, goals, tables, stem)
    failed = sorted(name for name, t in results.items() if t.failed)
    console.print(f"wrote {json_path} and {md_path} ({meta['duration_s']:.0f} s)")
    if failed:
        console.print(f"[red]failed (non-2xx reads, errors or a server that did not start): "
                      f"{', '.join(failed)}")  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
