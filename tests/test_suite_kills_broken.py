"""The suite proves itself: each deliberately broken variant of impl_fastapi must fail it, and the
intact implementation, run beside them on the same checks, must pass.

A variant is the real app behind a raw ASGI wrapper that rewrites one thing on the wire, or the
real app with one core piece swapped on that app instance only (never on the class or module, so
nothing leaks into other tests). The suite runs in a subprocess through `python -m conformance
--app-factory NAME=tests.test_suite_kills_broken:FACTORY`, on the families of checks that cover
the contract area the variant breaks (never a list of the tests known to catch it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from pydantic import SecretStr

from core.asgi import MAX_BODY_BYTES, ASGIApp, Message, Receive, Scope, Send
from core.settings import Settings
from core.tokens import TokenService
from core.users import User
from impl_fastapi.app import create_app

ROOT = Path(__file__).resolve().parents[1]
Headers = list[tuple[bytes, bytes]]
RequestEdit = Callable[[Scope, bytes], bytes]
ResponseEdit = Callable[[Scope, bytes, int, Headers, bytes], tuple[int, Headers, bytes]]


# --- a raw ASGI wrapper that rewrites the request body or the whole response ----------------


async def _read_at_most(receive: Receive, limit: int) -> tuple[list[Message], bool]:
    """The request's body messages up to `limit` bytes; True when the body ended within it.
    Bounded, so that the wrapper never reads what the app's own body limit would refuse."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, False
        size += len(message.get("body", b""))
        if size > limit:
            return messages, False
        if not message.get("more_body", False):
            return messages, True


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def _set_length(headers: Headers, size: int) -> Headers:
    kept = [(name, value) for name, value in headers if name.lower() != b"content-length"]
    return [*kept, (b"content-length", str(size).encode())]


class Rewrite:
    def __init__(
        self,
        app: ASGIApp,
        *,
        request: RequestEdit | None = None,
        response: ResponseEdit | None = None,
    ) -> None:
        self.app = app
        self.request = request
        self.response = response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        if self.request is not None or self.response is not None:
            messages, complete = await _read_at_most(receive, MAX_BODY_BYTES)
            if complete:
                body = b"".join(m.get("body", b"") for m in messages)
                if self.request is not None:
                    body = self.request(scope, body)
                    headers = _set_length(list(scope["headers"]), len(body))
                    scope = {**scope, "headers": headers}
                    messages = [{"type": "http.request", "body": body, "more_body": False}]
            receive = _replay(messages, receive)
        if self.response is None:
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self._capture(scope, body, send))

    def _capture(self, scope: Scope, request_body: bytes, send: Send) -> Send:
        assert self.response is not None
        edit = self.response
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            status, headers, body = edit(
                scope,
                request_body,
                start["status"],
                list(start.get("headers", [])),
                b"".join(chunks),
            )
            await send({**start, "status": status, "headers": _set_length(headers, len(body))})
            await send({"type": "http.response.body", "body": body})

        return capture


def _drop(headers: Headers, name: bytes) -> Headers:
    return [(key, value) for key, value in headers if key.lower() != name]


def _is_token_request(scope: Scope) -> bool:
    return bool(scope["method"] == "POST" and scope["path"] == "/token")


# --- the broken variants --------------------------------------------------------------------


def drops_www_authenticate(settings: Settings | None = None) -> ASGIApp:
    def edit(_: Scope, __: bytes, status: int, headers: Headers, body: bytes) -> Any:
        return status, _drop(headers, b"www-authenticate"), body

    return Rewrite(create_app(settings), response=edit)


def forbidden_for_unauthorized(settings: Settings | None = None) -> ASGIApp:
    def edit(_: Scope, __: bytes, status: int, headers: Headers, body: bytes) -> Any:
        return (403 if status == 401 else status), headers, body

    return Rewrite(create_app(settings), response=edit)


class _ExpiredAccepted(TokenService):
    @staticmethod
    def _check_claims(payload: dict[str, Any], now: float) -> Any:
        exp = payload.get("exp")
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            now = min(now, exp - 1)  # every token looks unexpired
        return TokenService._check_claims(payload, now)


