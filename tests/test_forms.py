"""The /token form rules, FastAPI-shaped validation entries, and the one reader of the body
(core.formparse)."""

from __future__ import annotations

import contextlib
import importlib
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser

from core import registry
from core.asgi import MAX_BODY_BYTES
from core.errors import BodyTooLarge, FormError, MalformedBody
from core.formparse import (
    MAX_FIELDS,
    MAX_HEADER_LINE,
    MAX_PART_HEADERS,
    QUIET,
    FilePart,
    read_form,
    read_token_form,
)
from core.forms import TokenRequest, normalize_errors, parse_token_form
from core.settings import Settings

MISSING_USERNAME = {
    "type": "missing",
    "loc": ["body", "username"],
    "msg": "Field required",
    "input": None,
}
MISSING_PASSWORD = {**MISSING_USERNAME, "loc": ["body", "password"]}


def bad_grant(value: str) -> dict[str, Any]:
    return {
        "type": "string_pattern_mismatch",
        "loc": ["body", "grant_type"],
        "msg": "String should match pattern '^password$'",
        "input": value,
        "ctx": {"pattern": "^password$"},
    }


def not_a_string(field: str, value: object) -> dict[str, Any]:
    return {
        "type": "string_type",
        "loc": ["body", field],
        "msg": "Input should be a valid string",
        "input": value,
    }


class Upload:
    """Stands where a multipart form puts a file."""

    filename = "secret.txt"


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("username", "u"), ("password", "p")], TokenRequest("u", "p")),
        (
            [("grant_type", "password"), ("username", "u"), ("password", "p"), ("scope", "me")],
            TokenRequest("u", "p", "me", "password"),
        ),
        (
            [("username", "u"), ("password", "p"), ("grant_type", ""), ("scope", "")],
            TokenRequest("u", "p"),
        ),
        (
            [("username", "first"), ("password", "p"), ("username", "last")],
            TokenRequest("last", "p"),
        ),
        ([("username", "u"), ("password", "p"), ("username", "")], None),
        (
            [("username", "u"), ("password", "p"), ("client_id", "c"), ("client_secret", "s")],
            TokenRequest("u", "p"),
        ),
        (
            [("username", "u"), ("password", "p"), ("unknown", object()), ("Username", "x")],
            TokenRequest("u", "p"),
        ),
        ([("username", " "), ("password", " ")], TokenRequest(" ", " ")),
        (
            [("username", "u"), ("password", "p"), ("scope", "items  me")],
            TokenRequest("u", "p", "items  me"),
        ),
    ],
)
def test_parse_valid(pairs: list[tuple[str, object]], expected: TokenRequest | None) -> None:
    if expected is None:
        # The last value wins, even an empty one: then the field is absent.
        with pytest.raises(FormError) as caught:
            parse_token_form(pairs)
        assert caught.value.errors == [MISSING_USERNAME]
        return
    assert parse_token_form(pairs) == expected


