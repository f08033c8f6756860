"""Runs the benchmark: launches each target, checks its answers, drives wrk, collects figures."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench import rungs, wrk
from bench.analysis import (
    PATHS,
    RAW,
    RAW_CORE,
    READS,
    ScenarioResult,
    Soak,
    TargetResult,
)
from bench.baseline import BODIES
from bench.launcher import Server, ServerFailed, launch, taskset_prefix
from bench.logins import LOGIN_FORM, NO_ANSWER, LoginLoad, LoginRun
from core import registry
from core.tokens import TokenService
from deploy.postgres import TempPostgres

#: Statuses /token may answer a benchmark: 200, or 503 when its password queue is full (H11).
LOGIN_ACCEPTED = frozenset({200, 503})
#: What a target can fail with while it is measured: recorded as its error, the bench goes on.
BENCH_ERRORS = (ServerFailed, httpx.HTTPError, subprocess.SubprocessError, OSError, ValueError)
#: How many pieces the soak is cut into (the server's RSS is read after each).
SOAK_CHUNKS = 8
#: The longest wait for every login client's first answer before the windows start.
LEAD_LIMIT_S = 60.0


#: The name of an implementation's PostgreSQL-backed target: pg-<framework>.
PG_PREFIX = "pg-"


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    kind: str
    framework: str | None
    app: str
    ready_path: str
    #: The first answer that means ready; None: any answer below 500.
    ready_status: int | None
    #: A real core behind it (rate limit off, and /token logs in for real).
    real: bool
    #: Serves the login and mixed scenarios and the soak.
    scenarios: frozenset[str]
    #: The store behind it: "sqlite" (a fresh file), or "postgresql" (a database of its own on
    #: a throwaway local server, deploy.postgres: what the shared database costs).
    database: str = "sqlite"
    #: Not ours (the framework's documented way): its reads may answer other JSON than ours,
    #: which is noted, not failed; its token comes from its own /token.
    foreign: bool = False


def all_targets() -> list[Target]:
    reads = frozenset(READS)
    full = reads | {"login", "mixed", "soak"}
    targets = [
        Target(RAW, "raw", None, "bench.baseline:raw_asgi", "/status/", 200, False, reads),
        # raw-core's /status/ needs a token: 401 is its first real answer.
        Target(
            RAW_CORE, "raw-core", None, "bench.rawcore:app", "/status/", 401, True,
            full - {"soak"},
        ),
    ]  # fmt: skip
    for name in registry.IMPLEMENTATIONS:
        # The cost ladder, cheapest first: bare endpoint, bare + Guard, wiring ceiling,
        # implementation, the framework's documented way; then the implementation on PostgreSQL.
        if registry.has(name, "bare"):
            targets += [
                Target(
                    f"bare-{name}", "bare", name, registry.bare_path(name),
                    "/status/", 200, False, reads,
                ),
                Target(
                    f"guard-{name}", "guard", name, rungs.guard_path(name),
                    "/status/", 200, False, reads,
                ),
            ]  # fmt: skip
        if registry.has(name, "ceiling"):
            targets.append(
                Target(
                    f"ceiling-{name}",
                    "ceiling",
                    name,
                    registry.ceiling_path(name),
                    "/openapi.json",
                    200,
                    True,
                    reads,
                )
            )
        targets.append(
            Target(name, "impl", name, registry.app_path(name), "/openapi.json", 200, True, full)
        )
        if registry.has(name, "native"):
            targets.append(
                Target(
                    f"native-{name}",
                    "native",
                    name,
                    rungs.native_path(name),
                    "/status/",
                    None,
                    True,
                    reads,
                    foreign=True,
                )
            )
        # The same implementation on PostgreSQL (no soak: its memory is the same app's).
        targets.append(
            Target(
                f"{PG_PREFIX}{name}", "impl", name, registry.app_path(name),
                "/openapi.json", 200, True, full - {"soak"}, database="postgresql",
            )
        )  # fmt: skip
    return targets


def missing_rungs(names: Sequence[str] | None = None) -> list[str]:
    """One note per implementation that lacks a rung of the ladder (one from outside this
    repository may): the bench measures it without that rung."""
    notes = []
    for name in registry.IMPLEMENTATIONS if names is None else names:
        missing = [rung for rung in registry.RUNGS if not registry.has(name, rung)]
        if missing:
            notes.append(
                f"{name}: no {', '.join(f'impl_{name}/{rung}.py' for rung in missing)}; "
                f"its {', '.join(missing)} target(s) are skipped"
            )
    return notes


@dataclass
class Options:
    seconds: int = 5
    runs: int = 3
    warmup: int = 1
    connections: int = 32
    login_connections: int = 4
    soak_requests: int = 200_000
    soak_tokens: int = 3_000
    scenarios: tuple[str, ...] = ()
    server_cpus: str | None = None
    client_cpus: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "runs": self.runs,
            "warmup_s": self.warmup,
            "connections": self.connections,
            "login_connections": self.login_connections,
            "soak_requests": self.soak_requests,
            "soak_tokens": self.soak_tokens,
            "scenarios": list(self.scenarios),
            "server_cpus": self.server_cpus,
            "client_cpus": self.client_cpus,
        }


def groups(targets: Sequence[Target]) -> list[list[Target]]:
    """The targets compared with one another, in order: one group per framework (bare,
    ceiling, implementation) and one for the raw ASGI apps."""
    found: dict[str | None, list[Target]] = {}
    for target in targets:
        found.setdefault(target.framework, []).append(target)
    return list(found.values())


def choose_cpus(server: str | None, client: str | None) -> tuple[str | None, str | None]:
    """Server on the first CPU this process may use, wrk on the second (when there is one):
    with taskset only; None means not pinned."""
    if shutil.which("taskset") is None:
        return None, None
    allowed = sorted(os.sched_getaffinity(0))
    server = server if server is not None else str(allowed[0])
    if client is None and len(allowed) > 1:
        client = str(allowed[1])
    return server, client


def parse_cpus(cpus: str) -> set[int]:
    """The CPUs a taskset list ("0", "0,2", "0-3") names."""
    found: set[int] = set()
    for part in cpus.split(","):
        low, _, high = part.partition("-")
        found.update(range(int(low), int(high or low) + 1))
    return found


def cpu_count(cpus: str | None) -> int:
    """How many CPUs a taskset list names; all of ours when None."""
    return len(os.sched_getaffinity(0) if cpus is None else parse_cpus(cpus))


class Runner:
    def __init__(self, options: Options, console: Console, workdir: Path, secret_key: str) -> None:
        self.options = options
        self.console = console
        self.workdir = workdir
        self.secret_key = secret_key
        self.scripts = wrk.write_scripts(workdir / "lua")
        self.tokens = TokenService(secret_key.encode, 1800)
        self.server_pin = taskset_prefix(options.server_cpus)
        self.client_pin = taskset_prefix(options.client_cpus)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TextColumn("left ~"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            disable=not console.is_terminal,
        )
        self._task: TaskID | None = None
        self._postgres: TempPostgres | None = None

    # ---- progress ---------------------------------------------------------------------------

    def estimate(self, targets: Sequence[Target]) -> float:
        """Seconds the whole run should take (launches and soaks guessed), for the bar."""
        o, total = self.options, 0.0
        for target in targets:
            chosen = [s for s in o.scenarios if s in target.scenarios]
            total += 3.0  # launch and login
            total += sum(o.warmup + o.runs * o.seconds for s in chosen if s in READS)
            if target.kind == "guard":  # its rounds side by side (run_side_by_side)
                total += 3.0 + sum(o.warmup + o.runs * o.seconds for s in chosen if s in READS)
            total += (o.warmup + 2 * o.runs * o.seconds) if "login" in chosen else 0
            total += (o.warmup + o.runs * o.seconds) if "mixed" in chosen else 0
            total += o.soak_requests / 2000 if "soak" in chosen else 0
        return total

    @contextlib.contextmanager
    def tracking(self, targets: Sequence[Target]) -> Iterator[None]:
        with self.progress:
            self._task = self.progress.add_task("starting", total=self.estimate(targets))
            yield
            self.progress.update(self._task, completed=self.progress.tasks[0].total)

    def step(self, description: str) -> None:
        if self._task is not None:
            self.progress.update(self._task, description=description)
            if not self.console.is_terminal:
                # No live bar in a log or a pipe: one line per step instead.
                task = self.progress.tasks[0]
                print(
                    f"[{task.elapsed or 0:6.0f} s, {task.percentage:3.0f}%] {description}",
                    file=self.console.file,
                    flush=True,
                )

    def advance(self, seconds: float) -> None:
        if self._task is not None:
            self.progress.advance(self._task, seconds)

    def note(self, text: str) -> None:
        self.progress.console.print(text)

    # ---- argon2 alone -----------------------------------------------------------------------

    def argon2_alone(self, result: ScenarioResult) -> None:
        """argon2 alone, pinned to the server's CPU(s) with one thread each, `runs` runs of
        `seconds`, into `result`: measured right before the logins it is compared with (the
        server idle meanwhile), so that both see the same machine."""
        o = self.options
        command = [
            *self.server_pin, sys.executable, "-m", "bench.argon2_alone",
            "--seconds", str(o.seconds), "--threads", str(cpu_count(o.server_cpus)),
        ]  # fmt: skip
        result.commands.append(command)
        for index in range(o.runs):
            self.step(f"argon2 alone, run {index + 1}/{o.runs}")
            out = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
            result.argon2_per_s.append(float(json.loads(out.stdout)["per_s"]))
            self.advance(o.seconds)

    # ---- targets ----------------------------------------------------------------------------

    def run_group(self, group: Sequence[Target]) -> dict[str, TargetResult]:
        """Run a group of targets compared with one another (a framework's bare endpoint,
        ceiling and implementation; or raw-asgi and raw-core). All of the group's servers stay
        up together and their read runs alternate (bare, ceiling, impl, then the other way
        round), so that whatever else loads the machine meanwhile weighs on each alike and
        their ratios stay meaningful. Logins, the mixed load and the soak then run per target."""
        results = {t.name: TargetResult(t.name, t.kind, t.framework, t.app) for t in group}
        with contextlib.ExitStack() as stack:
            live: dict[str, tuple[Target, Server, str]] = {}
            for target in group:
                self.step(f"{target.name}: starting")
                result = results[target.name]
                try:
                    server = stack.enter_context(self._launch(target))
                    result.command = server.command
                    result.cold_start_s = server.cold_start_s
                    result.memory_kib["ready"] = server.memory_at_ready_kib
                    live[target.name] = (target, server, self.read_token(server, target))
                except BENCH_ERRORS as exc:
                    self._failed(result, exc)
                self.advance(3.0)
            #: Each framework's bare endpoint with the core loaded (_loaded), started when first
            #: needed.
            loaded: dict[str, tuple[Target, Server, str]] = {}
            for scenario in (s for s in self.options.scenarios if s in READS):
                members = [m for m in live.values() if scenario in m[0].scenarios]
                foreign = frozenset(m[0].name for m in members if m[0].foreign)
                try:
                    reads = self.run_reads(scenario, [(m[1], m[2]) for m in members], foreign)
                except BENCH_ERRORS as exc:
                    for target, _, _ in members:
                        self._failed(results[target.name], exc)
                    live.clear()
                    break
                for target, _, _ in members:
                    read = reads[target.name]
                    results[target.name].notes += read.notes
                    if read.runs or read.failures:
                        results[target.name].scenarios[scenario] = read
                for bare, guard in side_by_side_pairs(members):
                    read = results[guard[0].name].scenarios.get(scenario)
                    if read is None or not read.ok or not reads[bare[0].name].ok:
                        continue
                    try:
                        control = self._loaded(stack, loaded, bare)
                        read.side_by_side_with = control[0].name
                        read.side_by_side = self.run_side_by_side(scenario, control, guard)
                    except BENCH_ERRORS as exc:
                        read.failures.append(f"side by side: {type(exc).__name__}: {exc}")
                        self.note(f"[red]{guard[0].name} {scenario}: side by side: {exc}")
            for target, server, token in live.values():
                result = results[target.name]
                chosen = [s for s in self.options.scenarios if s in target.scenarios]
                try:
                    if "login" in chosen:
                        result.scenarios["login"] = self.run_login(server)
                    if "mixed" in chosen:
                        result.scenarios["mixed"] = self.run_mixed(server, token)
                    result.memory_kib["after_scenarios"] = server.memory()
                    if "soak" in chosen:
                        result.soak = self.run_soak(server, result.rps("items"))
                        result.memory_kib["after_soak"] = server.memory()
                except BENCH_ERRORS as exc:
                    self._failed(result, exc)
        return results

    @contextlib.contextmanager
    def databases(self) -> Iterator[None]:
        """While the block runs, the PostgreSQL server the pg-* targets need (started on first
        use); stopped and deleted at its end."""
        try:
            yield
        finally:
            if self._postgres is not None:
                self._postgres.close()
                self._postgres = None

    def _database_url(self, target: Target) -> str:
        if self._postgres is None:
            self.step("starting a throwaway PostgreSQL")
            self._postgres = TempPostgres().start()
        return self._postgres.create_database("bench_" + re.sub(r"\W", "_", target.name))

    def _launch(self, target: Target) -> contextlib.AbstractContextManager[Server]:
        extra = {}
        if target.database == "postgresql":
            extra["ARENA_DATABASE_URL"] = self._database_url(target)
        return launch(
            target.name,
            target.app,
            secret_key=self.secret_key,
            ready_path=target.ready_path,
            ready_status=target.ready_status,
            real=target.real,
            cpus=self.options.server_cpus,
            extra_env=extra,
        )

    def _failed(self, result: TargetResult, exc: Exception) -> None:
        result.error = f"{type(exc).__name__}: {exc}"
        self.note(f"[red]{result.name}: {result.error}")

    def read_token(self, server: Server, target: Target) -> str:
        """A token for johndoe with "me items": a real login where the target can log in."""
        if target.foreign:
            return self.foreign_token(server)
        if "login" not in target.scenarios:
            return self.tokens.issue("johndoe", ("me", "items")).access_token
        response = httpx.post(server.url + "/token", data=LOGIN_FORM, timeout=30)
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def foreign_token(self, server: Server) -> str:
        """johndoe's token from the target's own /token; the core's kind (signed with the
        bench's key, as the target's settings say) where that gives none, with a note."""
        response = httpx.post(server.url + "/token", data=LOGIN_FORM, timeout=30)
        token = response.json().get("access_token") if response.is_success else None
        if isinstance(token, str):
            return token
        self.note(
            f"[yellow]{server.name}: POST /token answered {response.status_code} "
            f"{response.text[:120]}; reading with a token the bench signed"
        )
        return self.tokens.issue("johndoe", ("me", "items")).access_token

    def _wrk(
        self,
        url: str,
        script: str,
        *,
        seconds: int,
        connections: int,
        headers: Sequence[str] = (),
        script_args: Sequence[str] = (),
    ) -> list[str]:
        return wrk.command(
            url,
            seconds=seconds,
            connections=connections,
            script=self.scripts[script],
            headers=headers,
            script_args=script_args,
            pin=self.client_pin,
        )

    @staticmethod
    def _execute(command: list[str]) -> wrk.WrkRun:
        out = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if out.returncode != 0:
            raise subprocess.SubprocessError(f"{' '.join(command)}: {out.stderr or out.stdout}")
        return wrk.parse(out.stdout)

    def preflight(self, server: Server, path: str, token: str) -> tuple[int, str | None]:
        """The status of the target's answer to `path`, and why that answer is not the
        expected 200 and JSON (None when it is)."""
        response = httpx.get(
            server.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        if response.status_code != 200:
            return response.status_code, (
                f"GET {path} answered {response.status_code}: {response.text[:200]}"
            )
        try:
            same = response.json() == BODIES[path]
        except ValueError:
            same = False
        if not same:
            return 200, f"GET {path} answered {response.text[:200]}, not {BODIES[path]}"
        return 200, None

    def run_reads(
        self,
        scenario: str,
        members: Sequence[tuple[Server, str]],
        foreign: frozenset[str] = frozenset(),
    ) -> dict[str, ScenarioResult]:
        """One read scenario on several servers: each checked and warmed up, then their runs
        alternating, in reverse order every other round."""
        o, path = self.options, PATHS[scenario]
        results = {server.name: ScenarioResult(scenario) for server, _ in members}
        commands: list[tuple[Server, list[str]]] = []
        for server, token in members:
            result = results[server.name]
            status, failure = self.preflight(server, path, token)
            if failure is not None and server.name in foreign:
                # The framework's documented way is measured as it is: other JSON is noted;
                # no 200 at all leaves nothing to measure (noted, not failed).
                note = f"{scenario}: {failure}" + ("" if status == 200 else "; not measured")
                result.notes.append(note)
                self.note(f"[yellow]{server.name} {note}")
                if status != 200:
                    self.advance(o.warmup + o.runs * o.seconds)
                    continue
            elif failure is not None:
                result.failures.append(failure)
                self.note(f"[red]{server.name} {scenario}: {failure}")
                self.advance(o.warmup + o.runs * o.seconds)
                continue
            header = [f"Authorization: Bearer {token}"]
            url = server.url + path
            if o.warmup:
                self.step(f"{server.name}: GET {path} warm-up")
                self._execute(
                    self._wrk(
                        url, "read", seconds=o.warmup, connections=o.connections, headers=header
                    )
                )
                self.advance(o.warmup)
            command = self._wrk(
                url, "read", seconds=o.seconds, connections=o.connections, headers=header
            )
            result.commands.append(redact(command, token))
            commands.append((server, command))
        for index in range(o.runs):
            for server, command in list(commands if index % 2 == 0 else commands[::-1]):
                self.step(f"{server.name}: GET {path} run {index + 1}/{o.runs}")
                try:
                    cpu_before = server.cpu_seconds()
                    run = self._execute(command)
                    cpu = server.cpu_seconds() - cpu_before
                except BENCH_ERRORS as exc:
                    # This server is out of the scenario; the others go on.
                    failures = [f"run {index + 1}: {type(exc).__name__}: {exc}"]
                    commands.remove((server, command))
                else:
                    results[server.name].runs.append(run)
                    results[server.name].cpu_s.append(cpu)
                    failures = read_failures(run, f"run {index + 1}")
                results[server.name].failures += failures
                for failure in failures:
                    self.note(f"[red]{server.name} {scenario}: {failure}")
                self.advance(o.seconds)
        return results

    def _loaded(
        self,
        stack: contextlib.ExitStack,
        loaded: dict[str, tuple[Target, Server, str]],
        bare: tuple[Target, Server, str],
    ) -> tuple[Target, Server, str]:
        """The control Guard is measured against: bare's endpoint, unwrapped, in a process that
        has loaded the core and built its Arena as the guard rung's has (bench.rungs.loaded),
        so that only Guard's own code differs; bare itself loads no core, which every
        implementation loads with or without Guard. Started once per group."""
        target = bare[0]
        assert target.framework is not None
        if target.framework not in loaded:
            control = dataclasses.replace(
                target, name=f"loaded-{target.framework}", kind="loaded",
                app=rungs.loaded_path(target.framework),
            )  # fmt: skip
            self.step(f"{control.name}: starting")
            server = stack.enter_context(self._launch(control))
            loaded[target.framework] = (control, server, bare[2])
        return loaded[target.framework]

    def run_side_by_side(
        self,
        scenario: str,
        control: tuple[Target, Server, str],
        other: tuple[Target, Server, str],
    ) -> list[tuple[float, float]]:
        """A warm-up, then `runs` rounds of `seconds`, in which the control's server and
        `other`'s serve at once, both on the server CPU(s), each under its own wrk: (the
        control's CPU µs per request, other's) for each round. Taken in turn, two runs of one
        server here differ by up to 15% (the machine's speed moves with its neighbours'); side
        by side, both see the same machine, and each one's CPU time per request holds however
        the CPU was shared."""
        o, path = self.options, PATHS[scenario]
        pair = (control[1], other[1])

        def commands(seconds: int) -> list[list[str]]:
            return [
                self._wrk(
                    server.url + path, "read", seconds=seconds, connections=o.connections,
                    headers=[f"Authorization: Bearer {token}"],
                )
                for _, server, token in (control, other)
            ]  # fmt: skip

        label = f"{pair[0].name} and {pair[1].name} side by side: GET {path}"
        if o.warmup:
            self.step(f"{label} warm-up")
            self._execute_together(commands(o.warmup))
        measured = commands(o.seconds)
        rounds = []
        for index in range(o.runs):
            self.step(f"{label} run {index + 1}/{o.runs}")
            cpu_before = [server.cpu_seconds() for server in pair]
            runs = self._execute_together(measured)
            cpu = [
                server.cpu_seconds() - before
                for server, before in zip(pair, cpu_before, strict=True)
            ]
            for server, run in zip(pair, runs, strict=True):
                failures = read_failures(run, f"side by side, run {index + 1}")
                if failures or not run.requests:
                    raise ValueError(f"{server.name}: {'; '.join(failures) or 'no requests'}")
            rounds.append((cpu[0] * 1e6 / runs[0].requests, cpu[1] * 1e6 / runs[1].requests))
            self.advance(o.seconds)
        return rounds

    @staticmethod
    def _execute_together(commands: Sequence[list[str]]) -> list[wrk.WrkRun]:
        """The wrk commands at once; each one's parsed run."""
        started = [
            subprocess.Popen(  # noqa: S603 (wrk, argv built by wrk.command)
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for command in commands
        ]
        outputs = [(process, *process.communicate()) for process in started]
        for (process, out, err), command in zip(outputs, commands, strict=True):
            if process.returncode != 0:
                raise subprocess.SubprocessError(f"{' '.join(command)}: {err or out}")
        return [wrk.parse(out) for _, out, _ in outputs]

    def _lead(self, load: LoginLoad, server: Server) -> None:
        """Let the login load reach its steady state: every client has finished a login and
        at least the warm-up time has passed, so a window cut now starts mid-stream."""
        self.step(f"{server.name}: logins ramping up")
        started = time.perf_counter()
        deadline = started + LEAD_LIMIT_S
        while time.perf_counter() < deadline:
            enough = len(load.samples) >= load.clients
            if enough and time.perf_counter() - started >= max(self.options.warmup, 1):
                break
            time.sleep(0.05)
        self.advance(self.options.warmup)

    def run_login(self, server: Server) -> ScenarioResult:
        """Logins alone: `login_connections` clients back to back, `runs` windows of it."""
        o = self.options
        result = ScenarioResult("login")
        self.argon2_alone(result)
        result.commands.append(login_command(server.url, o.login_connections))
        with LoginLoad(server.url + "/token", o.login_connections) as load:
            self._lead(load, server)
            for index in range(o.runs):
                self.step(f"{server.name}: POST /token run {index + 1}/{o.runs}")
                start = time.perf_counter()
                time.sleep(o.seconds)
                run = load.window(start, time.perf_counter())
                result.logins.append(run)
                result.failures += login_failures(run, f"run {index + 1}")
                self.advance(o.seconds)
        for failure in result.failures:
            self.note(f"[red]{server.name} login: {failure}")
        return result

    def run_mixed(self, server: Server, token: str) -> ScenarioResult:
        """Logins at capacity from other clients while the reads of /users/me/items/ run; the
        login window of each run is exactly its read run."""
        o = self.options
        result = ScenarioResult("mixed")
        read = self._wrk(
            server.url + PATHS["items"],
            "read",
            seconds=o.seconds,
            connections=o.connections,
            headers=[f"Authorization: Bearer {token}"],
        )
        result.commands += [login_command(server.url, o.login_connections), redact(read, token)]
        with LoginLoad(server.url + "/token", o.login_connections) as load:
            self._lead(load, server)
            for index in range(o.runs):
                self.step(f"{server.name}: mixed run {index + 1}/{o.runs}")
                start = time.perf_counter()
                run = self._execute(read)
                logins = load.window(start, time.perf_counter())
                result.runs.append(run)
                result.logins.append(logins)
                result.failures += read_failures(run, f"run {index + 1} reads")
                # Under the mixed load even no login at all is an answer (the target says so).
                result.failures += login_failures(logins, f"run {index + 1} logins", alone=False)
                self.advance(o.seconds)
        for failure in result.failures:
            self.note(f"[red]{server.name} mixed: {failure}")
        return result

    def run_soak(self, server: Server, rate: float | None) -> Soak:
        """`soak_requests` reads of /users/me/items/ over `soak_tokens` distinct valid tokens,
        in about eight chunks of 1 to 10 s, sampling the server's RSS after each."""
        o = self.options
        soak = Soak(tokens=o.soak_tokens)
        tokens_file = self.workdir / f"tokens-{server.name}.txt"
        tokens_file.write_text(
            "".join(
                self.tokens.issue("johndoe", ("me", "items")).access_token + "\n"
                for _ in range(o.soak_tokens)
            )
        )
        soak.rss_kib.append((0, server.memory()["VmRSS"]))
        expected = o.soak_requests / 2000
        while soak.requests < o.soak_requests and not soak.failures:
            # About SOAK_CHUNKS chunks, so that the RSS curve has points, and no longer ones
            # than needed at the end.
            remaining = o.soak_requests - soak.requests
            chunk = min(remaining, o.soak_requests / SOAK_CHUNKS)
            # Without a rate yet (no items scenario before), a first chunk of 1 s measures it.
            seconds = max(1, min(10, math.ceil(chunk / rate))) if rate else 1
            command = self._wrk(
                server.url + PATHS["items"],
                "soak",
                seconds=seconds,
                connections=o.connections,
                script_args=[str(tokens_file), str(soak.requests)],
            )
            soak.commands.append(command)
            self.step(f"{server.name}: soak {soak.requests:,}/{o.soak_requests:,} requests")
            run = self._execute(command)
            soak.requests += run.requests
            for code, n in run.statuses.items():
                soak.statuses[code] = soak.statuses.get(code, 0) + n
            soak.failures += [
                f"{n} answers {code}" for code, n in run.statuses.items() if code != 200
            ]
            soak.failures += socket_failures(run, f"chunk {len(soak.commands)}")
            soak.rss_kib.append((soak.requests, server.memory()["VmRSS"]))
            rate = run.requests_per_s or rate
            self.advance(min(expected, expected * run.requests / o.soak_requests))
        for failure in soak.failures:
            self.note(f"[red]{server.name} soak: {failure}")
        return soak


def side_by_side_pairs(
    members: Sequence[tuple[Target, Server, str]],
) -> list[tuple[tuple[Target, Server, str], tuple[Target, Server, str]]]:
    """(bare endpoint, the same inside Guard) of each framework among `members`: the one
    comparison whose rule (bare + Guard >= 0.95x bare) is finer than runs taken in turn can
    tell on a noisy machine, so Guard is also measured side by side (against bare's control,
    Runner._loaded)."""
    bare = {m[0].framework: m for m in members if m[0].kind == "bare"}
    return [
        (bare[m[0].framework], m)
        for m in members
        if m[0].kind == "guard" and m[0].framework in bare
    ]


def redact(command: Sequence[str], token: str) -> list[str]:
    """The command as reported: the token (valid for 30 minutes) shown as <token>."""
    return [arg.replace(token, "<token>") for arg in command]


def socket_failures(run: wrk.WrkRun, label: str) -> list[str]:
    return [f"{label}: {n} socket {kind} errors" for kind, n in run.socket_errors.items() if n]


def read_failures(run: wrk.WrkRun, label: str) -> list[str]:
    """A read run fails on any answer but 200 and on any request left unanswered."""
    failures = socket_failures(run, label)
    other = run.requests - run.count(200) if run.statuses else run.non_2xx
    if other or run.non_2xx:
        codes = ", ".join(
            f"{n} x {code}" for code, n in sorted(run.statuses.items()) if code != 200
        )
        failures.append(
            f"{label}: {max(other, run.non_2xx)} non-2xx answers" + (f" ({codes})" if codes else "")
        )
    if run.requests == 0:
        failures.append(f"{label}: no request completed")
    return failures


def login_command(url: str, clients: int) -> list[str]:
    """How the login load is made, for the report (it runs in this process)."""
    return [
        f"{clients} httpx client threads, back to back:",
        f"POST {url}/token", "username=johndoe&password=secret&scope=me+items",
    ]  # fmt: skip


def login_failures(run: LoginRun, label: str, *, alone: bool = True) -> list[str]:
    """A login window fails on statuses other than 200 and 503 (a full password queue answers
    503 at once, an accepted answer counted apart), on logins that got no answer and, alone,
    when no login succeeded at all."""
    failures = []
    failures += [
        f"{label}: {n} logins " + ("got no answer" if code == NO_ANSWER else f"answered {code}")
        for code, n in sorted(run.statuses.items())
        if code not in LOGIN_ACCEPTED
    ]
    if alone and run.count(200) == 0:
        failures.append(f"{label}: no login succeeded")
    return failures
