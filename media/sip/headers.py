"""SIP header fields: an ordered, case-insensitive, multi-valued collection.

Order matters in SIP (Via and Record-Route are paths), names are case-insensitive and
have compact forms ("v" is Via), and a field may repeat or carry a comma-separated list.
Names are normalised on the way in (compact forms expanded, known names spelled the
RFC's way), values are kept as they came, one entry per header line, so a message
serialises back as it was read; `values()` splits the lists when asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from omnivox.media.sip.syntax import split_unquoted

COMPACT_FORMS = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    # Compact forms later RFCs added (3265, 3515, 3892, 4028), met on real trunks.
    "o": "Event",
    "u": "Allow-Events",
    "r": "Refer-To",
    "b": "Referred-By",
    "x": "Session-Expires",
}

_KNOWN = (
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Alert-Info",
    "Allow",
    "Authentication-Info",
    "Authorization",
    "Call-ID",
    "Call-Info",
    "Contact",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Type",
    "CSeq",
    "Date",
    "Error-Info",
    "Expires",
    "From",
    "In-Reply-To",
    "Max-Forwards",
    "MIME-Version",
    "Min-Expires",
    "Organization",
    "Priority",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Require",
    "Record-Route",
    "Reply-To",
    "Require",
    "Retry-After",
    "Route",
    "Server",
    "Subject",
    "Supported",
    "Timestamp",
    "To",
    "Unsupported",
    "User-Agent",
    "Via",
    "Warning",
    "WWW-Authenticate",
    *COMPACT_FORMS.values(),
)
_CANONICAL = {name.lower(): name for name in _KNOWN}


def canonical_name(name: str) -> str:
    """The spelling a header name is stored and written under: "v" and "VIA" -> "Via"."""
    name = name.strip(" \t")
    lower = name.lower()
    if lower in COMPACT_FORMS:
        return COMPACT_FORMS[lower]
    return _CANONICAL.get(lower, name)


def _key(name: str) -> str:
    return canonical_name(name).lower()


class Headers:
    """Header fields in message order; every lookup ignores case and compact forms."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = []
        for name, value in items:
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        """Append one field (one header line)."""
        self._items.append((canonical_name(name), value))

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first field's value, or `default`."""
        key = _key(name)
        for item_name, value in self._items:
            if item_name.lower() == key:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every field's value as written, one per header line, in order."""
        key = _key(name)
        return [value for item_name, value in self._items if item_name.lower() == key]

    def values(self, name: str) -> list[str]:
        """The elements of a list-valued field (Via, Contact, Allow...) over all its lines.

        `Via: a, b` and `Via: a` + `Via: b` both give ["a", "b"]. Commas inside quoted
        strings and <...> do not split. Raises SipParseError on an unterminated quote.
        """
        return [part for value in self.get_all(name) for part in split_unquoted(value, ",")]

    def set(self, name: str, value: str) -> None:
        """Make `value` the field's only value, in the first one's place (else appended)."""
        key = _key(name)
        for index, (item_name, _) in enumerate(self._items):
            if item_name.lower() == key:
                self._items[index] = (canonical_name(name), value)
                self._items[index + 1 :] = [
                    item for item in self._items[index + 1 :] if item[0].lower() != key
                ]
                return
        self.add(name, value)

    def remove(self, name: str) -> None:
        key = _key(name)
        self._items = [item for item in self._items if item[0].lower() != key]

    def count(self, name: str) -> int:
        """How many header lines carry the field."""
        return len(self.get_all(name))

    def copy(self) -> Headers:
        copied = Headers()
        copied._items = list(self._items)
        return copied

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._items == other._items

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"
