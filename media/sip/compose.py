"""Responses as a UAS writes them (RFC 3261 8.2.6), and the bits of our own identity.

Reason phrases are always our fixed strings, never text from the request, so nothing
a caller sends can be reflected into a header line.
"""

from __future__ import annotations

from collections.abc import Iterable

from omnivox.media.sip.config import SipConfig
from omnivox.media.sip.fields import parse_name_address
from omnivox.media.sip.headers import Headers
from omnivox.media.sip.message import SipRequest, SipResponse
from omnivox.media.sip.syntax import SipParseError
from omnivox.media.sip.uri import format_host

ALLOWED_METHODS = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "NOTIFY")
"""NOTIFY only in a dialog: how the caller reports a transfer we asked for (REFER)."""
ALLOW = ", ".join(ALLOWED_METHODS)
SDP = "application/sdp"

REASONS = {
    100: "Trying",
    180: "Ringing",
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    486: "Busy Here",
    487: "Request Terminated",
    489: "Bad Event",
    500: "Server Internal Error",
    505: "Version Not Supported",
    603: "Decline",
}


def with_tag(to: str, tag: str | None) -> str:
    """The To value with our tag added, unless it has one (or cannot be read: a 400 to
    a malformed request copies it as it came)."""
    if tag is None:
        return to
    try:
        if parse_name_address(to).tag is not None:
            return to
    except SipParseError:
        return to
    return f"{to};tag={tag}"


def make_response(
    request: SipRequest,
    status: int,
    *,
    to_tag: str | None,
    server: str,
    reason: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> SipResponse:
    """A response copying Via (all, in order), From, To (plus `to_tag`), Call-ID and
    CSeq from `request`, and Timestamp into a 100 (RFC 3261 8.2.6)."""
    out = Headers()
    for via in request.headers.get_all("Via"):
        out.add("Via", via)
    for name in ("From", "To", "Call-ID", "CSeq"):
        value = request.headers.get(name)
        if value is not None:
            out.add(name, with_tag(value, to_tag) if name == "To" else value)
    if status == 100 and (timestamp := request.headers.get("Timestamp")) is not None:
        out.add("Timestamp", timestamp)
    out.add("Server", server)
    for name, value in headers:
        out.add(name, value)
    return SipResponse(status, reason or REASONS.get(status, "Unknown"), out, body)


def local_uri(config: SipConfig) -> str:
    user = f"{config.contact_user}@" if config.contact_user else ""
    return f"sip:{user}{format_host(config.local_host)}:{config.local_port}"


def contact(config: SipConfig) -> str:
    return f"<{local_uri(config)}>"


def via(config: SipConfig, branch: str) -> str:
    """Our Via for a request we send; rport asks for the answer where it came from."""
    return f"SIP/2.0/UDP {format_host(config.local_host)}:{config.local_port};branch={branch};rport"
