"""The one reader of the POST /token body: (Content-Type values, raw bytes) -> TokenRequest.

Every adapter hands its buffered body here, so that one body has one reading everywhere
(CONTRACT.md "POST /token", "Body"). The byte-level work is python-multipart's streaming
parsers; this module adds the contract's rules and limits around them:

- `application/x-www-form-urlencoded`: read as Starlette reads it (QuerystringParser; bytes
  are Latin-1, %-escapes UTF-8, `+` is a space); the charset parameter is ignored.
- `multipart/form-data`: RFC 7578 and no more. A boundary of 1-70 RFC 2046 characters; the
  body starts with the first delimiter (CR and LF bytes before it are skipped), every delimiter
  line is exactly `--boundary` CRLF, the close delimiter is required, whatever follows it is
  ignored. Each part has exactly one `Content-Disposition: form-data` with a `name`; at most
  one Content-Type, whose charset (as the request's) is utf-8 or us-ascii or absent; at most
  one Content-Transfer-Encoding, 7bit, 8bit or binary; a text part is valid UTF-8 (ASCII for
  us-ascii). A part with a `filename` is a file: a file where a text field belongs is the
  not_a_string 422 entry, a file part of another name is ignored unread.
- Any other media type, no Content-Type, or an empty body: an empty form (FastAPI's answer).

A body this module cannot read raises MalformedBody (400); the fields it reads go through
`parse_token_form` (422 entries). Limits: MAX_FIELDS fields or parts, MAX_PART_HEADERS header
lines of at most MAX_HEADER_LINE bytes per part; a part can be as large as the body
(MAX_BODY_BYTES, enforced here too, so the bounds hold for any caller).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, QuerystringParser, parse_options_header

from core.asgi import MAX_BODY_BYTES
from core.errors import BodyTooLarge, MalformedBody
from core.forms import TokenRequest, parse_token_form

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
#: Fields of a url-encoded body, or parts of a multipart one; the form itself has six.
MAX_FIELDS = 100
#: Header lines per part, and the bytes of one line (name, colon, value; CRLF not counted).
MAX_PART_HEADERS = 8
MAX_HEADER_LINE = 1024
#: The charsets a part (or the multipart request) may declare; absent means UTF-8.
CHARSETS = {"utf-8": "utf-8", "us-ascii": "ascii"}
TRANSFER_ENCODINGS = frozenset({b"7bit", b"8bit", b"binary"})
#: RFC 2046 §5.1.1: 1 to 70 of these characters, not ending with a space.
BOUNDARY = re.compile(rb"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
#: Part headers that decide how a part is read: a second one would be a second reading.
SINGLE_HEADERS = (b"content-disposition", b"content-type", b"content-transfer-encoding")

# python-multipart logs every complaint about a body (e.g. "Expected boundary character ...")
# as a warning on its module logger, which reaches stderr through logging's last resort when
# the process has no handler: attacker-controlled text in the server's log. The parsers built
# here log to this logger instead, which drops everything; the process-wide logger stays as is.
QUIET = logging.getLogger(f"{__name__}.python_multipart")
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False
QUIET.setLevel(logging.CRITICAL + 1)


@dataclass(frozen=True, slots=True)
class FilePart:
    """A multipart part with a filename: never a string, its content never read."""

    filename: str


Pair = tuple[str, "str | FilePart"]


class _Refused(Exception):
    """A rule of this module broken inside a parser callback."""


def read_token_form(content_type: str | Sequence[str] | None, body: bytes) -> TokenRequest:
    """The /token form of a request: its Content-Type header value(s) and its whole body."""
    return parse_token_form(read_form(content_type, body))


def read_form(content_type: str | Sequence[str] | None, body: bytes) -> list[Pair]:
    """The body's (name, value) pairs in order; MalformedBody when it cannot be read."""
    if len(body) > MAX_BODY_BYTES:
        raise BodyTooLarge()
    values = [content_type] if isinstance(content_type, str) else list(content_type or ())
    if len(values) > 1:
        raise MalformedBody()  # two Content-Type headers: which one a proxy read is unknown
    media_type, params = parse_options_header(values[0] if values else None)
    try:
        if media_type == URLENCODED.encode():
            return _urlencoded(body)
        if media_type == MULTIPART.encode():
            return _multipart(params, body)
    except (_Refused, FormParserError, UnicodeDecodeError) as exc:
        raise MalformedBody() from exc
    return []


