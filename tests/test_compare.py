"""`make compare`: the page built from the small reports in tests/fixtures/compare has every
section, and its numbers are the fixtures' (computed here from the fixture JSON, not copied)."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import statistics
from html import unescape
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from markupsafe import escape

from compare import adapters, page, readme, replay, sources, summary, targets
from compare.__main__ import main, refresh
from compare.adapters import CONCERNS, MarkerError, regions

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "compare"
DASH = "\u2013"  # the en dash between a range's ends
SECTIONS = (
    "verdict", "glance", "differ", "conformance", "needed", "native", "performance", "fuzzing",
    "versions",
)  # fmt: skip


def esc(text: str) -> str:
    return str(escape(text))


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def copy_fixtures(directory: Path) -> Path:
    """A copy of the fixtures as a reports directory (copied now: newer than the code; plain
    copies, because copytree's default keeps the fixtures' own modification times)."""
    shutil.copytree(
        FIXTURES, directory, ignore=shutil.ignore_patterns("*.py"), copy_function=shutil.copy
    )
    return directory


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    return copy_fixtures(tmp_path / "reports")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One page built from the fixtures for the tests that only read it (charts take seconds)."""
    directory = copy_fixtures(tmp_path_factory.mktemp("compare") / "reports")
    page.build(sources.load(directory), adapters.load(ROOT), directory / "index.html")
    return directory


@pytest.fixture
def built(shared: Path) -> str:
    return (shared / "index.html").read_text()


def section(text: str, name: str) -> str:
    match = re.search(rf'<section id="{name}">(.*?)</section>', text, re.DOTALL)
    assert match, f"no section {name}"
    return match.group(1)


def test_every_section_is_there_in_order(built: str) -> None:
    positions = [built.index(f'<section id="{name}">') for name in SECTIONS]
    assert positions == sorted(positions)
    assert "No <code>reports/" not in built  # every report was found


def test_conformance_matrix_has_every_check_grouped_by_rule(built: str) -> None:
    report = fixture("conformance.json")
    text = section(built, "conformance")
    for check in report["checks"]:
        assert f"<td>{check['id']}</td>" in text
    # Every H id a check's rule starts with is a group, titled from CONTRACT.md.
    cited = {m.group(1) for c in report["checks"] if (m := re.match(r"CONTRACT (H\d+)", c["rule"]))}
    assert cited
    for rule in cited:
        assert f'data-group="{rule}"' in text
    assert re.search(r'data-group="H14"[^>]*>\s*<summary[^>]*><b>H14: Paths are exact', text)
    # The tutorial's own sections, by their CONTRACT.md heading.
    assert re.search(
        r'data-group="Authentication"[^>]*>\s*<summary[^>]*><b>Authentication on', text
    )
    # One line per rule; group sizes add up to the checks.
    sizes = [int(n) for n in re.findall(r"</b>: (\d+) checks?,", text)]
    assert sum(sizes) == len(report["checks"])
    assert "all pass on every target" in text
    for target, counts in report["summary"].items():
        row = re.search(rf"<tr><td>{targets.display(target)}</td>(.*?)</tr>", text)
        assert row
        cells = re.findall(r'<td class="num">(\d+)</td>', row.group(1))
        assert cells == [str(counts[k]) for k in (
            "must_passed", "must_failed", "should_passed", "should_failed", "skipped")]  # fmt: skip


def test_a_failure_opens_to_its_first_assertion_line(built: str) -> None:
    report = fixture("conformance.json")
    failure = report["failures"][0]
    first = next(line for line in failure["detail"].splitlines() if line.startswith("E "))
    text = section(built, "conformance")
    details = re.findall(r'<details class="fail"><summary>✗</summary>(.*?)</details>', text)
    assert len(details) == len(report["failures"])
    assert esc(first[1:].strip()) in details[0]
    assert f"[{failure['variant']}]" in details[0]
    skipped = next(
        case["message"]
        for check in report["checks"]
        for result in check["results"].values()
        for case in result["cases"]
        if case["outcome"] == "skipped"
    )
    assert f'title="{esc(skipped)}"' in text


