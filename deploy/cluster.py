"""`make cluster`: many instances on one database behind a real load balancer, on this machine.

One throwaway PostgreSQL (deploy.postgres), its schema brought up to date (`scopes-arena db
upgrade`) and the demo users put in (`scopes-arena demo`), then every implementation, each
one `scopes-arena serve IMPL` (with `--workers N`) on its own loopback port, all with the same
ARENA_DATABASE_URL, the same ARENA_SECRET_KEY (generated for the run) and
ARENA_TRUSTED_PROXIES=127.0.0.1/32 (X-Forwarded-For believed from nginx only), and nginx
(deploy.nginx) in front, round-robin. It prints the URLs and runs until Ctrl-C or SIGTERM, then
stops everything, nginx first and the database last.

The other ARENA_* settings come from the caller's environment, as for `scopes-arena serve`
(`ARENA_USER_CACHE_TTL=1 make cluster`). `Cluster` is the same thing as a context manager, for
tests/test_cluster.py: `cluster.postgres.stop()` / `.start()` make an outage.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
import typer
from rich.console import Console

from core.registry import IMPLEMENTATIONS
from deploy import nginx
from deploy.postgres import TempPostgres

ROOT = Path(__file__).resolve().parent.parent
SCOPES_ARENA = Path(sys.executable).parent / "scopes-arena"
#: nginx is the only proxy in front of the instances, on this host.
TRUSTED_PROXIES = "127.0.0.1/32"
#: Settings the cluster decides; the caller's own values for these are replaced.
OWN_SETTINGS = (
    "ARENA_DATABASE_URL", "ARENA_SECRET_KEY", "ARENA_TRUSTED_PROXIES", "ARENA_DATA_DIR",
    "ARENA_DEMO_USERS",
)  # fmt: skip
Store = Literal["postgresql", "sqlite"]


class ClusterError(RuntimeError):
    """Some part of the cluster did not start; the message says which, with its log."""


def without_password(url: str) -> str:
    """`url` with the password left out (printable, loggable)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the cluster process dies, even by SIGKILL, so
    that no instance or nginx outlives it (Linux's PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _check_free(ports: Sequence[int]) -> None:
    """A port in use is one line before anything starts, not an instance's traceback later."""
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError as exc:
                raise ClusterError(
                    f"port {port} on 127.0.0.1 is taken ({exc.strerror}): choose others with "
                    "--port and --first-port (0: free ones)"
                ) from None


@dataclass
class Instance:
    """One `scopes-arena serve IMPL` (its workers share the port)."""

    impl: str
    port: int
    workers: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        """As nginx names it in X-Upstream."""
        return f"127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return str(exc)


@dataclass
class Cluster:
    """The whole thing, started by `start()` (or `with`), stopped by `stop()`."""

    workers: int = 1
    #: nginx's port; 0: a free one.
    port: int = 8080
    #: The instances' ports are first_port, first_port + 1, ...; 0: free ones.
    first_port: int = 8001
    impls: Sequence[str] = IMPLEMENTATIONS
    store: Store = "postgresql"
    #: ARENA_* settings for every instance and the CLI; None: the caller's environment's.
    settings: Mapping[str, str] | None = None
    demo_users: bool = True
    #: Seconds to wait for each part to answer.
    timeout: float = 60.0
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    #: Makes the (not yet started) PostgreSQL server; the cluster starts and closes it.
    postgres_factory: Callable[[], TempPostgres] = TempPostgres
    run_dir: Path = field(init=False)
    postgres: TempPostgres | None = field(init=False, default=None)
    database_url: str = field(init=False, default="")
    instances: list[Instance] = field(init=False, default_factory=list)
    balancer: nginx.Nginx | None = field(init=False, default=None)
    _made_dir: bool = field(init=False, default=False)

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> Cluster:
        fixed = [self.port] if self.port else []
        if self.first_port:
            fixed += [self.first_port + index for index in range(len(self.impls))]
        _check_free(fixed)
        self.run_dir = Path(tempfile.mkdtemp(prefix="arena-cluster-"))
        self._made_dir = True
        try:
            self._start_database()
            self._start_instances()
            self._start_nginx()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """nginx, then the instances, then the database; the run's directory goes last."""
        if self.balancer is not None:
            self.balancer.stop()
            shutil.rmtree(self.balancer.prefix, ignore_errors=True)
            self.balancer = None
        for instance in self.instances:
            if instance.process is not None and instance.process.poll() is None:
                instance.process.terminate()
        for instance in self.instances:
            if instance.process is not None:
                try:
                    instance.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    instance.process.kill()
                    instance.process.wait()
                instance.process = None
        if self.postgres is not None:
            self.postgres.close()
            self.postgres = None
        if self._made_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self._made_dir = False

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what the cluster offers ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """nginx's URL: the cluster's front door."""
        if self.balancer is None:
            raise ClusterError("the cluster is not running")
        return self.balancer.url

    @property
    def env_file(self) -> Path:
        """ARENA_DATABASE_URL (with its password) and ARENA_SECRET_KEY, for the CLI and the
        conformance suite, readable by the owner only."""
        return self.run_dir / "cluster.env"

    def env(self) -> dict[str, str]:
        """The environment of every instance and of `cli()`."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
        own = (
            self.settings
            if self.settings is not None
            else {k: v for k, v in os.environ.items() if k.startswith("ARENA_")}
        )
        base.update({k: v for k, v in own.items() if k not in OWN_SETTINGS})
        base.update(
            ARENA_DATABASE_URL=self.database_url,
            ARENA_SECRET_KEY=self.secret_key,
            ARENA_TRUSTED_PROXIES=TRUSTED_PROXIES,
            ARENA_DATA_DIR=str(self.run_dir / "data"),
            ARENA_DEMO_USERS="0",  # put in once, by `scopes-arena demo`, not by three at once
        )
        return base

    def cli(
        self, *args: str, input: str | None = None, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """`scopes-arena ARGS` against the cluster's database."""
        return subprocess.run(  # noqa: S603 (our own CLI, fixed program)
            [str(SCOPES_ARENA), *args],
            env=self.env(),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=ROOT,
        )

    # -- parts ---------------------------------------------------------------------------------

    def _start_database(self) -> None:
        if self.store == "postgresql":
            self.postgres = self.postgres_factory()
            self.postgres.start(timeout=self.timeout)
            self.database_url = self.postgres.url
        else:
            # Several instances on one host can share one SQLite file (WAL).
            self.database_url = f"sqlite:///{self.run_dir / 'arena.db'}"
        fd = os.open(self.env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"ARENA_DATABASE_URL={shlex.quote(self.database_url)}\n")
            handle.write(f"ARENA_SECRET_KEY={shlex.quote(self.secret_key)}\n")
        steps = [("db", "upgrade")] + ([("demo",)] if self.demo_users else [])
        for step in steps:
            done = self.cli(*step)
            if done.returncode != 0:
                message = (done.stderr or done.stdout).strip()
                raise ClusterError(f"scopes-arena {' '.join(step)} failed: {message}")

    def _start_instances(self) -> None:
        env = self.env()
        for index, impl in enumerate(self.impls):
            port = self.first_port + index if self.first_port else _free_port()
            log = self.run_dir / f"{impl}.log"
            command = [
                str(SCOPES_ARENA), "serve", impl, "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(self.workers),
            ]  # fmt: skip
            with log.open("wb") as out:
                process = subprocess.Popen(  # noqa: S603 (our own CLI, fixed argv)
                    command,
                    env=env,
                    cwd=ROOT,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    # Own session: a Ctrl-C at the terminal reaches the cluster only, which
                    # stops the parts in order (the database last).
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            self.instances.append(Instance(impl, port, self.workers, log, process))
        deadline = time.monotonic() + self.timeout
        for instance in self.instances:
            _wait_ready(instance, deadline)

    def _start_nginx(self) -> None:
        port = self.port or _free_port()
        # Its own directory, not under run_dir (0700): nginx's workers drop to nobody when
        # started as root, and must reach their temporary files.
        prefix = Path(tempfile.mkdtemp(prefix="arena-nginx-"))
        upstreams = [("127.0.0.1", instance.port) for instance in self.instances]
        self.balancer = nginx.Nginx(upstreams, ("127.0.0.1", port), prefix)
        try:
            self.balancer.start(timeout=self.timeout, preexec=_new_session_dying_with_parent)
        except nginx.NginxError as exc:
            raise ClusterError(str(exc)) from None

    def failed(self) -> str | None:
        """What has stopped on its own, or None while every part runs."""
        for instance in self.instances:
            if instance.process is not None and instance.process.poll() is not None:
                code = instance.process.returncode
                return f"{instance.impl} exited with {code}:\n{instance.log_tail()}"
        if self.balancer is not None and not self.balancer.running:
            return f"nginx exited:\n{self.balancer.log()}"
        if self.postgres is not None and not self.postgres.running:
            return "PostgreSQL exited"
        return None


def _new_session_dying_with_parent() -> None:
    os.setsid()
    _die_with_parent()


def _wait_ready(instance: Instance, deadline: float) -> None:
    assert instance.process is not None
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            raise ClusterError(
                f"{instance.impl} exited with {instance.process.returncode}:\n{instance.log_tail()}"
            )
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{instance.url}/openapi.json", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise ClusterError(f"{instance.impl} not ready at {instance.url}:\n{instance.log_tail()}")


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP end the run as Ctrl-C does: with everything stopped in order.
    SIGINT too, as a shell starts a background job with it ignored (`kill -INT` must still
    work); SIGHUP only where it is not ignored (nohup)."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous: dict[signal.Signals, Callable[[int, FrameType | None], object] | int | None] = {}
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signum == signal.SIGHUP and signal.getsignal(signum) == signal.SIG_IGN:
            continue
        previous[signum] = signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def describe(cluster: Cluster) -> list[str]:
    """What `make cluster` prints once everything answers: one line per part."""
    assert cluster.balancer is not None
    lines = [f"nginx      {cluster.url}  round-robin; log {cluster.balancer.access_log}"]
    for instance in cluster.instances:
        workers = f" ({instance.workers} workers)" if instance.workers > 1 else ""
        lines.append(f"{instance.impl:<10} {instance.url}{workers}  log {instance.log}")
    database = without_password(cluster.database_url)
    if cluster.postgres is not None:
        lines.append(f"postgresql {database}  log {cluster.postgres.log_path}")
    else:
        lines.append(f"sqlite     {database}")
    lines.append(
        f"Every answer through nginx names its instance in {nginx.UPSTREAM_HEADER} "
        "(set by nginx, never by the apps)."
    )
    if cluster.demo_users:
        lines.append("Demo users: johndoe / secret, alice / secretalice (disabled).")
    env = shlex.quote(str(cluster.env_file))
    lines += [
        f"{cluster.env_file} holds the database's URL (password included) and the key:",
        f"  (set -a; . {env}; .venv/bin/scopes-arena users list)",
    ]
    suite = (
        f"  (set -a; . {env}; .venv/bin/python -m conformance"
        f' --target cluster={cluster.url} --secret-key "$ARENA_SECRET_KEY")'
    )
    if rate_limited(cluster.env()):
        # The suite makes many failed logins from one address: with H12 on, most /token
        # checks would meet 429 instead of the answer they judge.
        lines += [
            "The conformance suite needs brute-force protection (H12) off: stop this cluster, "
            "start it with",
            "  ARENA_LOGIN_RATE_LIMIT=off make cluster",
            "then run:",
            suite,
        ]
    else:
        lines += ["The conformance suite (brute-force protection is off):", suite]
    lines.append("Ctrl-C stops everything.")
    return lines


def rate_limited(env: dict[str, str]) -> bool:
    """Whether the instances run with brute-force protection (H12) on, as Settings reads
    ARENA_LOGIN_RATE_LIMIT (on unless off, false, 0 or no)."""
    value = env.get("ARENA_LOGIN_RATE_LIMIT", "on").strip().lower()
    return value not in ("off", "false", "0", "no")


def main(
    workers: Annotated[int, typer.Option(min=1, max=64, help="Workers per implementation.")] = 1,
    port: Annotated[int, typer.Option(min=0, max=65535, help="nginx's port; 0: free.")] = 8080,
    first_port: Annotated[
        int, typer.Option(min=0, max=65533, help="The instances' first port; 0: free ones.")
    ] = 8001,
    store: Annotated[
        str, typer.Option(help="postgresql (a throwaway server) or sqlite (one shared file).")
    ] = "postgresql",
) -> None:
    """Start PostgreSQL, every implementation and nginx in front; Ctrl-C stops them."""
    if store not in ("postgresql", "sqlite"):
        raise typer.BadParameter("postgresql or sqlite", param_hint="--store")
    console = Console()
    cluster = Cluster(
        workers=workers,
        port=port,
        first_port=first_port,
        store="postgresql" if store == "postgresql" else "sqlite",
    )
    failure: str | None = None
    with _signals_interrupt():
        try:
            console.print("starting the cluster...", highlight=False)
            with cluster:
                for line in describe(cluster):
                    console.print(line, highlight=False, markup=False, soft_wrap=True)
                try:
                    while (failure := cluster.failed()) is None:
                        time.sleep(0.5)
                except KeyboardInterrupt:
                    pass
                # A second Ctrl-C must not cut the stopping short (and leave a part running).
                for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    signal.signal(signum, signal.SIG_IGN)
                console.print("stopping...", highlight=False)
        except KeyboardInterrupt:  # while starting: start() has stopped what it had started
            pass
        except ClusterError as exc:
            failure = str(exc)
    if failure is not None:
        console.print(f"error: {failure}", style="red", highlight=False, markup=False)
        raise typer.Exit(1)
    console.print("stopped", highlight=False)


if __name__ == "__main__":
    typer.run(main)
