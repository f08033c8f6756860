"""Helpers the checks share: forging tokens byte by byte, logging in, asserting error answers,
recording framework-dependent variants and building extra in-process apps of a target."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import httpx
import pytest
from pydantic import SecretStr

from conformance.conftest import ASGIApp, Target
from conformance.runner import BLOCKED_PREFIX
from conformance.servers import IMPLEMENTATIONS
from core import registry
from core.settings import Settings

USERS_ME = "/users/me/"
ITEMS = "/users/me/items/"
STATUS = "/status/"
#: Each protected route with the WWW-Authenticate value of its 401 answers (CONTRACT
#: "Authentication" 2 and 3): the route's own scopes, then its dependencies'.
PROTECTED: tuple[tuple[str, str], ...] = (
    (USERS_ME, 'Bearer scope="me"'),
    (ITEMS, 'Bearer scope="items me"'),
    (STATUS, "Bearer"),
)
JOHNDOE = {
    "username": "johndoe",
    "email": "johndoe@example.com",
    "full_name": "John Doe",
    "disabled": False,
}
#: The tutorial's published SECRET_KEY: no implementation may accept tokens signed with it.
TUTORIAL_KEY = b"09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7"
OTHER_KEY = b"another-key-that-is-long-enough-0123456789abcdef"
B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


# --- tokens, byte by byte -------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: Mapping[str, Any] | str | bytes) -> str:
    """A JWS segment from a JSON object, or from raw JSON text given as str/bytes."""
    if isinstance(value, Mapping):
        raw = json.dumps(dict(value), separators=(",", ":")).encode()
    elif isinstance(value, str):
        raw = value.encode()
    else:
        raw = value
    return b64url(raw)


def hmac_signature(signing_input: str, key: bytes, digest: str = "sha256") -> str:
    return b64url(hmac.new(key, signing_input.encode("ascii"), digest).digest())


def forge(
    header: Mapping[str, Any] | str | bytes,
    payload: Mapping[str, Any] | str | bytes,
    key: bytes | None,
    *,
    digest: str = "sha256",
    signature: str | None = None,
) -> str:
    """A compact JWS with exactly these parts: HMAC-`digest` with `key`, or `signature` as given
    (the empty string when both are None). No library normalises anything on the way."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    if signature is None:
        signature = "" if key is None else hmac_signature(signing_input, key, digest)
    return f"{signing_input}.{signature}"


HS256 = {"alg": "HS256", "typ": "JWT"}


def claims(
    sub: Any = "johndoe", scope: Any = "me items", lifetime: float = 1800, **extra: Any
) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": sub, "scope": scope, "exp": now + lifetime, "iat": now, **extra}


