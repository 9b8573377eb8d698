"""Typed views of the header fields a UAS routes by: Via, CSeq, and name-addr fields.

Each `parse_*` takes one unfolded value and raises SipParseError on a malformed one.
Linear white space may sit around every separator (RFC 4475 wsinv: `SIP  /   2.0 /UDP`,
`tag    = 1918181833n`), so the parsers split on separators and strip, never match a
whole value in one rigid pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from omnivox.media.sip.syntax import (
    TOKEN,
    SipParseError,
    find_unquoted,
    is_quoted_string,
    number,
    parse_params,
    split_unquoted,
    unquote,
)
from omnivox.media.sip.uri import Uri, parse_uri, split_hostport

BRANCH_COOKIE = "z9hG4bK"
"""RFC 3261 branches start with this; older (RFC 2543) ones are matched otherwise."""

MAX_CSEQ = 2**31 - 1
"""RFC 3261 8.1.1.5: the sequence number MUST be less than 2**31."""

_SENT_PROTOCOL = re.compile(r"\s*([^/\s]+)\s*/\s*([^/\s]+)\s*/\s*([^/\s]+)\s+(.*)", re.DOTALL)
_CSEQ = re.compile(r"\s*(\S+)\s+(\S+)\s*")


@dataclass(frozen=True, slots=True)
class Via:
    """One Via value: `SIP/2.0/UDP host:port;branch=...`."""

    transport: str
    """Uppercase, e.g. "UDP"; unknown ones are kept (RFC 4475 transports)."""
    host: str
    port: int | None
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return self.host, self.port

    @property
    def has_rfc3261_branch(self) -> bool:
        """Whether the branch alone identifies the transaction (RFC 3261 17.2.3)."""
        return (self.branch or "").startswith(BRANCH_COOKIE)


@dataclass(frozen=True, slots=True)
class CSeq:
    number: int
    method: str


@dataclass(frozen=True, slots=True)
class NameAddress:
    """A From, To, Contact, Route or Record-Route value: [display] <uri> ;params."""

    uri: Uri
    display_name: str = ""
    """Unquoted."""
    params: dict[str, str | None] = field(default_factory=dict)
    """Header parameters (tag, expires...), names lowercased, values as written."""
    is_star: bool = False
    """`Contact: *` (REGISTER's remove-all); then `uri` is a placeholder."""

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")


def parse_via(value: str) -> Via:
    match = _SENT_PROTOCOL.fullmatch(value)
    if match is None:
        raise SipParseError("malformed Via")
    name, version, transport, rest = match.groups()
    if not all(TOKEN.fullmatch(part) for part in (name, version, transport)):
        raise SipParseError("malformed Via")
    sent_by, semicolon, params_text = rest.partition(";")
    sent_by = sent_by.strip(" \t")
    # LWS may surround the port's colon; an IPv6 reference's colons are inside [].
    sent_by = re.sub(r"\s*:\s*(\d+)$", r":\1", sent_by)
    if not sent_by:
        raise SipParseError("malformed Via")
    try:
        host, port = split_hostport(sent_by)
        params = parse_params(semicolon + params_text)
    except SipParseError:
        raise SipParseError("malformed Via") from None
    return Via(transport.upper(), host, port, params, f"{name}/{version}".upper())


def parse_cseq(value: str) -> CSeq:
    match = _CSEQ.fullmatch(value)
    if match is None or not TOKEN.fullmatch(match.group(2)):
        raise SipParseError("malformed CSeq")
    try:
        sequence = number(match.group(1), "CSeq", MAX_CSEQ)
    except SipParseError:
        raise SipParseError("malformed CSeq") from None
    return CSeq(sequence, match.group(2))


def _display_name(text: str) -> str:
    """An unquoted display name is tokens separated by LWS (RFC 4475 baddn has a comma)."""
    if not text or is_quoted_string(text):
        return unquote(text)
    if not all(TOKEN.fullmatch(word) for word in text.split()):
        raise SipParseError("malformed display name")
    return " ".join(text.split())


def parse_name_address(
    value: str, *, brackets_required: bool = False, star_allowed: bool = False
) -> NameAddress:
    """Read `"Name" <uri>;params`, `Name <uri>;params` or `uri;params`.

    Outside <...> the URI may hold no "?" (RFC 4475 regbadct), and its ";" start the
    header's parameters; inside it no white space (4475 badaspec).
    """
    text = value.strip(" \t")
    if star_allowed and text == "*":
        return NameAddress(Uri("*", ""), is_star=True)
    split_unquoted(text, ",")  # balanced quotes and brackets (RFC 4475 quotbal)
    open_at = find_unquoted(text, "<")
    if open_at >= 0:
        close_at = text.find(">", open_at)
        if close_at < 0:
            raise SipParseError("unterminated <")
        display = _display_name(text[:open_at].strip(" \t"))
        uri = parse_uri(text[open_at + 1 : close_at])
        params_text = text[close_at + 1 :]
    elif brackets_required:
        raise SipParseError("URI not in <>")
    else:
        uri_text, semicolon, rest = text.partition(";")
        display = ""
        uri = parse_uri(uri_text.strip(" \t"), allow_headers=False)
        params_text = semicolon + rest
    return NameAddress(uri, display, parse_params(params_text))
