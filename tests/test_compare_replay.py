"""The page's curl lines replay as printed: requests of the differential corpus, recorded
against a server with the suite's key, then replayed with bash and curl, line by line as the
page prints them (compare.replay), against a fresh server with another key and the demo users,
as `make serve` runs; each answers the recorded status."""

from __future__ import annotations

import re
import shutil
import subprocess

import httpx
import pytest

from compare import replay
from conformance.differential import corpus
from conformance.servers import LIVE_SECRET_KEY, serve

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
OTHER_KEY = "make-serve-key-0123456789abcdef0123456789abcdef0123"
#: Each kind of token the corpus sends (valid, refused, odd scopes), and a few without one.
SAMPLE = (
    "users-me-valid", "users-me-items-valid", "status-valid", "users-me-expired",
    "users-me-no-credentials", "users-me-bearer-lower-case", "users-me-two-spaces",
    "users-me-padded-token", "users-me-token-wrong-key", "users-me-token-alg-none",
    "users-me-token-unknown-user", "users-me-items-token-me-only", "users-me-token-items-only",
    "status-token-no-scope", "users-me-query-ignored", "users-me-token-scope-list",
)  # fmt: skip


def status_line(output: str) -> int:
    found = re.search(r"^HTTP/\S+ (\d{3})", output, re.MULTILINE)
    assert found, output
    return int(found.group(1))


def test_recorded_requests_replay_with_their_recorded_status() -> None:
    probes = {p.id: p for p in corpus(LIVE_SECRET_KEY)}
    sample = [probes[ident] for ident in SAMPLE if ident in probes]
    assert len(sample) >= 12
    with (
        serve("starlette") as recorded,
        serve("starlette", extra_env={"ARENA_SECRET_KEY": OTHER_KEY}) as fresh,
    ):
        for probe in sample:
            answer = httpx.request(
                probe.method, recorded.url + probe.path, headers=probe.request_headers(),
                content=probe.body, follow_redirects=False,
            )  # fmt: skip
            lines = replay.replayable(probe.curl(), [answer.status_code])
            script = "\n".join([f"BASE={fresh.url}", "set -e", *lines])
            done = subprocess.run(  # noqa: S603 (our own script)
                ["/bin/bash", "-c", script],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            assert status_line(done.stdout) == answer.status_code, (probe.id, lines)
            # A token that was accepted is fetched fresh: the suite's key means nothing here.
            if answer.status_code != 401 and "Bearer" in probe.curl():
                assert lines[0].startswith("TOKEN=$(curl"), probe.id
