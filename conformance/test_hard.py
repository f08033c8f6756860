"""HARD: the hardening rules that are not about one endpoint (CONTRACT.md H2, H4, H6-H10): odd
inputs never make a 500, errors are JSON, faults of the store are a 503, tokens travel between
implementations, and importing an app touches nothing."""

from __future__ import annotations

import asyncio
import atexit
import functools
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from pydantic import SecretStr

from conformance.checks import MUST, SHOULD, check
from conformance.conftest import Target
from conformance.support import (
    ITEMS,
    JOHNDOE,
    PROTECTED,
    STATUS,
    USERS_ME,
    asgi_client,
    assert_error,
    assert_json_error,
    bearer,
    build_app,
    describe,
    full_cost_client,
    importable_implementations,
    login,
    skip_if_live,
    token_for,
)
from core import registry
from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
FORM = "application/x-www-form-urlencoded"
BAD_CREDENTIALS = "Incorrect username or password"

# --- H2: no input makes a 500 -----------------------------------------------------------------

ODD_BODIES: dict[str, dict[str, Any]] = {
    "json": {"json": {"username": "johndoe", "password": "secret"}},
    "json-array": {"json": [["username", "johndoe"], ["password", "secret"]]},
    "text-plain": {"content": b"username=johndoe&password=secret", "ct": "text/plain"},
    "octet-stream": {"content": bytes(range(256)), "ct": "application/octet-stream"},
    "no-content-type": {"content": b"username=johndoe&password=secret", "ct": None},
    "garbage-content-type": {"content": b"username=johndoe", "ct": "x/y; boundary"},
    "unknown-charset": {"content": b"username=johndoe&password=x", "ct": f"{FORM}; charset=utf-99"},
    "latin1-charset": {"content": b"username=j\xf6hn&password=x", "ct": f"{FORM}; charset=latin-1"},
    "empty-form": {"content": b"", "ct": FORM},
    "separators-only": {"content": b"&&&===&=&", "ct": FORM},
    "names-only": {"content": b"username&password", "ct": FORM},
    "raw-invalid-utf8": {"content": b"username=\xff\xfe&password=\xc3(", "ct": FORM},
    "percent-invalid-utf8": {"content": b"username=%ff%fe&password=%c3%28", "ct": FORM},
    "bad-percent-escape": {"content": b"username=%zz%&password=%", "ct": FORM},
    "nul-bytes-raw": {"content": b"username=john\x00doe&password=\x00", "ct": FORM},
    "many-fields": {"content": b"&".join(b"f%d=1" % i for i in range(5000)), "ct": FORM},
    "multipart-no-boundary": {"content": b"username=johndoe", "ct": "multipart/form-data"},
    "multipart-broken": {"content": b"--b\r\nbroken", "ct": "multipart/form-data; boundary=b"},
    "multipart-unterminated": {
        "content": b'--b\r\nContent-Disposition: form-data; name="username"\r\n\r\njohndoe',
        "ct": "multipart/form-data; boundary=b",
    },
    "multipart-many-parts": {
        "content": b"".join(
            b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n1\r\n' % i
            for i in range(1100)
        )
        + b"--b--\r\n",
        "ct": "multipart/form-data; boundary=b",
    },
    "gzip-claimed": {
        "content": b"username=johndoe",
        "ct": FORM,
        "headers": {"Content-Encoding": "gzip"},
    },
}


@pytest.mark.parametrize("case", list(ODD_BODIES))
@check("HARD-001", MUST, "CONTRACT H2, H7", "odd /token bodies: a 4xx JSON answer, never a 500")
async def test_odd_token_bodies(client: httpx.AsyncClient, case: str) -> None:
    spec = ODD_BODIES[case]
    headers = dict(spec.get("headers", {}))
    if "ct" in spec and spec["ct"] is not None:
        headers["Content-Type"] = spec["ct"]
    kwargs = {"json": spec["json"]} if "json" in spec else {"content": spec["content"]}
    response = await client.post("/token", headers=headers, **kwargs)
    assert_json_error(response)
    assert response.status_code in {400, 415, 422}, (
        f"expected 400, 415 or 422, got {describe(response)}"
    )


