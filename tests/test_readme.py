"""The README's commands run as printed, from the repository root, with nothing activated: each
line of its ```sh blocks is run (servers are started, waited for and stopped with Ctrl-C, on a
free port instead of the printed one; the long make targets in their `make -n` form), and each
command quoted inline is checked in its `--help` or `make -n` form. Every run gets a temporary
data dir (ARENA_DATA_DIR), so nothing lands in the checkout's var/."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from conformance.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
#: The text outside the fenced blocks, where `...` quotes code.
PROSE = re.sub(r"^```.*?^```", "", README, flags=re.MULTILINE | re.DOTALL)
#: Targets too long to run here: their recipe is checked with `make -n`.
DRY_TARGETS = {"conformance", "test", "fuzz", "bench", "bench-smoke", "lint", "clean"}
NO_USERS = "the store has no users, so no login can succeed"
#: A password typed at the CLI's prompts (twice: it asks for a confirmation).
TYPED = "typed-password\ntyped-password\n"


def shell_blocks() -> list[list[str]]:
    """The commands of each ```sh block, comments dropped."""
    blocks = re.findall(r"^```sh\n(.*?)^```", README, re.MULTILINE | re.DOTALL)
    return [
        [re.sub(r"\s+# .*$", "", line).strip() for line in block.splitlines() if line.strip()]
        for block in blocks
    ]


def inline_commands() -> list[str]:
    """Commands quoted inline in the text: `make ...`, `.venv/bin/...`, with any VAR=value
    before them."""
    spans = (" ".join(span.split()) for span in re.findall(r"`([^`]+)`", PROSE))
    command = re.compile(r"(?:[A-Z_]+=\S+ )*(?:make |\.venv/bin/)\S")
    return sorted({span for span in spans if command.match(span)})


def env_for(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.pop("VIRTUAL_ENV", None)
    # Nothing activated: the venv's bin is not on PATH (make and bash are).
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != ROOT / ".venv" / "bin"
    )
    env.update(ARENA_DATA_DIR=str(data_dir), ARENA_PASSWORD_PROFILE="cheap")
    return env


def bash(command: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (the README's own commands)
        ["/bin/bash", "-c", command],
        cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def is_server(command: str) -> bool:
    return bool(re.search(r"(^|\s)(make serve|\S*scopes-arena serve|\S*uvicorn)\b", command))


def dry(command: str) -> str:
    """`make TARGET ...` as `make -n TARGET ...` for the long targets."""
    words = shlex.split(command)
    at = next(i for i, word in enumerate(words) if word == "make")
    targets = [w for w in words[at + 1 :] if "=" not in w and not w.startswith("-")]
    if not set(targets) & DRY_TARGETS:
        return command
    return shlex.join([*words[: at + 1], "-n", *words[at + 1 :]])


def on_port(command: str, port: int) -> str:
    """The server command on `port` instead of the printed (or default) 8000-ish one."""
    if re.search(r"--port \d+", command):
        return re.sub(r"--port \d+", f"--port {port}", command)
    if re.search(r"(^|\s)make serve\b", command):
        return re.sub(r"\bPORT=\d+", "", command) + f" PORT={port}"
    return f"{command} --port {port}"


def test_the_readme_has_the_blocks_this_test_runs() -> None:
    assert len(inline_commands()) >= 10
    blocks = shell_blocks()
    assert len(blocks) >= 3
    servers = [c for block in blocks for c in block if is_server(c)]
    assert len(servers) >= 3
    assert any(c.startswith("make serve") for c in servers)


def test_no_command_needs_an_activated_venv() -> None:
    """A bare `python -m`, `scopes-arena`, `uvicorn`, `pytest`... fails outside the venv."""
    venv_only = re.compile(
        r"(?:[A-Z_]+=\S+ )*(?:python -m|python \S|scopes-arena |uvicorn |pytest)"
    )
    lines = [c for block in shell_blocks() for c in block]
    spans = [" ".join(s.split()) for s in re.findall(r"`([^`]+)`", PROSE)]
    assert [c for c in lines + spans if venv_only.match(c.removeprefix("echo 's3cret' | "))] == []


def test_the_blocks_commands_run_as_printed(tmp_path: Path) -> None:
    """Every non-server line, in order, in one data dir (the CLI block builds on itself)."""
    env = env_for(tmp_path / "var")
    ran = []
    for command in (c for block in shell_blocks() for c in block if not is_server(c)):
        result = bash(dry(command) if command.startswith("make") else command, env, TYPED)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, command
        assert "error:" not in result.stderr, (command, result.stderr)
        ran.append(command)
    assert any(c.endswith("users list") for c in ran)
    listed = bash(".venv/bin/scopes-arena users list", env).stdout
    for name in ("alice", "bob", "carol", "johndoe"):
        assert name in listed


def _wait(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready")


def _login(url: str, username: str, password: str) -> int:
    form = {"username": username, "password": password, "scope": "me"}
    return httpx.post(f"{url}/token", data=form, timeout=10).status_code


@pytest.mark.live
@pytest.mark.parametrize("command", [c for block in shell_blocks() for c in block if is_server(c)])
def test_the_servers_start_as_printed(tmp_path: Path, command: str) -> None:
    """Started on a free port in a fresh data dir, ready on /openapi.json, with the demo users
    where the README says so, and stopped by Ctrl-C (SIGINT to the group) without a traceback."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        ["/bin/bash", "-c", on_port(command, port)],
        cwd=ROOT, env=env_for(tmp_path / "var"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{url}/openapi.json", process)
        demo = command.startswith("make serve") or "ARENA_DEMO_USERS=1" in command
        if demo:
            assert _login(url, "johndoe", "secret") == 200
            assert _login(url, "alice", "secretalice") == 200  # disabled, yet she logs in
        elif "scopes-arena" in command:
            assert _login(url, "johndoe", "secret") == 400
    finally:
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=30)
    # make passes the interrupt on to itself once its child has ended (quietly: no message).
    assert process.returncode in (0, -signal.SIGINT), err
    assert "Traceback" not in err
    assert "make: ***" not in err
    if "scopes-arena" in command or command.startswith("make serve"):
        assert (NO_USERS in err) is not demo, err


def check_form(command: str) -> str:
    """How an inline command is checked: `make` ones as `make -n` (serve and install too), the
    others' programs with `--help` (placeholders such as MODULE:ATTR stay unexpanded)."""
    words = shlex.split(command)
    assigned: list[str] = []
    while re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        assigned.append(words.pop(0))
    if words[0] == "make":
        return shlex.join([*assigned, "make", "-n", *words[1:]])
    assert (ROOT / words[0]).is_file(), command
    module = words[1:3] if words[1:2] == ["-m"] else []
    # pytest's --help loads every conftest and plugin (10 s on a busy machine): --version
    # proves the program is there as well (tests/test_registry.py runs `pytest conformance`).
    option = "--version" if module == ["-m", "pytest"] else "--help"
    return shlex.join([*assigned, words[0], *module, option])


def test_check_forms() -> None:
    assert check_form("FUZZ_SEED=7 make fuzz") == "FUZZ_SEED=7 make -n fuzz"
    assert check_form("make serve IMPL=litestar") == "make -n serve IMPL=litestar"
    assert check_form(".venv/bin/python -m core.server MODULE:ATTR") == (
        ".venv/bin/python -m core.server --help"
    )
    assert check_form(".venv/bin/scopes-arena users enable alice") == (
        ".venv/bin/scopes-arena --help"
    )


#: The inline commands by their check: one run for each different check.
CHECKS: dict[str, list[str]] = {}
for _command in inline_commands():
    CHECKS.setdefault(check_form(_command), []).append(_command)


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_inline_commands_exist(tmp_path: Path, check: str) -> None:
    result = bash(check, env_for(tmp_path / "var"))
    assert result.returncode == 0, (CHECKS[check], result.stdout[-2000:], result.stderr[-2000:])
