"""URIs as SIP carries them: sip/sips read in full (RFC 3261 19.1), others checked lightly.

A UAS needs the host and port of a SIP URI (where an in-dialog request goes, whether a
route is loose) and must refuse a few malformed shapes (RFC 4475, RFC 5118: an IPv6
address without brackets, one with three colons). Any other scheme (tel:, isbn:,
soap.beep://...) is an absoluteURI: a scheme, a colon and no white space, kept opaque.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from omnivox.media.sip.syntax import SipParseError, number

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_OPAQUE = re.compile(r"[\x21-\x7e]+")
"""What an absoluteURI of an unknown scheme may hold: printable ASCII, no space."""

_UNRESERVED = r"A-Za-z0-9\-_.!~*'()"
_ESCAPED = r"%[0-9A-Fa-f]{2}"
_USER = re.compile(rf"(?:[{_UNRESERVED}&=+$,;?/]|{_ESCAPED})+")
_PASSWORD = re.compile(rf"(?:[{_UNRESERVED}&=+$,]|{_ESCAPED})*")
_PARAM = re.compile(rf"(?:[{_UNRESERVED}\[\]/:&+$]|{_ESCAPED})+")
_HEADERS = re.compile(rf"(?:[{_UNRESERVED}\[\]/?:+$=&]|{_ESCAPED})*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?")
_DOTTED_DIGITS = re.compile(r"[0-9.]+")


@dataclass(frozen=True, slots=True)
class Uri:
    """A parsed URI. Only sip/sips ones have user, host, port and parameters."""

    text: str
    """As written."""
    scheme: str
    """Lowercase."""
    user: str | None = None
    host: str = ""
    """Without the brackets of an IPv6 reference; lowercase."""
    port: int | None = None
    params: tuple[tuple[str, str | None], ...] = ()
    """uri-parameters in order, names lowercased, values as written."""
    headers: str = ""
    """The `?...` part, without the "?"."""

    @property
    def is_sip(self) -> bool:
        return self.scheme in ("sip", "sips")

    def param(self, name: str) -> str | None:
        """A parameter's value ("" for a valueless one like `lr`), None when absent."""
        for key, value in self.params:
            if key == name.lower():
                return "" if value is None else value
        return None


def parse_host(text: str) -> str:
    """A host as SIP writes it (hostname, IPv4, [IPv6]), returned without brackets."""
    if text.startswith("["):
        if not text.endswith("]"):
            raise SipParseError("malformed IPv6 reference")
        try:
            ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            raise SipParseError("malformed IPv6 reference") from None
        return text[1:-1].lower()
    if _DOTTED_DIGITS.fullmatch(text):
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            raise SipParseError("malformed IPv4 address") from None
        return text
    if not _HOSTNAME.fullmatch(text):
        raise SipParseError("malformed host")
    return text.lower()


def split_hostport(text: str) -> tuple[str, int | None]:
    """`host[:port]` -> (host without brackets, port or None)."""
    if text.startswith("["):
        end = text.find("]")
        host, rest = text[: end + 1], text[end + 1 :]
        if end < 0 or rest[:1] not in ("", ":"):
            raise SipParseError("malformed IPv6 reference")
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text_or_empty = text.partition(":")
        port_text = port_text_or_empty if colon else None
    port = None if port_text is None else number(port_text, "port", 65535)
    if port_text is not None and port_text != port_text.strip(" \t"):
        raise SipParseError("malformed port")
    return parse_host(host), port


def parse_uri(text: str, *, allow_headers: bool = True) -> Uri:
    """Read a URI, raising SipParseError if it is malformed.

    `allow_headers=False` refuses `?headers` in a SIP URI: a Request-URI may not carry
    them (RFC 3261 19.1.1, RFC 4475 escruri), nor an addr-spec outside <...> (4475
    regbadct), where the "?" would be ambiguous.
    """
    scheme, colon, rest = text.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme):
        raise SipParseError("malformed URI")
    if not _OPAQUE.fullmatch(text):
        raise SipParseError("white space or control character in URI")
    scheme = scheme.lower()
    if scheme not in ("sip", "sips"):
        return Uri(text, scheme)
    # userinfo cannot hold an unescaped "@", so the first one ends it; the user part
    # may hold ";" "?" "/" (RFC 4475 semiuri, intmeth), which only count after it.
    user: str | None = None
    at = rest.find("@")
    if at >= 0:
        user, _, password = rest[:at].partition(":")
        if not _USER.fullmatch(user) or not _PASSWORD.fullmatch(password):
            raise SipParseError("malformed URI user part")
        rest = rest[at + 1 :]
    rest, question, headers = rest.partition("?")
    if question and not allow_headers:
        raise SipParseError("headers not allowed in this URI")
    if not _HEADERS.fullmatch(headers):
        raise SipParseError("malformed URI headers")
    hostport, *param_texts = rest.split(";")
    host, port = split_hostport(hostport)
    params: list[tuple[str, str | None]] = []
    for param in param_texts:
        name, equals, value = param.partition("=")
        if not _PARAM.fullmatch(name) or (equals and not _PARAM.fullmatch(value)):
            raise SipParseError("malformed URI parameter")
        params.append((name.lower(), value if equals else None))
    return Uri(text, scheme, user, host, port, tuple(params), headers)


def format_host(host: str) -> str:
    """A host for a URI or Via: an IPv6 address gets its brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
