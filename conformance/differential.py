"""Differential mode: one fixed corpus of requests sent to every target. A difference in status,
JSON body (volatile values replaced by their shape) or contract headers is a finding, unless the
contract allows either answer (CONTRACT.md "Framework-dependent points"): those are listed apart.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import hmac
import importlib
import json
import shlex
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import httpx
from pydantic import SecretStr

from conformance.bounded import bounded_client
from conformance.openapi import normalize
from conformance.runner import TargetSpec
from core.settings import Settings
from core.tokens import TokenService

#: Headers whose values the contract fixes; any other header may differ between frameworks.
CONTRACT_HEADERS = (
    "www-authenticate", "allow", "cache-control", "pragma", "retry-after", "location",
)  # fmt: skip
Kind = Literal["plain", "no-slash", "head", "openapi", "page"]
_BOUNDARY = "conformance-differential-boundary"
_WRONG_KEY = "not-the-key-of-any-target-0123456789abcdef0123456789"


@dataclass(frozen=True, slots=True)
class Probe:
    """One request of the corpus and how its answers are compared (`kind`)."""

    id: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str | None = None
    body: bytes = b""
    #: How curl would send the body, when --data-binary with the literal body would not do.
    curl_body: str | None = None
    kind: Kind = "plain"

    def request_headers(self) -> list[tuple[str, str]]:
        extra = [] if self.content_type is None else [("Content-Type", self.content_type)]
        return [*extra, *self.headers]

    def curl(self) -> str:
        """The request as a curl line against "$BASE", a target's base URL."""
        parts = ["curl", "-sS", "-I" if self.method == "HEAD" else "-i"]
        if self.method not in ("GET", "HEAD") or (self.method == "GET" and self.body):
            parts += ["-X", self.method]
        parts.append(f'"$BASE{self.path}"')
        multipart = self.content_type is not None and self.content_type.startswith(
            "multipart/form-data"
        )
        for name, value in self.request_headers():
            if multipart and self.curl_body and name.lower() == "content-type":
                continue  # curl -F writes its own, with its own boundary
            # "Name;" is how curl sends a header with an empty value.
            parts += ["-H", shlex.quote(f"{name}: {value}" if value else f"{name};")]
        if self.curl_body is not None:
            parts.append(self.curl_body)
        elif self.body:
            parts += ["--data-binary", shlex.quote(self.body.decode("utf-8", "replace"))]
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Answer:
    """A response reduced to what the contract fixes."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "headers": self.headers, "body": self.body}

    def summary(self, limit: int = 300) -> str:
        headers = "; ".join(f"{name}: {value}" for name, value in self.headers.items())
        body = "" if self.body is None else json.dumps(self.body, ensure_ascii=False)
        if len(body) > limit:
            body = body[: limit - 1] + "…"
        return " ".join(part for part in (str(self.status), body, f"[{headers}]") if part)


#: The comparable form of an answer the contract allows whichever way a framework gives it.
ALLOWED_HEAD = Answer(0, {}, "HEAD answered as the contract allows (405, or GET without a body)")
ALLOWED_OPTIONS = Answer(0, {}, "OPTIONS answered as 405 with Allow, or by the framework itself")
ALLOWED_NOT_REDIRECTED = Answer(
    0, {}, "no slash, not GET: 404 where the framework would redirect, or the slash form's answer"
)
NOT_FOUND = Answer(404, {"content-type": "application/json"}, {"detail": "Not Found"})
#: Methods a framework may serve on its own (HEAD on GET routes in Starlette, OPTIONS on every
#: route in Litestar 2.x, which has no switch for it); listing them in Allow goes with that.
IMPLICIT_METHODS = ("HEAD", "OPTIONS")


@dataclass(frozen=True, slots=True)
class Observation:
    target: str
    answer: Answer
    #: What is compared across targets: the answer, or what the contract lets it stand for.
    comparable: Answer
    #: The framework-dependent choices this answer made, e.g. "307 to the slash form".
    labels: tuple[str, ...] = ()
    #: The answer at the redirect's Location, when the target redirected.
    followed: Answer | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    probe: Probe
    observations: tuple[Observation, ...]
    #: Which parts differ: "status", "body", "header www-authenticate", ...
    fields: tuple[str, ...]
    #: JSON paths where the bodies differ (for long bodies such as the OpenAPI document).
    paths: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "probe": self.probe.id,
            "request": self.probe.curl(),
            "differs_in": list(self.fields),
            "body_paths": list(self.paths),
            "answers": {
                obs.target: {
                    **obs.answer.to_json(),
                    "labels": list(obs.labels),
                    **({"followed": obs.followed.to_json()} if obs.followed else {}),
                }
                for obs in self.observations
            },
        }


@dataclass(frozen=True, slots=True)
class FrameworkDifference:
    probe: Probe
    labels: dict[str, tuple[str, ...]]

    def to_json(self) -> dict[str, Any]:
        return {
            "probe": self.probe.id,
            "request": self.probe.curl(),
            "answers": {target: list(labels) for target, labels in self.labels.items()},
        }


@dataclass(slots=True)
class DiffResult:
    targets: list[str]
    probes: int
    findings: list[Finding] = field(default_factory=list)
    framework_differences: list[FrameworkDifference] = field(default_factory=list)
    duration: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "targets": self.targets,
            "requests": self.probes,
            "findings": [finding.to_json() for finding in self.findings],
            "framework_differences": [diff.to_json() for diff in self.framework_differences],
            "duration_seconds": round(self.duration, 3),
        }


# --- the corpus -------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jws(header: dict[str, Any], claims: dict[str, Any], key: str | None, digest: str) -> str:
    """A token built by hand, so that odd headers and claims are exactly what is asked for."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if key is None:
        return f"{signing_input}."
    mac = hmac.new(key.encode(), signing_input.encode(), getattr(hashlib, digest))
    return f"{signing_input}.{_b64(mac.digest())}"


