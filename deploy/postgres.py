"""A throwaway PostgreSQL server from the machine's binaries, for tests, the bench and the cluster.

Debian keeps the server binaries off PATH (`pg_config --bindir` says where), and `initdb` refuses
to run as root, which is how CI runs here: as root the server runs as the existing `postgres`
system user, in a temporary directory that user owns. It listens on 127.0.0.1 on a free port
(password logins, scram-sha-256) and on a unix socket in a private directory (the superuser,
trusted: only that user and root can reach the directory). It is made for speed, not
durability (fsync off): the data is thrown away with it.

    with TempPostgres() as pg:
        pg.url                 # postgresql://arena:<password>@127.0.0.1:<port>/arena
        pg.create_database("t1")  # another empty database owned by the same role; its URL
        pg.stop(); pg.start()  # an outage: same data, same port

`python -m deploy.postgres` starts one, prints its URL and runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg

#: Where the binaries are, when neither PATH nor pg_config knows (overrides both).
BINDIR_ENV = "SCOPES_ARENA_PG_BINDIR"
#: The unprivileged system user that runs the server when we are root (Debian's package has it).
SYSTEM_USER = "postgres"
#: Debian's place for every installed major version: /usr/lib/postgresql/<major>/bin.
DEBIAN_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: Throwaway data: no fsync; small enough to start in well under a second.
DEFAULT_OPTIONS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
}


class PostgresNotFound(RuntimeError):
    """The PostgreSQL server binaries are not installed (or not where we look)."""


class PostgresError(RuntimeError):
    """The throwaway server could not be set up or started; the message says why."""


def find_bindir() -> Path:
    """The directory holding initdb and postgres: $SCOPES_ARENA_PG_BINDIR, PATH, `pg_config
    --bindir`, then the newest /usr/lib/postgresql/*/bin. PostgresNotFound if none has them."""
    candidates: list[Path] = []
    if env := os.environ.get(BINDIR_ENV):
        candidates.append(Path(env))
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)  # /usr/local/bin links
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(  # noqa: S603 (a fixed argument list)
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(Path(out.stdout.strip()))
    if DEBIAN_ROOT.is_dir():
        versions = sorted(
            (p for p in DEBIAN_ROOT.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)
        )
        candidates.extend(p / "bin" for p in reversed(versions))
    for bindir in candidates:
        if all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "postgres")):
            return bindir
    raise PostgresNotFound(
        "PostgreSQL server binaries (initdb, postgres) not found: install PostgreSQL "
        "(Debian: apt install postgresql, or `make postgres-deps` as root) or set "
        f"{BINDIR_ENV} to the directory that holds them"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cleanup(procs: list[subprocess.Popen[bytes]], root: Path) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    shutil.rmtree(root, ignore_errors=True)


class TempPostgres:
    """One throwaway server. Nothing runs until `start()` (or `with`); `close()` deletes it."""

    def __init__(
        self,
        *,
        user: str = "arena",
        database: str = "arena",
        password: str | None = None,
        port: int | None = None,
        bindir: Path | None = None,
        options: Mapping[str, str] | None = None,
    ) -> None:
        for name in (user, database):
            if not _NAME.fullmatch(name):
                raise ValueError(f"{name!r}: use a plain lower-case SQL name")
        self.bindir = bindir or find_bindir()
        self.user = user
        self.database = database
        # URL-safe alphabet: the password goes into the URL as is.
        self.password = password or secrets.token_urlsafe(18)
        self.port = port
        self.options = {**DEFAULT_OPTIONS, **(options or {})}
        self.root: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        #: Every server process started, for the finalizer (which must not hold `self`).
        self._procs: list[subprocess.Popen[bytes]] = []
        self._initialized = False
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._run_as = self._system_user() if os.geteuid() == 0 else None

    # -- where things are ----------------------------------------------------------------------

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def url(self) -> str:
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        if self.port is None:
            raise PostgresError("the server has not been started yet")
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    @property
    def datadir(self) -> Path:
        return self._root / "data"

    @property
    def socket_dir(self) -> Path:
        return self._root / "socket"

    @property
    def log_path(self) -> Path:
        return self._root / "postgres.log"

    @property
    def _root(self) -> Path:
        if self.root is None:
            raise PostgresError("the server has not been started yet")
        return self.root

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- life cycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> TempPostgres:
        """Create the cluster (first time), then start the server and wait until it answers.
        After `stop()` the same data on the same port."""
        if self.running:
            return self
        if not self._initialized:
            self._init_cluster()
        if self.port is None:
            self.port = free_port()
        self._spawn(timeout)
        if not self._initialized:
            self._initialized = True
            self._create_role_and_database()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (open sessions are cut off); the data stays for `start()`."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        if self._finalizer is not None:
            self._finalizer()
        self.root = None
        self._initialized = False

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- databases -----------------------------------------------------------------------------

    def create_database(self, name: str) -> str:
        """A new empty database owned by the role; its URL."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"{name!r}: use a plain lower-case SQL name")
        self.superuser_sql(f'CREATE DATABASE "{name}" OWNER "{self.user}"')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        if not _NAME.fullmatch(name):
            raise ValueError(f"{name!r}: use a plain lower-case SQL name")
        self.superuser_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def superuser_sql(self, *statements: str, database: str = "postgres") -> None:
        """Run statements as the superuser over the private socket, each in autocommit."""
        with psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=SUPERUSER,
            dbname=database,
            autocommit=True,
            connect_timeout=10,
        ) as conn:
            for statement in statements:
                conn.execute(statement.encode())

    # -- internals -----------------------------------------------------------------------------

    @staticmethod
    def _system_user() -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            raise PostgresError(
                f"running as root, and initdb refuses root: the server needs the unprivileged "
                f"{SYSTEM_USER!r} system user (Debian's postgresql package creates it)"
            ) from None

    def _popen_user(self) -> dict[str, Any]:
        if self._run_as is None:
            return {}
        return {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid, "extra_groups": []}

    def _init_cluster(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="arena-pg-"))
        self.root = root
        # Whatever happens to this object (an error, a test run cut short), the server goes.
        self._finalizer = weakref.finalize(self, _cleanup, self._procs, root)
        (root / "socket").mkdir(mode=0o700)
        if self._run_as is not None:
            for path in (root, root / "socket"):
                os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)
        pwfile = root / "superuser-password"  # initdb wants one for host auth; never used
        pwfile.write_text(secrets.token_urlsafe(18) + "\n")
        if self._run_as is not None:
            os.chown(pwfile, self._run_as.pw_uid, self._run_as.pw_gid)
        pwfile.chmod(0o600)
        result = subprocess.run(  # noqa: S603 (a fixed argument list)
            [
                str(self.bindir / "initdb"),
                "--pgdata", str(self.datadir),
                "--username", SUPERUSER,
                "--pwfile", str(pwfile),
                "--auth-local", "trust",
                "--auth-host", "scram-sha-256",
                "--encoding", "UTF8",
                "--locale", "C",
                "--no-sync",
            ],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **self._popen_user(),
        )  # fmt: skip
        pwfile.unlink()
        if result.returncode != 0:
            raise PostgresError(f"initdb failed ({result.returncode}): {result.stderr.strip()}")

    def _spawn(self, timeout: float) -> None:
        args = [
            str(self.bindir / "postgres"),
            "-D", str(self.datadir),
            "-p", str(self.port),
            "-k", str(self.socket_dir),
            "-c", f"listen_addresses={self.host}",
        ]  # fmt: skip
        for key, value in self.options.items():
            args += ["-c", f"{key}={value}"]
        log = self.log_path.open("ab")
        if self._run_as is not None:
            with contextlib.suppress(OSError):
                os.chown(self.log_path, self._run_as.pw_uid, self._run_as.pw_gid)
        try:
            self._proc = subprocess.Popen(  # noqa: S603 (a fixed argument list)
                args,
                cwd=self._root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C to the test run is not also the server's
                **self._popen_user(),
            )
        finally:
            log.close()
        self._procs.append(self._proc)
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                self._proc = None
                raise PostgresError(f"postgres exited at start: {self._log_tail()}")
            if self._ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise PostgresError(f"postgres did not answer within {timeout} s")
            time.sleep(0.05)

    def _ready(self) -> bool:
        result = subprocess.run(  # noqa: S603 (a fixed argument list)
            [
                str(self.bindir / "pg_isready"), "-q", "-h", str(self.socket_dir),
                "-p", str(self.port), "-U", SUPERUSER, "-d", "postgres",
            ],
            capture_output=True,
            timeout=10,
            check=False,
        )  # fmt: skip
        return result.returncode == 0

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-5:])
        except OSError as exc:
            return str(exc)

    def _create_role_and_database(self) -> None:
        # The password is a literal in the statement: PostgreSQL hashes it (scram) at once.
        self.superuser_sql(
            f"CREATE ROLE \"{self.user}\" LOGIN PASSWORD '{self.password}'",
            f'CREATE DATABASE "{self.database}" OWNER "{self.user}"',
        )


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m deploy.postgres",
        description="Start a throwaway PostgreSQL server, print its URL, run until Ctrl-C, then "
        "stop it and delete its data.",
    ).parse_args(argv)
    with TempPostgres() as pg:
        print(pg.url, flush=True)
        print(f"data in {pg.root}; Ctrl-C stops and deletes it", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