def test_differences_show_variants_findings_and_curl_lines(built: str) -> None:
    report = fixture("conformance.json")
    text = section(built, "differ")
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for check in report["checks"]:
        for target, result in check["results"].items():
            for case in result["cases"]:
                if variant := case.get("properties", {}).get("variant"):
                    bucket = counts.setdefault((check["id"], target), {})
                    bucket[variant] = bucket.get(variant, 0) + 1
    assert counts
    for (_, _), variants in counts.items():
        for variant, n in variants.items():
            assert f"{variant} \u00d7{n}" in text
    diff = report["differential"]
    for item in diff["findings"] + diff["framework_differences"]:
        # Replayable: a fresh token from a login line where the recorded one was accepted.
        lines = replay.replayable(item["request"], replay.statuses(item["answers"])
                                  if item in diff["findings"] else ())  # fmt: skip
        assert esc("\n".join(lines)) in text
    assert f"<b>{len(diff['findings'])} finding(s)</b>" in text
    replay_md = sources.parse_replay((FIXTURES / "fuzz" / "differential.md").read_text())
    assert f"<b>{replay_md.differences} differ</b>" in text
    assert esc(replay_md.groups[0].curl) in text


def test_what_each_framework_needed_is_the_adapters_own_code(built: str) -> None:
    text = section(built, "needed")
    found = adapters.load(ROOT, targets.implementations())
    assert set(found) == set(targets.implementations())
    for concern in CONCERNS:
        assert f'id="concern-{concern}"' in text
        for adapter in found.values():
            assert adapter.of(concern), f"{adapter.framework} marks no {concern}"
            for region in adapter.of(concern):
                assert esc(region.code) in text
            for note in adapter.workarounds(concern):
                assert f"<li>{page.code(note)}</li>" in text
    # The code is the module's: FastAPI's Security(...) scope declaration, Starlette's helper.
    assert "Security(get_current_active_user, scopes=[scopes.ITEMS])" in unescape(text)
    assert "def requires_scopes(" in text
    assert "OpenAPI generator" in text  # Starlette's workaround


def test_performance_numbers_are_the_fixtures(shared: Path, built: str) -> None:
    bench = fixture("bench.json")
    text = section(built, "performance")
    charts = sorted(p.stem for p in (shared / "charts").glob("*.svg"))
    assert charts == sorted(re.findall(r'<img src="charts/(\w+)\.svg"', text))
    assert {"reads", "latency", "mixed", "startup"} <= set(charts)
    for name, target in bench["targets"].items():
        items = target["scenarios"]["items"]
        rps = items["requests_per_s"]
        row = re.search(rf"<tr><td>{re.escape(name)}</td>(.*?)</tr>", text)
        assert row, name
        shown = (
            f'{rps["median"]:,.0f} <span class="muted">({rps["min"]:,.0f}{DASH}{rps["max"]:,.0f})'
        )
        assert shown in row.group(1)
        p99 = statistics.median(run["latency_ms"]["p99"] for run in items["runs"])
        assert f">{p99:,.2f}<" in row.group(1)
    meta = bench["meta"]
    assert esc(meta["machine"]["cpu_model"]) in text
    goals = bench["goals"]
    assert text.count("NOT MET") == sum(g["met"] is False for g in goals)


def test_charts_are_svg_that_asks_for_nothing(shared: Path, built: str) -> None:
    for chart in (shared / "charts").glob("*.svg"):
        tree = ElementTree.parse(chart)  # noqa: S314 (our own file)
        assert tree.getroot().tag == "{http://www.w3.org/2000/svg}svg"
        assert not re.search(r'(href|src)="(https?:)?//', chart.read_text())
    # The page itself: every src and href stays in its folder (or is a fragment).
    for link in re.findall(r'(?:src|href)="([^"]*)"', built):
        assert link.startswith(("#", "charts/")), link
    assert "<script" not in built