def tokens(secret_key: str, now: float | None = None) -> dict[str, str]:
    """Tokens minted with the targets' key: valid ones from the core, odd ones by hand."""
    issued = int(time.time() if now is None else now)
    service = TokenService(secret_key.encode, 1800)

    def core(subject: str, *scopes: str) -> str:
        return service.issue(subject, scopes, now=issued).access_token

    claims = {"sub": "johndoe", "scope": "me items", "iat": issued, "exp": issued + 1800}
    hs256 = {"alg": "HS256", "typ": "JWT"}

    def odd(changes: dict[str, Any], drop: str = "", header: dict[str, Any] = hs256) -> str:
        body = {k: v for k, v in {**claims, **changes}.items() if k != drop}
        return _jws(header, body, secret_key, "sha256")

    return {
        "valid": core("johndoe", "me", "items"),
        "me": core("johndoe", "me"),
        "items": core("johndoe", "items"),
        "no-scope": core("johndoe"),
        "disabled": core("alice", "me", "items"),
        "unknown-user": core("nobody", "me", "items"),
        "upper-case-scopes": odd({"scope": "ME ITEMS"}),
        "scope-claim-absent": odd({}, drop="scope"),
        "expired": odd({"iat": issued - 3600, "exp": issued - 60}),
        "exp-absent": odd({}, drop="exp"),
        "exp-string": odd({"exp": str(issued + 1800)}),
        "sub-absent": odd({}, drop="sub"),
        "scope-list": odd({"scope": ["me", "items"]}),
        "aud": odd({"aud": "api"}),
        "wrong-key": _jws(hs256, claims, _WRONG_KEY, "sha256"),
        "alg-none": _jws({"alg": "none", "typ": "JWT"}, claims, None, "sha256"),
        "alg-hs512": _jws({"alg": "HS512", "typ": "JWT"}, claims, secret_key, "sha512"),
        "alg-rs256": odd({}, header={"alg": "RS256", "typ": "JWT"}),
        "oversized": odd({"pad": "x" * 9000}),
    }


def _form(*pairs: tuple[str, str]) -> tuple[str, bytes]:
    return "application/x-www-form-urlencoded", urlencode(pairs).encode()


def _multipart(*parts: tuple[str, str, str | None]) -> tuple[str, bytes, str]:
    """(name, value, filename) parts, with a fixed boundary so the corpus is the same each run."""
    chunks: list[bytes] = []
    curl: list[str] = []
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
            curl.append(shlex.quote(f"{name}=@{filename}") + f"  # {filename} holds {value!r}")
        else:
            curl.append(shlex.quote(f"{name}={value}"))
        chunks.append(
            f"--{_BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n{value}\r\n".encode()
        )
    chunks.append(f"--{_BOUNDARY}--\r\n".encode())
    curl_body = " ".join(f"-F {part}" for part in curl)
    return f"multipart/form-data; boundary={_BOUNDARY}", b"".join(chunks), curl_body


def _part(*headers: str, value: bytes) -> bytes:
    lines = "".join(f"{header}\r\n" for header in headers)
    return f"--{_BOUNDARY}\r\n{lines}\r\n".encode("latin-1") + value + b"\r\n"


