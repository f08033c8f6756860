"""The benchmark (`make bench`, package bench/): wrk output parsing, login windows, ratios and the
issue's targets, report writing on small fixtures; the targets' apps answer what the bench
expects; and a live smoke run of `python -m bench --smoke` under real uvicorn servers and wrk."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bench import analysis, report, wrk
from bench.analysis import (
    Goal,
    ScenarioResult,
    Soak,
    TargetResult,
    core_goal,
    evaluate,
    framework_goal,
    login_goal,
    mixed_goal,
)
from bench.baseline import BODIES
from bench.logins import LoginRun, Sample, window
from bench.rawcore import RawCore
from bench.runner import (
    all_targets,
    cpu_count,
    groups,
    login_failures,
    parse_cpus,
    read_failures,
    redact,
    side_by_side_pairs,
)
from core import registry
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]

# A real wrk 4.1 summary (404 answers), then one with socket errors and the script's line.
WRK_404 = """\
Running 1s test @ http://127.0.0.1:18777/missing
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   758.16us    1.15ms   6.84ms   84.64%
    Req/Sec    14.72k     6.65k   29.39k    80.00%
  Latency Distribution
     50%  169.00us
     75%    0.99ms
     90%    2.55ms
     99%    4.89ms
  14723 requests in 1.01s, 1.42MB read
  Non-2xx or 3xx responses: 14723
Requests/sec:  14625.46
Transfer/sec:      1.41MB
"""
WRK_SCRIPTED = """\
Running 5s test @ http://127.0.0.1:40000/users/me/items/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    15.61ms    4.90ms   1.02s    94.86%
    Req/Sec     2.05k   101.00     2.29k    70.00%
  Latency Distribution
     50%   14.87ms
     75%   16.23ms
     90%   18.68ms
     99%    1.01s
  10250 requests in 5.00s, 1.27MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
