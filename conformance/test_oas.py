"""OAS: the OpenAPI document and the interactive docs (CONTRACT.md "OpenAPI document",
"Interactive docs"): the fixed parts checked one by one, then the whole document against the
canonical one, then every status this suite provokes against what the document promises."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from conformance.checks import MUST, check
from conformance.conftest import Target
from conformance.openapi import canonical, normalize
from conformance.support import ITEMS, STATUS, USERS_ME, bearer, describe, login

PATHS = {"/token", USERS_ME, ITEMS, STATUS}
SECURITY_SCHEME = {
    "type": "oauth2",
    "flows": {
        "password": {
            "tokenUrl": "token",
            "scopes": {"me": "Read information about the current user.", "items": "Read items."},
        }
    },
}


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200, f"expected 200, got {describe(response)}"
    document: dict[str, Any] = response.json()
    return document


def _inline(document: dict[str, Any], node: Any) -> Any:
    """`node` with its local $refs replaced by what they point at (one level is enough here)."""
    if isinstance(node, dict) and isinstance(node.get("$ref"), str):
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _inline(document, target)
    return node


@check("OAS-001", MUST, "CONTRACT OpenAPI document", "/openapi.json: JSON, OpenAPI 3.1.x")
async def test_openapi_version(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert re.fullmatch(r"3\.1\.\d+", response.json()["openapi"])


@check("OAS-002", MUST, "CONTRACT OpenAPI document", "path keys exactly the four routes")
async def test_paths(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    assert set(document["paths"]) == PATHS
    assert {path: set(item) for path, item in document["paths"].items()} == {
        "/token": {"post"},
        USERS_ME: {"get"},
        ITEMS: {"get"},
        STATUS: {"get"},
    }


@check(
    "OAS-003",
    MUST,
    "CONTRACT OpenAPI document (securitySchemes)",
    "components.securitySchemes.OAuth2PasswordBearer exactly as the contract writes it",
)
async def test_security_scheme(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    assert document["components"]["securitySchemes"] == {"OAuth2PasswordBearer": SECURITY_SCHEME}


@pytest.mark.parametrize(
    ("path", "method", "security"),
    [
        (USERS_ME, "get", [{"OAuth2PasswordBearer": ["me"]}]),
        (ITEMS, "get", [{"OAuth2PasswordBearer": ["items", "me"]}]),
        (STATUS, "get", [{"OAuth2PasswordBearer": []}]),
        ("/token", "post", None),
    ],
    ids=["me", "items", "status", "token"],
)
@check("OAS-004", MUST, "CONTRACT OpenAPI document (operation security)", "security per operation")
async def test_operation_security(
    client: httpx.AsyncClient, path: str, method: str, security: list[dict[str, list[str]]] | None
) -> None:
    document = await _document(client)
    operation = document["paths"][path][method]
    if security is None:
        assert operation.get("security", []) == []
        assert "security" not in document  # no global requirement reaches /token either
    else:
        assert operation["security"] == security


@check(
    "OAS-005",
    MUST,
    "CONTRACT OpenAPI document (/token request body)",
    "/token takes a form with the six fields, username and password required",
)
async def test_token_request_body(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    body = document["paths"]["/token"]["post"]["requestBody"]
    assert body.get("required") is True
    schema = _inline(document, body["content"]["application/x-www-form-urlencoded"]["schema"])
    assert schema["type"] == "object"
    assert sorted(schema["required"]) == ["password", "username"]
    assert set(schema["properties"]) == {
        "grant_type",
        "username",
        "password",
        "scope",
        "client_id",
        "client_secret",
    }


def _differences(left: Any, right: Any, where: str = "") -> Iterator[str]:
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right), key=str):
            if key not in right:
                yield f"{where}/{key}: only in the target's document"
            elif key not in left:
                yield f"{where}/{key}: only in the canonical document"
            else:
                yield from _differences(left[key], right[key], f"{where}/{key}")
    elif isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            yield from _differences(a, b, f"{where}/{index}")
    elif left != right:
        yield f"{where}: {left!r} != canonical {right!r}"


@check(
    "OAS-006",
    MUST,
    "CONTRACT OpenAPI document (equal to the canonical one after normalisation)",
    "the document equals conformance/openapi.json after conformance.openapi.normalize()",
)
async def test_equals_canonical(client: httpx.AsyncClient) -> None:
    mine = normalize(await _document(client))
    differences = list(_differences(mine, normalize(canonical())))
    assert not differences, (
        f"expected the canonical document, got {len(differences)} difference(s): "
        + "; ".join(differences[:25])
    )


Send = Callable[[Target, httpx.AsyncClient], Awaitable[httpx.Response]]
#: Every (operation, status) this suite provokes, with one way to provoke it. 503 needs a broken
#: store (see HARD-007/008) and 429 an instance with H12 on (RATE), so they are only looked up
#: in the documents here.
OBSERVED: dict[tuple[str, str, int], Send | None] = {
    ("post", "/token", 200): lambda t, c: login(c),
    ("post", "/token", 400): lambda t, c: login(c, "johndoe", "wrong"),
    ("post", "/token", 413): lambda t, c: c.post("/token", content=b"a" * 70_000),
    ("post", "/token", 422): lambda t, c: c.post("/token", data={}),
    ("post", "/token", 429): None,  # provoked by the RATE checks, on instances with H12 on
    ("post", "/token", 503): None,
    ("get", USERS_ME, 200): lambda t, c: c.get(USERS_ME, headers=bearer(t.mint())),
    ("get", USERS_ME, 400): lambda t, c: c.get(USERS_ME, headers=bearer(t.mint("alice"))),
    ("get", USERS_ME, 401): lambda t, c: c.get(USERS_ME),
    ("get", USERS_ME, 413): lambda t, c: c.request("GET", USERS_ME, content=b"a" * 70_000),
    ("get", USERS_ME, 503): None,
    ("get", ITEMS, 200): lambda t, c: c.get(ITEMS, headers=bearer(t.mint())),
    ("get", ITEMS, 400): lambda t, c: c.get(ITEMS, headers=bearer(t.mint("alice"))),
    ("get", ITEMS, 401): lambda t, c: c.get(ITEMS, headers=bearer(t.mint("johndoe", ("me",)))),
    ("get", ITEMS, 413): lambda t, c: c.request("GET", ITEMS, content=b"a" * 70_000),
    ("get", ITEMS, 503): None,
    ("get", STATUS, 200): lambda t, c: c.get(STATUS, headers=bearer(t.mint("johndoe", ()))),
    ("get", STATUS, 401): lambda t, c: c.get(STATUS, headers=bearer("x")),
    ("get", STATUS, 413): lambda t, c: c.request("GET", STATUS, content=b"a" * 70_000),
    ("get", STATUS, 503): None,
}


@pytest.mark.parametrize(
    "observed", list(OBSERVED), ids=[f"{m.upper()} {p} {s}" for m, p, s in OBSERVED]
)
@check(
    "OAS-007",
    MUST,
    "CONTRACT OpenAPI document (every status an operation can answer is documented)",
    "each status the suite provokes is documented, with a JSON schema, in both documents",
)
async def test_observed_status_documented(
    target: Target, client: httpx.AsyncClient, observed: tuple[str, str, int]
) -> None:
    method, path, status = observed
    send = OBSERVED[observed]
    if send is not None:
        response = await send(target, client)
        assert response.status_code == status, f"expected {status}, got {describe(response)}"
    for name, document in (("canonical", canonical()), ("target", await _document(client))):
        responses = document["paths"][path][method]["responses"]
        assert str(status) in responses, (
            f"expected {status} documented for {method.upper()} {path} in the {name} document, "
            f"got only {', '.join(sorted(responses))}"
        )
        content = _inline(document, responses[str(status)]).get("content", {})
        assert "schema" in content.get("application/json", {}), (name, status)


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href"} and value:
                self.assets.append(value)


async def _docs(client: httpx.AsyncClient) -> tuple[httpx.Response, list[str]]:
    response = await client.get("/docs")
    assert response.status_code == 200, f"expected 200, got {describe(response)}"
    assert response.headers["content-type"].startswith("text/html")
    parser = _References()
    parser.feed(response.text)
    return response, parser.assets


@check(
    "OAS-008",
    MUST,
    "CONTRACT Interactive docs (local assets, works with no internet)",
    "/docs is Swagger UI for /openapi.json that names no other host",
)
async def test_docs_page_is_local(client: httpx.AsyncClient) -> None:
    response, assets = await _docs(client)
    assert "swagger" in response.text.lower()
    assert "/openapi.json" in response.text
    own_host = urlsplit(str(response.url)).netloc
    for url in re.findall(r"""(?:https?:)?//[^\s"'<>)]+""", response.text):
        assert urlsplit(url).netloc == own_host, (
            f"expected /docs to load its assets from the target, got {url}"
        )
    assert any(urlsplit(asset).path.endswith(".js") for asset in assets)
    assert any(urlsplit(asset).path.endswith(".css") for asset in assets)


@check(
    "OAS-009",
    MUST,
    "CONTRACT Interactive docs (local assets)",
    "every script, stylesheet and icon the page names is served here with the right type",
)
async def test_docs_assets_served(client: httpx.AsyncClient) -> None:
    response, assets = await _docs(client)
    assert assets
    for asset in assets:
        url = urljoin(str(response.url), asset)
        # "Served here": an asset on another host is not fetched (no network is needed).
        assert urlsplit(url).netloc == urlsplit(str(response.url)).netloc, (
            f"expected {asset} served by the target, got a reference to another host"
        )
        served = await client.get(url)
        assert served.status_code == 200, f"expected 200 for {url}, got {served.status_code}"
        assert served.content, f"expected content at {url}, got an empty body"
        kind = served.headers.get("content-type", "")
        if urlsplit(url).path.endswith(".js"):
            assert "javascript" in kind, f"expected a JavaScript type for {url}, got {kind!r}"
        elif urlsplit(url).path.endswith(".css"):
            assert kind.startswith("text/css"), f"expected text/css for {url}, got {kind!r}"