def _form_bodies() -> list[tuple[str, str, bytes]]:
    """/token bodies that frameworks' own parsers read differently (CONTRACT.md "POST /token",
    "Body"; the FORM checks): every target must answer each of them alike."""
    multipart = f"multipart/form-data; boundary={_BOUNDARY}"
    close = f"--{_BOUNDARY}--\r\n".encode()

    def named(name: str, extra: str = "") -> str:
        return f'Content-Disposition: form-data; name="{name}"{extra}'

    def charset(value: str) -> str:
        return f"Content-Type: text/plain; charset={value}"

    user, password = (
        _part(named("username"), value=b"johndoe"),
        _part(named("password"), value=b"secret"),
    )

    def as_user(*headers: str, value: bytes = b"johndoe") -> bytes:
        return _part(*headers, value=value) + password + close

    pad = b"".join(_part(named(f"f{i}"), value=b"1") for i in range(98))
    bodies = [
        ("attachment", multipart, as_user('Content-Disposition: attachment; name="username"')),
        ("preamble", multipart, b"preamble\r\n" + user + password + close),
        (
            "nameless-part",
            multipart,
            _part("Content-Disposition: form-data", value=b"x") + user + password + close,
        ),
        ("no-close", multipart, user + password),
        ("charset-utf-8", multipart, as_user(named("username"), charset("UTF-8"))),
        ("charset-x-nope", multipart, as_user(named("username"), charset("x-nope"))),
        (
            "charset-unicode-escape",
            multipart,
            as_user(named("username"), charset("unicode_escape"), value=rb"\x6aohndoe"),
        ),
        (
            "charset-utf-16",
            multipart,
            as_user(named("username"), charset("utf-16"), value="johndoe".encode("utf-16")),
        ),
        (
            "charset-latin-1",
            multipart,
            as_user(named("username"), charset("latin-1"), value="jöhndoe".encode("latin-1")),
        ),
        ("request-charset-utf-16", f"{multipart}; charset=utf-16", user + password + close),
        ("not-utf-8", multipart, as_user(named("username"), value=b"john\xffdoe")),
        ("101-parts", multipart, pad + _part(named("x"), value=b"1") + user + password + close),
        (
            "100-parts",
            multipart,
            pad + user + password + close,
        ),
        (
            "101-fields",
            "application/x-www-form-urlencoded",
            b"f=1&" * 99 + b"username=johndoe&password=secret",
        ),
        ("long-part-header", multipart, as_user(named("username"), "X-Pad: " + "a" * 1100)),
        (
            "nine-part-headers",
            multipart,
            as_user(named("username"), *(f"X-{i}: v" for i in range(8))),
        ),
        ("username-empty-filename", multipart, as_user(named("username", '; filename=""'))),
        (
            "urlencoded-with-boundary",
            f"application/x-www-form-urlencoded; boundary={_BOUNDARY}",
            b"username=johndoe&password=secret",
        ),
        (
            "boundary-71",
            "multipart/form-data; boundary=" + "b" * 71,
            (user + password + close).replace(_BOUNDARY.encode(), b"b" * 71),
        ),
        ("padded-delimiter", multipart, user + password.replace(b"\r\n", b" \r\n", 1) + close),
        ("lf-only", multipart, (user + password + close).replace(b"\r\n", b"\n")),
        (
            "header-space-before-colon",
            multipart,
            as_user('Content-Disposition : form-data; name="username"'),
        ),
        ("two-dispositions", multipart, as_user(named("nobody"), named("username"))),
        (
            "transfer-encoding-base64",
            multipart,
            as_user(named("username"), "Content-Transfer-Encoding: base64", value=b"am9obmRvZQ=="),
        ),
    ]
    return [(f"login-form-{ident}", content_type, body) for ident, content_type, body in bodies]