@pytest.mark.parametrize(
    ("pairs", "errors"),
    [
        ([], [MISSING_USERNAME, MISSING_PASSWORD]),
        ([("username", ""), ("password", "")], [MISSING_USERNAME, MISSING_PASSWORD]),
        ([("username", "u")], [MISSING_PASSWORD]),
        ([("password", "p")], [MISSING_USERNAME]),
        (
            [("grant_type", "client_credentials"), ("username", "u"), ("password", "p")],
            [bad_grant("client_credentials")],
        ),
        (
            [("grant_type", "Password"), ("username", "u")],
            [bad_grant("Password"), MISSING_PASSWORD],
        ),
        (
            [("grant_type", "password "), ("username", "u"), ("password", "p")],
            [bad_grant("password ")],
        ),
        ([("username", "u"), ("password", Upload())], [not_a_string("password", None)]),
        ([("username", "u"), ("password", 12345)], [not_a_string("password", None)]),
        ([("username", Upload()), ("password", "p")], [not_a_string("username", None)]),
        ([("username", 7), ("password", "p")], [not_a_string("username", 7)]),
        (
            [("username", "u"), ("password", "p"), ("client_secret", 9), ("scope", 1.5)],
            [not_a_string("scope", 1.5), not_a_string("client_secret", None)],
        ),
        (
            [("grant_type", True), ("password", "p")],
            [not_a_string("grant_type", True), MISSING_USERNAME],
        ),
    ],
)
def test_parse_invalid(pairs: list[tuple[str, object]], errors: list[dict[str, Any]]) -> None:
    with pytest.raises(FormError) as caught:
        parse_token_form(pairs)
    assert caught.value.errors == errors
    assert str(caught.value) == f"{len(errors)} invalid form field(s)"


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([], []),
        (
            [{"type": "missing", "loc": ("body", "username"), "msg": "x", "input": {"a": 1}}],
            [MISSING_USERNAME],
        ),
        (
            [
                {
                    "type": "string_pattern_mismatch",
                    "loc": ["body", "grant_type"],
                    "msg": "whatever",
                    "input": "implicit",
                    "ctx": {"pattern": "^password$"},
                }
            ],
            [bad_grant("implicit")],
        ),
        (
            [{"type": "string_type", "loc": ["body", "password"], "msg": "x", "input": b"pw"}],
            [not_a_string("password", None)],
        ),
        (
            [{"type": "string_type", "loc": ["body", "username"], "msg": "x", "input": 3}],
            [not_a_string("username", 3)],
        ),
        (
            [{"type": "string_type", "loc": ["body", "scope"], "msg": "x", "input": [1]}],
            [not_a_string("scope", None)],
        ),
        (
            [
                {
                    "type": "string_pattern_mismatch",
                    "loc": ["body", "scope"],
                    "msg": "String should match pattern 'x'",
                    "input": "me",
                }
            ],
            [
                {
                    "type": "string_pattern_mismatch",
                    "loc": ["body", "scope"],
                    "msg": "String should match pattern 'x'",
                    "input": "me",
                }
            ],
        ),
        (
            [
                {
                    "type": "string_too_long",
                    "loc": ["body", "password"],
                    "msg": "too long",
                    "input": "hunter2",
                }
            ],
            [
                {
                    "type": "string_too_long",
                    "loc": ["body", "password"],
                    "msg": "too long",
                    "input": None,
                }
            ],
        ),
        (
            [{"type": "model_attributes_type", "input": Upload()}],
            [{"type": "model_attributes_type", "loc": [], "msg": "", "input": None}],
        ),
        ([{}], [{"type": "", "loc": [], "msg": "", "input": None}]),
        (
            [{"type": "missing", "loc": ("body", 0), "msg": "x"}],
            [{**MISSING_USERNAME, "loc": ["body", "0"]}],
        ),
    ],
)
def test_normalize_errors(entries: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert normalize_errors(entries) == expected


def test_password_never_echoed() -> None:
    entries = [
        {"type": t, "loc": ["body", field], "msg": "m", "input": "hunter2"}
        for t in ("string_type", "string_too_short", "value_error")
        for field in ("password", "client_secret")
    ]
    assert "hunter2" not in repr(normalize_errors(entries))


# --- core.formparse: the one reader of the /token body ---------------------------------------

ROOT = Path(__file__).resolve().parent.parent
BOUNDARY = "unit-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
URLENCODED = "application/x-www-form-urlencoded"


def part(*headers: str, value: bytes = b"", boundary: str = BOUNDARY) -> bytes:
    lines = b"".join(header.encode("latin-1") + b"\r\n" for header in headers)
    return f"--{boundary}\r\n".encode() + lines + b"\r\n" + value + b"\r\n"


def named(name: str, extra: str = "") -> str:
    return f'Content-Disposition: form-data; name="{name}"{extra}'


def close(boundary: str = BOUNDARY) -> bytes:
    return f"--{boundary}--\r\n".encode()


LOGIN = part(named("username"), value=b"johndoe") + part(named("password"), value=b"secret")


def refused(content_type: str | list[str] | None, body: bytes) -> None:
    with pytest.raises(MalformedBody):
        read_form(content_type, body)


@pytest.mark.parametrize(
    ("body", "pairs"),
    [
        (b"username=johndoe&password=secret", [("username", "johndoe"), ("password", "secret")]),
        # As Starlette reads it: raw bytes are Latin-1, %-escapes UTF-8, "+" is a space.
        (b"a=j\xc3\xb6&b=j%C3%B6&c=a+b%2B", [("a", "jÃ¶"), ("b", "jö"), ("c", "a b+")]),
        (b"a=%FF&b=%zz", [("a", "\ufffd"), ("b", "%zz")]),
        (b"&&a=1&&b&=2&", [("a", "1"), ("b", ""), ("", "2")]),
        (b"a=1;b=2", [("a", "1;b=2")]),
        (b"a=x=y", [("a", "x=y")]),
        (b"", []),
    ],
)
def test_urlencoded(body: bytes, pairs: list[tuple[str, str]]) -> None:
    assert read_form(URLENCODED, body) == pairs
    # Parameters (charset included) do not change the reading.
    assert read_form(f"{URLENCODED}; charset=latin-1; boundary=x", body) == pairs


def test_urlencoded_field_limit() -> None:
    at_limit = b"&".join(b"f%d=1" % i for i in range(MAX_FIELDS))
    assert len(read_form(URLENCODED, at_limit)) == MAX_FIELDS == 100
    refused(URLENCODED, at_limit + b"&one=more")


def test_token_form_from_either_media_type() -> None:
    urlencoded = b"grant_type=password&username=johndoe&password=secret&scope=me+items"
    multipart = (
        part(named("grant_type"), value=b"password")
        + LOGIN
        + part(named("scope"), value=b"me items")
        + close()
    )
    expected = TokenRequest("johndoe", "secret", "me items", "password")
    assert read_token_form(URLENCODED, urlencoded) == expected
    assert read_token_form(MULTIPART, multipart) == expected
    assert read_token_form([MULTIPART], multipart) == expected


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        [],
        "text/plain",
        "application/json",
        "multipart/mixed; boundary=x",
        f"{URLENCODED}, x/y",
    ],
)
def test_other_media_types_are_an_empty_form(content_type: str | list[str] | None) -> None:
    assert read_form(content_type, b"username=johndoe&password=secret") == []
    with pytest.raises(FormError) as caught:
        read_token_form(content_type, b"username=johndoe&password=secret")
    assert caught.value.errors == [MISSING_USERNAME, MISSING_PASSWORD]


