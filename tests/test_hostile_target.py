"""The conformance runner against a deliberately hostile server: it answers with terminal escape
sequences (set the clipboard, the window title, colours, C1 and bidi controls), trickles a body
one byte a second, sends a 256 MiB /openapi.json, and (a second target) never accepts its
connections. The run must end in bounded time and memory, show every escape escaped in the
terminal and the reports, and write nothing outside reports/."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: What the hostile server puts in its answers: OSC 52 (set the clipboard), OSC 0 (the window
#: title), SGR colours and blink, a C1 CSI, a right-to-left override, a zero-width joiner.
EVIL = (
    b"\x1b]52;c;cHduZWQ=\x07\x1b]0;pwned-title\x07\x1b[31;5mRED\x1b[0m"
    b"\xc2\x9b2J\xe2\x80\xaeevil\xe2\x80\x8d"
)
HUGE = 256 * 1024 * 1024
TOKEN = (
    b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJqb2huZG9lIiwic2NvcGUiOiJtZSBpdGVtcyIs"
    b"ImV4cCI6NDEwMjQ0NDgwMH0.c2lnbmVkLXdpdGgtYW5vdGhlci1rZXktMDEyMzQ1Njc4OWFi"
)
RAW_MARKS = ("\x1b", "\x07", "\x9b", "\u202e", "\u200d")


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            method, path = [*request_line.split(" "), "", ""][:2]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length" and value.strip().isdigit():
                    length = int(value)
            if length:
                await reader.readexactly(min(length, 1 << 20))
            if path == "/openapi.json":
                # A 256 MiB document, sent as fast as the client reads it.
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {HUGE}\r\n\r\n".encode()
                )
                chunk = b'{"openapi":"3.1.0","x":"' + b"a" * (1 << 20)
                for _ in range(HUGE // len(chunk)):
                    writer.write(chunk)
                    await writer.drain()
                return
            if path.startswith("/users/me/"):
                # A body trickled one byte a second, for ever.
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                writer.write(b"Content-Length: 100000\r\n\r\n")
                await writer.drain()
                while True:
                    writer.write(b" ")
                    await writer.drain()
                    await asyncio.sleep(1)
            status = b"200 OK" if method == "POST" else b"404 Not Found"
            # A token (signed with a key of its own), so that the checks go on to the routes.
            body = b'{"detail": "' + EVIL + b'", "access_token": "' + TOKEN + b'"}'
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


@pytest.fixture
def hostile() -> Iterator[tuple[str, str]]:
    """(the hostile server's URL, the URL of a socket that never accepts)."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, object] = {}

    async def main() -> None:
        server = await asyncio.start_server(_answer, "127.0.0.1", 0)
        box["server"] = server
        started.set()
        await server.serve_forever()

    def run() -> None:
        asyncio.set_event_loop(loop)
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    server = box["server"]
    assert isinstance(server, asyncio.Server)
    port = server.sockets[0].getsockname()[1]
    # A slow accept: a listening socket that never accepts (its backlog fills, then SYNs wait).
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{silent.getsockname()[1]}"
    finally:
        silent.close()
        loop.call_soon_threadsafe(server.close)
        for task in asyncio.all_tasks(loop):
            loop.call_soon_threadsafe(task.cancel)
        thread.join(5)
        loop.close()


def _files(root: Path) -> dict[str, float]:
    """Every file under `root` with its mtime, but for reports/ and caches."""
    skip = {".git", ".venv", "reports", "__pycache__", ".mypy_cache", ".ruff_cache",
            ".pytest_cache", "var", "node_modules"}  # fmt: skip
    found: dict[str, float] = {}
    for directory, names, files in os.walk(root):
        names[:] = [name for name in names if name not in skip]
        for name in files:
            path = Path(directory, name)
            found[str(path.relative_to(root))] = path.lstat().st_mtime
    return found


def _vm_hwm_kib(pid: int) -> int:
    """The peak resident set of process `pid` so far (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found[1]) if found else 0


def test_the_runner_is_bounded_and_escapes_a_hostile_target(
    hostile: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    run_dir = tmp_path_factory.mktemp("hostile-cwd")
    evil, silent = hostile
    name = f"hostile{os.getpid()}"
    reports = ROOT / "reports" / f"{name}+{name}-slow"
    shutil.rmtree(reports, ignore_errors=True)
    before = _files(ROOT)
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(COLUMNS="100", PYTHONPATH=str(ROOT))
    started = time.monotonic()
    logs = tmp_path_factory.mktemp("hostile-logs")
    # fmt: off
    command = [
        sys.executable, "-m", "conformance",
        "--target", f"{name}={evil}", "--target", f"{name}-slow={silent}",
        "--family", "ROUTE", "--family", "OAS", "--no-diff",
        "--request-deadline", "2", "--check-deadline", "4", "--run-deadline", "15",
    ]
    # fmt: on
    with (logs / "out").open("wb") as out_file, (logs / "err").open("wb") as err_file:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            command, cwd=run_dir, env=env, stdout=out_file, stderr=err_file
        )
        watchdog = threading.Timer(120, process.kill)
        watchdog.start()
        # The child's own peak: VmHWM of its address space, read while it runs (its rusage
        # would count the pytest process it was forked from: exec keeps the old high-water).
        peak_kib = 0
        while process.poll() is None:
            peak_kib = max(peak_kib, _vm_hwm_kib(process.pid))
            time.sleep(0.02)
        watchdog.cancel()
    returncode = process.returncode
    stdout = (logs / "out").read_bytes()
    stderr = (logs / "err").read_bytes()
    elapsed = time.monotonic() - started
    peak_mib = peak_kib / 1024
    after = _files(ROOT)
    written = sorted(p.relative_to(ROOT).as_posix() for p in reports.rglob("*") if p.is_file())
    try:
        out = stdout.decode("utf-8", "replace")
        assert returncode == 1, out + stderr.decode()
        # Bounded time: the run deadline (20 s) plus collection, the probe and the report.
        assert elapsed < 60, f"took {elapsed:.0f} s"
        # Bounded memory: the 256 MiB document was read to the suite's 8 MiB cap, no further.
        assert 20 < peak_mib < 400, f"peak RSS {peak_mib:.0f} MiB"
        # Escaped everywhere: no raw escape reached the terminal or a report.
        for mark in RAW_MARKS:
            assert mark not in out, f"raw {mark!r} in the output"
        for report in ("conformance.md", "conformance.json"):
            text = (reports / report).read_text()
            for mark in RAW_MARKS:
                assert mark not in text, f"raw {mark!r} in {report}"
        assert "\\x1b]52;c;" in out or "\\x1b]0;pwned-title" in out, out
        # The trickled body and the silent socket: verdicts that say so, not a hang.
        assert "AnswerTooSlow: no whole answer within 2 s" in out, out
        assert "AnswerTooLarge" in out, out
        # Nothing written outside reports/<names>/, not even in the working directory.
        assert written == [f"reports/{reports.name}/conformance.json",
                           f"reports/{reports.name}/conformance.md"]  # fmt: skip
        assert after == before
        assert list(run_dir.iterdir()) == []
    finally:
        shutil.rmtree(reports, ignore_errors=True)
    print(f"hostile run: {elapsed:.1f} s, peak RSS {peak_mib:.0f} MiB, files {written}")


def test_a_target_name_cannot_leave_reports(tmp_path: Path) -> None:
    for bad in ("..", "../x", "a/b", ".hidden", "x" * 65):
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "conformance", "--target", f"{bad}=http://127.0.0.1:9"],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, (bad, result.stdout, result.stderr)
        assert "a target name is" in result.stderr
    assert list(tmp_path.iterdir()) == []