def corpus(secret_key: str, now: float | None = None) -> list[Probe]:
    """The fixed request corpus (CONTRACT.md, tutorial profile), about seventy requests."""
    tok = tokens(secret_key, now)
    probes: list[Probe] = []

    def login(ident: str, *pairs: tuple[str, str]) -> None:
        content_type, body = _form(*pairs)
        probes.append(Probe(ident, "POST", "/token", content_type=content_type, body=body))

    john, secret = ("username", "johndoe"), ("password", "secret")
    login("login-ok", john, secret, ("scope", "me items"))
    login("login-me-only", john, secret, ("scope", "me"))
    login("login-no-scope", john, secret)
    login("login-unknown-scope", john, secret, ("scope", "admin me"))
    login("login-repeated-scope-names", john, secret, ("scope", "items me items"))
    login("login-grant-type-password", ("grant_type", "password"), john, secret, ("scope", "me"))
    login("login-grant-type-other", ("grant_type", "client_credentials"), john, secret)
    login("login-wrong-password", john, ("password", "not-the-password"))
    login("login-unknown-user", ("username", "nobody"), secret)
    login("login-disabled-user", ("username", "alice"), ("password", "secretalice"))
    login("login-missing-username", secret)
    login("login-missing-password-and-username", ("scope", "me"))
    login("login-empty-fields", ("username", ""), ("password", ""), ("scope", ""))
    login("login-repeated-username", ("username", "nobody"), john, secret)
    login("login-repeated-password", john, ("password", "wrong"), secret)
    login("login-unknown-fields", john, secret, ("client_id", "x"), ("extra", "1"))
    login("login-password-not-echoed", ("password", "hunter2-do-not-echo"))
    login("login-unicode-password", john, ("password", "пароль-✓"))
    probes.append(Probe("login-no-body", "POST", "/token"))
    probes.append(
        Probe(
            "login-text-plain",
            "POST",
            "/token",
            content_type="text/plain",
            body=b"username=johndoe&password=secret",
        )
    )
    probes.append(
        Probe(
            "login-json-body",
            "POST",
            "/token",
            content_type="application/json",
            body=b'{"username": "johndoe", "password": "secret"}',
        )
    )
    big = 70 * 1024
    probes.append(
        Probe(
            "login-oversized-body",
            "POST",
            "/token",
            content_type="application/x-www-form-urlencoded",
            body=b"username=" + b"x" * big,
            curl_body=f"--data-binary \"username=$(head -c {big} /dev/zero | tr '\\0' x)\"",
        )
    )
    for ident, parts in (
        ("login-multipart-ok", (("username", "johndoe", None), ("password", "secret", None))),
        ("login-multipart-missing-password", (("username", "johndoe", None),)),
        (
            "login-multipart-password-as-file",
            (("username", "johndoe", None), ("password", "secret", "password.txt")),
        ),
    ):
        content_type, body, curl_body = _multipart(*parts)
        probes.append(
            Probe(
                ident, "POST", "/token", content_type=content_type, body=body, curl_body=curl_body
            )
        )
    probes.append(
        Probe(
            "login-broken-multipart",
            "POST",
            "/token",
            content_type=f"multipart/form-data; boundary={_BOUNDARY}",
            body=b"--" + _BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; name=",
        )
    )
    for ident, content_type, body in _form_bodies():
        probes.append(Probe(ident, "POST", "/token", content_type=content_type, body=body))

    def get(
        ident: str,
        path: str,
        authorization: str | None = None,
        kind: Kind = "plain",
        method: str = "GET",
    ) -> None:
        headers = () if authorization is None else (("Authorization", authorization),)
        probes.append(Probe(ident, method, path, headers=headers, kind=kind))

    for route in ("/users/me/", "/users/me/items/", "/status/"):
        name = route.strip("/").replace("/", "-")
        get(f"{name}-valid", route, f"Bearer {tok['valid']}")
        get(f"{name}-no-credentials", route)
        get(f"{name}-disabled-user", route, f"Bearer {tok['disabled']}")
        get(f"{name}-expired", route, f"Bearer {tok['expired']}")
    bad = (
        ("basic-scheme", "Basic am9obmRvZTpzZWNyZXQ="),
        ("empty-header", ""),
        ("bearer-alone", "Bearer"),
        ("bearer-lower-case", f"bearer {tok['valid']}"),
        ("two-spaces", f"Bearer  {tok['valid']}"),
        ("garbage-token", "Bearer abc"),
        ("three-dots", "Bearer a.b.c"),
        ("padded-token", f"Bearer {tok['valid']}=="),
    )
    for ident, authorization in bad:
        get(f"users-me-{ident}", "/users/me/", authorization)
    for ident in (
        "wrong-key", "alg-none", "alg-hs512", "alg-rs256", "unknown-user", "exp-absent",
        "exp-string", "sub-absent", "scope-list", "aud", "oversized", "upper-case-scopes",
        "scope-claim-absent", "no-scope",
    ):  # fmt: skip
        get(f"users-me-token-{ident}", "/users/me/", f"Bearer {tok[ident]}")
    get("users-me-items-token-me-only", "/users/me/items/", f"Bearer {tok['me']}")
    get("users-me-token-items-only", "/users/me/", f"Bearer {tok['items']}")
    get("status-token-no-scope", "/status/", f"Bearer {tok['no-scope']}")
    get("status-token-invalid", "/status/", "Bearer abc")
    get("users-me-query-ignored", "/users/me/?scope=admin", f"Bearer {tok['me']}")

    get("not-found", "/nope")
    get("not-found-prefix", "/users/")
    for ident, method, path in (
        ("method-post-users-me", "POST", "/users/me/"),
        ("method-delete-status", "DELETE", "/status/"),
        ("method-get-token", "GET", "/token"),
        ("method-put-token", "PUT", "/token"),
        ("method-options-token", "OPTIONS", "/token"),
    ):
        probes.append(Probe(ident, method, path))
    probes.append(
        Probe(
            "not-found-oversized-body",
            "POST",
            "/nope",
            content_type="application/octet-stream",
            body=b"x" * big,
            curl_body=f"--data-binary \"$(head -c {big} /dev/zero | tr '\\0' x)\"",
        )
    )
    get("no-slash-users-me", "/users/me", f"Bearer {tok['valid']}", kind="no-slash")
    get("no-slash-items-no-credentials", "/users/me/items", kind="no-slash")
    get("no-slash-status", "/status", f"Bearer {tok['valid']}", kind="no-slash")
    get("head-status", "/status/", f"Bearer {tok['valid']}", kind="head", method="HEAD")
    get("head-users-me-no-credentials", "/users/me/", kind="head", method="HEAD")
    get("openapi-document", "/openapi.json", kind="openapi")
    get("docs-page", "/docs", kind="page")
    paths(probes, f"Bearer {tok['valid']}")
    strict_probes(probes, secret_key, now)
    return probes


