"""nginx in front of the instances: the configuration `make cluster` runs, and the process.

`site_config()` is the load balancer (the part of nginx.conf's `http {}` block a deployment
writes: limits, the upstream of instances, round-robin, the proxy headers); README.md shows it
as rendered for the example ports (tests/test_cluster.py checks that the two are equal).
`main_config()` wraps it into a whole nginx.conf for one run: pid, logs and temporary files
under the run's own prefix, so that nothing of the system's /etc/nginx, its service or its
/var/lib/nginx is read or written. `Nginx` runs it in the foreground (`daemon off`).
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

#: Where Debian's package puts the binary (/usr/sbin is not on every user's PATH).
DEBIAN_NGINX = "/usr/sbin/nginx"
#: Every answer through nginx names the instance that served it: deployment-only (the apps
#: never send it), for tracing a request to an instance's log and for the round-robin test.
UPSTREAM_HEADER = "X-Upstream"
#: The example addresses README.md's rendering uses (also `make cluster`'s defaults).
EXAMPLE_UPSTREAMS = (("127.0.0.1", 8001), ("127.0.0.1", 8002), ("127.0.0.1", 8003))
EXAMPLE_LISTEN = ("127.0.0.1", 8080)

_SITE = """\
# In nginx.conf's http { } block. make cluster writes this one (deploy/nginx.py).
limit_conn_zone $binary_remote_addr zone=per_client:10m;

# The Allow of nginx's own 405 (TRACE, CONNECT: it never passes them on), per route as the
# apps answer; a path that is no route gets the apps' 404 instead.
map $request_uri $arena_allow {
    default                                              "";
    ~^/token(?:\\?|$)                                     POST;
    ~^/(?:status|users/me|users/me/items)/(?:\\?|$)       GET;
    ~^/(?:openapi\\.json|docs)(?:\\?|$)                    GET;
    ~^/docs/assets/[A-Za-z0-9_-][A-Za-z0-9._-]*(?:\\?|$)  GET;
}

upstream arena {
    # Round-robin, nginx's default: every instance shares one database and one secret key,
    # so any of them can serve any request, a token minted by one included.
{servers}
    keepalive         16;   # idle connections per nginx worker, under ARENA_MAX_CONNECTIONS
    keepalive_timeout 4s;   # below ARENA_KEEPALIVE_TIMEOUT (5 s): nginx drops an idle
                            # connection before the app does, never reuses one being closed
}

server {
    listen {listen};
    server_tokens off;

    client_header_buffer_size   1k;
    large_client_header_buffers 4 40k;  # a field up to 40 KiB: the contract's 32 KiB token
                                        # reaches the app and gets its own 401
    client_header_timeout       10s;
    client_body_timeout         10s;
    client_max_body_size        64k;
    keepalive_timeout           5s;
    limit_conn                  per_client 32;
    limit_conn_status           503;

    location / {
        proxy_pass            http://arena;
        proxy_http_version    1.1;
        proxy_set_header      Connection "";          # keep-alive to the instances
        proxy_set_header      Host $http_host;
        # nginx is the edge: the client's address replaces whatever X-Forwarded-For it sent.
        # The apps believe this header only from ARENA_TRUSTED_PROXIES (nginx's address).
        proxy_set_header      X-Forwarded-For $remote_addr;
        proxy_set_header      X-Forwarded-Proto $scheme;
        proxy_connect_timeout 2s;
        proxy_read_timeout    30s;  # above the app's own database timeout: its 503 gets here
        # Another instance is tried only when one cannot be reached (refused, reset, timed
        # out). A POST already sent is never resent (no "non_idempotent"): a /token that
        # reached an instance is answered by it. The apps' own 503s (database down) pass
        # through unchanged and do not count as failures of the instance.
        proxy_next_upstream   error timeout;
        add_header            X-Upstream $upstream_addr always;
    }

    # Every status nginx answers by itself, in the contract's JSON (H7), never nginx's HTML
    # pages. Internal URIs, not named locations: a request line nginx refuses has no URI to
    # carry to a named one. The apps' own answers pass through untouched (no
    # proxy_intercept_errors). 495-497 are TLS client-certificate and plain-HTTP-to-TLS
    # refusals, for a listener with TLS; 502 and 504 are an instance unreachable or silent.
    error_page 400 495 496 497 =400 /_nginx/400;
    error_page 403     /_nginx/403;
    error_page 404     /_nginx/404;
    error_page 405 =   /_nginx/405;  # "=": the status its location gives (404 off the routes)
    error_page 408     /_nginx/408;
    error_page 411     /_nginx/411;
    error_page 413     /_nginx/413;
    error_page 414 494 =431 /_nginx/431;
    error_page 500     /_nginx/500;
    error_page 501     /_nginx/501;
    error_page 502 503 504 =503 /_nginx/503;
    error_page 505     /_nginx/505;
    location /_nginx/ {
        internal;
        default_type application/json;
        location = /_nginx/400 { return 400 '{"detail": "Bad Request"}'; }
        location = /_nginx/403 { return 403 '{"detail": "Forbidden"}'; }
        location = /_nginx/404 { return 404 '{"detail": "Not Found"}'; }
        location = /_nginx/405 {
            if ($arena_allow = "") {
                return 404 '{"detail": "Not Found"}';
            }
            add_header Allow $arena_allow always;
            return 405 '{"detail": "Method Not Allowed"}';
        }
        location = /_nginx/408 { return 408 '{"detail": "Request Timeout"}'; }
        location = /_nginx/411 { return 411 '{"detail": "Length Required"}'; }
        location = /_nginx/413 { return 413 '{"detail": "Request body too large"}'; }
        location = /_nginx/431 { return 431 '{"detail": "Request Header Fields Too Large"}'; }
        location = /_nginx/500 { return 500 '{"detail": "Internal Server Error"}'; }
        location = /_nginx/501 { return 501 '{"detail": "Not Implemented"}'; }
        location = /_nginx/503 {
            add_header Retry-After 1 always;
            return 503 '{"detail": "Service Unavailable"}';
        }
        location = /_nginx/505 { return 505 '{"detail": "HTTP Version Not Supported"}'; }
    }
}
"""

_MAIN = """\
# One run's nginx.conf (deploy/nginx.py): nothing of the system's /etc/nginx is read.
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;