Requests/sec:   2049.90
Transfer/sec:    260.00KB
BENCH-WRK {"requests":10250,"duration_us":5004922,"bytes":1334236,\
"errors":{"connect":0,"read":3,"write":1,"status":0,"timeout":2},\
"latency_us":{"min":41,"mean":15605.5,"max":1020338,"p50":14870,"p90":18681,"p99":1010000,\
"p99.9":1019094},"statuses":{"200":10248,"302":2}}
"""


# ---- wrk ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ms"),
    [("169.00us", 0.169), ("0.99ms", 0.99), ("2.01s", 2010.0), ("1.50m", 90_000.0)],
)
def test_wrk_durations_in_ms(text: str, ms: float) -> None:
    assert wrk.parse_duration_ms(text) == pytest.approx(ms)


def test_wrk_duration_garbage_refused() -> None:
    with pytest.raises(wrk.WrkOutputError):
        wrk.parse_duration_ms("12 parsecs")


def test_wrk_text_summary_parsed() -> None:
    run = wrk.parse(WRK_404)
    assert run.requests == 14723
    assert run.duration_s == pytest.approx(1.01)
    assert run.requests_per_s == pytest.approx(14625.46)
    assert run.latency_ms == pytest.approx({"p50": 0.169, "p90": 2.55, "p99": 4.89})
    assert run.non_2xx == 14723
    assert run.socket_errors == {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    assert run.statuses == {}
    assert read_failures(run, "run 1") == ["run 1: 14723 non-2xx answers"]


def test_wrk_script_line_wins_and_counts_statuses() -> None:
    run = wrk.parse(WRK_SCRIPTED)
    assert run.duration_s == pytest.approx(5.004922)
    assert run.latency_ms["p99"] == pytest.approx(1010.0)
    assert run.latency_ms["p99.9"] == pytest.approx(1019.094)
    assert run.socket_errors == {"connect": 0, "read": 3, "write": 1, "timeout": 2}
    assert run.statuses == {200: 10248, 302: 2}
    assert run.count(200) == 10248
    assert run.rate(200) == pytest.approx(10248 / 5.004922)
    # wrk's own counter misses the 302s; the script's count does not.
    assert run.non_2xx == 0
    assert read_failures(run, "r") == [
        "r: 3 socket read errors",
        "r: 1 socket write errors",
        "r: 2 socket timeout errors",
        "r: 2 non-2xx answers (2 x 302)",
    ]


def test_wrk_script_line_must_agree_with_summary() -> None:
    tampered = WRK_SCRIPTED.replace('{"requests":10250', '{"requests":99')
    with pytest.raises(wrk.WrkOutputError):
        wrk.parse(tampered)


def test_wrk_output_without_summary_refused() -> None:
    with pytest.raises(wrk.WrkOutputError):
        wrk.parse("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_wrk_command(tmp_path: Path) -> None:
    scripts = wrk.write_scripts(tmp_path)
    assert set(scripts) == {"read", "soak"}
    assert "function done" in scripts["read"].read_text()
    assert "function response" in scripts["read"].read_text()
    command = wrk.command(
        "http://h/x",
        seconds=3,
        connections=8,
        script=scripts["soak"],
        headers=["A: b"],
        script_args=["tokens.txt", "5"],
        pin=["taskset", "-c", "1"],
    )
    assert command == [
        "taskset", "-c", "1", "wrk", "-t1", "-c8", "-d3s", "--timeout=10s", "--latency",
        "-s", str(scripts["soak"]), "-H", "A: b", "http://h/x", "--", "tokens.txt", "5",
    ]  # fmt: skip
    assert redact(["-H", "Authorization: Bearer abc"], "abc") == [
        "-H",
        "Authorization: Bearer <token>",
    ]


def test_targets_and_their_comparison_groups() -> None:
    targets = all_targets()
    by_name = {t.name: t for t in targets}
    assert by_name["fastapi"].app == "impl_fastapi.app:app"
    assert by_name["ceiling-litestar"].app == "impl_litestar.ceiling:app"
    assert by_name["bare-starlette"].app == "impl_starlette.bare:app"
    assert by_name["raw-core"].scenarios == {"status", "me", "items", "login", "mixed"}
    assert by_name["bare-fastapi"].scenarios == set(analysis.READS)
    assert "soak" in by_name["starlette"].scenarios
    # One group per implementation of the registry, in its order, each with its whole ladder.
    assert [[t.name for t in group] for group in groups(targets)] == [
        ["raw-asgi", "raw-core"],
        *(
            [f"bare-{n}", f"guard-{n}", f"ceiling-{n}", n, f"native-{n}", f"pg-{n}"]
            for n in registry.IMPLEMENTATIONS
        ),
    ]
    assert by_name["guard-starlette"].app == "bench.rungs:guard_starlette"
    assert by_name["native-litestar"].app == "bench.rungs:native_litestar"
    assert by_name["native-litestar"].foreign
    assert not by_name["litestar"].foreign
    # The same app on PostgreSQL, measured beside the SQLite one (no soak).
    assert by_name["pg-litestar"].app == "impl_litestar.app:app"
    assert (by_name["pg-litestar"].database, by_name["litestar"].database) == (
        "postgresql",
        "sqlite",
    )
    assert by_name["pg-litestar"].scenarios == by_name["litestar"].scenarios - {"soak"}
    picked = [by_name[n] for n in ("fastapi", "raw-asgi", "bare-fastapi")]
    assert [[t.name for t in g] for g in groups(picked)] == [
        ["fastapi", "bare-fastapi"],
        ["raw-asgi"],
    ]


def test_cpu_lists() -> None:
    assert parse_cpus("0") == {0}
    assert parse_cpus("0,2-4") == {0, 2, 3, 4}
    assert cpu_count("1-2") == 2
    assert cpu_count(None) == len(os.sched_getaffinity(0))


# ---- logins -----------------------------------------------------------------------------------


def test_login_window_counts_what_finished_inside() -> None:
    samples = [
        Sample(0.0, 0.5, 200),  # before the window
        Sample(0.6, 1.2, 200),
        Sample(1.0, 1.4, 503),
        Sample(1.1, 1.9, 200),
        Sample(1.5, 2.0, 200),  # at the end: outside [1, 2)
        Sample(1.8, 2.6, 200),
    ]
    run = window(samples, 1.0, 2.0)
    assert run.statuses == {200: 2, 503: 1}
    assert run.duration_s == 1.0
    assert run.rate(200) == 2.0
    assert run.latency_ms["p50"] == pytest.approx((600 + 800) / 2)
    assert run.latency_ms["max"] == pytest.approx(800)
    assert login_failures(run, "w") == []


def test_login_failures() -> None:
    refused = LoginRun(2.0, {200: 0, 401: 2, 0: 1}, {})
    assert login_failures(refused, "w") == [
        "w: 1 logins got no answer",
        "w: 2 logins answered 401",
        "w: no login succeeded",
    ]
    # Under the mixed load only 503s is an accepted answer.
    assert login_failures(LoginRun(2.0, {503: 9}, {}), "m", alone=False) == []


# ---- ratios and targets -------------------------------------------------------------------------


def run_at(rps: float, p99: float = 10.0) -> wrk.WrkRun:
    return wrk.WrkRun(
        requests=int(rps * 5),
        duration_s=5.0,
        requests_per_s=rps,
        latency_ms={"p50": p99 / 2, "p90": p99 * 0.8, "p99": p99},
        non_2xx=0,
        socket_errors={"connect": 0, "read": 0, "write": 0, "timeout": 0},
    )


def target(name: str, kind: str, runs: dict[str, list[float]]) -> TargetResult:
    """A measured target; its framework as bench.runner names it (bare-<f>, pg-<f>, ...)."""
    framework = None if kind.startswith("raw") else name.rpartition("-")[2]
    result = TargetResult(name, kind, framework, f"{name}:app")
    for scenario, values in runs.items():
        result.scenarios[scenario] = ScenarioResult(scenario, runs=[run_at(v) for v in values])
    return result


def test_spread_is_median_min_max() -> None:
    assert analysis.spread([3.0, 1.0, 2.0, 10.0]) == analysis.Spread(2.5, 1.0, 10.0)
    assert analysis.spread([]) is None


def test_framework_goal_by_bare() -> None:
    goal = framework_goal("fastapi", "items", 900.0, 1000.0, 950.0)
    assert goal.met is True
    assert goal.observed == "0.90x bare, 0.95x ceiling (ceiling 0.95x bare)"
    assert framework_goal("fastapi", "items", 840.0, 1000.0, 950.0).met is False


def test_framework_goal_by_ceiling_when_the_idiom_costs() -> None:
    # The ceiling is below 0.85x bare: then 0.9x of the ceiling is enough.
    assert framework_goal("litestar", "me", 720.0, 1000.0, 800.0).met is True
    assert framework_goal("litestar", "me", 700.0, 1000.0, 800.0).met is False
    # No ceiling measured: the alternative cannot be judged.
    assert framework_goal("litestar", "me", 700.0, 1000.0, None).met is None
    assert framework_goal("litestar", "me", 700.0, None, 800.0).met is None


def test_core_mixed_and_login_goals() -> None:
    assert core_goal("status", 900.0, 1000.0).met is True
    assert core_goal("status", 899.0, 1000.0).met is False
    assert core_goal("status", None, 1000.0).met is None
    assert mixed_goal("fastapi", 500.0, 100.0, 1000.0, 10.0, 3).met is True
    assert mixed_goal("fastapi", 499.0, 100.0, 1000.0, 10.0, 3).met is False
    assert mixed_goal("fastapi", 500.0, 101.0, 1000.0, 10.0, 3).met is False
    assert mixed_goal("fastapi", 500.0, 100.0, 1000.0, 10.0, 0).met is False
    assert login_goal("fastapi", 9.0, 10.0).met is True
    assert login_goal("fastapi", 8.9, 10.0).met is False
    assert login_goal("fastapi", 5.0, None).met is None


def fixture_targets() -> dict[str, TargetResult]:
    def reads(*values: float) -> dict[str, list[float]]:
        return {scenario: list(values) for scenario in analysis.READS}

    targets = {
        "raw-asgi": target("raw-asgi", "raw", reads(20_000.0)),
        "raw-core": target("raw-core", "raw-core", reads(9_000.0, 10_000.0)),
        "bare-fastapi": target("bare-fastapi", "bare", reads(4_000.0)),
        "ceiling-fastapi": target("ceiling-fastapi", "ceiling", reads(3_000.0)),
        "fastapi": target("fastapi", "impl", reads(2_000.0, 2_800.0, 2_600.0)),
    }
    impl = targets["fastapi"]
    impl.scenarios["items"] = ScenarioResult("items", runs=[run_at(2_600.0, p99=20.0)])
    impl.scenarios["mixed"] = ScenarioResult(
        "mixed",
        runs=[run_at(1_000.0, p99=150.0), run_at(1_400.0, p99=250.0)],
        logins=[LoginRun(5.0, {200: 20, 503: 1}, {"p99": 900.0}), LoginRun(5.0, {200: 30}, {})],
    )
    impl.scenarios["login"] = ScenarioResult(
        "login", logins=[LoginRun(5.0, {200: 40}, {"p99": 800.0})], argon2_per_s=[11.0, 9.0, 10.0]
    )
    impl.cold_start_s = 1.5
    impl.memory_kib = {
        "ready": {"VmRSS": 51_200, "VmHWM": 52_000},
        "after_soak": {"VmHWM": 300_000},
    }
    impl.soak = Soak(
        requests=4_000, tokens=100, rss_kib=[(0, 60_000), (2_000, 61_000), (4_000, 61_024)]
    )
    return targets


def goal_of(goals: list[Goal], goal_id: str, scenario: str) -> Goal:
    return next(g for g in goals if g.id == goal_id and g.scenario == scenario)


def test_evaluate_computes_every_ratio_and_target() -> None:
    targets = fixture_targets()
    ratios, goals = evaluate(targets)
    by = {(r.name, r.scenario): r.value for r in ratios}
    assert by["impl/bare", "status"] == pytest.approx(2_600 / 4_000)
    assert by["impl/ceiling", "status"] == pytest.approx(2_600 / 3_000)
    assert by["ceiling/bare", "me"] == pytest.approx(3_000 / 4_000)
    assert by["raw-core/raw-asgi", "items"] == pytest.approx(9_500 / 20_000)
    assert by["mixed/unloaded", "mixed"] == pytest.approx(1_200 / 2_600)
    assert by["mixed/unloaded p99", "mixed"] == pytest.approx(200 / 20)
    assert by["logins/argon2", "login"] == pytest.approx((40 / 5) / 10)
    # 2600/4000 = 0.65 < 0.85, ceiling 0.75 < 0.85, 2600/3000 = 0.867 < 0.9: not met.
    assert goal_of(goals, "impl-vs-framework", "items").met is False
    assert goal_of(goals, "core-vs-raw", "me").met is False
    mixed = goal_of(goals, "mixed-reads", "mixed")
    assert mixed.met is False  # 0.46x unloaded
    assert mixed.observed == "reads 0.46x, p99 10.00x, 50 logins"
    assert goal_of(goals, "login-vs-argon2", "login").met is False  # 0.8x
    assert analysis.count_met(goals) == (0, len(goals), 0)
    # Without argon2 measured beside the logins, a figure given instead is the reference.
    targets["fastapi"].scenarios["login"].argon2_per_s.clear()
    ratios, goals = evaluate(targets, argon2_per_s=8.0)
    assert goal_of(goals, "login-vs-argon2", "login").met is True
    # A failed scenario is not a figure: its ratios become unknown, not zero.
    targets["bare-fastapi"].scenarios["me"].failures.append("run 1: 3 non-2xx answers")
    ratios, goals = evaluate(targets)
    assert {(r.name, r.scenario): r.value for r in ratios}["impl/bare", "me"] is None
    assert goal_of(goals, "impl-vs-framework", "me").met is None
    assert goal_of(goals, "login-vs-argon2", "login").met is None
    assert targets["bare-fastapi"].failed


def test_the_guard_goal_is_judged_side_by_side_where_it_was_measured() -> None:
    targets = fixture_targets()
    # Taken in turn, guard-fastapi reads at 0.90x bare's requests/s: not met by that alone.
    targets["guard-fastapi"] = target("guard-fastapi", "guard", reads_at(3_600.0))
    _, goals = evaluate(targets)
    in_turn = goal_of(goals, "guard-vs-bare", "items")
    assert (in_turn.met, in_turn.observed) == (False, "0.90x")
    assert in_turn.rule == "bare + Guard >= 0.95x bare"
    # Side by side, the control's CPU µs per request over guard's, round by round, median.
    items = targets["guard-fastapi"].scenarios["items"]
    items.side_by_side = [(50.0, 52.0), (48.0, 49.0), (51.0, 60.0)]
    assert items.side_by_side_ratio() == analysis.Spread(50 / 52, 51 / 60, 48 / 49)
    _, goals = evaluate(targets)
    judged = goal_of(goals, "guard-vs-bare", "items")
    assert judged.met is True
    assert judged.observed == "0.96x (in turn, against bare alone: 0.90x req/s)"
    assert judged.rule == (
        "bare + Guard >= 0.95x bare with the core loaded, CPU per request side by side"
    )
    # The other paths, without rounds side by side, are still judged in turn.
    assert goal_of(goals, "guard-vs-bare", "me").observed == "0.90x"
    # Side by side decides, whichever way: 0.93x is not met, even where in turn said 1.00x.
    targets["guard-fastapi"] = target("guard-fastapi", "guard", reads_at(4_000.0))
    targets["guard-fastapi"].scenarios["me"].side_by_side = [(40.0, 43.0)]
    targets["guard-fastapi"].scenarios["me"].side_by_side_with = "loaded-fastapi"
    _, goals = evaluate(targets)
    assert goal_of(goals, "guard-vs-bare", "me").met is False
    assert goal_of(goals, "guard-vs-bare", "me").observed == (
        "0.93x (in turn, against bare alone: 1.00x req/s)"
    )
    # The rounds are in the report, each with both figures, and their ratio.
    written = targets["guard-fastapi"].scenarios["me"].as_dict()
    assert written["side_by_side"] == [
        {"control_cpu_us_per_request": 40.0, "cpu_us_per_request": 43.0}
    ]
    assert written["side_by_side_with"] == "loaded-fastapi"
    assert written["side_by_side_ratio"]["median"] == pytest.approx(40 / 43)
    assert "side_by_side" not in targets["bare-fastapi"].scenarios["me"].as_dict()


def test_the_loaded_rung_is_bare_unwrapped_beside_a_built_arena(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench.rungs:loaded_<name>, the control Guard is measured against side by side: the bare
    app itself (no Guard), served by a process that has built an Arena as the guard rung's."""
    from bench import rungs

    monkeypatch.setenv("ARENA_SECRET_KEY", "k" * 32)
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path))
    name = registry.IMPLEMENTATIONS[0]
    before = len(rungs._ARENAS)
    control = rungs.load(rungs.loaded_path(name))
    assert control is rungs.load(registry.bare_path(name))
    assert len(rungs._ARENAS) == before + 1
    guarded = rungs.load(rungs.guard_path(name))
    assert guarded is not control
    assert guarded.__name__ == "guard"