def strict_probes(probes: list[Probe], secret_key: str, now: float | None = None) -> None:
    """What the strict profile (CONTRACT.md S) reads differently: RFC 9068 tokens (with the
    default issuer and audience), the grant_type and query rules at /token, the other ways of
    sending a token. Sent to both profiles' runs: each profile's targets must agree."""
    issued = int(time.time() if now is None else now)
    defaults = Settings.model_fields
    at_jwt = {"alg": "HS256", "typ": "at+jwt"}

    def strict(subject: str, *scopes: str, header: dict[str, Any] = at_jwt, **extra: Any) -> str:
        # By hand, with a fixed jti: the corpus is the same for the same `now` (a token also
        # stands in a probe's query and body).
        claims = {
            "iss": defaults["token_issuer"].default,
            "sub": subject,
            "aud": defaults["token_audience"].default,
            "iat": issued,
            "exp": issued + 1800,
            "jti": f"differential-{subject}",
            "scope": " ".join(scopes),
            **extra,
        }
        return _jws(header, claims, secret_key, "sha256")

    valid = strict("johndoe", "me", "items")
    tokens = {
        "strict-valid": valid,
        "strict-me": strict("johndoe", "me"),
        "strict-no-scope": strict("johndoe"),
        "strict-disabled": strict("alice", "me", "items"),
        "strict-typ-jwt": strict("johndoe", "me", "items", header={"alg": "HS256", "typ": "JWT"}),
        "strict-other-aud": strict("johndoe", "me", "items", aud="other"),
    }
    for ident, token in tokens.items():
        for route in ("/users/me/", "/users/me/items/", "/status/"):
            name = route.strip("/").replace("/", "-")
            headers = (("Authorization", f"Bearer {token}"),)
            probes.append(Probe(f"{name}-{ident}", "GET", route, headers=headers))
    both = (("Authorization", f"Bearer {valid}"), ("Authorization", f"Bearer {valid}"))
    probes.append(Probe("users-me-two-authorization-headers", "GET", "/users/me/", headers=both))
    probes.append(
        Probe(
            "users-me-token-in-query-too",
            "GET",
            f"/users/me/?access_token={valid}",
            headers=(("Authorization", f"Bearer {valid}"),),
        )
    )
    probes.append(
        Probe(
            "users-me-token-in-body-too",
            "GET",
            "/users/me/",
            headers=(("Authorization", f"Bearer {valid}"),),
            content_type="application/x-www-form-urlencoded",
            body=f"access_token={valid}".encode(),
        )
    )
    probes.append(
        Probe(
            "users-me-extra-part", "GET", "/users/me/", headers=(("Authorization", "Bearer a b"),)
        )
    )
    grant, john, secret = (
        ("grant_type", "password"),
        ("username", "johndoe"),
        ("password", "secret"),
    )
    for ident, pairs in (
        ("login-strict-ok", (grant, john, secret, ("scope", "me items"))),
        ("login-strict-no-scope", (grant, john, secret)),
        ("login-strict-client-id", (grant, john, secret, ("client_id", "first-party"))),
        ("login-strict-scope-tab", (grant, john, secret, ("scope", "me\titems"))),
        ("login-strict-scope-two-spaces", (grant, john, secret, ("scope", "me  items"))),
        ("login-strict-repeated-grant-type", (grant, grant, john, secret)),
        ("login-strict-disabled", (grant, ("username", "alice"), ("password", "secretalice"))),
    ):
        content_type, body = _form(*pairs)
        probes.append(Probe(ident, "POST", "/token", content_type=content_type, body=body))
    content_type, body = _form(grant, john, secret)
    probes.append(
        Probe(
            "login-strict-password-in-query",
            "POST",
            "/token?password=secret",
            content_type=content_type,
            body=body,
        )
    )


