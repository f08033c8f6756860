"""Differential fuzzing: every request schemathesis recorded (negative cases included) is replayed
against all implementations at once. A difference in status, JSON body or a header the contract
fixes is a finding, written with a curl line to reports/fuzz/differential.md. The contract's
framework-dependent points (a 307 to the slash form, HEAD or OPTIONS served by the framework)
are not findings.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import shlex
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from rich.console import Console

from conformance.bounded import MAX_ANSWER_BYTES, REQUEST_DEADLINE
from conformance.differential import IMPLICIT_METHODS
from conformance.servers import LIVE_SECRET_KEY
from core.errors import InvalidToken
from core.tokens import TokenService

#: Headers whose values the contract fixes (content-type is compared by media type only).
COMPARED_HEADERS = (
    "www-authenticate",
    "allow",
    "cache-control",
    "pragma",
    "retry-after",
    "location",
)
#: Request headers that the transport sets again, or that only name the schemathesis case.
DROPPED_HEADERS = frozenset({"host", "content-length", "connection", "x-schemathesis-testcaseid"})
EXAMPLES_PER_GROUP = 3
#: The operation of each documented path (every path has exactly one).
OPERATIONS = {
    "/token": "POST /token",
    "/users/me/": "GET /users/me/",
    "/users/me/items/": "GET /users/me/items/",
    "/status/": "GET /status/",
}
OTHER = "(other paths)"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    origin: str
    recorded_at: float


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Difference:
    request: RecordedRequest
    answers: dict[str, Answer]

    @property
    def aspects(self) -> list[str]:
        """What differs: "status", "body" and/or the names of the differing headers."""
        answers = list(self.answers.values())
        found = [
            aspect
            for aspect, values in (
                ("status", [answer.status for answer in answers]),
                ("body", [json.dumps(answer.body, sort_keys=True) for answer in answers]),
            )
            if len(set(values)) > 1
        ]
        names = sorted({name for answer in answers for name, _ in answer.headers})
        for name in names:
            if len({dict(answer.headers).get(name) for answer in answers}) > 1:
                found.append(f"header {name}")
        return found

    @property
    def group(self) -> str:
        statuses = ", ".join(f"{name} {answer.status}" for name, answer in self.answers.items())
        path = urlsplit(self.request.target).path
        return f"{self.request.method} {path} ({statuses}): {', '.join(self.aspects)} differ"


def operation_of(uri: str) -> str:
    return OPERATIONS.get(urlsplit(uri).path, OTHER)


def load_cassette(path: Path) -> list[dict[str, Any]]:
    # schemathesis' own dependency, which ships no type stubs; the C loader: cassettes get large.
    import yaml  # type: ignore[import-untyped]

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as stream:
        data = yaml.load(stream, Loader=loader)  # noqa: S506 (a safe loader)
    interactions: list[dict[str, Any]] = (data or {}).get("http_interactions") or []
    return interactions


def _body_bytes(body: dict[str, Any] | None) -> bytes:
    if not body:
        return b""
    if "base64_string" in body:
        return base64.b64decode(body["base64_string"])
    return str(body.get("string", "")).encode(body.get("encoding") or "utf-8")


def recorded_requests(cassettes: Iterable[Path]) -> list[RecordedRequest]:
    """Every distinct request of the cassettes, in recording order."""
    seen: set[tuple[str, str, tuple[tuple[str, str], ...], bytes]] = set()
    requests: list[RecordedRequest] = []
    for path in cassettes:
        if not path.exists():
            continue
        origin = f"{path.parent.parent.name}/{path.parent.name}"
        for interaction in load_cassette(path):
            request = interaction["request"]
            parts = urlsplit(request["uri"])
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            headers = tuple(
                (name, str(value))
                for name, values in (request.get("headers") or {}).items()
                if name.lower() not in DROPPED_HEADERS
                for value in (values if isinstance(values, list) else [values])
            )
            body = _body_bytes(request.get("body"))
            key = (request["method"], target, headers, body)
            if key in seen:
                continue
            seen.add(key)
            phase = interaction.get("phase", {}).get("name", "?")
            mode = interaction.get("generation", {}).get("mode", "?")
            recorded = datetime.fromisoformat(interaction["recorded_at"]).timestamp()
            requests.append(
                RecordedRequest(
                    method=request["method"],
                    target=target,
                    headers=headers,
                    body=body,
                    origin=f"{origin} {phase} {mode} case {interaction.get('id')}",
                    recorded_at=recorded,
                )
            )
    return requests


class TokenRefresher:
    """Re-mints, with the same subject and scope, a token that was valid when recorded but has
    expired since (a long run outlives the 30-minute lifetime); any other value is kept as is."""

    def __init__(self, secret_key: str = LIVE_SECRET_KEY) -> None:
        self._tokens = TokenService(secret_key.encode, 1800)

    def __call__(
        self, headers: tuple[tuple[str, str], ...], recorded_at: float
    ) -> list[tuple[str, str]]:
        return [
            (name, self._refresh(value, recorded_at) if name.lower() == "authorization" else value)
            for name, value in headers
        ]

    def _refresh(self, value: str, recorded_at: float) -> str:
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return value
        try:
            self._tokens.verify(token)
            return value
        except InvalidToken:
            pass
        try:
            claims = self._tokens.verify(token, now=recorded_at)
        except InvalidToken:
            return value
        scope = str(_payload(token).get("scope", "")).split() or sorted(claims.scopes)
        return f"{scheme} {self._tokens.issue(claims.subject, tuple(scope)).access_token}"


def _payload(token: str) -> dict[str, Any]:
    """The claims of a token already verified by the core, for their display and order only."""
    try:
        segment = token.split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}


def _mask(node: Any, key: str | None = None) -> Any:
    """Tokens differ by their `iat`/`jti`; compare what they grant instead."""
    if key == "access_token" and isinstance(node, str):
        claims = _payload(node)
        return {"token of": claims.get("sub"), "scope": claims.get("scope")}
    if isinstance(node, dict):
        return {name: _mask(value, name) for name, value in node.items()}
    if isinstance(node, list):
        return [_mask(item) for item in node]
    return node


def answer_of(response: httpx.Response) -> Answer:
    try:
        body: Any = _mask(response.json())
    except ValueError:
        body = response.text
    headers = [("content-type", response.headers.get("content-type", "").split(";")[0].strip())]
    for name in COMPARED_HEADERS:
        value = response.headers.get(name)
        if value is not None and name == "allow":
            # HEAD and OPTIONS may be served by the framework itself (CONTRACT.md; Litestar
            # serves OPTIONS everywhere), and the order is the framework's.
            listed = {m.strip() for m in value.split(",")}
            value = ", ".join(sorted(listed - set(IMPLICIT_METHODS)))
        if value is not None:
            headers.append((name, value))
    return Answer(response.status_code, body, tuple(headers))


def comparable_answers(request: RecordedRequest, answers: dict[str, Answer]) -> dict[str, Answer]:
    """Set aside the answers the contract lets a framework choose."""
    kept = dict(answers)
    if request.method == "HEAD":
        kept = {name: answer for name, answer in kept.items() if answer.status != 405}
    if request.method == "OPTIONS":
        # 405 as for any other method, or the framework's own empty 2xx answer.
        kept = {
            name: answer
            for name, answer in kept.items()
            if answer.status != 405 and not (200 <= answer.status < 300 and not answer.body)
        }
    if not urlsplit(request.target).path.endswith("/"):
        kept = {name: answer for name, answer in kept.items() if answer.status != 307}
    return kept


def send(client: httpx.Client, request: RecordedRequest, headers: list[tuple[str, str]]) -> Answer:
    """One replayed request, bounded as the suite's are: the whole answer within the request
    deadline, its body read to MAX_ANSWER_BYTES (an outside server may be any server)."""
    started = time.monotonic()
    try:
        with client.stream(
            request.method, request.target, headers=headers, content=request.body or None
        ) as response:
            body = bytearray()
            for chunk in response.iter_raw():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    return Answer(-1, f"AnswerTooLarge: over {MAX_ANSWER_BYTES} bytes", ())
                if time.monotonic() - started > REQUEST_DEADLINE:
                    return Answer(-1, f"AnswerTooSlow: over {REQUEST_DEADLINE:g} s", ())
            whole = httpx.Response(
                response.status_code, headers=response.headers, content=bytes(body)
            )
    except httpx.HTTPError as exc:
        return Answer(-1, f"{type(exc).__name__}: {exc}", ())
    whole.request = response.request
    return answer_of(whole)


def curl_line(request: RecordedRequest, bodies: Path) -> str:
    parts = ["curl", "-sS", "-i", "--path-as-is", "-X", shlex.quote(request.method)]
    parts.append('"$BASE"' + shlex.quote(request.target))
    for name, value in request.headers:
        if name.lower() not in {"user-agent", "accept-encoding", "accept"}:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if request.body:
        text = request.body.decode("utf-8", errors="replace")
        if text.encode() == request.body and text.isprintable():
            parts += ["--data-binary", shlex.quote(text)]
        else:
            bodies.mkdir(parents=True, exist_ok=True)
            name = hashlib.sha256(request.body).hexdigest()[:16] + ".bin"
            (bodies / name).write_bytes(request.body)
            parts += ["--data-binary", shlex.quote(f"@{bodies / name}")]
    return " ".join(parts)


def write_differential(
    differences: Sequence[Difference], replayed: int, impls: Sequence[str], reports: Path
) -> Path:
    groups: dict[str, list[Difference]] = defaultdict(list)
    for difference in differences:
        groups[difference.group].append(difference)
    lines = [
        "# Differential replay of the schemathesis cases",
        "",
        f"{replayed} distinct recorded requests (every phase, positive and negative) sent to "
        f"{', '.join(impls)}; {len(differences)} differ in status, JSON body or a contract "
        "header. Allowed framework differences (307 to the slash form, HEAD or OPTIONS "
        "served by the framework) are not "
        "counted. Set `BASE` to a server (e.g. `make serve IMPL=fastapi` and "
        "`BASE=http://127.0.0.1:8000`) to rerun a curl line.",
        "",
    ]
    if len(impls) < 2:
        lines += ["Only one implementation exists: nothing to compare yet.", ""]
    for group, members in sorted(groups.items()):
        lines += [f"## {group} ({len(members)} requests)", ""]
        for difference in members[:EXAMPLES_PER_GROUP]:
            lines += [f"- from {difference.request.origin}", "", "```sh"]
            lines += [curl_line(difference.request, reports / "differential-bodies"), "```", ""]
            lines += ["| implementation | status | body | headers |", "|---|---|---|---|"]
            for name, answer in difference.answers.items():
                body = json.dumps(answer.body)[:300].replace("|", "\\|")
                headers = "; ".join(f"{k}: {v}" for k, v in answer.headers).replace("|", "\\|")
                lines.append(f"| {name} | {answer.status} | `{body}` | {headers} |")
            lines.append("")
    path = reports / "differential.md"
    path.write_text("\n".join(lines))
    return path


def replay(
    requests: Sequence[RecordedRequest], clients: dict[str, httpx.Client]
) -> list[Difference]:
    refresh = TokenRefresher()
    differences = []
    for request in requests:
        headers = refresh(request.headers, request.recorded_at)
        answers = {name: send(client, request, headers) for name, client in clients.items()}
        kept = comparable_answers(request, answers)
        if len({_fingerprint(answer) for answer in kept.values()}) > 1:
            differences.append(Difference(request, answers))
    return differences


def _fingerprint(answer: Answer) -> str:
    fields = {"status": answer.status, "body": answer.body, "headers": list(answer.headers)}
    return json.dumps(fields, sort_keys=True, default=str)


def replay_all(
    servers: dict[str, str],
    cassettes: Sequence[Path],
    reports: Path,
    console: Console,
    names: Sequence[str] = (),
) -> int:
    """Replay every recorded request against every server (name -> base URL); the number of
    differences, also written to reports/differential.md. `names`: the implementations
    fuzzed, when fewer than two servers were started."""
    requests = recorded_requests(cassettes)
    names = list(servers) or list(names)
    console.print(f"differential: {len(requests)} distinct requests x {len(names)} implementations")
    started = time.monotonic()
    differences: list[Difference] = []
    if len(names) > 1:
        with contextlib.ExitStack() as stack:
            clients = {
                name: stack.enter_context(httpx.Client(base_url=url, timeout=30.0))
                for name, url in servers.items()
            }
            differences = replay(requests, clients)
    path = write_differential(differences, len(requests), names, reports)
    style = "green" if not differences else "bold red"
    console.print(
        f"[{style}]differential: {len(differences)} differences[/{style}] "
        f"in {time.monotonic() - started:.1f} s ({path})"
    )
    return len(differences)
