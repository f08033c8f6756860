"""schemathesis hooks named by conformance/schemathesis.toml: log in through the password flow,
and give the stateful phase OpenAPI links from /token to the protected operations.

Both live here, not in the served documents, so every implementation keeps serving exactly the
canonical document (CONTRACT.md "OpenAPI document").
"""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from schemathesis import Case
from schemathesis.auths import AuthContext
from schemathesis.generation.meta import TestPhase
from schemathesis.hooks import HookContext
from schemathesis.schemas import APIOperation

AnyCase = Case[APIOperation[Any, Any, Any, Any]]

#: The demo user of CONTRACT.md, with every scope it is allowed.
USERNAME = "johndoe"
PASSWORD = "secret"
SCOPE = "me items"
PROTECTED = ("/users/me/", "/users/me/items/", "/status/")
#: The link expression: the bearer header built from /token's answer.
LINKED_AUTHORIZATION = "Bearer {$response.body#/access_token}"


def _pointer(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


def token_links() -> dict[str, dict[str, Any]]:
    """OpenAPI links from a 200 of POST /token to every protected GET, passing the token on."""
    return {
        f"token-for-{path.strip('/').replace('/', '-')}": {
            "operationRef": f"#/paths/{_pointer(path)}/get",
            "parameters": {"header.Authorization": LINKED_AUTHORIZATION},
        }
        for path in PROTECTED
    }


@schemathesis.hook
def before_load_schema(context: HookContext, raw_schema: dict[str, Any]) -> None:
    """Links are added to the loaded copy only, so the stateful phase can chain calls."""
    token_ok = raw_schema["paths"]["/token"]["post"]["responses"]["200"]
    token_ok.setdefault("links", {}).update(token_links())


@schemathesis.auth(retry_on=[]).apply_to(path=list(PROTECTED))
class PasswordFlow:
    """A token for johndoe from the server under test, cached by schemathesis (refreshed every
    300 s, well within the 30-minute lifetime). `retry_on=[]`: a 401 is an answer to check, not a
    reason to log in again and replay."""

    def get(self, case: AnyCase, context: AuthContext) -> str:
        response = httpx.post(
            f"{case.operation.schema.get_base_url().rstrip('/')}/token",
            # grant_type: required by the strict profile (RFC 6749 §4.3.2), the tutorial's too.
            data={
                "grant_type": "password",
                "username": USERNAME,
                "password": PASSWORD,
                "scope": SCOPE,
            },
            timeout=30.0,
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def set(self, case: AnyCase, data: str, context: AuthContext) -> None:
        # In the stateful phase a link may already have put the token that the previous /token
        # step minted (any user, any scope); replacing it would make the links pointless.
        if _from_stateful_step(case) and "Authorization" in case.headers:
            return
        case.headers["Authorization"] = f"Bearer {data}"


def _from_stateful_step(case: AnyCase) -> bool:
    meta = case.meta
    return meta is not None and meta.phase.name == TestPhase.STATEFUL