ODD_CREDENTIALS: dict[str, tuple[str, str]] = {
    "unicode-username": ("jöhndoe", "secret"),
    "cjk-username": ("日本語", "secret"),
    "emoji-username": ("😀", "secret"),
    "rtl-override": ("\u202ejohndoe", "secret"),
    "nul-in-username": ("john\x00doe", "secret"),
    "nul-after-username": ("johndoe\x00", "secret"),
    "nul-in-password": ("johndoe", "secret\x00"),
    "long-username": ("u" * 60_000, "secret"),
    "long-password": ("johndoe", "p" * 60_000),
    "sql-username": ("' OR '1'='1' --", "secret"),
    "like-username": ("john%", "secret"),
    "other-case": ("JohnDoe", "secret"),
    "trailing-space": ("johndoe ", "secret"),
    "leading-space": (" johndoe", "secret"),
    "password-trailing-space": ("johndoe", "secret "),
    "password-other-case": ("johndoe", "SECRET"),
    "unicode-password": ("johndoe", "sécret"),
    "hash-as-password": ("johndoe", "$argon2id$v=19$m=65536,t=3,p=4$wagCPXjifgvUFBzq4hqe3w$x"),
}


@pytest.mark.parametrize("case", list(ODD_CREDENTIALS))
@check(
    "HARD-002",
    MUST,
    "CONTRACT H2; POST /token 400 (names and passwords are compared exactly)",
    "odd but well-formed credentials: 400 Incorrect username or password",
)
async def test_odd_credentials(client: httpx.AsyncClient, case: str) -> None:
    username, password = ODD_CREDENTIALS[case]
    response = await login(client, username, password)
    assert_error(response, 400, BAD_CREDENTIALS)


def _odd_headers(target: Target) -> dict[str, tuple[dict[str, str | bytes], int]]:
    token = target.mint()
    cases: dict[str, tuple[dict[str, str | bytes], int]] = {
        "big-header": ({"X-Big": "a" * 7000, **bearer(token)}, 200),
        "many-headers": ({**{f"X-H{i}": "v" for i in range(100)}, **bearer(token)}, 200),
        "latin1-authorization": ({"Authorization": b"Bearer \xff\xfe\xfd"}, 401),
        "utf8-authorization": ({"Authorization": "Bearer ☃".encode()}, 401),
        "garbage-cookie": ({"Cookie": 'a=; ;;=; b="c', **bearer(token)}, 200),
        "odd-accept": ({"Accept": "application/xml;q=2, */*;q=0", **bearer(token)}, 200),
        "odd-content-type": ({"Content-Type": "multipart/form-data", **bearer(token)}, 200),
        "x-forwarded": (
            {"X-Forwarded-For": "::1, evil", "Forwarded": 'for="[::1', **bearer(token)},
            200,
        ),
    }
    if not target.live:
        # A real server refuses these before any app sees them; the app must cope in-process.
        cases["huge-header"] = ({"X-Big": "a" * 64 * 1024, **bearer(token)}, 200)
        cases["huge-authorization"] = ({"Authorization": "Bearer " + "a" * 100_000}, 401)
        cases["nul-authorization"] = ({"Authorization": f"Bearer {token}\x00"}, 401)
        cases["nul-header"] = ({"X-Nul": "a\x00b", **bearer(token)}, 200)
    return cases


HEADER_CASES = [
    "big-header",
    "many-headers",
    "latin1-authorization",
    "utf8-authorization",
    "garbage-cookie",
    "odd-accept",
    "odd-content-type",
    "x-forwarded",
    "huge-header",
    "huge-authorization",
    "nul-authorization",
    "nul-header",
]


@pytest.mark.parametrize(("path", "challenge"), PROTECTED, ids=["me", "items", "status"])
@pytest.mark.parametrize("case", HEADER_CASES)
@check("HARD-003", MUST, "CONTRACT H2", "odd request headers on protected routes: never a 500")
async def test_odd_headers(
    target: Target, client: httpx.AsyncClient, path: str, challenge: str, case: str
) -> None:
    cases = _odd_headers(target)
    if case not in cases:
        pytest.skip("in-process only: a live server's HTTP parser refuses this header first")
    headers, status = cases[case]
    raw = {
        name.encode(): value if isinstance(value, bytes) else value.encode()
        for name, value in headers.items()
    }
    response = await client.get(path, headers=raw)
    if status == 200:
        assert response.status_code == 200, f"expected 200, got {describe(response)}"
    else:
        assert_error(response, 401, "Could not validate credentials", challenge)


@pytest.mark.parametrize(
    "query",
    [
        "x=%00",
        "a=1&a=2&a=3",
        "%ff=%fe",
        "=&=&&",
        "q=" + "%41" * 2000,
        "&".join(f"p{i}=1" for i in range(1000)),
        "scope=admin",
        "username=alice",
    ],
    ids=["nul", "repeated", "invalid-utf8", "empty-names", "long", "many", "scope", "username"],
)
@check("HARD-004", MUST, "CONTRACT H2", "odd query strings change nothing and never make a 500")
async def test_odd_query_strings(target: Target, client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"{USERS_ME}?{query}", headers=bearer(target.mint()))
    assert response.status_code == 200, f"expected 200, got {describe(response)}"
    assert response.json() == JOHNDOE


