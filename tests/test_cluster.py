"""Many instances, one PostgreSQL, nginx in front: `make cluster` driven through nginx and each
instance directly (issue 10). One cluster for the module (deploy.cluster.Cluster, free ports,
ARENA_USER_CACHE_TTL=1); the tests run in file order and the outage comes near the end. The
timings (disable propagation, time to 503, time to recovery) are printed and written to
reports/cluster.json for the closing note.

Needs nginx (`make nginx-deps`) and PostgreSQL (`make postgres-deps`): skipped without them,
failed instead under `make test` (SCOPES_ARENA_REQUIRE_NGINX=1, SCOPES_ARENA_REQUIRE_POSTGRES=1).
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from conformance.servers import free_port
from core import registry
from deploy import nginx
from deploy.cluster import Cluster, ClusterError, Instance, without_password
from deploy.postgres import TempPostgres
from tests.conftest import new_postgres
from tests.test_nginx_errors import REFUSED, ask, assert_json

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "cluster.json"
REQUIRE_NGINX_ENV = "SCOPES_ARENA_REQUIRE_NGINX"
#: Small, so that propagation is measured in a short run.
USER_CACHE_TTL = 1.0
#: Every database call of an instance is bounded by this (pg's ARENA_DB_TIMEOUT).
DB_TIMEOUT = 2.0
SETTINGS = {
    "ARENA_USER_CACHE_TTL": str(USER_CACHE_TTL),
    "ARENA_DB_TIMEOUT": str(DB_TIMEOUT),
    "ARENA_PASSWORD_PROFILE": "cheap",
    # H12 with a small per-username limit, to see the instances share one count.
    "ARENA_LOGIN_FAILURES_PER_USERNAME": "3",
}
JOHN = {"username": "johndoe", "password": "secret", "scope": "me items"}
UNAVAILABLE = {"detail": "Service Unavailable"}
#: How often a propagation or an outage is polled, per instance.
POLL = 0.05

pytestmark = pytest.mark.live

#: Filled by the tests, written to REPORT after each.
TIMINGS: dict[str, object] = {}


def _record(**values: object) -> None:
    TIMINGS.update(values)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(TIMINGS, indent=2, sort_keys=True) + "\n")
    print(f"cluster timings: {json.dumps(values, sort_keys=True)}")


def _require_nginx() -> None:
    if nginx.binary() is None:
        reason = "nginx is not installed (make nginx-deps)"
        if os.environ.get(REQUIRE_NGINX_ENV) == "1":
            pytest.fail(f"{reason}; {REQUIRE_NGINX_ENV}=1: this test must run", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    _require_nginx()
    started = time.monotonic()
    with Cluster(port=0, first_port=0, settings=SETTINGS, postgres_factory=new_postgres) as running:
        _record(cluster_start_s=round(time.monotonic() - started, 2))
        yield running


def _targets(cluster: Cluster) -> dict[str, str]:
    """Every way in: each instance directly, and nginx."""
    return {**{i.impl: i.url for i in cluster.instances}, "nginx": cluster.url}


def _token(url: str, form: dict[str, str] | None = None) -> str:
    answer = httpx.post(f"{url}/token", data=form or JOHN, timeout=10)
    assert answer.status_code == 200, (url, answer.text)
    token: str = answer.json()["access_token"]
    return token


def _me(url: str, token: str) -> httpx.Response:
    return httpx.get(f"{url}/users/me/", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _until(
    targets: dict[str, str], done: Callable[[str, str], bool], within: float
) -> dict[str, float]:
    """Seconds until `done(name, url)` first holds, per target, each polled in its own thread
    (a request that waits for the database must not delay the others' clocks); fails with the
    targets still not done after `within` seconds."""
    started = time.monotonic()

    def poll(name: str, url: str) -> float | None:
        while time.monotonic() - started < within:
            if done(name, url):
                return round(time.monotonic() - started, 3)
            time.sleep(POLL)
        return None

    with ThreadPoolExecutor(len(targets)) as pool:
        futures = {name: pool.submit(poll, name, url) for name, url in targets.items()}
        results = {name: future.result() for name, future in futures.items()}
    times = {name: t for name, t in results.items() if t is not None}
    assert len(times) == len(targets), f"not within {within} s: {sorted(set(targets) - set(times))}"
    return times


# -- the configuration ---------------------------------------------------------------------------


def test_the_readme_shows_the_configuration_make_cluster_runs() -> None:
    """README's nginx block is deploy.nginx.site_config() for the example ports, as is."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"^```nginx\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)
    assert blocks == [nginx.site_config()]


def test_the_configuration_never_resends_a_post_and_names_the_instance() -> None:
    site = nginx.site_config([("127.0.0.1", 1), ("127.0.0.1", 2)], ("127.0.0.1", 3))
    assert "server 127.0.0.1:1;\n    server 127.0.0.1:2;" in site
    assert "listen 127.0.0.1:3;" in site
    # "non_idempotent" would let nginx send a POST /token a second time, to another instance.
    (next_upstream,) = re.findall(r"^\s*proxy_next_upstream\s+([^;]*);", site, re.MULTILINE)
    assert next_upstream.split() == ["error", "timeout"]
    assert "proxy_set_header      X-Forwarded-For $remote_addr;" in site
    assert f"add_header            {nginx.UPSTREAM_HEADER} $upstream_addr always;" in site


def test_a_url_is_printed_without_its_password() -> None:
    url = "postgresql://arena:s3cr3t@127.0.0.1:5432/arena"
    assert without_password(url) == "postgresql://arena@127.0.0.1:5432/arena"
    assert without_password("sqlite:///var/arena.db") == "sqlite:///var/arena.db"


def test_a_port_in_use_is_one_line_before_anything_starts() -> None:
    def no_postgres() -> TempPostgres:
        raise AssertionError("nothing may start while a port is taken")

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cluster = Cluster(port=port, first_port=0, postgres_factory=no_postgres)
        with pytest.raises(ClusterError, match=f"port {port} on 127.0.0.1 is taken"):
            cluster.start()


# -- the running cluster ---------------------------------------------------------------------------


def test_nginx_spreads_requests_round_robin(cluster: Cluster) -> None:
    rounds = 6
    with httpx.Client(timeout=10) as client:
        served = collections.Counter(
            client.get(f"{cluster.url}/openapi.json").headers[nginx.UPSTREAM_HEADER]
            for _ in range(rounds * len(cluster.instances))
        )
        # Deployment-only: the apps themselves never send it.
        for instance in cluster.instances:
            direct = client.get(f"{instance.url}/openapi.json")
            assert nginx.UPSTREAM_HEADER not in direct.headers
    assert served == {instance.address: rounds for instance in cluster.instances}
    # Each instance's own log shows its share (uvicorn's access log).
    for instance in cluster.instances:
        assert instance.log.read_text().count('"GET /openapi.json HTTP/1.1" 200') >= rounds


def test_nginx_replaces_x_forwarded_for_and_sets_the_proxy_headers() -> None:
    """The headers an instance receives, seen by an upstream that echoes them. (The prefix is
    not under pytest's tmp_path, which nginx's workers cannot reach when run as root.)"""
    _require_nginx()

    class Echo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Echo) as echo:
        threading.Thread(target=echo.serve_forever, daemon=True).start()
        upstream = ("127.0.0.1", echo.server_address[1])
        try:
            with (
                tempfile.TemporaryDirectory(prefix="arena-nginx-") as prefix,
                nginx.Nginx([upstream], ("127.0.0.1", free_port()), Path(prefix)) as proxy,
            ):
                seen = httpx.get(
                    f"{proxy.url}/users/me/",
                    headers={"X-Forwarded-For": "203.0.113.9", "Host": "api.example"},
                    timeout=10,
                ).json()
        finally:
            echo.shutdown()
    # The client's own X-Forwarded-For is gone: nginx's edge answer is the address it saw.
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["host"] == "api.example"
    assert "connection" not in seen  # keep-alive to the instances: nginx sends no "close"