def reads_at(rps: float) -> dict[str, list[float]]:
    return {scenario: [rps] for scenario in analysis.READS}


def test_side_by_side_pairs_each_guard_with_its_own_bare_endpoint() -> None:
    by_name = {t.name: t for t in all_targets()}
    members = [
        (by_name[name], object(), "token")
        for name in ("bare-fastapi", "guard-fastapi", "fastapi", "guard-litestar", "bare-flask")
    ]
    pairs = side_by_side_pairs(members)  # type: ignore[arg-type]
    # guard-litestar has no bare-litestar among them; bare-flask no guard-flask.
    assert [(bare[0].name, other[0].name) for bare, other in pairs] == [
        ("bare-fastapi", "guard-fastapi")
    ]


def test_the_cost_ladder_in_us_per_request() -> None:
    """Each rung in wall µs (1e6 / req/s) and server CPU µs per request; each step's cost; the
    Guard goal is bare + Guard >= 0.95x bare."""
    targets = fixture_targets()
    targets["guard-fastapi"] = target("guard-fastapi", "guard", {"items": [3_900.0]})
    targets["native-fastapi"] = target("native-fastapi", "native", {"items": [1_250.0]})
    # CPU seconds over each run: run_at(v) serves v * 5 requests.
    for name, cpu in (("bare-fastapi", 2.0), ("guard-fastapi", 2.5), ("ceiling-fastapi", 3.0),
                      ("fastapi", 4.0), ("native-fastapi", 5.0)):  # fmt: skip
        targets[name].scenarios["items"].cpu_s = [cpu] * len(targets[name].scenarios["items"].runs)
    (ladder,) = [lad for lad in analysis.ladders(targets) if lad.scenario == "items"]
    assert ladder.us == pytest.approx(
        {"bare": 250.0, "guard": 1e6 / 3_900, "ceiling": 1e6 / 3_000, "impl": 1e6 / 2_600,
         "native": 800.0}
    )  # fmt: skip
    assert ladder.cpu_us["bare"] == pytest.approx(2.0 * 1e6 / 20_000)
    assert ladder.cpu_us["native"] == pytest.approx(5.0 * 1e6 / 6_250)
    deltas = ladder.deltas()
    assert deltas["guard"]["us"] == pytest.approx(1e6 / 3_900 - 250.0)
    assert deltas["wiring"]["cpu_us"] == pytest.approx(3.0 * 1e6 / 15_000 - 2.5 * 1e6 / 19_500)
    assert deltas["core"]["us"] == pytest.approx(1e6 / 2_600 - 1e6 / 3_000)
    assert deltas["native_vs_ours"]["us"] == pytest.approx(800.0 - 1e6 / 2_600)
    assert ladder.as_dict()["rungs"]["guard"]["target"] == "guard-fastapi"
    _, goals = evaluate(targets)
    guard = goal_of(goals, "guard-vs-bare", "items")
    assert (guard.target, guard.met, guard.observed) == ("guard-fastapi", True, "0.97x")
    by = {(r.name, r.scenario): r.value for r in evaluate(targets)[0]}
    assert by["native/impl", "items"] == pytest.approx(1_250 / 2_600)