@pytest.mark.parametrize("where", ["access_token", "token"])
@check(
    "HARD-005",
    MUST,
    "CONTRACT Authentication 1 (the tutorial reads the Authorization header only)",
    "a token in the query string is not read: 401 Not authenticated",
)
async def test_query_token_not_read(target: Target, client: httpx.AsyncClient, where: str) -> None:
    response = await client.get(USERS_ME, params={where: target.mint()})
    assert_error(response, 401, "Not authenticated", "Bearer")


def _error_requests(target: Target) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        "400-credentials": ("POST", "/token", {"data": {"username": "x", "password": "y"}}),
        "400-inactive": ("GET", USERS_ME, {"headers": bearer(target.mint("alice"))}),
        "401": ("GET", STATUS, {}),
        "404": ("GET", "/nope", {}),
        "405": ("DELETE", "/token", {}),
        "413": ("POST", "/token", {"content": b"a" * 70_000, "headers": {"Content-Type": FORM}}),
        "413-on-get": ("GET", STATUS, {"content": b"a" * 70_000}),
        "422": ("POST", "/token", {"data": {}}),
    }


ERROR_CASES = ["400-credentials", "400-inactive", "401", "404", "405", "413", "413-on-get", "422"]


@pytest.mark.parametrize("case", ERROR_CASES)
@check("HARD-006", MUST, "CONTRACT H7", "every error body is JSON with a `detail` key")
async def test_errors_are_json(target: Target, client: httpx.AsyncClient, case: str) -> None:
    method, path, kwargs = _error_requests(target)[case]
    response = await client.request(method, path, **kwargs)
    assert response.status_code == int(case[:3]), (
        f"expected a {case[:3]} (then a JSON body with `detail`), got {describe(response)}"
    )
    assert_json_error(response)


# --- H8: the store unreachable ----------------------------------------------------------------


def _broken_store_app(request: pytest.FixtureRequest, target: Target) -> httpx.AsyncClient:
    skip_if_live(target, "needs an implementation built with an unreachable store")
    settings = Settings(
        secret_key=SecretStr(target.secret_key),
        database_url="sqlite:////proc/forbidden/arena.db",
        demo_users=True,
        password_profile="cheap",
    )
    return asgi_client(build_app(request.config, target.name, settings))


def _assert_unavailable(response: httpx.Response) -> None:
    assert_error(response, 503, "Service Unavailable")
    assert response.headers.get("retry-after", "").isdigit(), response.headers
    assert "/proc" not in response.text


@check(
    "HARD-007",
    MUST,
    "CONTRACT H8; RFC 9110 §15.6.4, §10.2.3",
    "/token with the user store unreachable: 503 with Retry-After",
)
async def test_store_unavailable_token(request: pytest.FixtureRequest, target: Target) -> None:
    async with _broken_store_app(request, target) as broken:
        _assert_unavailable(await login(broken))


@pytest.mark.parametrize("path", [USERS_ME, ITEMS, STATUS], ids=["me", "items", "status"])
@check(
    "HARD-008",
    MUST,
    "CONTRACT H8",
    "a protected route with a valid token and the store unreachable: 503 with Retry-After",
)
async def test_store_unavailable_routes(
    request: pytest.FixtureRequest, target: Target, path: str
) -> None:
    async with _broken_store_app(request, target) as broken:
        _assert_unavailable(await broken.get(path, headers=bearer(target.mint())))


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
@check("HARD-009", SHOULD, "CONTRACT H8, H10", "the docs do not need the store")
async def test_docs_without_store(
    request: pytest.FixtureRequest, target: Target, path: str
) -> None:
    async with _broken_store_app(request, target) as broken:
        response = await broken.get(path)
        assert response.status_code == 200, f"expected 200, got {describe(response)}"


# --- H9: tokens travel ------------------------------------------------------------------------


def _peers(request: pytest.FixtureRequest, target: Target) -> dict[str, httpx.AsyncClient]:
    """Every other implementation with the same key and demo users: the other live targets,
    or a fresh in-process instance of each importable implementation."""
    if target.live:
        specs = dict(spec.split("=", 1) for spec in request.config.getoption("--target"))
        return {
            name: httpx.AsyncClient(base_url=url, timeout=30.0)
            for name, url in specs.items()
            if name != target.name
        }
    settings = Settings(
        secret_key=SecretStr(target.secret_key),
        database_url="memory://",
        demo_users=True,
        password_profile="cheap",
    )
    return {
        name: asgi_client(build_app(request.config, name, settings))
        for name in importable_implementations()
    }


