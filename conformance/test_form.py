"""FORM: one /token body, one reading (CONTRACT.md "POST /token", "Body"). Each check sends one
class of body byte by byte and asserts the exact status and JSON body the contract states, so
that no body can name one user for one implementation and another user (or none) for the rest.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from conformance.checks import MUST, PYTHON, check, python_case
from conformance.support import describe

BOUNDARY = "form-check-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
URLENCODED = "application/x-www-form-urlencoded"
MALFORMED = {"detail": "There was an error parsing the body"}
BAD_CREDENTIALS = {"detail": "Incorrect username or password"}
#: The answer of a successful login (checked by shape, the token is volatile).
TOKEN = "token"
#: Limits the contract states.
MAX_FIELDS = 100
MAX_PART_HEADERS = 8
MAX_HEADER_LINE = 1024

Expected = str | dict[str, Any]
Case = tuple[str | list[tuple[str, str]] | None, bytes, Expected]


def missing(*fields: str) -> dict[str, Any]:
    return {
        "detail": [
            {"type": "missing", "loc": ["body", name], "msg": "Field required", "input": None}
            for name in fields
        ]
    }


def not_a_string(field: str) -> dict[str, Any]:
    entry = {
        "type": "string_type",
        "loc": ["body", field],
        "msg": "Input should be a valid string",
        "input": None,
    }
    return {"detail": [entry]}


def disposition(name: str, extra: str = "") -> str:
    return f'Content-Disposition: form-data; name="{name}"{extra}'


def part(*headers: str, value: bytes, boundary: str = BOUNDARY, eol: bytes = b"\r\n") -> bytes:
    lines = b"".join(header.encode("latin-1") + eol for header in headers)
    return b"--" + boundary.encode() + eol + lines + eol + value + eol


def close(boundary: str = BOUNDARY) -> bytes:
    return b"--" + boundary.encode() + b"--\r\n"


USER = part(disposition("username"), value=b"johndoe")
PASSWORD = part(disposition("password"), value=b"secret")
LOGIN = USER + PASSWORD + close()


def user_part(*headers: str, value: bytes = b"johndoe") -> bytes:
    return part(*headers, value=value) + PASSWORD + close()


async def send(client: httpx.AsyncClient, case: Case) -> httpx.Response:
    content_type, body, _ = case
    headers: list[tuple[str, str]] = []
    if isinstance(content_type, str):
        headers = [("Content-Type", content_type)]
    elif content_type is not None:
        headers = content_type
    return await client.post("/token", content=body, headers=headers)


def assert_answer(response: httpx.Response, expected: Expected) -> None:
    if expected == TOKEN:
        want = "expected 200 with a bearer token"
        assert response.status_code == 200, f"{want}, got {describe(response)}"
        body = response.json() if _is_json(response) else None
        ok = isinstance(body, dict) and body.get("token_type") == "bearer"
        assert ok, f"{want}, got {describe(response)}"
        return
    assert isinstance(expected, dict)
    status = 400 if isinstance(expected["detail"], str) else 422
    want = f"expected {status} {json.dumps(expected)}"
    assert _is_json(response), f"{want}, got {describe(response)} (not JSON)"
    assert (response.status_code, response.json()) == (status, expected), (
        f"{want}, got {describe(response, 1000)}"
    )


def _is_json(response: httpx.Response) -> bool:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return False
    try:
        response.json()
    except ValueError:
        return False
    return True


async def run(client: httpx.AsyncClient, cases: dict[str, Case], case: str) -> None:
    assert_answer(await send(client, cases[case]), cases[case][2])


DISPOSITIONS: dict[str, Case] = {
    "form-data": (MULTIPART, LOGIN, TOKEN),
    "form-data-upper-case": (
        MULTIPART,
        user_part('Content-Disposition: FORM-DATA; name="username"'),
        TOKEN,
    ),
    "attachment": (
        MULTIPART,
        user_part('Content-Disposition: attachment; name="username"'),
        MALFORMED,
    ),
    "inline": (MULTIPART, user_part('Content-Disposition: inline; name="username"'), MALFORMED),
    "attachment-password": (
        MULTIPART,
        USER + part('Content-Disposition: attachment; name="password"', value=b"secret") + close(),
        MALFORMED,
    ),
    "no-disposition": (MULTIPART, part("Content-Type: text/plain", value=b"x") + LOGIN, MALFORMED),
    "no-headers": (MULTIPART, part(value=b"x") + LOGIN, MALFORMED),
}


@pytest.mark.parametrize("case", list(DISPOSITIONS))
@check(
    "FORM-001",
    MUST,
    "CONTRACT POST /token Body (multipart: Content-Disposition form-data)",
    "a part whose Content-Disposition is missing or not form-data: 400",
    tier=PYTHON,
)
async def test_disposition(client: httpx.AsyncClient, case: str) -> None:
    await run(client, DISPOSITIONS, case)


NAMES: dict[str, Case] = {
    "no-name": (MULTIPART, part("Content-Disposition: form-data", value=b"x") + LOGIN, MALFORMED),
    "extended-name-only": (
        MULTIPART,
        user_part("Content-Disposition: form-data; name*=utf-8''username"),
        MALFORMED,
    ),
    "filename-no-name": (
        MULTIPART,
        part('Content-Disposition: form-data; filename="a"', value=b"x") + LOGIN,
        MALFORMED,
    ),
    "unquoted-name": (MULTIPART, user_part("Content-Disposition: form-data; name=username"), TOKEN),
    "empty-name-ignored": (MULTIPART, part(disposition(""), value=b"x") + LOGIN, TOKEN),
}


@pytest.mark.parametrize("case", list(NAMES))
@check(
    "FORM-002",
    MUST,
    "CONTRACT POST /token Body (multipart: every part has a name)",
    "a part without a name parameter: 400; an empty name is a name (an unknown field)",
    tier=PYTHON,
)
async def test_part_names(client: httpx.AsyncClient, case: str) -> None:
    await run(client, NAMES, case)


PREAMBLES: dict[str, Case] = {
    "preamble": (MULTIPART, b"This is the preamble.\r\n" + LOGIN, MALFORMED),
    "crlf-then-preamble": (MULTIPART, b"\r\npreamble\r\n" + LOGIN, MALFORMED),
    "leading-crlf": (MULTIPART, b"\r\n\r\n" + LOGIN, TOKEN),
    "epilogue": (MULTIPART, LOGIN + b"This is the epilogue.\r\n", TOKEN),
    "close-without-crlf": (MULTIPART, LOGIN.removesuffix(b"\r\n"), TOKEN),
    "epilogue-with-a-part": (MULTIPART, USER + close() + PASSWORD + close(), missing("password")),
}


@pytest.mark.parametrize("case", list(PREAMBLES))
@check(
    "FORM-003",
    MUST,
    "CONTRACT POST /token Body (multipart: preamble and epilogue)",
    "text before the first delimiter: 400; CR/LF before it and anything after the close: ignored",
    tier=PYTHON,
)
async def test_preamble_epilogue(client: httpx.AsyncClient, case: str) -> None:
    await run(client, PREAMBLES, case)


UNTERMINATED: dict[str, Case] = {
    "no-close": (MULTIPART, USER + PASSWORD, MALFORMED),
    "cut-in-value": (MULTIPART, USER + PASSWORD[:-4], MALFORMED),
    "cut-in-headers": (MULTIPART, USER + PASSWORD[:20], MALFORMED),
    "delimiter-only": (MULTIPART, f"--{BOUNDARY}\r\n".encode(), MALFORMED),
    "close-without-crlf-before": (
        MULTIPART,
        USER + PASSWORD.removesuffix(b"\r\n") + close(),
        MALFORMED,
    ),
}


@pytest.mark.parametrize("case", list(UNTERMINATED))
@check(
    "FORM-004",
    MUST,
    "CONTRACT POST /token Body (multipart: the close delimiter is required)",
    "a multipart body without its close delimiter: 400, not the parts read so far",
    tier=PYTHON,
)
async def test_unterminated(client: httpx.AsyncClient, case: str) -> None:
    await run(client, UNTERMINATED, case)


def charset(value: str) -> str:
    return f"Content-Type: text/plain; charset={value}"


CHARSETS: dict[str, Case] = {
    "utf-8": (MULTIPART, user_part(disposition("username"), charset("utf-8")), TOKEN),
    "UTF-8": (MULTIPART, user_part(disposition("username"), charset("UTF-8")), TOKEN),
    "quoted-utf-8": (MULTIPART, user_part(disposition("username"), charset('"utf-8"')), TOKEN),
    "us-ascii": (MULTIPART, user_part(disposition("username"), charset("US-ASCII")), TOKEN),
    "no-charset": (
        MULTIPART,
        user_part(disposition("username"), "Content-Type: text/plain"),
        TOKEN,
    ),
    "x-nope": (MULTIPART, user_part(disposition("username"), charset("x-nope")), MALFORMED),
    "latin-1": (MULTIPART, user_part(disposition("username"), charset("latin-1")), MALFORMED),
    "latin-1-non-ascii": (
        MULTIPART,
        user_part(disposition("username"), charset("latin-1"), value="jöhndoe".encode("latin-1")),
        MALFORMED,
    ),
    "utf8-alias": (MULTIPART, user_part(disposition("username"), charset("utf8")), MALFORMED),
    "on-password": (
        MULTIPART,
        USER + part(disposition("password"), charset("iso-8859-1"), value=b"secret") + close(),
        MALFORMED,
    ),
    "on-unknown-field": (
        MULTIPART,
        part(disposition("note"), charset("koi8-r"), value=b"x") + LOGIN,
        MALFORMED,
    ),
}


@pytest.mark.parametrize("case", list(CHARSETS))
@check(
    "FORM-005",
    MUST,
    "CONTRACT POST /token Body (multipart: a part's charset is utf-8 or us-ascii)",
    "a part declaring utf-8 or us-ascii is read; any other charset: 400, never a 500",
    tier=PYTHON,
)
async def test_part_charsets(client: httpx.AsyncClient, case: str) -> None:
    await run(client, CHARSETS, case)


CODECS: dict[str, Case] = {
    "unicode_escape": (
        MULTIPART,
        user_part(disposition("username"), charset("unicode_escape"), value=rb"\x6aohndoe"),
        MALFORMED,
    ),
    "raw_unicode_escape": (
        MULTIPART,
        user_part(disposition("username"), charset("raw_unicode_escape"), value=rb"\u006aohndoe"),
        MALFORMED,
    ),
    "utf-16": (
        MULTIPART,
        user_part(disposition("username"), charset("utf-16"), value="johndoe".encode("utf-16")),
        MALFORMED,
    ),
    "utf-7": (
        MULTIPART,
        user_part(disposition("username"), charset("utf-7"), value=b"john+AGQ-oe"),
        MALFORMED,
    ),
    "rot13": (
        MULTIPART,
        user_part(disposition("username"), charset("rot13"), value=b"wbuaqbr"),
        MALFORMED,
    ),
    "base64": (
        MULTIPART,
        user_part(disposition("username"), charset("base64"), value=b"am9obmRvZQ=="),
        MALFORMED,
    ),
    "idna": (
        MULTIPART,
        user_part(disposition("username"), charset("idna"), value=b"johndoe"),
        MALFORMED,
    ),
}


@pytest.mark.parametrize("case", list(CODECS))
@check(
    "FORM-006",
    MUST,
    "CONTRACT POST /token Body (multipart: a charset is not a codec)",
    "Python codec names as a part's charset (unicode_escape, utf-16, rot13...): 400, no login",
    tier=PYTHON,
)
async def test_codec_tricks(client: httpx.AsyncClient, case: str) -> None:
    await run(client, CODECS, case)


def multipart_with(parameters: str) -> str:
    return f"multipart/form-data; {parameters}; boundary={BOUNDARY}"


UTF16_LOGIN = (
    part(disposition("username"), value="johndoe".encode("utf-16-le"))
    + part(disposition("password"), value="secret".encode("utf-16-le"))
    + close()
)
REQUEST_CHARSETS: dict[str, Case] = {
    "utf-8": (multipart_with("charset=utf-8"), LOGIN, TOKEN),
    "us-ascii": (multipart_with("charset=us-ascii"), LOGIN, TOKEN),
    "latin-1": (multipart_with("charset=latin-1"), LOGIN, MALFORMED),
    "unknown": (multipart_with("charset=x-nope"), LOGIN, MALFORMED),
    "utf-16-le": (multipart_with("charset=utf-16-le"), UTF16_LOGIN, MALFORMED),
    "urlencoded-charset-ignored": (
        f"{URLENCODED}; charset=latin-1",
        b"username=johndoe&password=secret",
        TOKEN,
    ),
}


@pytest.mark.parametrize("case", list(REQUEST_CHARSETS))
@check(
    "FORM-007",
    MUST,
    "CONTRACT POST /token Body (multipart: the request's charset is utf-8 or us-ascii)",
    "multipart/form-data with another charset parameter: 400 (url-encoded: ignored)",
    tier=PYTHON,
)
async def test_request_charsets(client: httpx.AsyncClient, case: str) -> None:
    await run(client, REQUEST_CHARSETS, case)


TEXT_BYTES: dict[str, Case] = {
    "latin-1-username": (
        MULTIPART,
        user_part(disposition("username"), value="jöhndoe".encode("latin-1")),
        MALFORMED,
    ),
    "invalid-utf8-password": (
        MULTIPART,
        USER + part(disposition("password"), value=b"secr\xffet") + close(),
        MALFORMED,
    ),
    "non-ascii-declared-us-ascii": (
        MULTIPART,
        user_part(disposition("username"), charset("us-ascii"), value="jöhndoe".encode()),
        MALFORMED,
    ),
    "invalid-utf8-unknown-field": (
        MULTIPART,
        part(disposition("note"), value=b"\xc3(") + LOGIN,
        MALFORMED,
    ),
    "invalid-utf8-name": (MULTIPART, part(disposition("n\xe9"), value=b"x") + LOGIN, MALFORMED),
    "utf8-username": (
        MULTIPART,
        user_part(disposition("username"), value="jöhndoe".encode()),
        BAD_CREDENTIALS,
    ),
    "binary-file-ignored": (
        MULTIPART,
        part(disposition("avatar", '; filename="a.bin"'), value=bytes(range(256))) + LOGIN,
        TOKEN,
    ),
}


@pytest.mark.parametrize("case", list(TEXT_BYTES))
@check(
    "FORM-008",
    MUST,
    "CONTRACT POST /token Body (multipart: text parts are UTF-8)",
    "a text part that is not valid UTF-8 (ASCII for us-ascii): 400; file parts are not read",
    tier=PYTHON,
)
async def test_text_bytes(client: httpx.AsyncClient, case: str) -> None:
    await run(client, TEXT_BYTES, case)


def many_parts(count: int) -> bytes:
    pad = b"".join(part(disposition(f"f{i}"), value=b"1") for i in range(count - 2))
    return pad + LOGIN


def many_pairs(count: int) -> bytes:
    pad = b"".join(b"f%d=1&" % i for i in range(count - 2))
    return pad + b"username=johndoe&password=secret"


FIELD_COUNTS: dict[str, Case] = {
    "multipart-at-limit": (MULTIPART, many_parts(MAX_FIELDS), TOKEN),
    "multipart-over-limit": (MULTIPART, many_parts(MAX_FIELDS + 1), MALFORMED),
    "multipart-800": (MULTIPART, many_parts(800), MALFORMED),
    "urlencoded-at-limit": (URLENCODED, many_pairs(MAX_FIELDS), TOKEN),
    "urlencoded-over-limit": (URLENCODED, many_pairs(MAX_FIELDS + 1), MALFORMED),
    "urlencoded-1001": (URLENCODED, many_pairs(1001), MALFORMED),
}


@pytest.mark.parametrize("case", list(FIELD_COUNTS))
@check(
    "FORM-009",
    MUST,
    "CONTRACT POST /token Body (at most 100 fields)",
    "100 fields or parts are read; 101 (url-encoded or multipart): 400",
    tier=PYTHON,
)
async def test_field_count(client: httpx.AsyncClient, case: str) -> None:
    await run(client, FIELD_COUNTS, case)


def padded_header(size: int) -> str:
    """A header line of exactly `size` bytes (name, colon, space and value; CRLF not counted)."""
    return "X-Pad: " + "a" * (size - len("X-Pad: "))


HEADER_LIMITS: dict[str, Case] = {
    "line-at-limit": (
        MULTIPART,
        user_part(disposition("username"), padded_header(MAX_HEADER_LINE)),
        TOKEN,
    ),
    "line-over-limit": (
        MULTIPART,
        user_part(disposition("username"), padded_header(MAX_HEADER_LINE + 1)),
        MALFORMED,
    ),
    "line-5000": (MULTIPART, user_part(disposition("username"), padded_header(5000)), MALFORMED),
    "headers-at-limit": (
        MULTIPART,
        user_part(disposition("username"), *(f"X-H{i}: v" for i in range(MAX_PART_HEADERS - 1))),
        TOKEN,
    ),
    "headers-over-limit": (
        MULTIPART,
        user_part(disposition("username"), *(f"X-H{i}: v" for i in range(MAX_PART_HEADERS))),
        MALFORMED,
    ),
}


@pytest.mark.parametrize("case", list(HEADER_LIMITS))
@check(
    "FORM-010",
    MUST,
    "CONTRACT POST /token Body (multipart: 8 header lines of at most 1024 bytes per part)",
    "part headers within the limits are read; one line or one header too many: 400",
    tier=PYTHON,
)
async def test_part_header_limits(client: httpx.AsyncClient, case: str) -> None:
    await run(client, HEADER_LIMITS, case)


FILES: dict[str, Case] = {
    "username": (
        MULTIPART,
        user_part(disposition("username", '; filename="u.txt"')),
        not_a_string("username"),
    ),
    "username-empty-filename": (
        MULTIPART,
        user_part(disposition("username", '; filename=""')),
        not_a_string("username"),
    ),
    "password-bare-filename": (
        MULTIPART,
        USER + part(disposition("password", "; filename"), value=b"secret") + close(),
        not_a_string("password"),
    ),
    "scope": (
        MULTIPART,
        part(disposition("scope", '; filename="s"'), value=b"me") + LOGIN,
        not_a_string("scope"),
    ),
    "extended-filename-ignored": (
        MULTIPART,
        user_part(disposition("username", "; filename*=utf-8''u.txt")),
        TOKEN,
    ),
}


@pytest.mark.parametrize("case", list(FILES))
@check(
    "FORM-011",
    MUST,
    "CONTRACT POST /token Body (multipart: a part with a filename is a file)",
    "a file part (any filename parameter, even empty) for a text field: the string_type entry",
    tier=PYTHON,
)
async def test_file_parts(client: httpx.AsyncClient, case: str) -> None:
    await run(client, FILES, case)


URL_LOGIN = b"username=johndoe&password=secret"
MEDIA_TYPES: dict[str, Case] = {
    "urlencoded-with-boundary": (f"{URLENCODED}; boundary={BOUNDARY}", URL_LOGIN, TOKEN),
    "urlencoded-upper-case": (URLENCODED.upper(), URL_LOGIN, TOKEN),
    "multipart-upper-case": (f"Multipart/Form-Data; boundary={BOUNDARY}", LOGIN, TOKEN),
    "multipart-then-urlencoded": (
        [("Content-Type", MULTIPART), ("Content-Type", URLENCODED)],
        LOGIN,
        MALFORMED,
    ),
    "urlencoded-then-multipart": (
        [("Content-Type", URLENCODED), ("Content-Type", MULTIPART)],
        URL_LOGIN,
        MALFORMED,
    ),
    "a-list-of-types": (f"{URLENCODED}, {MULTIPART}", URL_LOGIN, missing("username", "password")),
    "multipart-mixed": (
        f"multipart/mixed; boundary={BOUNDARY}",
        LOGIN,
        missing("username", "password"),
    ),
    "multipart-body-as-urlencoded": (URLENCODED, LOGIN, missing("username", "password")),
    "text-plain": ("text/plain", URL_LOGIN, missing("username", "password")),
    "json": (
        "application/json",
        b'{"username": "johndoe", "password": "secret"}',
        missing("username", "password"),
    ),
    "no-content-type": (None, URL_LOGIN, missing("username", "password")),
    "empty-multipart": (MULTIPART, b"", missing("username", "password")),
    "no-parts": (MULTIPART, close(), missing("username", "password")),
}


#: FORM-012's cases that read a multipart body: the python tier (the rest is neutral).
MULTIPART_MEDIA_CASES = frozenset({"multipart-upper-case", "empty-multipart", "no-parts"})


@pytest.mark.parametrize(
    "case",
    [python_case(name, name) if name in MULTIPART_MEDIA_CASES else name for name in MEDIA_TYPES],
)
@check(
    "FORM-012",
    MUST,
    "CONTRACT POST /token Body (media types)",
    "the form's two media types whatever their parameters; two Content-Type headers: 400; "
    "another media type: an empty form (422)",
)
async def test_media_types(client: httpx.AsyncClient, case: str) -> None:
    await run(client, MEDIA_TYPES, case)


def with_boundary(boundary: str, quoted: bool = False) -> Case:
    value = f'"{boundary}"' if quoted else boundary
    body = (
        part(disposition("username"), value=b"johndoe", boundary=boundary)
        + part(disposition("password"), value=b"secret", boundary=boundary)
        + close(boundary)
    )
    return f"multipart/form-data; boundary={value}", body, TOKEN


def refused(case: Case) -> Case:
    return case[0], case[1], MALFORMED


PADDED = LOGIN.replace(f"\r\n--{BOUNDARY}\r\n".encode(), f"\r\n--{BOUNDARY} \r\n".encode())
BOUNDARIES: dict[str, Case] = {
    "70-characters": with_boundary("b" * 70),
    "71-characters": refused(with_boundary("b" * 71)),
    "300-characters": refused(with_boundary("b" * 300)),
    "quoted": with_boundary(BOUNDARY, quoted=True),
    "quoted-with-space": with_boundary("a b", quoted=True),
    "rfc2046-specials": with_boundary("'()+_,-./:=?"),
    "trailing-space": refused(with_boundary("ab ", quoted=True)),
    "outside-rfc2046": refused(with_boundary("a;b@c", quoted=True)),
    "missing": ("multipart/form-data", LOGIN, MALFORMED),
    "empty": ("multipart/form-data; boundary=", LOGIN, MALFORMED),
    "mismatch": ("multipart/form-data; boundary=other", LOGIN, MALFORMED),
    "padding-after-first": (
        MULTIPART,
        LOGIN.replace(f"--{BOUNDARY}\r\n".encode(), f"--{BOUNDARY}\t\r\n".encode(), 1),
        MALFORMED,
    ),
    "padding-after-later": (MULTIPART, PADDED, MALFORMED),
    "boundary-prefix-in-value": (
        MULTIPART,
        user_part(disposition("username"), value=f"a\r\n--{BOUNDARY}x".encode()),
        BAD_CREDENTIALS,
    ),
}


@pytest.mark.parametrize("case", list(BOUNDARIES))
@check(
    "FORM-013",
    MUST,
    "CONTRACT POST /token Body (multipart: the boundary, RFC 2046 §5.1.1)",
    "a boundary of 1-70 RFC 2046 characters, delimiter lines exactly --boundary CRLF",
    tier=PYTHON,
)
async def test_boundaries(client: httpx.AsyncClient, case: str) -> None:
    await run(client, BOUNDARIES, case)


LF_PART = part(disposition("username"), value=b"johndoe", eol=b"\n")
LINE_ENDINGS: dict[str, Case] = {
    "crlf": (MULTIPART, LOGIN, TOKEN),
    "lf-only": (
        MULTIPART,
        LF_PART + part(disposition("password"), value=b"secret", eol=b"\n") + close(),
        MALFORMED,
    ),
    "lf-after-delimiter": (
        MULTIPART,
        LOGIN.replace(f"--{BOUNDARY}\r\n".encode(), f"--{BOUNDARY}\n".encode()),
        MALFORMED,
    ),
    "lf-after-headers": (MULTIPART, LOGIN.replace(b'"\r\n\r\n', b'"\r\n\n'), MALFORMED),
    "lf-inside-header": (
        MULTIPART,
        user_part('Content-Disposition: form-data; name="username"\nX-Other: 1'),
        MALFORMED,
    ),
    "cr-only": (MULTIPART, LOGIN.replace(b"\r\n", b"\r"), MALFORMED),
}


@pytest.mark.parametrize("case", list(LINE_ENDINGS))
@check(
    "FORM-014",
    MUST,
    "CONTRACT POST /token Body (multipart: CRLF line ends)",
    "multipart lines end with CRLF; LF or CR alone, anywhere in the framing: 400",
    tier=PYTHON,
)
async def test_line_endings(client: httpx.AsyncClient, case: str) -> None:
    await run(client, LINE_ENDINGS, case)


def encoding(value: str) -> str:
    return f"Content-Transfer-Encoding: {value}"


TRANSFER_ENCODINGS: dict[str, Case] = {
    "7bit": (MULTIPART, user_part(disposition("username"), encoding("7bit")), TOKEN),
    "8bit": (MULTIPART, user_part(disposition("username"), encoding("8bit")), TOKEN),
    "binary": (MULTIPART, user_part(disposition("username"), encoding("BINARY")), TOKEN),
    "base64": (
        MULTIPART,
        user_part(disposition("username"), encoding("base64"), value=b"am9obmRvZQ=="),
        MALFORMED,
    ),
    "quoted-printable": (
        MULTIPART,
        user_part(disposition("username"), encoding("quoted-printable"), value=b"=6AohndoE"),
        MALFORMED,
    ),
}


@pytest.mark.parametrize("case", list(TRANSFER_ENCODINGS))
@check(
    "FORM-015",
    MUST,
    "CONTRACT POST /token Body (multipart: no transfer encoding, RFC 7578 §4.7)",
    "Content-Transfer-Encoding 7bit, 8bit or binary is read; base64 or quoted-printable: 400",
    tier=PYTHON,
)
async def test_transfer_encodings(client: httpx.AsyncClient, case: str) -> None:
    await run(client, TRANSFER_ENCODINGS, case)


DUPLICATE_HEADERS: dict[str, Case] = {
    "two-dispositions": (
        MULTIPART,
        user_part(disposition("nobody"), disposition("username")),
        MALFORMED,
    ),
    "two-content-types": (
        MULTIPART,
        user_part(disposition("username"), "Content-Type: text/plain", charset("utf-16")),
        MALFORMED,
    ),
    "two-transfer-encodings": (
        MULTIPART,
        user_part(disposition("username"), encoding("7bit"), encoding("base64")),
        MALFORMED,
    ),
    "other-headers-repeated": (
        MULTIPART,
        user_part(disposition("username"), "X-A: 1", "X-A: 2"),
        TOKEN,
    ),
    "lower-case-names": (
        MULTIPART,
        user_part('content-disposition: form-data; name="username"'),
        TOKEN,
    ),
}


@pytest.mark.parametrize("case", list(DUPLICATE_HEADERS))
@check(
    "FORM-016",
    MUST,
    "CONTRACT POST /token Body (multipart: one Content-Disposition, Content-Type, CTE per part)",
    "a part repeating a header that decides how it is read: 400",
    tier=PYTHON,
)
async def test_duplicate_part_headers(client: httpx.AsyncClient, case: str) -> None:
    await run(client, DUPLICATE_HEADERS, case)


HEADER_SYNTAX: dict[str, Case] = {
    "space-before-colon": (
        MULTIPART,
        user_part('Content-Disposition : form-data; name="username"'),
        MALFORMED,
    ),
    "folded": (
        MULTIPART,
        user_part('Content-Disposition: form-data;\r\n name="username"'),
        MALFORMED,
    ),
    "no-colon": (
        MULTIPART,
        user_part("Content-Disposition form-data", disposition("username")),
        MALFORMED,
    ),
    "empty-name": (MULTIPART, user_part(": x", disposition("username")), MALFORMED),
    "nul-in-value": (MULTIPART, user_part(disposition("username") + "\x00"), MALFORMED),
}


@pytest.mark.parametrize("case", list(HEADER_SYNTAX))
@check(
    "FORM-017",
    MUST,
    "CONTRACT POST /token Body (multipart: part header syntax)",
    "a part header that is not `token: value` on one line (no folding, no control bytes): 400",
    tier=PYTHON,
)
async def test_part_header_syntax(client: httpx.AsyncClient, case: str) -> None:
    await run(client, HEADER_SYNTAX, case)