def test_fuzzing_per_implementation_and_document(built: str) -> None:
    text = section(built, "fuzzing")
    for impl in ("fastapi", "litestar", "starlette"):
        for run in json.loads((FIXTURES / "fuzz" / impl / "summary.json").read_text())["runs"]:
            name = targets.display(impl)
            row = re.search(rf"<tr><td>{name}</td><td>{run['document']}</td>(.*?)</tr>", text)
            assert row
            cells = re.findall(r'<td class="num">([\d,]+)</td>', row.group(1))
            expected = [f"{run['cases']:,}", *(f"{n:,}" for n in run["per_phase"].values())]
            assert cells[: len(expected)] == expected
            failures = sum(f["count"] for f in run["failures"])
            assert f'">{failures}</span>' in row.group(1)


def test_versions_of_every_run(built: str) -> None:
    text = section(built, "versions")
    for name, version in fixture("conformance.json")["versions"].items():
        assert re.search(rf"<td>{name}</td><td>{re.escape(version)}</td>", text)
    assert "<td>wrk 4.1.0 [epoll]</td>" in text


def test_glance_rows_come_from_the_reports(reports: Path) -> None:
    rows = {r.question: r.cells for r in summary.glance(sources.load(reports), adapters.load(ROOT))}
    conformance = fixture("conformance.json")
    assert (
        rows["conformance checks (9 MUST, 0 SHOULD; counts over both profiles)"]["litestar"]
        == "1 MUST, 0 SHOULD fail"
    )
    assert (
        rows["conformance checks (9 MUST, 0 SHOULD; counts over both profiles)"]["starlette"]
        == "all pass (1 skipped)"
    )
    assert len(conformance["checks"]) == 9
    bench = fixture("bench.json")["targets"]
    share = (
        bench["starlette"]["scenarios"]["items"]["requests_per_s"]["median"]
        / bench["bare-starlette"]["scenarios"]["items"]["requests_per_s"]["median"]
    )
    assert rows["GET /users/me/items/ req/s (median)"]["starlette"] == f"9,900 ({share:.2f}x bare)"
    assert rows["`/users/me` without the slash"]["litestar"] == "answers without redirecting"
    assert rows["OPTIONS"]["litestar"] == "Allow lists OPTIONS, OPTIONS 204"


def test_readme_block_is_rewritten_between_the_markers(reports: Path, tmp_path: Path) -> None:
    target = tmp_path / "README.md"
    target.write_text(f"# x\n\nbefore\n\n{readme.BEGIN}\nold table\n{readme.END}\n\nafter\n")
    found = adapters.load(ROOT)
    assert readme.rewrite(target, sources.load(reports), found)
    text = target.read_text()
    assert "old table" not in text
    assert text.startswith("# x\n\nbefore\n\n")
    assert text.endswith(f"{readme.END}\n\nafter\n")
    assert "| | FastAPI | Litestar | Starlette |" in text
    assert "| GET /users/me/items/ req/s (median) | 5,300 (0.57x bare) |" in text
    assert not readme.rewrite(target, sources.load(reports), found)  # idempotent
    # What the page concludes, at the top, from the same verdict.
    target.write_text(f"# x\n\n{readme.VERDICT_BEGIN}\n{readme.VERDICT_END}\n\n"
                      f"{readme.BEGIN}\n{readme.END}\n")  # fmt: skip
    assert readme.rewrite(target, sources.load(reports), found)
    text = target.read_text()
    assert text.index("- **Starlette**. Best: Most authenticated reads per second") < text.index(
        "| | FastAPI |"
    )
    assert "9,900 req/s (FastAPI: 5,300 req/s)" in text
    target.write_text("no markers\n")
    with pytest.raises(readme.MarkersMissing):
        readme.rewrite(target, sources.load(reports), found)
    body = (ROOT / "README.md").read_text()
    assert body.index(readme.BEGIN) < body.index(readme.END)