@check(
    "HARD-010",
    MUST,
    "CONTRACT H9",
    "a token from one implementation's /token is accepted by every other, and back",
)
async def test_tokens_travel(
    request: pytest.FixtureRequest, target: Target, client: httpx.AsyncClient
) -> None:
    peers = _peers(request, target)
    if not peers:
        pytest.skip("no other implementation to exchange tokens with")
    mine = await token_for(client, "johndoe", "me items")
    try:
        for name, peer in peers.items():
            response = await peer.get(ITEMS, headers=bearer(mine))
            assert response.status_code == 200, (name, response.text)
            assert response.json() == [{"item_id": "Foo", "owner": "johndoe"}]
            theirs = await token_for(peer, "johndoe", "me")
            response = await client.get(USERS_ME, headers=bearer(theirs))
            assert response.status_code == 200, (name, response.text)
            assert response.json() == JOHNDOE
    finally:
        for peer in peers.values():
            await peer.aclose()


# --- H10 and H6: importing touches nothing; the key is generated, never built in -------------

PROBE = r"""
import asyncio, importlib, json, os, pathlib, socket, sys

attempts = []


def refuse(*args, **kwargs):
    attempts.append(repr(args)[:120])
    raise OSError("network access while importing the app")


names = ("connect", "connect_ex", "bind", "sendto")
saved = {name: getattr(socket.socket, name) for name in names}
saved_module = (socket.create_connection, socket.getaddrinfo)
for name in names:
    setattr(socket.socket, name, refuse)
socket.create_connection = socket.getaddrinfo = refuse
module = importlib.import_module(sys.argv[1])
for name, method in saved.items():
    setattr(socket.socket, name, method)
socket.create_connection, socket.getaddrinfo = saved_module


def listing(root):
    return sorted(str(p.relative_to(root)) for p in pathlib.Path(root).rglob("*"))


data_dir = os.environ["ARENA_DATA_DIR"]
after_import = {"data_dir": listing(data_dir), "cwd": listing(os.getcwd())}

import httpx


async def drive():
    # httpx.ASGITransport sends no lifespan events: the app must work without them.
    transport = httpx.ASGITransport(app=module.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        form = {"username": "johndoe", "password": "secret", "scope": "me"}
        login = await client.post("/token", data=form)
        token = login.json().get("access_token", "")
        me = await client.get("/users/me/", headers={"Authorization": f"Bearer {token}"})
        return {"login": login.status_code, "me": me.status_code, "me_body": me.json(),
                "token": token}


result = asyncio.run(drive())
print(json.dumps({"attempts": attempts, "after_import": after_import, **result}))
"""


@functools.cache
def _probe(module: str) -> dict[str, Any]:
    """Import `module` in a fresh interpreter with an empty data dir, then drive its `app`."""
    work = Path(tempfile.mkdtemp(prefix="arena-h10-"))
    # Cached for the session and read by later checks, so removed only when pytest exits.
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    data_dir, cwd = work / "data", work / "cwd"
    data_dir.mkdir()
    cwd.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARENA_")}
    env.update(ARENA_DATA_DIR=str(data_dir), ARENA_DEMO_USERS="1", PYTHONPATH=str(ROOT))
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 (our own interpreter, a fixed script)
        [sys.executable, "-c", PROBE, module],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["seconds"] = time.monotonic() - started
    result["data_dir"] = str(data_dir)
    return result


def _module_of(target: Target) -> str:
    skip_if_live(target, "imports the implementation's module")
    if target.name not in importable_implementations():
        pytest.skip(f"{target.name} is not an impl_<name>.app module")
    return registry.module(target.name)


@check(
    "HARD-011",
    MUST,
    "CONTRACT H10",
    "importing impl_<name>.app creates no file and opens no connection",
)
def test_import_touches_nothing(target: Target) -> None:
    result = _probe(_module_of(target))
    assert result["attempts"] == []
    assert result["after_import"] == {"data_dir": [], "cwd": []}


@check(
    "HARD-012",
    MUST,
    "CONTRACT H10; Settings",
    "the module-level app, configured from ARENA_* only, works without lifespan events",
)
def test_module_app_without_lifespan(target: Target) -> None:
    result = _probe(_module_of(target))
    assert result["login"] == 200
    assert result["me"] == 200
    assert result["me_body"] == JOHNDOE