def test_the_postgresql_targets_are_compared_with_their_sqlite_twin() -> None:
    targets = fixture_targets()
    targets["pg-fastapi"] = target("pg-fastapi", "impl", {"me": [2_100.0], "items": [1_300.0]})
    ratios, goals = evaluate(targets)
    by = {(r.name, r.scenario, r.numerator): r.value for r in ratios}
    assert by["postgresql/sqlite", "items", "pg-fastapi"] == pytest.approx(1_300 / 2_600)
    assert by["impl/bare", "me", "pg-fastapi"] == pytest.approx(2_100 / 4_000)
    assert by["impl/ceiling", "items", "pg-fastapi"] == pytest.approx(1_300 / 3_000)
    # The goals stay about the SQLite-backed implementations.
    assert {g.target for g in goals if "pg-" in g.target} == set()


def test_soak_growth_over_second_half() -> None:
    soak = fixture_targets()["fastapi"].soak
    assert soak is not None
    assert soak.growth_second_half_kib() == 24
    assert Soak(requests=10, rss_kib=[(0, 1), (10, 5)]).growth_second_half_kib() is None


# ---- reports ----------------------------------------------------------------------------------


def test_report_written(tmp_path: Path) -> None:
    targets = fixture_targets()
    ratios, goals = evaluate(targets)
    tables = report.grids(targets, ratios, goals)
    meta: dict[str, Any] = {
        "machine": {"cpu_model": "Test CPU", "cpus": 2, "kernel": "6.0"},
        "python": "3.11.0",
        "options": {"server_cpus": "0", "client_cpus": "1", "runs": 3, "seconds": 5,
                    "connections": 32},
        "duration_s": 12.0,
    }  # fmt: skip
    json_path, md_path = report.write(tmp_path, meta, targets, ratios, goals, tables)
    data = json.loads(json_path.read_text())
    assert set(data) == {"meta", "targets", "ratios", "goals", "ladders", "failed"}
    impl = data["targets"]["fastapi"]
    assert impl["scenarios"]["status"]["requests_per_s"] == {
        "median": 2_600.0,
        "min": 2_000.0,
        "max": 2_800.0,
    }
    assert [run["requests_per_s"] for run in impl["scenarios"]["status"]["runs"]] == [
        2_000.0,
        2_800.0,
        2_600.0,
    ]
    assert impl["scenarios"]["mixed"]["logins_ok"] == 50
    assert impl["scenarios"]["mixed"]["logins_503"] == 1
    assert impl["scenarios"]["login"]["logins_per_s"]["median"] == pytest.approx(8.0)
    assert impl["scenarios"]["login"]["argon2_alone_per_s"] == {
        "median": 10.0,
        "min": 9.0,
        "max": 11.0,
    }
    assert impl["peak_rss_kib"] == 300_000
    assert impl["soak"]["growth_second_half_kib"] == 24
    assert data["failed"] == []
    assert len(data["goals"]) == len(goals)
    assert {g["met"] for g in data["goals"]} == {False}
    md = md_path.read_text()
    assert "Test CPU, 2 CPUs, kernel 6.0" in md
    dash = report.DASH
    assert f"| fastapi | impl | 2,600 (2,000{dash}2,800) |" in md
    assert "| 0.65 / 0.65 / 0.65 | 0.87 / 0.87 / 0.87 |" in md
    assert f"| fastapi | 1,200 (1,000{dash}1,400) | 0.46 |" in md
    assert "| fastapi | 1.50 | 50.0 | 293.0 | 4,000 / 100 | 58.6 | 59.6 | 0.0 |" in md
    assert (
        f"| fastapi | 8.0 (8.0{dash}8.0) | 800 (800{dash}800) | 0 | 10.0 (9.0{dash}11.0) | 0.80 |"
        in md
    )
    assert "0 met, 8 not met, 0 not measured" in md


