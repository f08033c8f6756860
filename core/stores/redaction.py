"""What a database URL may show of itself: everything but its secrets.

A PostgreSQL URL carries its password in the userinfo (`postgresql://user:pw@host/db`) or, as
libpq allows any connection parameter there, in the query (`?password=pw`, `?sslpassword=`);
libpq percent-decodes a parameter's name as well as its value. Every message that names a
database shows it through `redact`; a URL that cannot be parsed is not shown at all.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

#: libpq connection parameters whose values are secrets (a URL may carry any libpq parameter in
#: its query): never shown.
SECRET_PARAMETERS = frozenset({"password", "sslpassword", "oauth_client_secret"})


#: A secret in libpq's keyword/value form: `password=x`, `password = 'x y'`.
_CONNINFO_SECRET = re.compile(
    r"\b(" + "|".join(sorted(SECRET_PARAMETERS)) + r")\s*=\s*(?:'(?:[^'\\]|\\.)*'?|\S*)"
)


def _secret_parameter(pair: str) -> bool:
    # libpq percent-decodes a parameter's name too: `pass%77ord=` is the password.
    return unquote(pair.partition("=")[0]) in SECRET_PARAMETERS


def redact(url: str) -> str:
    """`url` with every secret in it as `***`: the password of its userinfo and the value of any
    secret parameter in its query. Raises ValueError for a URL that cannot be parsed."""
    if "://" not in url:  # libpq's other form, `host=... password=...`: not a URL to parse
        return _CONNINFO_SECRET.sub(r"\1=***", url)
    parts = urlsplit(url)
    netloc, query = parts.netloc, parts.query
    if parts.password is not None:
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:***@{host}"
    if any(_secret_parameter(pair) for pair in query.split("&")):
        query = "&".join(
            f"{pair.partition('=')[0]}=***" if _secret_parameter(pair) else pair
            for pair in query.split("&")
        )
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    # By hand, not urlunsplit: that would drop an empty host's `//` (postgresql:///db).
    scheme, sep, rest = url.partition("://")
    if netloc != parts.netloc:
        rest = netloc + rest.removeprefix(parts.netloc)
    if query != parts.query:
        before, _, after = rest.partition("?")
        rest = f"{before}?{query}{after.removeprefix(parts.query)}"
    return scheme + sep + rest


def unparsable(exc: ValueError) -> str:
    """The one line for a database URL that cannot be parsed: without the URL, nor the parser's
    message (which may quote the part holding the password)."""
    why = "a '[' or ']' without its pair" if "IPv6" in str(exc) else "characters it cannot hold"
    return f"bad database URL: it cannot be parsed ({why}); not shown, as it may hold a password"


def secrets_of(url: str) -> tuple[str, ...]:
    """Every secret in `url` as it may appear in a message: as written and percent-decoded."""
    parts = urlsplit(url)
    found = [parts.password or ""]
    found += [pair.partition("=")[2] for pair in parts.query.split("&") if _secret_parameter(pair)]
    return tuple({form for value in found for form in (value, unquote(value)) if form})