def _urlencoded(body: bytes) -> list[Pair]:
    pairs: list[Pair] = []
    name, value = bytearray(), bytearray()

    def on_field_start() -> None:
        name.clear()
        value.clear()

    def on_field_end() -> None:
        if len(pairs) == MAX_FIELDS:
            raise _Refused(f"more than {MAX_FIELDS} fields")
        text = (unquote_plus(name.decode("latin-1")), unquote_plus(value.decode("latin-1")))
        pairs.append(text)

    parser = QuerystringParser(
        {
            "on_field_start": on_field_start,
            "on_field_name": lambda data, start, end: name.extend(data[start:end]),
            "on_field_data": lambda data, start, end: value.extend(data[start:end]),
            "on_field_end": on_field_end,
        }
    )
    parser.logger = QUIET
    parser.write(body)
    parser.finalize()
    return pairs


def _charset(params: dict[bytes, bytes]) -> str:
    declared = params.get(b"charset")
    if declared is None:
        return "utf-8"
    codec = CHARSETS.get(declared.decode("latin-1").lower())
    if codec is None:
        raise _Refused("charset other than utf-8 or us-ascii")
    return codec


@dataclass(slots=True)
class _Part:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    name: str = ""
    file: FilePart | None = None
    codec: str = "utf-8"
    data: bytearray = field(default_factory=bytearray)


class _MultipartReader:
    """The callbacks of one MultipartParser run, checking each part as it is read."""

    def __init__(self) -> None:
        self.pairs: list[Pair] = []
        self.part = _Part()
        self.parts = 0
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.ended = False

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_FIELDS:
            raise _Refused(f"more than {MAX_FIELDS} parts")
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name.extend(data[start:end])

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value.extend(data[start:end])

    def on_header_end(self) -> None:
        # The parser ends a line at CR only: a bare LF (or another control byte) in a value
        # would be a line end to some other reader of the same body.
        if CONTROL.search(self.header_value):
            raise _Refused("a control byte in a part header")
        self.part.headers.append((bytes(self.header_name).lower(), bytes(self.header_value)))
        self.header_name.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        headers: dict[bytes, bytes] = {}
        for name, value in self.part.headers:
            if name in headers and name in SINGLE_HEADERS:
                raise _Refused(f"two {name.decode()} headers in a part")
            headers[name] = value
        disposition, options = parse_options_header(
            headers.get(b"content-disposition", b"").decode("latin-1")
        )
        if disposition != b"form-data" or b"name" not in options:
            raise _Refused("a part without Content-Disposition: form-data and a name")
        encoding = headers.get(b"content-transfer-encoding", b"7bit").strip().lower()
        if encoding not in TRANSFER_ENCODINGS:
            raise _Refused("a Content-Transfer-Encoding other than 7bit, 8bit or binary")
        self.part.name = options[b"name"].decode("utf-8")
        if b"filename" in options:
            self.part.file = FilePart(options[b"filename"].decode("utf-8"))
        else:
            _, params = parse_options_header(headers.get(b"content-type", b"").decode("latin-1"))
            self.part.codec = _charset(params)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.file is None:  # a file's content is never looked at
            self.part.data.extend(data[start:end])

    def on_part_end(self) -> None:
        value = self.part.file or self.part.data.decode(self.part.codec)
        self.pairs.append((self.part.name, value))

    def on_end(self) -> None:
        self.ended = True


def _multipart(params: dict[bytes, bytes], body: bytes) -> list[Pair]:
    boundary = params.get(b"boundary", b"")
    if not BOUNDARY.fullmatch(boundary):
        raise _Refused("no boundary, or not 1-70 RFC 2046 characters")
    _charset(params)
    if not body:
        return []
    delimiter = b"--" + boundary
    start = body.lstrip(b"\r\n")
    if not (start.startswith(delimiter + b"\r\n") or start.startswith(delimiter + b"--")):
        raise _Refused("a preamble, or a first delimiter line that is not --boundary CRLF")
    if re.search(re.escape(b"\r\n" + delimiter) + rb"[ \t]", body):
        # python-multipart takes padding after later delimiters, not after the first.
        raise _Refused("transport padding after a delimiter")
    reader = _MultipartReader()
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": reader.on_part_begin,
            "on_part_data": reader.on_part_data,
            "on_part_end": reader.on_part_end,
            "on_header_field": reader.on_header_field,
            "on_header_value": reader.on_header_value,
            "on_header_end": reader.on_header_end,
            "on_headers_finished": reader.on_headers_finished,
            "on_end": reader.on_end,
        },
        max_header_count=MAX_PART_HEADERS,
        max_header_size=MAX_HEADER_LINE,
    )
    parser.logger = QUIET
    parser.write(body)
    parser.finalize()
    if not reader.ended:
        raise _Refused("no close delimiter")
    return reader.pairs