# ---- the targets' apps -------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in registry.IMPLEMENTATIONS if registry.has(n, "bare")])
async def test_bare_endpoints_answer_the_same_json(name: str) -> None:
    module_name, _, attribute = registry.bare_path(name).partition(":")
    transport = httpx.ASGITransport(app=getattr(importlib.import_module(module_name), attribute))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for path, body in BODIES.items():
            response = await client.get(path)
            assert response.status_code == 200
            assert response.json() == body


async def test_raw_core_answers_as_an_implementation(tmp_path: Path) -> None:
    """raw-core does the adapters' auth work through the core: same answers as Starlette's."""
    from impl_starlette.app import create_app

    settings = Settings(
        data_dir=tmp_path, demo_users=True, secret_key=SecretStr("k" * 32), password_profile="cheap"
    )
    apps: dict[str, Any] = {"raw-core": RawCore(settings), "starlette": create_app(settings)}
    answers: dict[str, list[tuple[int, Any, str | None]]] = {}
    for name, app in apps.items():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            login = await client.post(
                "/token", data={"username": "johndoe", "password": "secret", "scope": "me"}
            )
            assert login.status_code == 200
            assert login.headers["cache-control"] == "no-store"
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            seen = []
            for path, extra in [
                ("/users/me/", headers),
                ("/status/", headers),
                ("/users/me/items/", headers),  # the token lacks "items"
                ("/users/me/", {}),
                ("/status/", {"Authorization": "Bearer nope"}),
                ("/nowhere", headers),
            ]:
                response = await client.get(path, headers=extra)
                seen.append(
                    (
                        response.status_code,
                        response.json(),
                        response.headers.get("www-authenticate"),
                    )
                )
            answers[name] = seen
    assert answers["raw-core"] == answers["starlette"]
    assert answers["raw-core"][0] == (200, BODIES["/users/me/"], None)
    assert answers["raw-core"][2][0] == 401