def test_two_content_types_refused() -> None:
    refused([URLENCODED, URLENCODED], b"username=johndoe")
    refused([MULTIPART, URLENCODED], LOGIN + close())


def test_body_limit_enforced_by_the_reader() -> None:
    assert read_form(URLENCODED, b"a=" + b"x" * (MAX_BODY_BYTES - 2)) == [("a", "x" * 65534)]
    with pytest.raises(BodyTooLarge):
        read_form(URLENCODED, b"a=" + b"x" * (MAX_BODY_BYTES - 1))


def test_multipart_pairs_in_order() -> None:
    body = (
        part(named("username"), value=b"first")
        + part(named("note"), "Content-Type: application/json", value=b"{}")
        + part(named("username"), value=b"j\xc3\xb6hn\r\n--unit-boundaryX")
        + part(named(""), value=b"")
        + close()
    )
    assert read_form(MULTIPART, body) == [
        ("username", "first"),
        ("note", "{}"),
        ("username", "jöhn\r\n--unit-boundaryX"),
        ("", ""),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        close(),
        b"\r\n\n\r" + close(),
        close() + b"epilogue --unit-boundary\r\nanything",
        close().removesuffix(b"\r\n"),
    ],
)
def test_multipart_without_parts(body: bytes) -> None:
    assert read_form(MULTIPART, body) == []