def paths(probes: list[Probe], authorization: str) -> None:
    """Exact paths, Host and static assets (CONTRACT.md H14, H7): requests a framework would
    normalise into a route, answer with a redirect built from Host, or fail on."""
    auth = (("Authorization", authorization),)
    for ident, method, path in (
        ("path-leading-double-slash", "GET", "//status/"),
        ("path-inner-double-slash", "GET", "/users//me/"),
        ("path-trailing-double-slash", "GET", "/status//"),
        ("path-encoded-slash", "GET", "/users%2Fme/"),
        ("path-encoded-dot-segment", "GET", "/users/%2e/me/"),
        ("path-openapi-trailing-slash", "GET", "/openapi.json/"),
        ("path-docs-trailing-slash", "GET", "/docs/"),
        ("path-assets-directory", "GET", "/docs/assets"),
        ("path-asset-nul", "GET", "/docs/assets/%00"),
        ("path-asset-long-name", "GET", "/docs/assets/" + "a" * 300),
        ("path-asset-encoded-parent", "GET", "/docs/assets/..%2F..%2Fpyproject.toml"),
    ):
        probes.append(Probe(ident, method, path, headers=auth))
    probes.append(
        Probe("no-slash-post-users-me", "POST", "/users/me", headers=auth, kind="no-slash")
    )
    content_type, body = _form(("username", "johndoe"), ("password", "secret"))
    for ident, path in (("path-token-trailing-slash", "/token/"), ("path-token-double", "//token")):
        probes.append(Probe(ident, "POST", path, content_type=content_type, body=body))
    probes.append(
        Probe("no-slash-users-me-evil-host", "GET", "/users/me",
              headers=(("Host", "evil.example"), *auth), kind="no-slash")
    )  # fmt: skip
    for ident, hosts in (
        ("host-with-space", (("Host", "a b"),)),
        ("host-with-userinfo", (("Host", "user@evil.example"),)),
        ("host-two-headers", (("Host", "a.example"), ("Host", "b.example"))),
    ):
        probes.append(Probe(ident, "GET", "/status/", headers=(*hosts, *auth)))
    for ident, value in (
        ("asset-range-malformed", "bytes=abc"),
        ("asset-range-past", "bytes=9999999-"),
    ):
        probes.append(
            Probe(
                ident,
                "GET",
                "/docs/assets/swagger-ui.css",
                headers=(("Range", value),),
                kind="page",
            )
        )


# --- answers and their comparison -------------------------------------------------------------


def _token_shape(token: str) -> str:
    """A volatile access token replaced by what is fixed about it: header alg and the claims."""
    try:
        header_raw, payload_raw, _ = token.split(".")
        header = json.loads(base64.urlsafe_b64decode(header_raw + "=" * (-len(header_raw) % 4)))
        claims = json.loads(base64.urlsafe_b64decode(payload_raw + "=" * (-len(payload_raw) % 4)))
    except ValueError:
        return f"<not a JWT: {len(token)} chars>"
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return "<not a JWT: header or claims not objects>"
    lifetime = ""
    if isinstance(claims.get("exp"), int) and isinstance(claims.get("iat"), int):
        lifetime = f" exp-iat={claims['exp'] - claims['iat']}"
    return (
        f"<JWT alg={header.get('alg')} typ={header.get('typ')} sub={claims.get('sub')!r}"
        f" scope={claims.get('scope')!r} claims={','.join(sorted(claims))}{lifetime}>"
    )


