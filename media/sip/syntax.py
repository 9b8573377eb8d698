"""Lexical pieces of the SIP grammar (RFC 3261 section 25) that the field parsers share.

Everything here works on text already unfolded (header continuation lines joined with
one space) and raises `SipParseError`, never anything else: a datagram from the network
is untrusted, and the user agent turns that one exception into a 400 or a silent drop.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omnivox.media.sip.message import SipRequest, SipResponse

TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
"""RFC 3261 token: methods, header names, parameter names, transports, tags."""

WORD = re.compile(r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+")
"""RFC 3261 word: the halves of a Call-ID (quotes and brackets mean nothing there)."""

MAX_DIGITS = 10
"""Longest digit string turned into an int: every SIP scalar fits in 32 bits, and a
longer one is refused before int() (which raises ValueError past 4300 digits)."""


class SipParseError(ValueError):
    """A message, or one of its fields, breaks the SIP grammar.

    `reason` is a fixed phrase (never text from the message, so it is safe to send back
    as a reason phrase); `status` is the response it deserves: 400, or 505 for an
    unknown SIP version. `partial` is what could be read before the fault, start line
    and header fields (no body), when that much was readable: enough for a UAS to
    answer the sender with `status`.
    """

    def __init__(
        self, reason: str, *, status: int = 400, partial: SipRequest | SipResponse | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.partial = partial


def number(text: str, what: str, limit: int) -> int:
    """A decimal scalar (leading zeros allowed, as RFC 4475's wsinv has) up to `limit`."""
    digits = text.strip(" \t")
    if not digits.isascii() or not digits.isdigit():
        raise SipParseError(f"malformed {what}")
    digits = digits.lstrip("0") or "0"
    if len(digits) > MAX_DIGITS or int(digits) > limit:
        raise SipParseError(f"{what} out of range")
    return int(digits)


def _unquoted(text: str) -> Iterator[tuple[int, str]]:
    """(index, character) for each character outside quoted strings (escapes inside
    them resolved); SipParseError at the end of an unterminated one."""
    quoted = escaped = False
    for index, char in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        else:
            yield index, char
    if quoted:
        raise SipParseError("unterminated quoted string")


def split_unquoted(text: str, separator: str) -> list[str]:
    """`text` cut at each `separator` outside quoted strings and <...> URIs, stripped.

    Commas separate list values and semicolons parameters, but either may sit inside a
    display name ("Bell, Alexander") or a bracketed URI (<sip:a;b@c>), where they are
    data. An unterminated quoted string or bracket is an error (RFC 4475 quotbal).
    """
    parts: list[str] = []
    start = depth = 0
    for index, char in _unquoted(text):
        if char == "<":
            depth += 1
        elif char == ">" and depth:
            depth -= 1
        elif char == separator and not depth:
            parts.append(text[start:index].strip(" \t"))
            start = index + 1
    if depth:
        raise SipParseError("unterminated <")
    parts.append(text[start:].strip(" \t"))
    return parts


def find_unquoted(text: str, char: str) -> int:
    """Index of the first `char` outside quoted strings, or -1."""
    return next((index for index, current in _unquoted(text) if current == char), -1)


def is_quoted_string(text: str) -> bool:
    """Whether `text` is exactly one quoted string, escapes included."""
    if len(text) < 2 or text[0] != '"':
        return False
    escaped = False
    for index in range(1, len(text)):
        char = text[index]
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return index == len(text) - 1
    return False


def unquote(text: str) -> str:
    """The content of a quoted string with its quoted-pairs resolved; other text as is."""
    if not is_quoted_string(text):
        return text
    return re.sub(r"\\(.)", r"\1", text[1:-1], flags=re.DOTALL)


def quote(text: str) -> str:
    """`text` as a quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_PARAM_VALUE = re.compile(r"[^\s\";,]+")


def parse_params(text: str) -> dict[str, str | None]:
    """Header parameters `;name[=value]...` (the part after the value), names lowercased.

    Values keep their quotes. Beyond the grammar's gen-value (token, host, quoted string)
    any run without spaces is allowed, since deployed phones stray there and nothing
    here depends on it; an empty parameter (RFC 4475 badinv01's `;;`) is refused.
    """
    params: dict[str, str | None] = {}
    if not text.strip(" \t"):
        return params
    pieces = split_unquoted(text, ";")
    if pieces[0]:
        raise SipParseError("text before parameters")
    for piece in pieces[1:]:
        name, equals, value = piece.partition("=")
        name, value = name.strip(" \t"), value.strip(" \t")
        if not TOKEN.fullmatch(name):
            raise SipParseError("malformed parameter")
        if equals and not (is_quoted_string(value) or _PARAM_VALUE.fullmatch(value)):
            raise SipParseError("malformed parameter value")
        params[name.lower()] = value if equals else None
    return params
