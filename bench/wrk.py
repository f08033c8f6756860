"""wrk: the command lines the bench runs, the Lua scripts they load and the parsing of wrk's output.

Every wrk run loads a script whose `done()` prints one machine-readable line (`BENCH-WRK {json}`:
exact latency percentiles in microseconds, error counters and, where the script counts them, the
HTTP status of every response). The human-readable part of wrk's output is parsed too, as a
fallback and as a cross-check. wrk counts only statuses above 399 as "Non-2xx or 3xx responses";
the scripts count every status too (`response()`), so a 3xx cannot hide.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MARKER = "BENCH-WRK "
#: wrk's default of 2 s would turn a slow login under load into a "timeout" rather than a latency.
TIMEOUT = "10s"
PERCENTILES = (50.0, 90.0, 99.0, 99.9)

#: The `done()` every script shares: one JSON line on stdout (wrk prints it after its summary).
_DONE = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local statuses = {}
  for _, t in ipairs(threads) do
    local counted = t:get("statuses")
    if counted then
      for code, n in pairs(counted) do statuses[code] = (statuses[code] or 0) + n end
    end
  end
  local parts = {}
  for code, n in pairs(statuses) do table.insert(parts, string.format('"%s":%d', code, n)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH-WRK {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p99.9":%d},' ..
    '"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), table.concat(parts, ",")))
end
"""

#: Count every response's status, so that a 3xx (which wrk's own counter misses) fails a run
#: too. It costs wrk a little per response, on its own CPU: far below the servers' rates.
_COUNT = r"""
statuses = {}
function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end
"""

#: Reads: the static request wrk builds from the URL and -H, every status counted.
READ_SCRIPT = _DONE + _COUNT

#: The soak: one request per token of a file (one token a line), rotating; the first script
#: argument is the file, the second where in it to start (so that chunks continue the rotation).
SOAK_SCRIPT = (
    _DONE
    + _COUNT
    + r"""
local requests, next_index = {}, 1
function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      table.insert(requests, wrk.format("GET", nil, {["Authorization"] = "Bearer " .. line}))
    end
  end
  next_index = (tonumber(args[2] or "0") % #requests) + 1
end
function request()
  local r = requests[next_index]
  next_index = next_index % #requests + 1
  return r
end
"""
)

SCRIPTS = {"read": READ_SCRIPT, "soak": SOAK_SCRIPT}


def available() -> bool:
    return shutil.which("wrk") is not None


def write_scripts(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in SCRIPTS.items():
        path = directory / f"{name}.lua"
        path.write_text(text)
        paths[name] = path
    return paths


def command(
    url: str,
    *,
    seconds: int,
    connections: int,
    script: Path,
    headers: Sequence[str] = (),
    script_args: Sequence[str] = (),
    pin: Sequence[str] = (),
) -> list[str]:
    """The wrk argv (after `pin`, a taskset prefix): one thread (one client core), --latency,
    a 10 s timeout."""
    header_args = [arg for header in headers for arg in ("-H", header)]
    tail = ["--", *script_args] if script_args else []
    return [
        *pin, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", f"--timeout={TIMEOUT}",
        "--latency", "-s", str(script), *header_args, url, *tail,
    ]  # fmt: skip


class Counted:
    """Counting answers by status over a run (`statuses`, `duration_s`): wrk's and the logins'."""

    statuses: dict[int, int]
    duration_s: float

    def count(self, *codes: int) -> int:
        return sum(n for code, n in self.statuses.items() if code in codes)

    def rate(self, *codes: int) -> float:
        """Responses per second with one of these statuses (needs counted statuses)."""
        return self.count(*codes) / self.duration_s if self.duration_s else 0.0


@dataclass(frozen=True, slots=True)
class WrkRun:
    """One wrk run, as wrk reported it."""

    requests: int
    duration_s: float
    requests_per_s: float
    #: Latency in ms: p50, p90, p99 (and p99.9, min, mean, max when the script reported them).
    latency_ms: dict[str, float]
    #: Responses with a status above 399, as wrk counts them.
    non_2xx: int
    #: Socket errors: connect, read, write, timeout.
    socket_errors: dict[str, int]
    #: Every response's status, when the script counted them (else empty).
    statuses: dict[int, int] = field(default_factory=dict)

    count = Counted.count
    rate = Counted.rate

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "duration_s": self.duration_s,
            "requests_per_s": self.requests_per_s,
            "latency_ms": self.latency_ms,
            "non_2xx": self.non_2xx,
            "socket_errors": self.socket_errors,
            "statuses": {str(code): n for code, n in sorted(self.statuses.items())},
        }


class WrkOutputError(ValueError):
    pass


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_duration_ms(text: str) -> float:
    """wrk's human latency ("812.00us", "1.25ms", "2.01s", "1.00m") in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if match is None:
        raise WrkOutputError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def _search(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise WrkOutputError(f"wrk output lacks /{pattern}/:\n{text}")
    return match


def parse(output: str) -> WrkRun:
    """Parse wrk's stdout. The `BENCH-WRK` line wins where present (exact figures); the text
    summary is required either way, and must agree with it on the request count."""
    total = _search(r"^\s*(\d+) requests in ([\d.]+\w+),", output)
    requests = int(total.group(1))
    duration_s = parse_duration_ms(total.group(2)) / 1000
    rps = float(_search(r"^Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {
        f"p{int(p)}": parse_duration_ms(_search(rf"^\s+{int(p)}%\s+(\S+)", output).group(1))
        for p in (50, 90, 99)
    }
    non_2xx_match = re.search(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", output, re.MULTILINE)
    non_2xx = int(non_2xx_match.group(1)) if non_2xx_match else 0
    socket = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if errors:
        socket = dict(zip(socket, map(int, errors.groups()), strict=True))
    statuses: dict[int, int] = {}
    for line in output.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            if data["requests"] != requests:
                raise WrkOutputError(f"summary says {requests} requests, script {data['requests']}")
            duration_s = data["duration_us"] / 1e6
            latency = {name: us / 1000 for name, us in data["latency_us"].items()}
            non_2xx = data["errors"]["status"]
            socket = {name: data["errors"][name] for name in socket}
            statuses = {int(code): n for code, n in data["statuses"].items()}
    return WrkRun(requests, duration_s, rps, latency, non_2xx, socket, statuses)