def test_multipart_epilogue_and_leading_newlines() -> None:
    expected = [("username", "johndoe"), ("password", "secret")]
    assert read_form(MULTIPART, b"\r\n" + LOGIN + close() + b"the epilogue") == expected
    assert read_form(MULTIPART, LOGIN + close() + part(named("username"), value=b"x")) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"preamble\r\n" + LOGIN + close(),
        b"\r\npreamble-with-dash\r\n" + LOGIN + close(),
        LOGIN,  # no close delimiter
        LOGIN[:-3],
        LOGIN + b"--unit-boundary\r\n",
        LOGIN.removesuffix(b"\r\n") + close(),
        b"\r\n",
        LOGIN.replace(b"\r\n", b"\n") + close(),
        LOGIN.replace(b"--unit-boundary\r\n", b"--unit-boundary \r\n", 1) + close(),
        LOGIN.replace(b"\r\n--unit-boundary\r\n", b"\r\n--unit-boundary\t\r\n") + close(),
        b"--unit-boundaryX\r\n" + LOGIN + close(),
    ],
    ids=[
        "preamble", "preamble-after-crlf", "no-close", "cut", "close-missing-after-delimiter",
        "no-crlf-before-close", "only-crlf", "lf-only", "padding-first", "padding-later",
        "other-boundary-first",
    ],
)  # fmt: skip
def test_multipart_framing_refused(body: bytes) -> None:
    refused(MULTIPART, body)


@pytest.mark.parametrize(
    "headers",
    [
        ('Content-Disposition: attachment; name="username"',),
        ("Content-Disposition: form-data",),
        ("Content-Disposition: form-data; name*=utf-8''username",),
        ("Content-Type: text/plain",),
        (),
        (named("x"), named("username")),
        (named("username"), "Content-Type: text/plain", "Content-Type: text/plain"),
        (named("username"), "Content-Transfer-Encoding: 7bit", "Content-Transfer-Encoding: 7bit"),
        (named("username"), "Content-Transfer-Encoding: base64"),
        (named("username"), "Content-Transfer-Encoding: quoted-printable"),
        ('Content-Disposition : form-data; name="username"',),
        ('Content-Disposition: form-data;\r\n name="username"',),
        ("Content-Disposition form-data", named("username")),
        (named("username") + "\nX-Other: 1",),
        (named("username") + "\x00",),
        (named("username") + "\x7f",),
        (named("us\xe9r"),),
        (named("username", '; filename="\xe9"'),),
    ],
)
def test_part_headers_refused(headers: tuple[str, ...]) -> None:
    refused(MULTIPART, part(*headers, value=b"johndoe") + close())


@pytest.mark.parametrize(
    ("headers", "name"),
    [
        (('Content-Disposition: FORM-DATA; name="u"',), "u"),
        (("Content-Disposition: form-data; name=u",), "u"),
        (('content-disposition: form-data; name="u"; name*=x', "X-A: 1", "X-A: 2"), "u"),
        ((named("u"), "Content-Transfer-Encoding: BINARY"), "u"),
        ((named("u"), "Content-Transfer-Encoding: 8bit", "Content-Type: application/json"), "u"),
        ((named("u\xc3\xa9"),), "ué"),
        ((named("u") + "\t; x=1",), "u"),
    ],
)
def test_part_headers_read(headers: tuple[str, ...], name: str) -> None:
    assert read_form(MULTIPART, part(*headers, value=b"v") + close()) == [(name, "v")]


@pytest.mark.parametrize(
    ("declared", "value", "read"),
    [
        (None, "jöhn".encode(), "jöhn"),
        ("utf-8", "jöhn".encode(), "jöhn"),
        ("UTF-8", b"j", "j"),
        ('"utf-8"', b"j", "j"),
        ("us-ascii", b"john", "john"),
        ("US-ASCII", b"john", "john"),
        ("us-ascii", "jöhn".encode(), None),
        ("utf-8", "jöhn".encode("latin-1"), None),
        (None, b"\xc3(", None),
        (None, b"\xed\xa0\x80", None),  # a UTF-16 surrogate: not UTF-8
        ("utf8", b"j", None),
        ("ascii", b"j", None),
        ("latin-1", b"j", None),
        ("iso-8859-1", "jö".encode("latin-1"), None),
        ("x-nope", b"j", None),
        ("unicode_escape", rb"\x6aohndoe", None),
        ("raw_unicode_escape", rb"\u006a", None),
        ("utf-16", "johndoe".encode("utf-16"), None),
        ("utf-7", b"+AGo-", None),
        ("rot13", b"wbuaqbr", None),
        ("base64", b"am9obmRvZQ==", None),
        ("", b"j", None),
    ],
)
def test_part_charsets(declared: str | None, value: bytes, read: str | None) -> None:
    headers = [named("username")]
    if declared is not None:
        headers.append(f"Content-Type: text/plain; charset={declared}")
    body = part(*headers, value=value) + close()
    if read is None:
        refused(MULTIPART, body)
    else:
        assert read_form(MULTIPART, body) == [("username", read)]


