"""make test runs each check once per implementation and profile: `--covered-by` a live run's
conformance.json drops the in-process items of a check that passed there in every case, on the
same implementation and profile, and keeps every other one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def live_result(*outcomes: str) -> dict[str, object]:
    verdict = "pass" if all(o == "passed" for o in outcomes) else "fail"
    return {"outcome": verdict, "cases": [{"variant": "v", "outcome": o} for o in outcomes]}


def collect(report: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest --collect-only of the suite with --covered-by `report`, in a subprocess."""
    command = [sys.executable, "-m", "pytest", *args, "--covered-by", str(report),
               "--collect-only", "-q", "-p", "no:cacheprovider"]  # fmt: skip
    return subprocess.run(  # noqa: S603 (our own interpreter, fixed argv)
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def collected(tmp_path: Path, report: dict[str, object], *paths: str) -> list[str]:
    path = tmp_path / "conformance.json"
    path.write_text(json.dumps(report))
    done = collect(path, *paths, "--impl", "starlette", "--impl", "fastapi")
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_a_check_passed_live_is_not_run_again_in_process(tmp_path: Path) -> None:
    report = {
        "targets": [
            {"name": "starlette", "mode": "live"},
            {"name": "fastapi", "mode": "live"},
            {"name": "starlette-strict", "mode": "live"},
            {"name": "fastapi-strict", "mode": "in-process"},
        ],
        "checks": [
            {"id": "ROUTE-001", "results": {"starlette": live_result("passed", "passed")}},
            # one case skipped live: the in-process run keeps the check
            {"id": "ROUTE-002", "results": {"starlette": live_result("passed", "skipped")}},
            {"id": "ROUTE-003", "results": {"fastapi": live_result("failed")}},
            # the strict profile's column, and one that ran in-process (covers nothing)
            {
                "id": "STRICT-001",
                "results": {
                    "starlette-strict": live_result("passed"),
                    "fastapi-strict": live_result("passed"),
                },
            },
        ],
    }
    items = collected(tmp_path, report, "conformance/test_route.py", "conformance/test_strict.py")
    assert "conformance/test_route.py::test_users_me[fastapi]" in items
    assert "conformance/test_route.py::test_users_me[starlette]" not in items
    assert "conformance/test_route.py::test_items[starlette]" in items
    assert "conformance/test_route.py::test_status[fastapi]" in items
    strict_1 = [i for i in items if "test_strict.py::test_missing_parameter" in i]
    assert len(strict_1) == 5, strict_1
    assert all("fastapi" in i for i in strict_1), strict_1
    # the other strict checks are kept on both
    assert any("starlette" in i for i in items if "test_strict.py" in i)


def test_not_a_report_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "conformance.json"
    path.write_text("[1, 2")
    done = collect(path, "conformance/test_route.py")
    assert done.returncode == 4, done.stdout + done.stderr
    assert f"--covered-by {path}: not a conformance report" in done.stderr
