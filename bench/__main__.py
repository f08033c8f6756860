"""`make bench`: requests/s and latency of GET /users/me/items/ with a valid token, for every
implementation under uvicorn (one worker), next to a raw ASGI app and a bare FastAPI endpoint
that return the same JSON without auth; plus the time of one login (argon2, recommended cost).

Load comes from wrk (Debian package) when installed; without it, one clear line and exit 2.
Writes reports/bench.json and reports/bench.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from conformance.servers import IMPLEMENTATIONS, serve

PATH = "/users/me/items/"
REPORTS = Path("reports")
BASELINES = {"raw-asgi": "bench.baseline:raw_asgi", "bare-fastapi": "bench.baseline:bare_fastapi"}
console = Console(stderr=True)


@dataclass
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    login_ms: float | None = None


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(
    url: str, token: str | None, seconds: int, connections: int
) -> tuple[float, float, float, int]:
    header = ["-H", f"Authorization: Bearer {token}"] if token else []
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", *header, url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, p50, p99, int(errors.group(1)) if errors else 0


def login_time(url: str, samples: int) -> tuple[str, float]:
    """Median wall time of POST /token as johndoe (the first login rehashes nothing: the demo
    hashes already have the recommended parameters)."""
    times, token = [], ""
    with httpx.Client(base_url=url, timeout=30) as http:
        for _ in range(samples):
            started = time.perf_counter()
            response = http.post(
                "/token", data={"username": "johndoe", "password": "secret", "scope": "me items"}
            )
            times.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            token = response.json()["access_token"]
    return token, statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="load duration per target")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--logins", type=int, default=5, help="login samples per implementation")
    parser.add_argument("--only", action="append", default=[], help="limit to these targets")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        console.print("wrk is not installed: `apt-get install wrk` (make bench does it as root)")
        return 2
    impls = [n for n in IMPLEMENTATIONS if importlib.util.find_spec(f"impl_{n}.app") is not None]
    targets = [*BASELINES, *impls]
    if args.only:
        targets = [t for t in targets if t in args.only]
    results: list[Result] = []
    for name in targets:
        console.print(f"[bold]{name}[/]: {args.seconds}s of load on {PATH} ...")
        app = BASELINES.get(name)
        with serve(name, app=app, ready_path=PATH if app else "/openapi.json") as server:
            token, login_ms = (None, None) if app else login_time(server.url, args.logins)
            run_wrk(server.url + PATH, token, 2, args.connections)  # warm-up
            rps, p50, p99, errors = run_wrk(
                server.url + PATH, token, args.seconds, args.connections
            )
        results.append(Result(name, rps, p50, p99, errors, login_ms))
    table = Table(
        title=f"GET {PATH} — uvicorn, 1 worker, wrk -t1 -c{args.connections} -d{args.seconds}s"
    )
    for column in ("target", "requests/s", "p50 ms", "p99 ms", "non-2xx", "login ms (median)"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for r in results:
        login = "—" if r.login_ms is None else f"{r.login_ms:.0f}"
        table.add_row(
            r.name,
            f"{r.requests_per_s:,.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            str(r.errors),
            login,
        )
    Console().print(table)
    REPORTS.mkdir(exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(), "time": time.time()}
    (REPORTS / "bench.json").write_text(
        json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2)
    )
    lines = [
        "| target | requests/s | p50 ms | p99 ms | non-2xx | login ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.name} | {r.requests_per_s:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} | "
        f"{'—' if r.login_ms is None else f'{r.login_ms:.0f}'} |"
        for r in results
    ]
    (REPORTS / "bench.md").write_text("\n".join(lines) + "\n")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