def test_readme_ladder_block_comes_from_the_bench_ladders(reports: Path, tmp_path: Path) -> None:
    """The README's cost ladder is the bench's `ladders` of GET /users/me/items/, each figure
    from the report; a ladder with a field it cannot read shows a dash, not an error."""
    bench = json.loads((reports / "bench.json").read_text())
    rung = {"us_per_request": 50.0, "cpu_us_per_request": 49.5}
    bench["ladders"] = [
        {
            "framework": "starlette", "scenario": "items",
            "rungs": {
                "bare": rung, "guard": {}, "ceiling": {},
                "impl": {"us_per_request": 62.5, "cpu_us_per_request": 62.0},
                "native": {"us_per_request": 156.25, "cpu_us_per_request": 150.0},
            },
            "deltas": {
                "guard": {"us": 1.94, "cpu_us": 2.06}, "wiring": {"us": 8.0, "cpu_us": 8.1},
                "core": {"us": 2.5, "cpu_us": None}, "native_vs_ours": {"us": 93.75},
            },
        },
        {"framework": "starlette", "scenario": "status", "rungs": {"bare": rung}},
        {"framework": "fastapi", "scenario": "items", "rungs": None, "deltas": "?"},
    ]  # fmt: skip
    (reports / "bench.json").write_text(json.dumps(bench))
    target = tmp_path / "README.md"
    target.write_text(
        f"{readme.BEGIN}\n{readme.END}\n{readme.LADDER_BEGIN}\nold\n{readme.LADDER_END}\n"
    )
    assert readme.rewrite(target, sources.load(reports), adapters.load(ROOT))
    ladder = target.read_text().split(readme.LADDER_BEGIN)[1].split(readme.LADDER_END)[0]
    rows = [line for line in ladder.splitlines() if line.startswith("| ")]
    assert rows[1:] == [
        "| Starlette | 50.0 (49.5) | +1.9 (+2.1) | +8.0 (+8.1) | +2.5 (—) = 62.5 "
        "| 156.2: 2.5x ours |",
        "| FastAPI | — (—) | — | — | — | — |",
    ]
    assert "old" not in ladder
    assert "generated by `make readme-table`" in ladder
    # Without a ladder in the report, the block says how to get one.
    del bench["ladders"]
    (reports / "bench.json").write_text(json.dumps(bench))
    readme.rewrite(target, sources.load(reports), adapters.load(ROOT))
    assert "No bench report with a cost ladder yet: `make bench`." in target.read_text()
    body = (ROOT / "README.md").read_text()
    assert body.index(readme.LADDER_BEGIN) < body.index(readme.LADDER_END)


