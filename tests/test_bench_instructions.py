"""`make instructions` (bench/instructions.py): instructions per request under valgrind's
callgrind. The dump parsing, the message without valgrind, and a live count of bare Starlette
with and without Guard under a real uvicorn. Without valgrind the
live test is skipped, and failed instead under `make test` (SCOPES_ARENA_REQUIRE_VALGRIND=1,
`make valgrind-deps` installs it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.instructions import counted

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_ENV = "SCOPES_ARENA_REQUIRE_VALGRIND"


def require_valgrind() -> None:
    if shutil.which("valgrind") and shutil.which("callgrind_control"):
        return
    reason = "valgrind is not installed (make valgrind-deps)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_ENV}=1: this test must run", pytrace=False)
    pytest.skip(reason)


def test_counted_reads_the_total_of_a_dump(tmp_path: Path) -> None:
    dump = tmp_path / "callgrind.out.1"
    dump.write_text("version: 1\ncmd: python\nevents: Ir\nfn=main\n3 5\nsummary: 123456\n")
    assert counted(dump) == 123456
    (tmp_path / "older").write_text("events: Ir\ntotals: 42\n")
    assert counted(tmp_path / "older") == 42
    (tmp_path / "broken").write_text("events: Ir\n")
    with pytest.raises(RuntimeError, match="no instruction total"):
        counted(tmp_path / "broken")


def test_without_valgrind_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.instructions", "--only", "raw-asgi"],
        cwd=ROOT, env={**os.environ, "PATH": str(tmp_path)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "valgrind and callgrind_control not found: install Debian's valgrind "
        "(apt-get install valgrind) to count instructions"
    ]
    assert done.stdout == ""


def test_bad_counts_are_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.instructions", "--requests", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--requests and --warmup must be at least 1" in done.stderr


def test_counts_bare_and_guarded_starlette_live(tmp_path: Path) -> None:
    """A real count: each target served by uvicorn under callgrind, 40 requests counted; Guard
    adds instructions to the bare endpoint, and the table says by how much."""
    require_valgrind()
    report = tmp_path / "instructions.json"
    done = subprocess.run(  # noqa: S603 (our interpreter, fixed arguments)
        [
            sys.executable, "-m", "bench.instructions",
            "--only", "bare-starlette", "--only", "guard-starlette",
            "--requests", "40", "--warmup", "10", "--idle", "0.5", "--json", str(report),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Instructions per GET /users/me/items/ (callgrind)" in done.stdout
    assert "[2/2] guard-starlette: under callgrind" in done.stdout
    counts = {entry["target"]: entry for entry in json.loads(report.read_text())}
    assert list(counts) == ["bare-starlette", "guard-starlette"]
    for entry in counts.values():
        assert entry["requests"] == 40
        assert entry["idle_per_s"] >= 0
        # A request through uvicorn costs tens of thousands of instructions at least, and
        # far below a hundred million (that would be the server's start, not a request).
        assert 10_000 < entry["per_request"] < 100_000_000
    bare, guard = (counts[name]["per_request"] for name in counts)
    assert bare < guard
    assert f"{guard / bare:.3f}x" in done.stdout
    assert counts["guard-starlette"]["framework"] == "starlette"
