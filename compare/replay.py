"""Curl lines a reader can replay against `make serve` as printed. A recorded request carries a
token signed with the suite's key, which expires in 30 minutes: where that token was accepted
(the recorded answer is not 401), the line first logs in as the token's user with its scopes and
sends the fresh token instead; a token that was refused stays, since `make serve` refuses it too.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections.abc import Collection
from typing import Any

#: The tutorial's demo users and their published passwords (`make serve` seeds them).
DEMO_PASSWORDS = {"johndoe": "secret", "alice": "secretalice"}
BASE_LINE = "BASE=http://127.0.0.1:8000  # make serve IMPL=<name>"
_BEARER = re.compile(
    r"""(['"])(Authorization: *Bearer +)([\w=-]+\.[\w=-]+\.[\w=-]*)\1""", re.IGNORECASE
)
#: A report that writes `<token>` for a valid token of the demo user.
_PLACEHOLDER = re.compile(r"""(['"])(Authorization: *Bearer +)(<token>)\1""", re.IGNORECASE)
PLACEHOLDER_CLAIMS = {"sub": "johndoe", "scope": "me items"}
#: Reads the access token out of the JSON answer with sed, so no jq or Python is needed.
_EXTRACT = r"""sed -E 's/.*"access_token": *"([^"]+)".*/\1/'"""


def claims(token: str) -> dict[str, Any]:
    """The token's payload, unverified (only to know whom and which scopes to log in with)."""
    try:
        segment = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def login_line(user: str, scopes: list[str]) -> str:
    form = f"username={user}&password={DEMO_PASSWORDS[user]}&scope={' '.join(scopes)}"
    return f'TOKEN=$(curl -sS -X POST "$BASE/token" --data-binary {shlex.quote(form)} | {_EXTRACT})'


def replayable(curl: str, statuses: Collection[int | None] = ()) -> list[str]:
    """The lines that replay `curl` against a fresh `make serve`: a login line when the
    recorded token was accepted somewhere (a status other than 401; no status recorded counts
    as accepted), then the request."""
    match = _BEARER.search(curl) or _PLACEHOLDER.search(curl)
    if match is None or (statuses and all(s == 401 for s in statuses)):
        return [curl]
    payload = claims(match.group(3)) if match.re is _BEARER else PLACEHOLDER_CLAIMS
    user = payload.get("sub")
    scope = payload.get("scope", payload.get("scopes", ""))
    scopes = scope.split() if isinstance(scope, str) else [str(s) for s in scope or []]
    if user not in DEMO_PASSWORDS:
        return [curl]
    # Only the token changes: the scheme's spelling and spacing are part of what was sent.
    fresh = curl[: match.start()] + f'"{match.group(2)}$TOKEN"' + curl[match.end() :]
    return [login_line(str(user), scopes), fresh]


def statuses(answers: dict[str, Any]) -> list[int | None]:
    """The recorded status of each target's answer."""
    return [a.get("status") for a in answers.values() if isinstance(a, dict)]