CEILING_PROBE = textwrap.dedent(
    """
    import asyncio, importlib, json, sys
    import httpx
    from core import registry

    async def main():
        module_name, _, attribute = registry.ceiling_path(sys.argv[1]).partition(":")
        app = getattr(importlib.import_module(module_name), attribute)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            out = {}
            for path in ("/status/", "/users/me/", "/users/me/items/", "/openapi.json"):
                response = await client.get(path)  # no token at all
                out[path] = [response.status_code, response.json()]
            print(json.dumps(out))

    asyncio.run(main())
    """
)


@pytest.mark.parametrize(
    "framework", [n for n in registry.IMPLEMENTATIONS if registry.has(n, "ceiling")]
)
def test_ceiling_stubs_the_core_in_its_own_process(framework: str, tmp_path: Path) -> None:
    # A process of its own: the stub replaces Arena's methods for the whole process.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(ARENA_DATA_DIR=str(tmp_path), ARENA_SECRET_KEY="k" * 32)
    out = subprocess.run(  # noqa: S603 (our own interpreter, fixed argv)
        [sys.executable, "-c", CEILING_PROBE, framework],
        capture_output=True, text=True, env=env, cwd=ROOT, check=True, timeout=60,
    )  # fmt: skip
    answers = json.loads(out.stdout)
    for path, body in BODIES.items():
        assert answers[path] == [200, body]
    assert answers["/openapi.json"][0] == 200  # the real adapter app, documented as ever


