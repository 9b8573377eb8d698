"""SIP messages: parse one datagram into a request or a response, and write one back.

`parse_message` accepts everything RFC 3261 allows, RFC 4475's torture messages and
RFC 5118's IPv6 ones included (folded lines, odd white space, compact and repeated
headers, escapes, unknown schemes, bracketed IPv6 hosts), and refuses the invalid ones
with SipParseError, the only exception it raises. It checks the fields a UAS acts on
(start line, Via, From, To, Contact, Route, Record-Route, Call-ID, CSeq, Max-Forwards,
Content-Length, Content-Type, Date); unknown fields are data and pass untouched.

Over UDP a datagram is one message: the body is what Content-Length says (trailing
octets dropped, RFC 4475 dblreq), or the rest of the datagram when it is absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from omnivox.media.sip.fields import (
    CSeq,
    NameAddress,
    Via,
    parse_cseq,
    parse_name_address,
    parse_via,
)
from omnivox.media.sip.headers import Headers
from omnivox.media.sip.syntax import TOKEN, WORD, SipParseError, number, parse_params
from omnivox.media.sip.uri import parse_uri

SIP_VERSION = "SIP/2.0"
SINGLE_VALUED = ("Call-ID", "CSeq", "From", "To", "Max-Forwards", "Content-Length", "Content-Type")
"""Fields that may appear once (RFC 4475 multi01, mcl01: two of them is a 400)."""

MAX_CONTENT_LENGTH = 2**31 - 1

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(r"\r?\n")
_OTHER_VERSION = re.compile(r"SIP/[0-9]+\.[0-9]+", re.IGNORECASE)
_CALL_ID = re.compile(rf"{WORD.pattern}(?:@{WORD.pattern})?")
_MEDIA_TYPE = re.compile(rf"\s*{TOKEN.pattern}\s*/\s*{TOKEN.pattern}\s*")
_DATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
    r"[0-9]{2}:[0-9]{2}:[0-9]{2} GMT"
)


class _Fields:
    """Readers for the fields both kinds of message carry; they raise SipParseError when
    a field is missing or malformed (a parsed message has only well-formed ones)."""

    __slots__ = ()
    headers: Headers
    body: bytes

    def has_fields(self, *names: str) -> bool:
        return all(name in self.headers for name in names)

    def _required(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise SipParseError(f"missing {name}")
        return value

    @property
    def call_id(self) -> str:
        return self._required("Call-ID")

    @property
    def cseq(self) -> CSeq:
        return parse_cseq(self._required("CSeq"))

    @property
    def vias(self) -> list[Via]:
        return [parse_via(value) for value in self.headers.values("Via")]

    @property
    def top_via(self) -> Via:
        values = self.headers.values("Via")
        if not values:
            raise SipParseError("missing Via")
        return parse_via(values[0])

    @property
    def branch(self) -> str | None:
        return self.top_via.branch

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return self.top_via.sent_by

    @property
    def from_address(self) -> NameAddress:
        return parse_name_address(self._required("From"))

    @property
    def to_address(self) -> NameAddress:
        return parse_name_address(self._required("To"))

    @property
    def from_tag(self) -> str | None:
        return self.from_address.tag

    @property
    def to_tag(self) -> str | None:
        return self.to_address.tag

    @property
    def max_forwards(self) -> int | None:
        value = self.headers.get("Max-Forwards")
        return None if value is None else number(value, "Max-Forwards", 255)

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        return None if value is None else number(value, "Content-Length", MAX_CONTENT_LENGTH)

    @property
    def content_type(self) -> str | None:
        """The media type, lowercased and without parameters: "application/sdp"."""
        value = self.headers.get("Content-Type")
        return None if value is None else "".join(value.partition(";")[0].split()).lower()


@dataclass(slots=True, eq=True)
class SipRequest(_Fields):
    method: str
    uri: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def to_bytes(self) -> bytes:
        return _serialise(f"{self.method} {self.uri} {SIP_VERSION}", self.headers, self.body)


@dataclass(slots=True, eq=True)
class SipResponse(_Fields):
    status: int
    reason: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def to_bytes(self) -> bytes:
        return _serialise(f"{SIP_VERSION} {self.status} {self.reason}", self.headers, self.body)


def _serialise(start_line: str, headers: Headers, body: bytes) -> bytes:
    """One line a field, in order; Content-Length always there and true to the body."""
    lines = [start_line]
    wrote_length = False
    for name, value in headers:
        if name != "Content-Length":
            lines.append(f"{name}: {value}")
        elif not wrote_length:
            lines.append(f"Content-Length: {len(body)}")
            wrote_length = True
    if not wrote_length:
        lines.append(f"Content-Length: {len(body)}")
    if any("\r" in line or "\n" in line for line in lines):
        # A line break inside a value would smuggle in a header field of its own.
        raise ValueError("line break inside a SIP start line or header field")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def parse_message(data: bytes) -> SipRequest | SipResponse:
    """One SIP message from one datagram; SipParseError (and only that) if malformed."""
    data = data.lstrip(b"\r\n")  # CRLFs before the start line are keep-alives
    if not data:
        raise SipParseError("empty message")
    end = _HEADER_END.search(data)
    if end is None:
        raise SipParseError("header section not terminated")
    # surrogateescape: any bytes survive (and round-trip), UTF-8 reads as text.
    lines = _LINE_END.split(data[: end.start()].decode("utf-8", "surrogateescape"))
    if any("\r" in line for line in lines):
        raise SipParseError("stray CR")
    headers = _read_headers(lines[1:])
    partial = _lenient_start_line(lines[0], headers)
    try:
        message = _read_start_line(lines[0], headers)
        _check_fields(message)
        message.body = _read_body(message.content_length, data[end.end() :])
    except SipParseError as error:
        raise SipParseError(error.reason, status=error.status, partial=partial) from None
    return message


def _read_headers(lines: list[str]) -> Headers:
    fields: list[list[str]] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            # A folded line continues the field above; the fold counts as one space.
            if not fields:
                raise SipParseError("continuation line before any header")
            fields[-1][1] += " " + line.strip(" \t")
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not TOKEN.fullmatch(name):
            raise SipParseError("malformed header line")
        fields.append([name, value])
    return Headers((name, value.strip(" \t")) for name, value in fields)


def _lenient_start_line(line: str, headers: Headers) -> SipRequest | SipResponse:
    """What the start line says, read loosely: enough to answer a malformed request."""
    if line[:4].upper() == "SIP/":
        return SipResponse(0, "", headers)
    words = line.split()
    return SipRequest(words[0] if words else "", words[1] if len(words) > 1 else "", headers)


def _check_version(version: str) -> None:
    if version.upper() == SIP_VERSION:
        return
    if _OTHER_VERSION.fullmatch(version):
        raise SipParseError("SIP version not supported", status=505)
    raise SipParseError("malformed SIP version")


def _read_start_line(line: str, headers: Headers) -> SipRequest | SipResponse:
    if line[:4].upper() == "SIP/":
        version, _, rest = line.partition(" ")
        _check_version(version)
        code, _, reason = rest.partition(" ")
        if len(code) != 3 or not code.isascii() or not code.isdigit() or code[0] not in "123456":
            raise SipParseError("malformed status code")
        return SipResponse(int(code), reason, headers)
    # Exactly one SP between the three elements (RFC 4475 lwsstart, trws, lwsruri).
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise SipParseError("malformed request line")
    method, uri, version = parts
    if not TOKEN.fullmatch(method):
        raise SipParseError("malformed method")
    _check_version(version)
    with _blaming("Request-URI"):
        parse_uri(uri, allow_headers=False)
    return SipRequest(method, uri, headers)


@contextmanager
def _blaming(name: str) -> Iterator[None]:
    """Name the field in the reason of a SipParseError raised inside."""
    try:
        yield
    except SipParseError as error:
        if name in error.reason:
            raise
        raise SipParseError(f"malformed {name} ({error.reason})", status=error.status) from None


def _check_fields(message: SipRequest | SipResponse) -> None:
    headers = message.headers
    for name in SINGLE_VALUED:
        if headers.count(name) > 1:
            raise SipParseError(f"more than one {name}")
    with _blaming("Via"):
        for via in headers.values("Via"):
            parse_via(via)
    for name in ("From", "To"):
        with _blaming(name):
            if (address := headers.get(name)) is not None:
                parse_name_address(address)
    with _blaming("Contact"):
        contacts = [parse_name_address(v, star_allowed=True) for v in headers.values("Contact")]
        if len(contacts) > 1 and any(contact.is_star for contact in contacts):
            raise SipParseError("* among other values")
    for name in ("Route", "Record-Route"):
        with _blaming(name):
            for route in headers.values(name):
                parse_name_address(route, brackets_required=True)
    if (call_id := headers.get("Call-ID")) is not None and not _CALL_ID.fullmatch(call_id):
        raise SipParseError("malformed Call-ID")
    if (cseq := headers.get("CSeq")) is not None:
        method = parse_cseq(cseq).method
        if isinstance(message, SipRequest) and method != message.method:
            raise SipParseError("CSeq method differs from the request's")
    for name, limit in (("Max-Forwards", 255), ("Content-Length", MAX_CONTENT_LENGTH)):
        if (scalar := headers.get(name)) is not None:
            number(scalar, name, limit)
    if (content_type := headers.get("Content-Type")) is not None:
        media_type, semicolon, params = content_type.partition(";")
        with _blaming("Content-Type"):
            if not _MEDIA_TYPE.fullmatch(media_type):
                raise SipParseError("malformed Content-Type")
            parse_params(semicolon + params)
    if (date := headers.get("Date")) is not None and not _DATE.fullmatch(date):
        raise SipParseError("malformed Date")  # RFC 4475 baddate: only GMT is allowed


def _read_body(content_length: int | None, rest: bytes) -> bytes:
    if content_length is None:
        return rest
    if content_length > len(rest):
        raise SipParseError("Content-Length exceeds the body")  # RFC 4475 clerr
    return rest[:content_length]
