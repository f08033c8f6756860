"""Login load: a few client threads logging in as johndoe back to back (httpx), every answer
timed and kept, and the login rate read over a window of that continuous load.

Threads rather than wrk: a login takes about as long as a whole run of a few seconds allows a
handful of, and wrk counts only requests completed inside its run, so every run would start
cold and end with its in-flight logins dropped (a bias of about half the client count). Here the
load runs continuously and each measured window counts the logins completed inside it, after a
lead of at least one login's time. One client thread costs the client CPU almost nothing.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bench.wrk import Counted

LOGIN_FORM = {"username": "johndoe", "password": "secret", "scope": "me items"}
#: A status for a login that got no HTTP answer at all (timeout, connection error).
NO_ANSWER = 0
#: After a 503 (password queue full) a client pauses this long instead of spinning.
BACKOFF_S = 0.01


@dataclass(frozen=True, slots=True)
class Sample:
    started: float
    finished: float
    status: int


@dataclass(frozen=True, slots=True)
class LoginRun:
    """The logins completed inside one window."""

    duration_s: float
    statuses: dict[int, int]
    #: Latency of the successful logins completed in the window, ms (empty if none).
    latency_ms: dict[str, float]

    count = Counted.count
    rate = Counted.rate

    def as_dict(self) -> dict[str, Any]:
        return {
            "duration_s": self.duration_s,
            "logins_per_s": self.rate(200),
            "statuses": {str(code): n for code, n in sorted(self.statuses.items())},
            "latency_ms": self.latency_ms,
        }


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (what a handful of logins allows)."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def window(samples: Sequence[Sample], start: float, end: float) -> LoginRun:
    """The logins that finished within [start, end)."""
    inside = [s for s in samples if start <= s.finished < end]
    statuses: dict[int, int] = {}
    for sample in inside:
        statuses[sample.status] = statuses.get(sample.status, 0) + 1
    ok = [(s.finished - s.started) * 1000 for s in inside if s.status == 200]
    latency = (
        {
            "p50": statistics.median(ok),
            "p90": percentile(ok, 0.90),
            "p99": percentile(ok, 0.99),
            "max": max(ok),
        }
        if ok
        else {}
    )
    return LoginRun(end - start, statuses, latency)


class LoginLoad:
    """`clients` threads POSTing /token back to back until `stop()`."""

    def __init__(self, url: str, clients: int) -> None:
        self.url = url
        self.clients = clients
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def _client(self) -> None:
        with httpx.Client(timeout=60.0) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    status = client.post(self.url, data=LOGIN_FORM).status_code
                except httpx.HTTPError:
                    status = NO_ANSWER
                with self._lock:
                    self.samples.append(Sample(started, time.perf_counter(), status))
                if status == 503:
                    time.sleep(BACKOFF_S)

    def __enter__(self) -> LoginLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=90)

    def window(self, start: float, end: float) -> LoginRun:
        with self._lock:
            samples = list(self.samples)
        return window(samples, start, end)

    def latency_hint(self) -> float | None:
        """The median time of the logins so far, s (to size the lead before a window)."""
        with self._lock:
            times = [s.finished - s.started for s in self.samples if s.status == 200]
        return statistics.median(times) if times else None