def valid(key: bytes, **overrides: Any) -> str:
    """A well-formed HS256 token signed with `key` (johndoe, all scopes unless overridden)."""
    return forge(HS256, claims(**overrides), key)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def decode_segment(text: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def token_claims(token: str) -> dict[str, Any]:
    """A token's claims read without the key (what it carries, not whether it is genuine): the
    checks that judge what /token grants need no key, so they run whatever --secret-key says."""
    parts = token.split(".")
    assert len(parts) == 3, f"expected a compact JWS (three dot-separated parts), got {token!r:.80}"
    try:
        payload = decode_segment(parts[1])
    except ValueError as exc:
        raise AssertionError(f"expected a base64url JSON payload, got {parts[1]!r:.80}") from exc
    assert isinstance(payload, dict), f"expected the payload to be a JSON object, got {payload!r}"
    return payload


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- requests and answers -------------------------------------------------------------------


def block(reason: str) -> NoReturn:
    """This check cannot run: something it needs (a login, the key) is not there. Neither a
    pass nor a failure of the rule it judges."""
    pytest.skip(BLOCKED_PREFIX + reason)


def describe(response: httpx.Response, limit: int = 300) -> str:
    """What came back, in one line: status and the start of the body."""
    try:
        text = response.text
    except httpx.ResponseNotRead:
        text = "(body not read)"
    text = " ".join(text.split())
    return f"{response.status_code} {text[:limit]}{'…' if len(text) > limit else ''}".strip()


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise AssertionError(f"expected a JSON body, got {describe(response)}") from exc


def body_field(response: httpx.Response, name: str) -> Any:
    """A field of a JSON object body; its absence is a failure that says so, not a KeyError."""
    body = json_body(response)
    assert isinstance(body, dict), f"expected a JSON object with `{name}`, got {describe(response)}"
    assert name in body, f"expected a `{name}` field in the body, got {describe(response)}"
    return body[name]


def header(response: httpx.Response, name: str) -> str:
    value: str | None = response.headers.get(name)
    assert value is not None, (
        f"expected a {name} header, got none (headers: {', '.join(sorted(response.headers))})"
    )
    return value


def issued_token(response: httpx.Response) -> str:
    """The access token of a /token answer that must be a 200."""
    assert response.status_code == 200, f"expected 200 from /token, got {describe(response)}"
    token = body_field(response, "access_token")
    assert isinstance(token, str), f"expected a string access_token, got {token!r}"
    return token


def granted_scope(response: httpx.Response) -> str:
    """The scopes a /token 200 granted, read from what the token carries (its `scope` claim,
    without the key). Where the body has a `scope` field too it must say the same; a body
    without one fails TOK-001 alone, not every check about scopes."""
    claims = token_claims(issued_token(response))
    scope = claims.get("scope")
    assert isinstance(scope, str), f"expected a string `scope` claim in the token, got {claims!r}"
    body = json_body(response)
    if isinstance(body, dict) and "scope" in body:
        assert body["scope"] == scope, (
            f"the body's scope {body['scope']!r} differs from the token's scope claim {scope!r}"
        )
    return scope


async def login(
    client: httpx.AsyncClient,
    username: str = "johndoe",
    password: str = "secret",  # noqa: S107 (the tutorial's published demo password)
    scope: str | None = "me items",
) -> httpx.Response:
    form = {"username": username, "password": password}
    if scope is not None:
        form["scope"] = scope
    return await client.post("/token", data=form)


async def token_for(
    client: httpx.AsyncClient, username: str = "johndoe", scope: str = "me items"
) -> str:
    """A token obtained through the target's own /token (not minted by the suite)."""
    password = {"johndoe": "secret", "alice": "secretalice"}[username]
    response = await login(client, username, password, scope)
    if response.status_code != 200:
        # Logging in is judged by the TOK checks; here it is only what this check needs.
        got = describe(response)
        block(f"needs a token from /token: {username} with scope {scope!r} got {got}")
    token = body_field(response, "access_token")
    if not isinstance(token, str):
        block(f"needs a token from /token: access_token is {token!r}")
    return token


def assert_error(
    response: httpx.Response,
    status: int,
    detail: str,
    www_authenticate: str | None = None,
) -> None:
    """Status, exact JSON body and, when given, the exact WWW-Authenticate value."""
    expected = f"{status} {json.dumps({'detail': detail})}"
    assert response.status_code == status, f"expected {expected}, got {describe(response)}"
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), (
        f"expected a JSON answer, got Content-Type {content_type!r}: {describe(response)}"
    )
    body = json_body(response)
    assert body == {"detail": detail}, f"expected {expected}, got {describe(response)}"
    if www_authenticate is not None:
        got = response.headers.get("www-authenticate")
        assert got == www_authenticate, (
            f"expected WWW-Authenticate: {www_authenticate}, got {got!r}"
        )


def assert_json_error(response: httpx.Response) -> None:
    """H2/H7: a 4xx (or 503) JSON answer with a `detail` key and no traceback."""
    assert 400 <= response.status_code < 500 or response.status_code == 503, (
        f"expected a 4xx or 503 answer, got {describe(response)}"
    )
    if response.request.method != "HEAD":
        content_type = response.headers.get("content-type", "")
        assert content_type.startswith("application/json"), (
            f"expected a JSON error, got Content-Type {content_type!r}: {describe(response)}"
        )
        body = json_body(response)
        assert isinstance(body, dict), f"expected a JSON object, got {describe(response)}"
        assert "detail" in body, f"expected a `detail` key, got {describe(response)}"
        assert "Traceback" not in response.text, f"expected no traceback, got {describe(response)}"


def record_variant(request: pytest.FixtureRequest, variant: str) -> None:
    """A framework-dependent point where the contract allows either answer: noted for the
    comparison report."""
    request.node.user_properties.append(("variant", variant))


# --- extra in-process apps ------------------------------------------------------------------


def importable_implementations() -> list[str]:
    return registry.importable(IMPLEMENTATIONS)


def app_factory(config: pytest.Config, name: str) -> Callable[[Settings], ASGIApp]:
    """How the in-process target `name` is built: its --app-factory, else impl_<name>.app."""
    specs = dict(spec.split("=", 1) for spec in config.getoption("--app-factory", default=[]))
    module_name, _, attribute = specs.get(name, registry.factory_path(name)).partition(":")
    factory: Callable[[Settings], ASGIApp] = getattr(
        importlib.import_module(module_name), attribute
    )
    return factory


def build_app(config: pytest.Config, name: str, settings: Settings) -> ASGIApp:
    """Another instance of target `name`, with other settings (an extra in-process app)."""
    return app_factory(config, name)(settings)


def asgi_client(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=30.0
    )


def full_cost_client(request: pytest.FixtureRequest, target: Target) -> httpx.AsyncClient:
    """A client of `target` whose password checks run at the recommended argon2 cost: the live
    server as it is, or a fresh in-process instance (the shared one uses cheap hashes)."""
    if target.live:
        return target.client()
    settings = Settings(
        secret_key=SecretStr(target.secret_key),
        database_url="memory://",
        demo_users=True,
        password_profile="recommended",
        login_rate_limit=False,  # timing checks log in many times, wrongly (H12: RATE checks)
    )
    return asgi_client(build_app(request.config, target.name, settings))


def skip_if_live(target: Target, reason: str) -> None:
    if target.live:
        pytest.skip(f"in-process only: {reason}")