@pytest.mark.parametrize(
    ("declared", "ok"),
    [("utf-8", True), ("Us-Ascii", True), ("latin-1", False), ("utf-16-le", False), ("x", False)],
)
def test_request_charset(declared: str, ok: bool) -> None:
    content_type = f"multipart/form-data; charset={declared}; boundary={BOUNDARY}"
    if ok:
        assert len(read_form(content_type, LOGIN + close())) == 2
    else:
        refused(content_type, LOGIN + close())
        refused(content_type, b"")  # the header alone decides


def test_file_parts() -> None:
    body = (
        part(named("username", '; filename="u.txt"'), value=b"johndoe")
        + part(named("password", '; filename=""'), value=b"secret")
        + part(named("scope", "; filename"), value=b"me")
        + part(named("avatar", '; filename="a.bin"'), "Content-Type: image/png", value=b"\xff\x00")
        + part(named("grant_type", "; filename*=utf-8''x"), value=b"password")
        + close()
    )
    assert read_form(MULTIPART, body) == [
        ("username", FilePart("u.txt")),
        ("password", FilePart("")),
        ("scope", FilePart("")),
        ("avatar", FilePart("a.bin")),
        ("grant_type", "password"),  # filename* is not a filename (RFC 7578 §4.2)
    ]
    with pytest.raises(FormError) as caught:
        read_token_form(MULTIPART, body)
    # The content of a file never appears; the password's filename neither.
    assert caught.value.errors == [
        not_a_string("username", None),
        not_a_string("password", None),
        not_a_string("scope", None),
    ]


def test_file_part_charset_not_checked() -> None:
    file = part(
        named("a", '; filename="a"'), "Content-Type: text/plain; charset=utf-16", value=b"x"
    )
    assert read_form(MULTIPART, file + close()) == [("a", FilePart("a"))]


def test_part_limits() -> None:
    def parts(count: int) -> bytes:
        return b"".join(part(named(f"f{i}"), value=b"1") for i in range(count)) + close()

    assert len(read_form(MULTIPART, parts(MAX_FIELDS))) == MAX_FIELDS
    refused(MULTIPART, parts(MAX_FIELDS + 1))
    files = b"".join(part(named(f"f{i}", '; filename="f"'), value=b"1") for i in range(101))
    refused(MULTIPART, files + close())

    def padded(size: int) -> str:
        return "X-Pad: " + "a" * (size - len("X-Pad: "))

    assert read_form(MULTIPART, part(named("u"), padded(MAX_HEADER_LINE)) + close()) == [("u", "")]
    refused(MULTIPART, part(named("u"), padded(MAX_HEADER_LINE + 1)) + close())
    more = [f"X-{i}: v" for i in range(MAX_PART_HEADERS - 1)]
    assert read_form(MULTIPART, part(named("u"), *more) + close()) == [("u", "")]
    refused(MULTIPART, part(named("u"), *more, "X-last: v") + close())
    assert (MAX_FIELDS, MAX_PART_HEADERS, MAX_HEADER_LINE) == (100, 8, 1024)


@pytest.mark.parametrize(
    ("boundary", "ok"),
    [
        ("b" * 70, True),
        ("b" * 71, False),
        ("b" * 300, False),
        ("a b", True),
        ("'()+_,-./:=?", True),
        ("ab ", False),
        ("a@b", False),
        ("a;b", False),
        ("", False),
    ],
)
def test_boundaries(boundary: str, ok: bool) -> None:
    body = part(named("u"), value=b"v", boundary=boundary) + close(boundary)
    content_type = f'multipart/form-data; boundary="{boundary}"'
    if ok:
        assert read_form(content_type, body) == [("u", "v")]
    else:
        refused(content_type, body)


