"""Real uvicorn servers on free loopback ports, one per implementation, each with its own fresh
SQLite store and the demo users: what `make conformance`, `make fuzz`, the browser test and the
benchmark run against. They run under `core.server`'s configuration, as `scopes-arena serve`
does, so the suite meets the same limits below the app (header size, timeouts, connections).

IMPLEMENTATIONS is core.registry's list, re-exported here for the suite, the fuzzer, the browser
test and the tests that import it from this module."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from core import registry
from core.registry import IMPLEMENTATIONS

__all__ = [
    "IMPLEMENTATIONS",
    "LIVE_SECRET_KEY",
    "Server",
    "free_port",
    "serve",
    "serve_all",
    "server_env",
]
#: A fixed key so that tokens minted by one server are accepted by the others (H9).
LIVE_SECRET_KEY = "conformance-live-key-0123456789abcdef0123456789abcdef"


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    url: str
    data_dir: Path
    #: The server's process id (its master process with workers > 1).
    pid: int = 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARENA_")}
    env.update(
        ARENA_SECRET_KEY=LIVE_SECRET_KEY,
        ARENA_DATA_DIR=str(data_dir),
        ARENA_DEMO_USERS="1",
        # The suite and the fuzzer make many failed logins from one address; H12's own checks
        # (conformance/test_rate.py) turn it on again through `extra`.
        ARENA_LOGIN_RATE_LIMIT="off",
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def serve(
    name: str,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
    workers: int = 1,
    app: str | None = None,
    ready_path: str = "/openapi.json",
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """Serve `impl_<name>.app:app` (or `app`, "module:attr") with uvicorn on a free port until
    the block ends, configured by `core.server.uvicorn_config` (limits from the ARENA_* `env`;
    without `env`, `server_env`'s plus `extra_env`)."""
    with tempfile.TemporaryDirectory(prefix=f"arena-{name}-") as tmp:
        data_dir = Path(tmp)
        port = free_port()
        command = [
            sys.executable, "-m", "core.server", app or registry.app_path(name),
            "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        log = (data_dir / "server.log").open("w")
        process = subprocess.Popen(  # noqa: S603 (fixed argv, our own interpreter)
            command,
            env=env or server_env(data_dir, **(extra_env or {})),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url + ready_path, process, timeout, data_dir / "server.log")
            yield Server(name=name, url=url, data_dir=data_dir, pid=process.pid)
        finally:
            stop(process)
            log.close()


@contextlib.contextmanager
def serve_all(names: Sequence[str] = IMPLEMENTATIONS) -> Iterator[list[Server]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(serve(name)) for name in names]


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} not ready after {timeout}s:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server, killing it if it has not gone within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