def test_missing_and_stale_reports_are_named_with_their_make_target(
    reports: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    left = refresh(empty, run=False, bench=False)
    assert [line.split(":")[0] for line in left] == ["conformance", "fuzz", "native", "bench"]
    assert all("is missing: run make " in line for line in left), left
    assert "BENCH=1" in left[3]
    # Older than the code it measures: stale.
    os.utime(reports / "bench.json", (1_000_000, 1_000_000))
    assert sources.state(sources.SOURCES[3], reports) == "stale"
    assert sources.state(sources.SOURCES[0], reports) == "fresh"
    # Without a report, the page still builds and says how to make it.
    text = page.build(sources.load(empty, reference=None), {}, empty / "index.html").read_text()
    assert "<code>make bench</code> makes it" in text
    assert "<code>make conformance</code> makes it" in text


def test_main_builds_the_page_and_prints_its_path(
    reports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--reports", str(reports), "--no-run"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == str((reports / "index.html").resolve())
    # A short summary: one line per report, where it came from.
    assert len(out) <= 8
    assert out[0].strip() == "conformance: this machine's run, reports/conformance.json"


def test_markers_pair_up_and_name_known_concerns() -> None:
    source = (
        "a = 1\n# compare: form\n# compare: workaround: why\nx = 2\n\n# a comment\ny = 3\n"
        "# compare: end\n"
    )
    (region,) = regions(source)
    assert region.concerns == ("form",)
    assert region.workarounds == ["why"]
    assert region.code_lines == 2
    assert region.start == 3
    for broken in (
        "# compare: nonsense\n# compare: end\n",
        "# compare: form\nx = 1\n",
        "# compare: end\n",
        "# compare: workaround: stray\n",
        "# compare: form\n# compare: docs\n# compare: end\n",
    ):
        with pytest.raises(MarkerError):
            regions(broken)


def test_newer_report_keys_rules_skips_and_blocks_are_used(reports: Path) -> None:
    """What conformance/report.py adds (keys are only ever added): `rules` groups, where a check
    citing two rules is in both; `skipped` reasons; the `blocked` outcome."""
    report = fixture("conformance.json")
    ids = [check["id"] for check in report["checks"]]
    report["rules"] = [
        {"rule": "H14", "title": "exact paths", "checks": ids[:2]},
        {"rule": "POST /token", "title": "", "checks": ids[1:3]},
        {"rule": "H2", "title": "H2 no input makes a 500", "checks": ids[3:4]},
    ]
    blocked = report["checks"][0]["results"]["fastapi"]
    blocked["outcome"] = "blocked"
    report["skipped"] = [
        {"check": ids[0], "target": "fastapi", "reason": "no key to sign with", "cases": 3}
    ]
    report["summary"]["fastapi"]["blocked"] = 1
    (reports / "conformance.json").write_text(json.dumps(report))
    text = section(page.build(sources.load(reports), {}, reports / "index.html").read_text(),
                   "conformance")  # fmt: skip
    groups = re.findall(r'data-group="([^"]+)"[^>]*>\s*<summary[^>]*><b>([^<]*)', text)
    assert groups == [
        ("H14", "H14: exact paths"),
        ("POST /token", "POST /token"),
        ("H2", "H2 no input makes a 500"),
    ]
    assert text.count(f"<td>{ids[1]}</td>") == 2  # in both groups
    assert '<span class="skip" title="no key to sign with">⊘</span>' in text
    rows = {r.question: r.cells for r in summary.glance(sources.load(reports), {})}
    assert (
        rows["conformance checks (9 MUST, 0 SHOULD; counts over both profiles)"]["fastapi"]
        == "all pass (1 blocked)"
    )


def test_the_frameworks_own_way_lists_what_each_native_app_fails(built: str) -> None:
    report = fixture("native/conformance.json")
    text = section(built, "native")
    for app, counts in report["summary"].items():
        failing = [c for c in report["checks"] if c["results"][app]["outcome"] == "fail"]
        assert failing
        opened = re.search(
            rf'<details class="native" data-app="{app}">(.*?)</details>', text, re.DOTALL
        )
        assert opened, app
        assert f"{len(failing)} check(s) fail" in opened.group(1)
        for check in failing:
            case = next(x for x in check["results"][app]["cases"] if x["outcome"] == "failed")
            line = next(
                (t[1:].strip() for t in case.get("detail", "").splitlines() if t.startswith("E ")),
                case.get("message", ""),
            )
            assert f"<td>{check['id']}</td>" in opened.group(1)
            assert esc(line) in opened.group(1)
        assert re.search(rf"<tr><td>{app}</td><td class=\"num\">{counts['must_passed']}</td>", text)
    # By rule: each check in one group (the fixture has no `rules` key), so a column's failures
    # add up to the app's failed checks.
    by_rule = re.search(r'<table class="native-rules">(.*?)</table>', text, re.DOTALL)
    assert by_rule
    for index, app in enumerate(report["summary"]):
        cells = [
            re.findall(r'<span class="(?:fail|pass)">(\d+)</span> of (\d+)', row)[index]
            for row in re.findall(r"<tr>(.*?)</tr>", by_rule.group(1), re.DOTALL)[1:]
        ]
        failing = sum(c["results"][app]["outcome"] == "fail" for c in report["checks"])
        assert sum(int(bad) for bad, _ in cells) == failing
        assert sum(int(total) for _, total in cells) == len(report["checks"])
    rows = {r.question: r.cells for r in summary.glance(sources.load(FIXTURES), {})}
    own = rows["the framework's own way (`impl_<name>/native.py`) through the suite"]
    fails = report["summary"]["native-starlette"]["must_failed"]
    assert own["starlette"] == f"{fails} of {len(report['checks'])} checks fail"


def test_the_reference_set_stands_in_for_missing_reports_and_says_so(
    reports: Path, tmp_path: Path
) -> None:
    reference = tmp_path / "reference"
    shutil.copytree(reports, reference)
    (reference / "meta.json").write_text(json.dumps(
        {"date": "2026-12-01", "machine": "Refbox CPU, 2 CPUs", "commit": "abc1234"}))  # fmt: skip
    empty = tmp_path / "empty" / "reports"
    empty.mkdir(parents=True)
    loaded = sources.load(empty, reference=reference)
    assert set(loaded.origin.values()) == {"reference"}
    text = section(page.build(loaded, {}, empty / "index.html").read_text(), "performance")
    assert 'data-origin="reference"' in text
    assert "Refbox CPU, 2 CPUs" in text
    assert "2026-12-01" in text
    # A local full run replaces it, and the page says so.
    shutil.copy(reports / "bench.json", empty / "bench.json")
    loaded = sources.load(empty, reference=reference)
    assert loaded.origin["bench"] == "local"
    text = section(page.build(loaded, {}, empty / "index.html").read_text(), "performance")
    assert 'data-origin="local"' in text


def test_a_smoke_bench_is_never_shown_as_performance(reports: Path, tmp_path: Path) -> None:
    bench = fixture("bench.json")
    bench["meta"]["options"].update(seconds=1, runs=1)
    (reports / "bench.json").write_text(json.dumps(bench))
    loaded = sources.load(reports, reference=None)
    assert loaded.bench is None
    text = section(page.build(loaded, {}, reports / "index.html").read_text(), "performance")
    assert "is a smoke run" in text
    assert '<table class="reads">' not in text
    # The smoke run's own file (bench --smoke writes reports/bench-smoke.json) is never read.
    (reports / "bench.json").rename(reports / "bench-smoke.json")
    assert sources.load(reports, reference=None).bench is None


def test_an_outside_implementation_is_a_column(reports: Path) -> None:
    mine = fixture("conformance.json")
    results = {c["id"]: c["results"]["starlette"] for c in mine["checks"]}
    mine["targets"] = [
        {"name": "mine", "mode": "url", "url": "http://127.0.0.1:9", "factory": None}
    ]
    mine["summary"] = {"mine": mine["summary"]["starlette"]}
    for check in mine["checks"]:
        check["results"] = {"mine": results[check["id"]]}
    del mine["differential"]
    (reports / "mine").mkdir()
    (reports / "mine" / "conformance.json").write_text(json.dumps(mine))
    loaded = sources.load(reports, ours=targets.implementations())
    assert [o.names for o in loaded.outside] == [["mine"]]
    built = page.build(loaded, {}, reports / "index.html").read_text()
    for name in ("glance", "conformance"):
        assert 'mine <span class="tag">(outside)</span>' in section(built, name)
    rows = {r.question: r.cells for r in summary.glance(loaded, {})}
    conformance = next(cells for q, cells in rows.items() if q.startswith("conformance"))
    assert conformance["mine"] == "all pass (1 skipped)"
    # Named on the command line instead.
    moved = reports.parent / "elsewhere.json"
    (reports / "mine" / "conformance.json").rename(moved)
    assert sources.load(reports, ours=targets.implementations()).outside == []
    assert [o.names for o in sources.load(reports, outside=(moved,)).outside] == [["mine"]]


def test_the_verdict_calls_a_gap_within_the_noise_a_tie() -> None:
    from compare import verdict

    names = {k: k.title() for k in "abcde"}
    verdicts = {k: verdict.Verdict(targets.Target(k, names[k], "#000")) for k in names}
    reads = {"a": 1000.0, "b": 1060.0, "c": 1500.0, "d": 1450.0, "e": 2000.0}
    metric = verdict.Metric("fastest", "slowest", reads, str, "#x", True, True)
    assert verdict.judge(metric, verdicts, names) is None
    assert [k for k, v in verdicts.items() if v.best] == ["e"]
    # b is 6% above a: within the 10% noise, both are the slowest.
    assert sorted(k for k, v in verdicts.items() if v.worst) == ["a", "b"]
    assert verdicts["e"].best[0].figure == "2000.0 (A: 1000.0)"
    close = verdict.Metric("fast", "slow", {"a": 100.0, "b": 109.0}, str, "#x", True, True)
    tie = verdict.judge(close, verdicts, names)
    assert tie is not None
    assert tie.text == "fast: a tie (within 10%)"
    counted = verdict.Metric("few", "many", {"a": 1.0, "b": 2.0}, str, "#x", False, False)
    assert verdict.judge(counted, verdicts, names) is None
    assert verdicts["a"].best[-1].text == "few"
    assert verdicts["b"].worst[-1].text == "many"


def test_any_number_of_frameworks(reports: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five (or more) implementations: every section and the verdict have a column or a card
    for each; nothing in compare/ counts them."""
    extra = ["sixth", "seventh"]
    base = list(targets.frameworks())
    monkeypatch.setattr(
        targets, "frameworks",
        lambda: (*base, *(targets.Target(k, k.title() + "X", "#123456") for k in extra)),
    )  # fmt: skip
    report = fixture("conformance.json")
    for name in extra:
        report["targets"].append({**report["targets"][2], "name": name})
        report["summary"][name] = report["summary"]["starlette"]
        for check in report["checks"]:
            check["results"][name] = check["results"]["starlette"]
        report["differential"]["targets"].append(name)
    (reports / "conformance.json").write_text(json.dumps(report))
    bench = fixture("bench.json")
    for offset, name in enumerate(extra):
        target = copy.deepcopy(bench["targets"]["fastapi"])
        target["framework"] = name
        target["scenarios"]["items"]["requests_per_s"]["median"] = 20000.0 + offset * 5000
        bench["targets"][name] = target
    (reports / "bench.json").write_text(json.dumps(bench))
    loaded = sources.load(reports, reference=None)
    text = page.build(loaded, {}, reports / "index.html", charts=False).read_text()
    cards = re.findall(r'data-framework="([^"]+)"', section(text, "verdict"))
    assert cards == [t.key for t in targets.frameworks()]
    assert "SeventhX" in section(text, "glance")
    assert "SixthX" in section(text, "conformance")
    # The fastest of five is named as such in its card.
    seventh = re.search(r'data-framework="seventh">(.*?)</div>', text, re.DOTALL)
    assert seventh
    assert "Most authenticated reads per second" in seventh.group(1)
    assert "25,000 req/s" in seventh.group(1)


def test_the_cost_ladder_and_the_documented_way_in_the_verdict(reports: Path) -> None:
    """bench.json's `ladders` (bench.analysis.Ladder.as_dict) as a table; a native rung's
    req/s beside ours in each verdict card."""
    bench = fixture("bench.json")
    rungs = {r: {"target": f"{r}-starlette", "us_per_request": 10.0 * (i + 1),
                 "cpu_us_per_request": 9.0 * (i + 1)}
             for i, r in enumerate(("bare", "guard", "ceiling", "impl", "native"))}  # fmt: skip
    bench["ladders"] = [
        {"framework": "starlette", "scenario": "items", "rungs": rungs,
         "deltas": {"guard": {"us": 10.0, "cpu_us": 9.0}, "wiring": {"us": 10.0, "cpu_us": 9.0},
                    "core": {"us": 10.0, "cpu_us": 9.0},
                    "native_vs_ours": {"us": 10.0, "cpu_us": 9.0}}}
    ]  # fmt: skip
    native = copy.deepcopy(bench["targets"]["starlette"])
    native.update(kind="native")
    native["scenarios"]["items"]["requests_per_s"]["median"] = 4950.0
    bench["targets"]["native-starlette"] = native
    (reports / "bench.json").write_text(json.dumps(bench))
    text = page.build(sources.load(reports, reference=None), {}, reports / "index.html",
                      charts=False).read_text()  # fmt: skip
    ladder = section(text, "performance")
    assert 'id="perf-ladder"' in ladder
    assert "<td>Starlette</td><td>GET /users/me/items/</td>" in ladder
    assert '50.0 <span class="muted">(45.0)</span>' in ladder  # the native rung
    card = re.search(r'data-framework="starlette">(.*?)</div>', text, re.DOTALL)
    assert card
    fails = fixture("native/conformance.json")["summary"]["native-starlette"]["must_failed"]
    assert "2.0\u00d7 its req/s (9,900 req/s against 4,950 req/s)" in card.group(1)
    assert f"passing the {fails} checks it fails" in card.group(1)


def test_every_link_of_the_verdict_lands_on_its_evidence(built: str) -> None:
    links = set(re.findall(r'href="#([^"]+)"', built))
    assert {"perf-reads", "native", "needed", "concern-openapi"} <= links
    ids = set(re.findall(r'id="([^"]+)"', built))
    assert links <= ids, links - ids


def test_save_reference_copies_the_reports_and_describes_them(
    reports: Path, tmp_path: Path
) -> None:
    """`python -m compare --save-reference`: every report copied into the reference folder,
    and meta.json saying, from the reports themselves, what the bench and fuzz runs were."""
    from compare import reference

    target = tmp_path / "reference"
    line = reference.save(reports, target)
    for name in ("conformance.json", "native/conformance.json", "bench.json",
                 "fuzz/differential.md", "fuzz/fastapi/summary.json"):  # fmt: skip
        assert (target / name).is_file(), name
        assert name in line
    meta = json.loads((target / "meta.json").read_text())
    assert set(meta) == {"date", "machine", "commit", "note", "bench", "fuzz"}
    assert meta["note"].startswith("made by make reference: conformance.json, ")
    assert meta["bench"] == (
        "python -m bench, 11 targets, scenarios status, me, items, login, mixed, soak, "
        "3 runs of 5 s after 1 s of warm-up, 15 min"
    )
    assert meta["fuzz"].startswith("python -m conformance.fuzz: 3 implementations, 6 runs, ")
    assert "seed 20260101, 100 examples per operation and phase" in meta["fuzz"]
    assert meta["fuzz"].endswith("(fuzz/differential.md)")
    # The conformance report is kept whole but for what the page does not show.
    copied = json.loads((target / "conformance.json").read_text())
    source = json.loads((reports / "conformance.json").read_text())
    assert [c["id"] for c in copied["checks"]] == [c["id"] for c in source["checks"]]
    # A smoke bench never becomes the reference's performance; no replay is said so.
    smoke = json.loads((reports / "bench.json").read_text())
    smoke["meta"]["options"].update(seconds=1, runs=1)
    (reports / "bench.json").write_text(json.dumps(smoke))
    (reports / "fuzz" / "differential.md").unlink()
    again = tmp_path / "again"
    reference.save(reports, again)
    assert not (again / "bench.json").exists()
    meta = json.loads((again / "meta.json").read_text())
    assert "bench" not in meta
    assert meta["fuzz"].endswith("no replay across implementations")