def mask(node: Any, key: str | None = None) -> Any:
    if isinstance(node, dict):
        return {name: mask(value, name) for name, value in node.items()}
    if isinstance(node, list):
        return [mask(value) for value in node]
    if key == "access_token" and isinstance(node, str):
        return _token_shape(node)
    return node


def _allow(value: str) -> str:
    methods = {method.strip().upper() for method in value.split(",")}
    return ", ".join(sorted(methods - {""}))


def answer_of(response: httpx.Response, kind: Kind = "plain") -> Answer:
    headers = {
        name: response.headers[name] for name in CONTRACT_HEADERS if name in response.headers
    }
    if "location" in headers:
        location = urlsplit(headers["location"])
        headers["location"] = location.path + (f"?{location.query}" if location.query else "")
    if "allow" in headers:
        headers["allow"] = _allow(headers["allow"])
    media_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type:
        headers["content-type"] = media_type
    body: Any = None
    if response.content:
        if kind == "page":
            body = f"<{media_type or 'untyped'} page>"
        else:
            try:
                body = mask(response.json())
            except ValueError:
                body = {"<not JSON>": response.content[:200].decode("utf-8", "replace")}
            if kind == "openapi" and isinstance(body, dict):
                body = normalize(body)
    return Answer(response.status_code, dict(sorted(headers.items())), body)


def _without_head_in_allow(answer: Answer) -> tuple[Answer, tuple[str, ...]]:
    """Listing HEAD or OPTIONS in Allow goes with serving them, which is the framework's call."""
    allow = answer.headers.get("allow")
    listed = [] if allow is None else allow.split(", ")
    implicit = tuple(method for method in IMPLICIT_METHODS if method in listed)
    if not implicit:
        return answer, ()
    rest = ", ".join(method for method in listed if method not in IMPLICIT_METHODS)
    labels = tuple(f"Allow lists {method}" for method in implicit)
    return replace(answer, headers={**answer.headers, "allow": rest}), labels


Send = Callable[[Probe], Awaitable[Answer]]


async def observe(target: str, send: Send, probe: Probe) -> Observation:
    answer = await send(probe)
    comparable, labels = _without_head_in_allow(answer)
    followed: Answer | None = None
    if probe.kind == "no-slash" and probe.method not in ("GET", "HEAD"):
        # Never redirected (H14): 404, or the answer of the slash form (e.g. its 405).
        as_slash = await send(replace(probe, path=f"{probe.path}/", kind="plain"))
        if answer == NOT_FOUND:
            comparable, labels = ALLOWED_NOT_REDIRECTED, (*labels, "404 instead of a redirect")
        elif comparable == _without_head_in_allow(as_slash)[0]:
            comparable, labels = ALLOWED_NOT_REDIRECTED, (*labels, "answers as the slash form")
        else:
            labels += ("neither 404 nor the slash form's answer",)
    elif probe.kind == "no-slash":
        slash = f"{probe.path}/"
        if answer.status == 307 and answer.headers.get("location") == slash:
            followed = await send(replace(probe, path=slash, kind="plain"))
            comparable, more = _without_head_in_allow(followed)
            labels += ("307 to the slash form", *more)
        else:
            labels += ("answers without redirecting",)
    elif probe.kind == "head":
        as_get = await send(replace(probe, method="GET", kind="plain"))
        # A HEAD answer never has a body, so a 405 is judged by its status and Allow alone.
        if answer.status == 405 and answer.body is None and "allow" in answer.headers:
            comparable, labels = ALLOWED_HEAD, (*labels, "HEAD 405")
        elif answer.body is None and replace(answer, body=None) == replace(as_get, body=None):
            comparable, labels = ALLOWED_HEAD, (*labels, "HEAD = GET without a body")
        else:
            labels += ("HEAD answered neither as 405 nor as GET",)
    elif (
        # 405 as for any other method, or the framework's own empty 2xx answer.
        probe.method == "OPTIONS"
        and "allow" in answer.headers
        and (answer.status == 405 or (200 <= answer.status < 300 and not answer.body))
    ):
        comparable, labels = ALLOWED_OPTIONS, (*labels, f"OPTIONS {answer.status}")
    return Observation(target, answer, comparable, labels, followed)


def _key(answer: Answer) -> str:
    return json.dumps(answer.to_json(), sort_keys=True, ensure_ascii=False)