@check(
    "HARD-013",
    MUST,
    "CONTRACT H6; Settings (ARENA_SECRET_KEY)",
    "without ARENA_SECRET_KEY a key file is generated with mode 0600 and signs the tokens",
)
def test_generated_key_file(target: Target) -> None:
    result = _probe(_module_of(target))
    key_file = Path(result["data_dir"]) / "secret.key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_bytes().strip()
    assert len(key) >= 32
    assert jwt.decode(result["token"], key, algorithms=["HS256"])["sub"] == "johndoe"


@check(
    "HARD-014",
    MUST,
    "CONTRACT H6",
    "two instances without ARENA_SECRET_KEY have different keys: no secret is built in",
)
async def test_no_builtin_key(
    request: pytest.FixtureRequest, target: Target, tmp_path: Path
) -> None:
    skip_if_live(target, "builds instances with their own data directories")
    clients = []
    for instance in range(2):
        settings = Settings(
            data_dir=tmp_path / f"instance-{instance}",
            database_url="memory://",
            demo_users=True,
            password_profile="cheap",
        )
        clients.append(asgi_client(build_app(request.config, target.name, settings)))
    first, second = clients
    async with first, second:
        token = await token_for(first, "johndoe", "me")
        assert (await first.get(USERS_ME, headers=bearer(token))).status_code == 200
        response = await second.get(USERS_ME, headers=bearer(token))
        assert_error(response, 401, "Could not validate credentials", 'Bearer scope="me"')


# --- H4: hashing off the event loop ----------------------------------------------------------


@check(
    "HARD-015",
    MUST,
    "CONTRACT H4",
    "while full-cost password checks run, another request is answered at once",
)
async def test_hashing_off_the_event_loop(request: pytest.FixtureRequest, target: Target) -> None:
    http = full_cost_client(request, target)
    async with http:
        headers = bearer(target.mint("johndoe", ()))
        assert (await http.get(STATUS, headers=headers)).status_code == 200  # warm up
        start = time.perf_counter()

        async def timed(call: Any) -> tuple[int, float]:
            response = await call
            return response.status_code, time.perf_counter() - start

        results = await asyncio.gather(
            timed(login(http, "johndoe", "wrong-1")),
            timed(login(http, "johndoe", "wrong-2")),
            timed(http.get(STATUS, headers=headers)),
        )
    (first, t_first), (second, t_second), (status, t_status) = results
    assert (first, second, status) == (400, 400, 200)
    assert t_status < min(t_first, t_second) / 2, (
        f"expected /status/ answered in under half the time of two password checks running "
        f"meanwhile, got /status/ after {t_status * 1000:.0f} ms, the logins after "
        f"{t_first * 1000:.0f} and {t_second * 1000:.0f} ms (hashing on the event loop)"
    )


# --- Settings: the same variables mean the same everywhere ----------------------------------


@check(
    "HARD-016",
    MUST,
    "CONTRACT Settings (ARENA_ACCESS_TOKEN_EXPIRE_MINUTES); Tokens",
    "the token lifetime setting sets expires_in and exp",
)
async def test_lifetime_setting(request: pytest.FixtureRequest, target: Target) -> None:
    skip_if_live(target, "builds an instance with other settings")
    settings = Settings(
        secret_key=SecretStr(target.secret_key),
        database_url="memory://",
        demo_users=True,
        password_profile="cheap",
        access_token_expire_minutes=5,
    )
    async with asgi_client(build_app(request.config, target.name, settings)) as other:
        before = time.time()
        response = await login(other)
        assert response.status_code == 200, f"expected 200, got {describe(response)}"
        assert response.json()["expires_in"] == 300
        payload = jwt.decode(
            response.json()["access_token"], target.secret_key, algorithms=["HS256"]
        )
        assert before + 300 - 5 <= payload["exp"] <= time.time() + 300 + 1


@check(
    "HARD-017",
    MUST,
    "CONTRACT Settings (ARENA_DEMO_USERS off by default)",
    "without demo users nobody can log in and no token names a user",
)
async def test_no_demo_users(request: pytest.FixtureRequest, target: Target) -> None:
    skip_if_live(target, "builds an instance with other settings")
    settings = Settings(
        secret_key=SecretStr(target.secret_key), database_url="memory://", password_profile="cheap"
    )
    async with asgi_client(build_app(request.config, target.name, settings)) as empty:
        assert_error(await login(empty), 400, BAD_CREDENTIALS)
        response = await empty.get(STATUS, headers=bearer(target.mint()))
        assert_error(response, 401, "Could not validate credentials", "Bearer")