def test_no_wrk_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # no wrk (and no taskset) on this PATH
    out = subprocess.run(  # noqa: S603 (our own interpreter, fixed argv)
        [sys.executable, "-m", "bench", "--smoke", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "wrk is not installed" in out.stderr
    assert not (tmp_path / "bench.json").exists()
    assert not (tmp_path / "bench-smoke.json").exists()


# ---- live: the smoke run ---------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.skipif(
    shutil.which("wrk") is None,
    reason="wrk is not installed (Debian package `wrk`; `make test` installs it as root with apt)",
)
def test_bench_smoke_run(tmp_path: Path) -> None:
    out = subprocess.run(  # noqa: S603 (our own interpreter, fixed argv)
        [sys.executable, "-m", "bench", "--smoke", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, check=False, timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    # Never where the page and the README read the performance figures from.
    assert not (tmp_path / "bench.json").exists()
    data = json.loads((tmp_path / "bench-smoke.json").read_text())
    assert data["meta"]["smoke"] is True
    assert data["failed"] == []
    first = registry.IMPLEMENTATIONS[0]
    ladder = {f"bare-{first}", f"guard-{first}", f"ceiling-{first}", first, f"native-{first}"}
    assert set(data["targets"]) == {"raw-asgi", "raw-core", *ladder}
    for name, result in data["targets"].items():
        assert result["error"] is None, name
        assert result["cold_start_s"] > 0
        for scenario in analysis.READS:
            runs = result["scenarios"][scenario]["runs"]
            assert runs, (name, scenario)
            assert all(run["non_2xx"] == 0 and run["requests"] > 0 for run in runs)
    impl = data["targets"]["fastapi"]
    assert impl["scenarios"]["login"]["logins_ok"] > 0
    assert impl["scenarios"]["mixed"]["runs"][0]["non_2xx"] == 0
    assert impl["soak"]["requests"] >= 2_000
    assert impl["soak"]["statuses"] == {"200": impl["soak"]["requests"]}
    assert impl["peak_rss_kib"] > 0
    assert impl["scenarios"]["login"]["argon2_alone_per_s"]["median"] > 0
    assert {g["id"] for g in data["goals"]} == {
        "impl-vs-framework", "core-vs-raw", "mixed-reads", "login-vs-argon2", "guard-vs-bare",
    }  # fmt: skip
    md = (tmp_path / "bench-smoke.md").read_text()
    assert "## Targets of the issue" in md
    assert "**A smoke run**" in md
    assert "## Cost ladder" in md
    # Every rung measured, in wall and CPU µs per request, and the steps between them.
    ladders = {(ladder["framework"], ladder["scenario"]): ladder for ladder in data["ladders"]}
    for scenario in analysis.READS:
        rungs = ladders[first, scenario]["rungs"]
        for rung in analysis.LADDER:
            assert rungs[rung]["us_per_request"] > 0, (rung, scenario)
            assert rungs[rung]["cpu_us_per_request"] > 0, (rung, scenario)
        assert set(ladders[first, scenario]["deltas"]) == {n for n, _, _ in analysis.STEPS}
    assert data["targets"][first]["scenarios"]["items"]["cpu_us_per_request"]["median"] > 0
    # Guard beside bare with the core loaded, both up at once: each round's CPU µs per request
    # of both, and the goal judged on their ratio.
    for scenario in analysis.READS:
        guard = data["targets"][f"guard-{first}"]["scenarios"][scenario]
        assert len(guard["side_by_side"]) == data["meta"]["options"]["runs"], scenario
        assert guard["side_by_side_with"] == f"loaded-{first}"
        for round_ in guard["side_by_side"]:
            assert round_["control_cpu_us_per_request"] > 0
            assert round_["cpu_us_per_request"] > 0
        assert guard["side_by_side_ratio"]["median"] > 0
        goal = next(
            g for g in data["goals"] if g["id"] == "guard-vs-bare" and g["scenario"] == scenario
        )
        assert goal["rule"].endswith("with the core loaded, CPU per request side by side"), goal
        ratio = guard["side_by_side_ratio"]["median"]
        assert goal["observed"].startswith(f"{ratio:.2f}x (in turn, against bare alone: "), goal


def test_guardcost_measures_guard_in_process() -> None:
    """`python -m bench.guardcost`: a line per app and request, Guard's µs beside the app's."""
    from bench import guardcost

    lines = asyncio.run(guardcost.measure({"minimal": guardcost.minimal}, calls=50, rounds=1))
    expected = [(label, kind) for label in guardcost.CASES for kind in guardcost.SENDS]
    assert len(lines) == len(expected) == 6
    for line, (label, kind) in zip(lines, expected, strict=True):
        assert line.startswith("minimal")
        assert label in line
        assert kind in line
        assert re.search(r"Guard +-?\d+\.\d{3} µs per call \(app alone \d+\.\d{3} µs\)", line)


def test_guardcost_sends_through_uvicorn_s_request_cycle() -> None:
    """The uvicorn kind of request is a real RequestResponseCycle: Guard reads its record (the
    short way), and what the app sends is taken as uvicorn takes it (a second start refused)."""
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    from bench import guardcost
    from core.asgi import _RECORDING_SENDS

    scope = guardcost.scope_of("/users/me/items/", guardcost.WRK)
    request = guardcost.Request(scope, guardcost.UVICORN)
    assert isinstance(request.send.__self__, RequestResponseCycle)  # type: ignore[attr-defined]
    assert request.send.__func__ in _RECORDING_SENDS  # type: ignore[attr-defined]
    asyncio.run(guardcost.minimal(scope, request.receive, request.send))
    cycle = request.send.__self__  # type: ignore[attr-defined]
    assert cycle.response_started
    assert cycle.response_complete
    plain = guardcost.Request(scope, guardcost.PLAIN)
    assert getattr(plain.send, "__func__", None) not in _RECORDING_SENDS