def test_nginx_s_own_refusals_are_json(cluster: Cluster) -> None:
    too_big = httpx.post(
        f"{cluster.url}/token",
        content=b"x" * (65 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert (too_big.status_code, too_big.json()) == (413, {"detail": "Request body too large"})
    # A body over nginx's 16 KiB buffer goes through a temporary file of nginx's workers.
    padded = httpx.post(
        f"{cluster.url}/token", data={**JOHN, "padding": "x" * (60 * 1024)}, timeout=10
    )
    assert padded.status_code == 200, padded.text
    huge = httpx.get(f"{cluster.url}/users/me/", headers={"X-Big": "a" * 50_000}, timeout=10)
    assert huge.status_code == 431
    assert huge.json() == {"detail": "Request Header Fields Too Large"}
    # A request line nginx refuses, and a path of its own, answered like the apps'.
    nul = httpx.get(f"{cluster.url}/users/me/%00", timeout=10)
    assert (nul.status_code, nul.json()) == (400, {"detail": "Bad Request"})
    inner = httpx.get(f"{cluster.url}/_nginx/503", timeout=10)
    assert (inner.status_code, inner.json()) == (404, {"detail": "Not Found"})
    # What nginx answered with its HTML pages (issue 20, F9); every other status nginx answers
    # by itself is in tests/test_nginx_errors.py, in front of one instance.
    assert cluster.balancer is not None
    for case in ("TRACE", "unknown Transfer-Encoding", "HTTP/2.0 request line"):
        data, expected, allow = REFUSED[case]
        answer = ask(cluster.balancer, data)
        assert_json(answer, expected)
        assert answer[1].get("allow") == allow
    # The contract's 32 KiB token still reaches an app, which answers its own 401.
    long_token = _me(cluster.url, "a" * (32 * 1024))
    assert long_token.status_code == 401
    assert nginx.UPSTREAM_HEADER in long_token.headers


def test_a_token_minted_on_one_instance_works_on_all(cluster: Cluster) -> None:
    targets = _targets(cluster)
    for minted_at, url in targets.items():
        token = _token(url)
        for name, other in targets.items():
            answer = _me(other, token)
            assert answer.status_code == 200, (minted_at, name, answer.text)
            assert answer.json()["username"] == "johndoe"


def test_a_user_added_with_the_cli_logs_in_everywhere(cluster: Cluster) -> None:
    added = cluster.cli("users", "add", "bob", "--scopes", "me", "--password-stdin", input="b0b\n")
    assert added.returncode == 0, added.stderr
    bob = {"username": "bob", "password": "b0b", "scope": "me"}
    for url in _targets(cluster).values():
        assert _me(url, _token(url, bob)).json()["username"] == "bob"


def test_a_user_disabled_with_the_cli_is_refused_everywhere_within_the_ttl(
    cluster: Cluster,
) -> None:
    added = cluster.cli("users", "add", "carol", "--scopes", "me", "--password-stdin", input="c\n")
    assert added.returncode == 0, added.stderr
    token = _token(cluster.url, {"username": "carol", "password": "c", "scope": "me"})
    targets = _targets(cluster)
    for url in targets.values():  # every instance's user cache now holds carol, enabled
        assert _me(url, token).status_code == 200
    cli_started = time.monotonic()
    disabled = cluster.cli("users", "disable", "carol")
    cli_s = time.monotonic() - cli_started
    assert disabled.returncode == 0, disabled.stderr

    def refused(name: str, url: str) -> bool:
        answer = _me(url, token)
        if answer.status_code == 200:
            return False
        assert (answer.status_code, answer.json()) == (400, {"detail": "Inactive user"}), name
        return True

    times = _until(targets, refused, within=USER_CACHE_TTL + 2)
    _record(
        user_cache_ttl_s=USER_CACHE_TTL,
        # From the CLI's exit; the change was committed up to `disable_cli_s` earlier.
        disable_cli_s=round(cli_s, 3),
        disable_propagation_s=max(times.values()),
        disable_propagation_per_target_s=times,
    )
    assert max(times.values()) <= USER_CACHE_TTL + 1  # slack for a busy machine


def test_failed_logins_are_counted_once_for_all_instances(cluster: Cluster) -> None:
    """H12's counters live in the database: three failures spread over three instances by
    nginx use up the limit of 3 on every instance (the cluster's other instances included)."""
    wrong = {"username": "dave", "password": "guess", "scope": "me"}
    assert len(cluster.instances) >= 3
    with httpx.Client(timeout=10) as client:
        failed = [client.post(f"{cluster.url}/token", data=wrong) for _ in range(3)]
        assert [a.status_code for a in failed] == [400] * 3
        served = {a.headers[nginx.UPSTREAM_HEADER] for a in failed}
        assert len(served) == 3  # round robin: one failure on each of three instances
        assert served <= {instance.address for instance in cluster.instances}
        for url in _targets(cluster).values():
            refused = client.post(f"{url}/token", data=wrong)
            assert (refused.status_code, refused.json()) == (429, {"detail": "Too Many Requests"})
            assert int(refused.headers["Retry-After"]) >= 1


def test_postgresql_down_503_everywhere_then_every_instance_recovers(cluster: Cluster) -> None:
    assert cluster.postgres is not None
    targets = _targets(cluster)
    token = _token(cluster.url)
    durations: list[float] = []  # of every answer while the database is down

    def ask(kind: str, url: str) -> httpx.Response:
        started = time.monotonic()
        if kind == "login":
            answer = httpx.post(f"{url}/token", data=JOHN, timeout=30)
        else:
            answer = _me(url, token)
        durations.append(time.monotonic() - started)
        return answer

    def unavailable(key: str, url: str) -> bool:
        kind, name = key.split()
        answer = ask(kind, url)
        if answer.status_code == 200:
            return False
        assert answer.status_code == 503, (key, answer.status_code, answer.text)
        assert answer.json() == UNAVAILABLE, key
        assert int(answer.headers["Retry-After"]) >= 1, key
        if name == "nginx":  # the instance's answer, passed through, not nginx's own page
            assert answer.headers[nginx.UPSTREAM_HEADER].startswith("127.0.0.1:")
        return True

    # Logins always read the store; reads are served from the user cache until its TTL ends.
    both = {f"{kind} {name}": url for kind in ("login", "read") for name, url in targets.items()}
    cluster.postgres.stop()
    down = _until(both, unavailable, within=USER_CACHE_TTL + 3 * DB_TIMEOUT)
    login_503 = {key.split()[1]: t for key, t in down.items() if key.startswith("login")}
    read_503 = {key.split()[1]: t for key, t in down.items() if key.startswith("read")}
    slowest = max(durations)

    cluster.postgres.start()
    recovered = _until(targets, lambda name, url: ask("login", url).status_code == 200, 30)
    for name, url in targets.items():
        assert _me(url, token).status_code == 200, name
    _record(
        db_timeout_s=DB_TIMEOUT,
        time_to_503_login_s=max(login_503.values()),
        time_to_503_read_s=max(read_503.values()),
        time_to_503_per_target_s={"login": login_503, "read": read_503},
        slowest_answer_during_outage_s=round(slowest, 3),
        time_to_recovery_s=max(recovered.values()),
        time_to_recovery_per_target_s=recovered,
    )
    # Never a hang: every answer during the outage came back within the database timeout.
    assert slowest < DB_TIMEOUT + 2  # slack for a busy machine
    assert max(login_503.values()) < DB_TIMEOUT + 2
    assert max(read_503.values()) < USER_CACHE_TTL + DB_TIMEOUT + 2


def test_an_instance_gone_is_skipped_and_no_post_is_lost(cluster: Cluster) -> None:
    """Last: it stops the instances. nginx sends the next logins to the others (the refused
    connection means the POST was never sent, so trying another instance is safe); with none
    left, nginx's own 503 is the contract's."""
    gone: Instance = cluster.instances[0]
    assert gone.process is not None
    gone.process.terminate()
    gone.process.wait(timeout=15)
    with httpx.Client(timeout=10) as client:
        answers = [client.post(f"{cluster.url}/token", data=JOHN) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 6
    tried = [a.headers[nginx.UPSTREAM_HEADER].split(", ") for a in answers]
    assert gone.address not in {addresses[-1] for addresses in tried}
    # The first login met the dead instance (refused), and was passed on: "A, B".
    assert any(addresses[:-1] == [gone.address] for addresses in tried), tried
    for instance in cluster.instances[1:]:
        assert instance.process is not None
        instance.process.terminate()
        instance.process.wait(timeout=15)
    none_left = httpx.post(f"{cluster.url}/token", data=JOHN, timeout=10)
    assert (none_left.status_code, none_left.json()) == (503, UNAVAILABLE)
    assert none_left.headers["Retry-After"] == "1"


# -- make cluster itself ------------------------------------------------------------------------


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def urls_line(printed: str, part: str) -> str:
    return next(line for line in printed.splitlines() if line.startswith(part))


def test_make_cluster_prints_the_urls_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    _require_nginx()
    new_postgres()  # skips (or fails under make test) where PostgreSQL is missing
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")} | SETTINGS
    process = subprocess.Popen(
        [sys.executable, "-m", "deploy.cluster", "--port", "0", "--first-port", "0",
         "--workers", "2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C stops everything"):
                break
        printed = "\n".join(lines)
        assert lines, printed
        assert lines[-1].startswith("Ctrl-C"), printed
        urls = dict(re.findall(r"^(\w+)\s+(\S+://\S+)", printed, re.MULTILINE))
        assert set(urls) == {"nginx", *registry.IMPLEMENTATIONS, "postgresql"}, printed
        assert re.fullmatch(r"postgresql://arena@127\.0\.0\.1:\d+/arena", urls["postgresql"])
        env_file = re.search(r"\. (\S+cluster\.env);", printed)
        assert env_file is not None, printed
        assert Path(env_file[1]).stat().st_mode & 0o077 == 0
        for name in ("nginx", *registry.IMPLEMENTATIONS):
            assert httpx.get(f"{urls[name]}/openapi.json", timeout=10).status_code == 200
        assert "(2 workers)" in urls_line(printed, "fastapi")
        children = _descendants(process.pid)
        # An instance per implementation, two workers each (and uvicorn's helpers), nginx and its
        # worker; PostgreSQL runs as its own session under the cluster too.
        assert len(children) >= 11
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, printed + rest
    assert "Traceback" not in rest
    time.sleep(0.5)
    assert [pid for pid in children if _alive(pid)] == []
    assert not Path(env_file[1]).exists()  # the run's directory is gone