def differing_paths(values: Sequence[Any], prefix: str = "$", limit: int = 8) -> list[str]:
    """JSON paths where the values are not all equal, outermost first."""
    first = values[0]
    if all(value == first for value in values):
        return []
    if all(isinstance(value, dict) for value in values):
        keys = sorted({key for value in values for key in value})
        found: list[str] = []
        for key in keys:
            missing = [value.get(key, "<absent>") for value in values]
            found += differing_paths(missing, f"{prefix}.{key}", limit)
            if len(found) >= limit:
                return found[:limit]
        return found
    if all(isinstance(value, list) for value in values) and len({len(v) for v in values}) == 1:
        found = []
        for index in range(len(first)):
            found += differing_paths([value[index] for value in values], f"{prefix}[{index}]")
            if len(found) >= limit:
                return found[:limit]
        return found
    return [prefix]


def compare(
    probe: Probe, observations: Sequence[Observation]
) -> Finding | FrameworkDifference | None:
    """None when the targets agree; what the contract allows; or a finding."""
    comparables = [obs.comparable for obs in observations]
    if len({_key(answer) for answer in comparables}) == 1:
        labels = {obs.target: obs.labels for obs in observations}
        if len(set(labels.values())) > 1:
            return FrameworkDifference(probe, labels)
        return None
    fields: list[str] = []
    if len({answer.status for answer in comparables}) > 1:
        fields.append("status")
    if len({json.dumps(answer.body, sort_keys=True) for answer in comparables}) > 1:
        fields.append("body")
    names = sorted({name for answer in comparables for name in answer.headers})
    for name in names:
        if len({answer.headers.get(name) for answer in comparables}) > 1:
            fields.append(f"header {name}")
    paths: list[str] = []
    if "body" in fields and probe.kind == "openapi":
        paths = differing_paths([answer.body for answer in comparables])
    return Finding(probe, tuple(observations), tuple(fields), tuple(paths))


# --- running ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A target as the differential run reaches it: a name and a way to open a client."""

    name: str
    client: Callable[[], httpx.AsyncClient]


def endpoint_for(target: TargetSpec, secret_key: str, stack: contextlib.ExitStack) -> Endpoint:
    """A live target by its URL; an in-process one built here with a fresh SQLite store, the
    demo users and `secret_key`, so the corpus's tokens are valid on it."""
    if target.url is not None:
        url = target.url
        # Bounded like the suite's own clients: a deadline per request, answers read to a size.
        return Endpoint(target.name, lambda: bounded_client(url))
    module_name, _, attribute = target.factory_path.partition(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="differential-")))
    settings = Settings(
        profile=target.profile,
        secret_key=SecretStr(secret_key),
        database_url=f"sqlite:///{data_dir / 'arena.db'}",
        data_dir=data_dir,
        demo_users=True,
        password_profile="cheap",
        login_rate_limit=False,  # the corpus replays many failed logins (H12 has RATE checks)
    )
    app = factory(settings)
    return Endpoint(
        target.name,
        lambda: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ),
    )


async def _send(client: httpx.AsyncClient, probe: Probe) -> Answer:
    # httpx reads "//x" as a host; given as the raw path, it is sent as written.
    url = (
        client.base_url.copy_with(raw_path=probe.path.encode())
        if "//" in probe.path
        else probe.path
    )
    try:
        response = await client.request(
            probe.method, url, headers=probe.request_headers(), content=probe.body or None
        )
    except httpx.HTTPError as exc:
        return Answer(-1, {}, {"<transport error>": f"{type(exc).__name__}: {exc}"})
    return answer_of(response, probe.kind)


async def run_differential(
    endpoints: Sequence[Endpoint],
    secret_key: str,
    *,
    probes: Sequence[Probe] | None = None,
    on_probe: Callable[[Probe], None] | None = None,
) -> DiffResult:
    """Send every probe to every endpoint (the endpoints concurrently, the probes in order)."""
    started = time.monotonic()
    chosen = list(probes) if probes is not None else corpus(secret_key)
    result = DiffResult(targets=[endpoint.name for endpoint in endpoints], probes=len(chosen))
    clients = [endpoint.client() for endpoint in endpoints]
    try:
        for probe in chosen:
            observations = await asyncio.gather(
                *(
                    observe(endpoint.name, functools.partial(_send, client), probe)
                    for endpoint, client in zip(endpoints, clients, strict=True)
                )
            )
            outcome = compare(probe, observations)
            if isinstance(outcome, Finding):
                result.findings.append(outcome)
            elif isinstance(outcome, FrameworkDifference):
                result.framework_differences.append(outcome)
            if on_probe is not None:
                on_probe(probe)
    finally:
        for client in clients:
            await client.aclose()
    result.duration = time.monotonic() - started
    return result