class _SignatureIgnored(TokenService):
    def _verified_payload(self, token: str) -> dict[str, Any]:
        header, payload, _ = token.split(".")
        return super()._verified_payload(f"{header}.{payload}.{_sign(self.key, header, payload)}")


def _sign(key: bytes, header: str, payload: str) -> str:
    mac = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _with_tokens(settings: Settings | None, service: type[TokenService]) -> ASGIApp:
    app = create_app(settings)
    arena = app.state.arena
    arena.tokens = service(arena.settings.resolve_secret_key, arena.tokens.lifetime_seconds)
    return app


def accepts_expired_tokens(settings: Settings | None = None) -> ASGIApp:
    return _with_tokens(settings, _ExpiredAccepted)


def ignores_the_signature(settings: Settings | None = None) -> ASGIApp:
    return _with_tokens(settings, _SignatureIgnored)


def skips_the_disabled_check(settings: Settings | None = None) -> ASGIApp:
    app = create_app(settings)

    def let_through(user: User) -> User:
        return user

    app.state.arena.require_active = let_through  # this instance only
    return app


def grants_unrequested_scopes(settings: Settings | None = None) -> ASGIApp:
    def edit(scope: Scope, body: bytes) -> bytes:
        form = dict(scope["headers"]).get(b"content-type", b"")
        if not _is_token_request(scope) or not form.startswith(
            b"application/x-www-form-urlencoded"
        ):
            return body
        pairs = [
            (k, v) for k, v in parse_qsl(body.decode(), keep_blank_values=True) if k != "scope"
        ]
        return urlencode([*pairs, ("scope", "me items")]).encode()

    return Rewrite(create_app(settings), request=edit)


