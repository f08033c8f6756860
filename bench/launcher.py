"""The bench's own uvicorn launcher: one worker, uvloop + httptools, access log off, pinned to the
server core(s) with taskset where it exists, a fresh SQLite store with the demo users each time.

Also what only a launcher can see: the time from process start to the first expected answer
(cold start) and the process's memory from /proc/<pid>/status (VmRSS now, VmHWM the peak).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from conformance.servers import free_port, stop


def taskset_prefix(cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus] if cpus is not None and shutil.which("taskset") else []


def uvicorn_command(
    app: str, port: int, cpus: str | None, wrapper: Sequence[str] = ()
) -> list[str]:
    """The server's argv: pinned with taskset, `wrapper` (a tool that runs it, such as
    valgrind) around our interpreter."""
    return [
        *taskset_prefix(cpus), *wrapper, sys.executable, "-m", "uvicorn", app,
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def server_env(secret_key: str, data_dir: Path, *, real: bool) -> dict[str, str]:
    """The process environment minus any ARENA_* of the caller's, plus the bench's settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARENA_")}
    env.update(ARENA_SECRET_KEY=secret_key, ARENA_DATA_DIR=str(data_dir), ARENA_DEMO_USERS="1")
    if real:
        # The brute-force limit (H12) would answer 429 to a login benchmark, by design.
        env["ARENA_LOGIN_RATE_LIMIT"] = "off"
    return env


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident set) of a process, in KiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            values[name] = int(rest.split()[0])
    return values


#: Clock ticks per second of /proc/<pid>/stat's utime and stime.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (all its threads) has used so far, from
    /proc/<pid>/stat (fields 14 and 15, after the parenthesised command name)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Server:
    name: str
    url: str
    pid: int
    command: list[str]
    data_dir: Path
    cold_start_s: float
    memory_at_ready_kib: dict[str, int] = field(default_factory=dict)

    def memory(self) -> dict[str, int]:
        return memory_kib(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)


class ServerFailed(RuntimeError):
    pass


@contextlib.contextmanager
def launch(
    name: str,
    app: str,
    *,
    secret_key: str,
    ready_path: str,
    ready_status: int | None,
    real: bool,
    cpus: str | None,
    timeout: float = 60.0,
    extra_env: Mapping[str, str] | None = None,
    wrapper: Sequence[str] = (),
) -> Iterator[Server]:
    """Serve `app` ("module:attr") until the block ends. Ready means `ready_path` answered
    `ready_status` (None: any answer below 500); cold start is the wall time from just before
    the process is spawned."""
    with tempfile.TemporaryDirectory(prefix=f"arena-bench-{name}-") as tmp:
        data_dir = Path(tmp)
        port = free_port()
        command = uvicorn_command(app, port, cpus, wrapper)
        log_path = data_dir / "server.log"
        with log_path.open("w") as log:
            started = time.perf_counter()
            process = subprocess.Popen(  # noqa: S603 (fixed argv, our own interpreter)
                command,
                env={**server_env(secret_key, data_dir, real=real), **(extra_env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            url = f"http://127.0.0.1:{port}"
            try:
                cold = _wait_ready(url + ready_path, ready_status, process, timeout, log_path)
                server = Server(name, url, process.pid, command, data_dir, cold - started)
                server.memory_at_ready_kib = server.memory()
                yield server
            finally:
                stop(process)


def _wait_ready(
    url: str, status: int | None, process: subprocess.Popen[bytes], timeout: float, log: Path
) -> float:
    """The perf_counter time of the first `status` answer from `url`."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ServerFailed(f"server exited with {process.returncode}:\n{log.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                answer = client.get(url).status_code
                if answer == status or (status is None and answer < 500):
                    return time.perf_counter()
            # Polling finely: the cold start is measured to about this resolution.
            time.sleep(0.01)
    raise ServerFailed(f"{url} did not answer {status} within {timeout}s:\n{log.read_text()}")


def run_pinned(command: Sequence[str], cpus: str | None) -> list[str]:
    """`command` with the taskset prefix for `cpus` (as run, for the report)."""
    return [*taskset_prefix(cpus), *command]