def test_boundary_missing_or_mismatched() -> None:
    refused("multipart/form-data", LOGIN + close())
    refused("multipart/form-data; boundary=", b"")
    refused("multipart/form-data; boundary=other", LOGIN + close())
    assert read_form(f"Multipart/Form-Data ; boundary={BOUNDARY}", LOGIN + close()) != []


NOISY_BODIES = [
    (MULTIPART, b"--unit-boundary\r\nbroken"),
    (MULTIPART, b"--unit-boundaryX"),
    (MULTIPART, part("Bad Header: x") + close()),
    (MULTIPART, part(named("u"), "X: " + "a" * 5000) + close()),
    (MULTIPART, b"--unit-boundary\r\n" + named("u").encode() + b"\r\r"),
    (URLENCODED, b"a=1&&&b=2"),
]


NOISY_IDS = ["no-colon", "other-boundary", "bad-header-name", "long-header", "cr-cr", "amps"]


@pytest.mark.parametrize(("content_type", "body"), NOISY_BODIES, ids=NOISY_IDS)
def test_parser_complaints_never_logged(
    content_type: str,
    body: bytes,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """python-multipart logs attacker text ("Expected boundary character ...") as warnings;
    through logging's last resort they reach stderr. The reader's parsers log nowhere."""
    caplog.set_level(logging.DEBUG)
    with contextlib.suppress(MalformedBody):
        read_form(content_type, body)
    assert caplog.records == []
    assert capfd.readouterr().err == ""


def test_python_multipart_would_log_without_the_quiet_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The control: the same parser with its own logger does log (else the test above would
    prove nothing)."""
    caplog.set_level(logging.DEBUG)
    with pytest.raises(MultipartParseError):
        MultipartParser(BOUNDARY).write(b"--unit-boundaryX")
    assert [record.name for record in caplog.records] == ["python_multipart.multipart"]


STDERR_PROBE = """
import sys
from python_multipart.multipart import MultipartParser
from core.errors import MalformedBody
from core.formparse import read_form
for body in (b"--b\\r\\nbroken", b"--bX", b"--b\\r\\nBad Header: x\\r\\n\\r\\n"):
    try:
        read_form("multipart/form-data; boundary=b", body)
    except MalformedBody:
        pass
if sys.argv[1:] == ["control"]:
    try:
        MultipartParser(b"b").write(b"--c")
    except ValueError:
        pass
"""


@pytest.mark.parametrize("control", [False, True], ids=["reader", "control"])
def test_nothing_reaches_stderr(control: bool) -> None:
    """In a fresh process without logging configured, as a server runs: the reader prints
    nothing, where python-multipart's own logger prints through logging's last resort."""
    command = [sys.executable, "-c", STDERR_PROBE, *(["control"] if control else [])]
    done = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        command, capture_output=True, text=True, cwd=ROOT, check=True
    )
    if control:
        assert "Expected boundary character" in done.stderr
    else:
        assert done.stderr == ""


def test_quiet_logger_is_self_contained() -> None:
    assert QUIET.propagate is False
    assert not QUIET.isEnabledFor(logging.CRITICAL)
    assert logging.getLogger("python_multipart.multipart").level == logging.NOTSET


@pytest.mark.parametrize("impl", registry.IMPLEMENTATIONS)
async def test_apps_log_nothing_for_broken_bodies(
    impl: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """End to end: each adapter hands its body to the reader, and nothing parses it again."""
    caplog.set_level(logging.DEBUG)
    settings = Settings(
        secret_key="k" * 32, database_url="memory://", data_dir=tmp_path, password_profile="cheap"
    )
    app = importlib.import_module(f"impl_{impl}.app").create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for content_type, body in NOISY_BODIES:
            response = await client.post(
                "/token", content=body, headers={"Content-Type": content_type}
            )
            assert response.status_code in {400, 422}, response.text
    assert [r.name for r in caplog.records if r.name.startswith("python_multipart")] == []