def leaks_password_in_422(settings: Settings | None = None) -> ASGIApp:
    """Puts the submitted form into each 422 entry's `input`, as FastAPI's unfiltered errors do."""

    def edit(scope: Scope, request: bytes, status: int, headers: Headers, body: bytes) -> Any:
        if status != 422 or not _is_token_request(scope):
            return status, headers, body
        try:
            submitted: Any = dict(parse_qsl(request.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            submitted = request.decode("latin-1")
        document = json.loads(body)
        for entry in document["detail"]:
            entry["input"] = submitted or request.decode("latin-1")
        return status, headers, json.dumps(document).encode()

    return Rewrite(create_app(settings), response=edit)


def renames_a_scope_in_openapi(settings: Settings | None = None) -> ASGIApp:
    """`items` becomes `items:read` in the scheme and in every security requirement alike."""

    def rename(scopes: list[str]) -> list[str]:
        return ["items:read" if scope == "items" else scope for scope in scopes]

    def edit(scope: Scope, _: bytes, status: int, headers: Headers, body: bytes) -> Any:
        if scope["path"] != "/openapi.json" or status != 200:
            return status, headers, body
        document = json.loads(body)
        for scheme in document["components"]["securitySchemes"].values():
            for flow in scheme.get("flows", {}).values():
                flow["scopes"] = {rename([k])[0]: v for k, v in flow["scopes"].items()}
        for operations in document["paths"].values():
            for operation in operations.values():
                for requirement in operation.get("security", []):
                    for name in requirement:
                        requirement[name] = rename(requirement[name])
        return status, headers, json.dumps(document).encode()

    return Rewrite(create_app(settings), response=edit)


def text_plain_404(settings: Settings | None = None) -> ASGIApp:
    def edit(_: Scope, __: bytes, status: int, headers: Headers, body: bytes) -> Any:
        if status != 404:
            return status, headers, body
        kept = _drop(headers, b"content-type")
        return status, [*kept, (b"content-type", b"text/plain; charset=utf-8")], b"Not Found"

    return Rewrite(create_app(settings), response=edit)


def no_cache_control_on_token(settings: Settings | None = None) -> ASGIApp:
    def edit(scope: Scope, _: bytes, status: int, headers: Headers, body: bytes) -> Any:
        if scope["path"] == "/token":
            headers = _drop(headers, b"cache-control")
        return status, headers, body

    return Rewrite(create_app(settings), response=edit)


def _without_body_field(settings: Settings | None, name: str) -> ASGIApp:
    """The contract's /token 200 body less one field: only the check about it may fail."""

    def edit(scope: Scope, _: bytes, status: int, headers: Headers, body: bytes) -> Any:
        if not _is_token_request(scope) or status != 200:
            return status, headers, body
        document = json.loads(body)
        del document[name]
        return status, headers, json.dumps(document).encode()

    return Rewrite(create_app(settings), response=edit)


def no_scope_in_body(settings: Settings | None = None) -> ASGIApp:
    return _without_body_field(settings, "scope")


def no_expires_in(settings: Settings | None = None) -> ASGIApp:
    return _without_body_field(settings, "expires_in")


def _with_settings(settings: Settings | None, **changes: Any) -> ASGIApp:
    assert settings is not None
    return create_app(settings.model_copy(update=changes))


def hour_long_tokens(settings: Settings | None = None) -> ASGIApp:
    """Tokens of 60 minutes, expires_in 3600: consistent, but not the contract's 30."""
    return _with_settings(settings, access_token_expire_minutes=60)


def another_key(settings: Settings | None = None) -> ASGIApp:
    """Runs with a key other than the one the suite configured, as a server started with
    another ARENA_SECRET_KEY than --secret-key says: the key checks skip, nothing fails."""
    return _with_settings(settings, secret_key=SecretStr("another-key-" + "0123456789" * 4))


@dataclass(frozen=True, slots=True)
class Variant:
    factory: Callable[..., ASGIApp]
    #: The check families covering the contract area the variant breaks.
    families: tuple[str, ...]
    breaks: str
    #: Where set: the MUST checks that must fail, and only these (every other check of the
    #: run ends as it does on the intact implementation), among all the run's families.
    exactly: frozenset[str] | None = None


VARIANTS: dict[str, Variant] = {
    "drops-www-authenticate": Variant(
        drops_www_authenticate, ("AUTH",), "no WWW-Authenticate on 401 (Authentication 1-3)"
    ),
    "403-for-401": Variant(
        forbidden_for_unauthorized, ("AUTH",), "403 where the contract says 401"
    ),
    "accepts-expired": Variant(accepts_expired_tokens, ("AUTH",), "past exp accepted"),
    "ignores-signature": Variant(ignores_the_signature, ("AUTH",), "any signature accepted"),
    "skips-disabled-check": Variant(
        skips_the_disabled_check, ("AUTH",), "disabled users pass (Authentication 4)"
    ),
    "grants-unrequested-scopes": Variant(
        grants_unrequested_scopes, ("SCOPE",), "scope rewritten to 'me items' (H1)"
    ),
    "leaks-password-in-422": Variant(
        leaks_password_in_422, ("TOK",), "the form, password included, echoed in 422"
    ),
    "renamed-scope-in-openapi": Variant(
        renames_a_scope_in_openapi, ("OAS",), "`items` renamed in the OpenAPI document"
    ),
    "text-plain-404": Variant(text_plain_404, ("ROUTE",), "404 as text/plain (H7)"),
    "no-cache-control-on-token": Variant(
        no_cache_control_on_token, ("TOK",), "no Cache-Control: no-store on /token"
    ),
    "no-scope-in-body": Variant(
        no_scope_in_body, ("TOK", "SCOPE"), "no `scope` in the /token body",
        exactly=frozenset({"TOK-001"}),
    ),
    "no-expires-in": Variant(
        no_expires_in, ("TOK", "SCOPE"), "no `expires_in` in the /token body",
        exactly=frozenset({"TOK-001"}),
    ),
    "hour-long-tokens": Variant(
        hour_long_tokens, ("TOK", "SCOPE"), "tokens of 60 minutes (expires_in 3600)",
        exactly=frozenset({"TOK-001", "TOK-004"}),
    ),
}  # fmt: skip
#: Not broken: run with another key than the suite's. Its key checks skip, none fails.
OTHER_KEY = "another-key"
INTACT = "intact"


# --- running the suite against them ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupRun:
    families: tuple[str, ...]
    returncode: int
    output: str
    report: dict[str, Any]

    def failed_checks(
        self, target: str, level: str = "MUST", families: tuple[str, ...] | None = None
    ) -> list[str]:
        return [
            check["id"]
            for check in self.report["checks"]
            if check["level"] == level
            and (families is None or check["family"] in families)
            and check["results"].get(target, {}).get("outcome") == "fail"
        ]

    def passed_checks(self, target: str) -> list[str]:
        return [
            check["id"]
            for check in self.report["checks"]
            if check["results"].get(target, {}).get("outcome") == "pass"
        ]


def _command(families: tuple[str, ...], names: list[str], report_dir: Path) -> list[str]:
    command = [sys.executable, "-m", "conformance", "--no-diff", "--report-dir", str(report_dir)]
    command += ["--app-factory", f"{INTACT}=impl_fastapi.app:create_app"]
    for name in names:
        factory = another_key if name == OTHER_KEY else VARIANTS[name].factory
        command += ["--app-factory", f"{name}={__name__}:{factory.__name__}"]
    for family in families:
        command += ["--family", family]
    return command


#: The AUTH checks are the costly ones (hundreds of token cases), so the variants judged on them
#: share one run and all the others share a second; both runs go side by side (two cores).
HEAVY_FAMILIES = frozenset({"AUTH"})


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GroupRun]:
    """The suite on the intact app beside the variants, one run per group of variants, each run
    selecting the union of its variants' families. Maps each variant (and "intact/<families>")
    to the run that judged it."""
    groups: dict[bool, list[str]] = {}
    for name, variant in VARIANTS.items():
        groups.setdefault(bool(HEAVY_FAMILIES & set(variant.families)), []).append(name)
    # The other key beside the TOK and SCOPE variants: those read what /token answers.
    groups[False].append(OTHER_KEY)
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARENA_")}
    env["COLUMNS"] = "160"
    started: list[tuple[tuple[str, ...], list[str], Path, subprocess.Popen[str]]] = []
    for names in groups.values():
        families = tuple(
            sorted({f for name in names if name in VARIANTS for f in VARIANTS[name].families})
        )
        report_dir = tmp_path_factory.mktemp("kill-" + "-".join(families).lower())
        process = subprocess.Popen(  # noqa: S603 (our interpreter, fixed arguments)
            _command(families, names, report_dir),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append((families, names, report_dir, process))
    result: dict[str, GroupRun] = {}
    for families, names, report_dir, process in started:
        output, _ = process.communicate(timeout=420)  # the machine may be shared
        report_path = report_dir / "conformance.json"
        assert report_path.exists(), output
        run = GroupRun(families, process.returncode, output, json.loads(report_path.read_text()))
        result[f"{INTACT}/{'+'.join(families)}"] = run
        result.update(dict.fromkeys(names, run))
    return result


@pytest.mark.parametrize("name", list(VARIANTS))
def test_broken_variant_fails_the_suite(runs: dict[str, GroupRun], name: str) -> None:
    """Judged only on the checks of the variant's own families, though its run may hold more."""
    run, variant = runs[name], VARIANTS[name]
    killed_by = run.failed_checks(name, families=variant.families)
    assert killed_by, (
        f"the {', '.join(variant.families)} checks passed {name!r}, which breaks: "
        f"{variant.breaks}\n{run.output[-3000:]}"
    )
    # The runner's verdict follows: a MUST failure on any target is a non-zero exit.
    assert run.returncode == 1, run.output[-3000:]


@pytest.mark.parametrize("name", [n for n, v in VARIANTS.items() if v.exactly is not None])
def test_one_difference_fails_exactly_its_checks(runs: dict[str, GroupRun], name: str) -> None:
    """One field or one setting apart from the contract: the checks about it fail, every other
    check of the run ends as on the intact implementation (no KeyError cascading elsewhere)."""
    run, variant = runs[name], VARIANTS[name]
    assert variant.exactly is not None
    assert set(run.failed_checks(name)) == variant.exactly, run.output[-3000:]
    assert run.failed_checks(name, "SHOULD") == []
    for check in run.report["checks"]:
        if check["id"] in variant.exactly:
            continue
        ours = check["results"][name]["outcome"]
        assert ours == check["results"][INTACT]["outcome"], (check["id"], check["results"][name])
    failures = [f for f in run.report["failures"] if f["target"] == name]
    assert failures
    for failure in failures:
        assert "KeyError" not in failure["message"], failure
        assert "expected" in failure["message"], failure


def test_another_key_skips_the_key_checks_and_fails_none(runs: dict[str, GroupRun]) -> None:
    run = runs[OTHER_KEY]
    problem = run.report["setup"][OTHER_KEY]["key_problem"]
    assert problem == (
        f"key: tokens from {OTHER_KEY} are not signed with the key the suite configured it with"
    )
    # Said at the start, before the checks, in one line.
    first_lines = run.output.splitlines()[:4]
    assert any("not signed with the key" in line for line in first_lines), first_lines
    assert run.failed_checks(OTHER_KEY) == [], run.output[-3000:]
    skipped = [
        check["id"]
        for check in run.report["checks"]
        if check["results"][OTHER_KEY]["outcome"] == "skip"
        and check["results"][INTACT]["outcome"] == "pass"
    ]
    # TOK-003 verifies the signature, ROUTE-001 presents a token the suite minted.
    assert {"TOK-003", "ROUTE-001", "ROUTE-002", "ROUTE-003"} <= set(skipped), skipped
    for check in run.report["checks"]:
        for case in check["results"][OTHER_KEY]["cases"]:
            if case["outcome"] == "skipped" and check["results"][INTACT]["outcome"] == "pass":
                assert case["message"] == problem, (check["id"], case)
    # Checks that only read what /token answers run without the key.
    outcome = {c["id"]: c["results"][OTHER_KEY]["outcome"] for c in run.report["checks"]}
    for check_id in ("TOK-001", "TOK-004", "TOK-005", "TOK-016", "SCOPE-001", "SCOPE-008"):
        assert outcome[check_id] == "pass", check_id
    assert run.report["exit_code"] == 1


def test_intact_implementation_passes_beside_them(runs: dict[str, GroupRun]) -> None:
    controls = {key: run for key, run in runs.items() if key.startswith(f"{INTACT}/")}
    assert len(controls) == 2
    for key, run in controls.items():
        assert run.failed_checks(INTACT) == [], f"{key}\n{run.output[-3000:]}"
        assert run.failed_checks(INTACT, "SHOULD") == [], f"{key}\n{run.output[-3000:]}"
        assert run.passed_checks(INTACT), f"{key}: no check ran"


# The wrapper itself must not break what it does not mean to break: an identity Rewrite over the
# app answers as the app does, so a variant's failures come from its edit alone.
async def test_identity_rewrite_changes_nothing() -> None:
    def same_response(_: Scope, __: bytes, status: int, headers: Headers, body: bytes) -> Any:
        return status, headers, body

    def same_request(_: Scope, body: bytes) -> bytes:
        return body

    async def answers(app: ASGIApp) -> list[tuple[int, str, str | None]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            login = await client.post("/token", data={"username": "johndoe", "password": "x"})
            missing = await client.get("/users/me/")
            big = await client.post("/token", content=b"x" * (MAX_BODY_BYTES + 1))
        return [
            (r.status_code, r.text, r.headers.get("www-authenticate"))
            for r in (login, missing, big)
        ]

    settings = Settings(
        secret_key=SecretStr("k" * 32), database_url="memory://", demo_users=True,
        password_profile="cheap",
    )  # fmt: skip
    plain = await answers(create_app(settings))
    wrapped = await answers(
        Rewrite(create_app(settings), request=same_request, response=same_response)
    )
    assert wrapped == plain
    assert [status for status, _, _ in plain] == [400, 401, 413]
