"""NAME: usernames have one canonical form (CONTRACT.md "Usernames"): a name that only looks like
a user's (other case, spaces, full-width letters, another script's look-alike, invisible or bidi
characters, combining marks, a lone surrogate) names nobody. /token answers it exactly as an
unknown user, and a token naming it is an invalid token, never a 500 and never that user."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from conformance.checks import MUST, PYTHON, check
from conformance.conftest import Target
from conformance.support import (
    HS256,
    PROTECTED,
    assert_error,
    bearer,
    forge,
    login,
    valid,
)

BAD_CREDENTIALS = "Incorrect username or password"
UNREADABLE = "There was an error parsing the body"
INVALID = "Could not validate credentials"
FORM = "application/x-www-form-urlencoded"

#: Names a person may read as "johndoe", none of them johndoe.
LOOK_ALIKES: dict[str, str] = {
    "capitals": "JohnDoe",
    "all-capitals": "JOHNDOE",
    "trailing-space": "johndoe ",
    "leading-space": " johndoe",
    "trailing-newline": "johndoe\n",
    "tab-inside": "john\tdoe",
    "full-width": "\uff4a\uff4f\uff48\uff4e\uff44\uff4f\uff45",
    "cyrillic-e": "johndo\u0435",
    "cyrillic-o": "j\u043ehnd\u043ee",
    "zero-width-joiner": "john\u200ddoe",
    "zero-width-space": "johndoe\u200b",
    "bidi-override": "\u202ejohndoe",
    "bom": "\ufeffjohndoe",
    "soft-hyphen": "john\u00addoe",
    "nfd-combining-acute": "johndoe\u0301",
    "nfc-e-acute": "johndo\u00e9",
    "kelvin-sign-like": "johndoe\u212a",
    "nul": "johndoe\x00",
}


@pytest.mark.parametrize("case", LOOK_ALIKES)
@check(
    "NAME-001",
    MUST,
    "CONTRACT Usernames; POST /token 400",
    "a look-alike of a user's name with that user's password: 400 Incorrect username or password",
)
async def test_look_alike_login(client: httpx.AsyncClient, case: str) -> None:
    response = await login(client, LOOK_ALIKES[case], "secret")
    assert_error(response, 400, BAD_CREDENTIALS)


#: Form bodies whose username decodes (or could be decoded) to a lone surrogate, U+D800.
SURROGATE_FORMS: dict[str, bytes] = {
    "utf8-bytes-percent": b"username=%ED%A0%80&password=secret",
    "utf8-bytes-raw": b"username=\xed\xa0\x80&password=secret",
    "percent-u": b"username=%uD800&password=secret",
    "cesu-pair": b"username=%ED%A0%80%ED%B0%80&password=secret",
    "after-the-name": b"username=johndoe%ED%A0%80&password=secret",
    "lone-low": b"username=%ED%B0%80&password=secret",
}


@pytest.mark.parametrize("case", SURROGATE_FORMS)
@check(
    "NAME-002",
    MUST,
    "CONTRACT Usernames; H2; POST /token 400",
    "a urlencoded username carrying a lone surrogate (any encoding of it): 400 Incorrect "
    "username or password, never a 500",
)
async def test_surrogate_login(client: httpx.AsyncClient, case: str) -> None:
    response = await client.post(
        "/token", content=SURROGATE_FORMS[case], headers={"content-type": FORM}
    )
    assert_error(response, 400, BAD_CREDENTIALS)


def _multipart(username: bytes) -> bytes:
    return (
        b'--b\r\nContent-Disposition: form-data; name="username"\r\n\r\n' + username + b"\r\n"
        b'--b\r\nContent-Disposition: form-data; name="password"\r\n\r\nsecret\r\n--b--\r\n'
    )


#: A multipart username and the answer the contract gives it: a part that is not UTF-8 is a
#: body that cannot be read (CONTRACT POST /token "Body"); escapes in a part are plain text.
SURROGATE_PARTS: dict[str, tuple[bytes, str]] = {
    "utf8-bytes": (_multipart(b"\xed\xa0\x80"), UNREADABLE),
    "after-the-name": (_multipart(b"johndoe\xed\xa0\x80"), UNREADABLE),
    "percent-escaped": (_multipart(b"%ED%A0%80"), BAD_CREDENTIALS),
}


@pytest.mark.parametrize("case", SURROGATE_PARTS)
@check(
    "NAME-003",
    MUST,
    "CONTRACT Usernames; H2; POST /token Body",
    "a multipart username carrying a lone surrogate's bytes: 400 (the body cannot be read, or "
    "Incorrect username or password), the same on every implementation, never a 500 or a 200",
    tier=PYTHON,
)
async def test_surrogate_multipart_login(client: httpx.AsyncClient, case: str) -> None:
    body, detail = SURROGATE_PARTS[case]
    response = await client.post(
        "/token", content=body, headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert_error(response, 400, detail)


@pytest.mark.parametrize("case", LOOK_ALIKES)
@pytest.mark.parametrize(("path", "challenge"), PROTECTED)
@check(
    "NAME-004",
    MUST,
    "CONTRACT Usernames; Authentication 2 (sub naming an existing user)",
    "a validly signed token whose sub is a look-alike of a user's name: 401 Could not validate "
    "credentials",
)
async def test_look_alike_subject(
    target: Target, client: httpx.AsyncClient, path: str, challenge: str, case: str
) -> None:
    token = valid(target.secret_key.encode(), sub=LOOK_ALIKES[case])
    response = await client.get(path, headers=bearer(token))
    assert_error(response, 401, INVALID, challenge)


def _raw_subject(sub_json: str) -> str:
    """A claims object whose `sub` is the raw JSON text `sub_json` (e.g. an escape that
    json.dumps would never write), signed like any valid token."""
    now = int(time.time())
    claims = f'{{"sub":{sub_json},"scope":"me items","exp":{now + 1800},"iat":{now}}}'
    json.loads(claims)  # well-formed JSON: what is refused is the name, not the syntax
    return claims


SURROGATE_SUBJECTS: dict[str, str] = {
    "lone-high": '"\\ud800"',
    "lone-low": '"\\udc00"',
    "after-name": '"johndoe\\ud800"',
    "reversed-pair": '"\\udc00\\ud800"',
}


@pytest.mark.parametrize("case", SURROGATE_SUBJECTS)
@pytest.mark.parametrize(("path", "challenge"), PROTECTED)
@check(
    "NAME-005",
    MUST,
    "CONTRACT Usernames; H2; Authentication 2",
    "a validly signed token whose sub holds a lone surrogate (a JSON \\ud800 escape): 401 Could "
    "not validate credentials, never a 500",
)
async def test_surrogate_subject(
    target: Target, client: httpx.AsyncClient, path: str, challenge: str, case: str
) -> None:
    token = forge(HS256, _raw_subject(SURROGATE_SUBJECTS[case]), target.secret_key.encode())
    response = await client.get(path, headers=bearer(token))
    assert_error(response, 401, INVALID, challenge)