events {{
    worker_connections 1024;
}}

http {{
    log_format arena '$remote_addr [$time_iso8601] "$request" $status '
                     'upstream=$upstream_addr $upstream_status $request_time';
    access_log {prefix}/access.log arena;
    # Debian's binary has /var/lib/nginx compiled in: every temporary path is the run's own.
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path       {prefix}/tmp/proxy;
    fastcgi_temp_path     {prefix}/tmp/fastcgi;
    uwsgi_temp_path       {prefix}/tmp/uwsgi;
    scgi_temp_path        {prefix}/tmp/scgi;

{site}}}
"""


def site_config(
    upstreams: Sequence[tuple[str, int]] = EXAMPLE_UPSTREAMS,
    listen: tuple[str, int] = EXAMPLE_LISTEN,
) -> str:
    """The load balancer's part of nginx.conf for these instances, listening on `listen`."""
    servers = "\n".join(f"    server {host}:{port};" for host, port in upstreams)
    # str.replace, not format: the template is full of nginx's braces.
    return _SITE.replace("{servers}", servers).replace("{listen}", f"{listen[0]}:{listen[1]}")


def main_config(site: str, prefix: Path, *, worker_user: str | None = None) -> str:
    """A whole nginx.conf around `site`, with every file of the run under `prefix`."""
    user = f"user {worker_user};\n" if worker_user else ""
    indented = "".join(f"    {line}\n" if line else "\n" for line in site.splitlines())
    return _MAIN.format(user=user, prefix=prefix, site=indented)


def binary() -> str | None:
    """The nginx binary, or None where it is not installed (`make nginx-deps`)."""
    found = shutil.which("nginx")
    if found:
        return found
    return DEBIAN_NGINX if os.access(DEBIAN_NGINX, os.X_OK) else None


def _worker_user() -> str | None:
    """Run as root, nginx's workers drop to an unprivileged user; None when not root."""
    if os.geteuid() != 0:
        return None
    nobody = pwd.getpwnam("nobody")
    return f"nobody {grp.getgrgid(nobody.pw_gid).gr_name}"


class NginxError(RuntimeError):
    """nginx did not start; the message carries its error log."""


class Nginx:
    """nginx with `site_config(upstreams, listen)` in the foreground, files under `prefix`."""

    def __init__(
        self, upstreams: Sequence[tuple[str, int]], listen: tuple[str, int], prefix: Path
    ) -> None:
        self.listen = listen
        self.prefix = prefix
        self.url = f"http://{listen[0]}:{listen[1]}"
        self.config_file = prefix / "nginx.conf"
        self.error_log = prefix / "error.log"
        self.access_log = prefix / "access.log"
        self._upstreams = tuple(upstreams)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 10.0, preexec: Callable[[], None] | None = None) -> None:
        program = binary()
        if program is None:
            raise NginxError("nginx is not installed (make nginx-deps installs Debian's)")
        user = _worker_user()
        if user is not None:
            # The workers (nobody) write request bodies over 16 KiB to temporary files under
            # the prefix: every directory on the way must let them through.
            self.prefix.chmod(0o711)
            closed = [p for p in self.prefix.resolve().parents if not p.stat().st_mode & 0o001]
            if closed:
                raise NginxError(
                    f"nginx's workers run as {user.split()[0]} and cannot reach {self.prefix} "
                    f"({closed[0]} is closed to them): use a prefix outside it"
                )
        (self.prefix / "tmp").mkdir(exist_ok=True)
        site = site_config(self._upstreams, self.listen)
        self.config_file.write_text(main_config(site, self.prefix, worker_user=user))
        command = [
            program, "-c", str(self.config_file), "-p", str(self.prefix),
            # -e: the log nginx writes before it has read the configuration (not /var/log).
            "-e", str(self.error_log), "-g", "daemon off;",
        ]  # fmt: skip
        with (self.prefix / "nginx.out").open("wb") as out:
            self._process = subprocess.Popen(  # noqa: S603 (fixed argv)
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=preexec,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise NginxError(f"nginx exited with {self._process.returncode}:\n{self.log()}")
            with contextlib.suppress(OSError), socket.create_connection(self.listen, timeout=1):
                return
            time.sleep(0.05)
        self.stop()
        raise NginxError(f"nginx not listening on {self.url} after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        parts = (self.prefix / "nginx.out", self.error_log)
        return "".join(p.read_text(errors="replace") for p in parts if p.exists())

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        """Fast shutdown (SIGTERM), killed after 10 s."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Nginx:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
