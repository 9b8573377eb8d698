"""What a request must pass before any handler sees it (RFC 3261 8.2.1 to 8.2.3).

Pure functions of the request (and of the configured networks for its source), so the
user agent can answer a refusal from its transaction and go no further.
"""

from __future__ import annotations

import ipaddress

from omnivox.media.sip.compose import ALLOW, ALLOWED_METHODS, SDP
from omnivox.media.sip.config import Network
from omnivox.media.sip.message import SipRequest
from omnivox.media.sip.syntax import TOKEN, SipParseError

ANSWERABLE = ("Via", "From", "To", "Call-ID", "CSeq")
"""Without these a request cannot be answered (RFC 3261 8.2.6.2 copies them)."""
SCHEMES = ("sip", "sips", "tel")

Refusal = tuple[int, list[tuple[str, str]]]
"""A final status and the header fields that go with it."""


def source_allowed(host: str, networks: tuple[Network, ...]) -> bool:
    """Whether `host` (an IP address as the socket reports it) is in `networks`;
    every host is when there are none."""
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
    return any(address in network for network in networks)


def answerable(request: SipRequest) -> bool:
    """Whether a response can be built for it (an ACK is never answered)."""
    return request.method != "ACK" and request.has_fields(*ANSWERABLE)


def refusal(request: SipRequest) -> Refusal | None:
    """The final response for a request no handler may take, or None."""
    if request.method not in ALLOWED_METHODS:
        return 405, [("Allow", ALLOW)]
    if request.uri.partition(":")[0].lower() not in SCHEMES:
        return 416, []
    try:  # fields the parser leaves unchecked: their lists may be garbled
        required = [tag for tag in request.headers.values("Require") if TOKEN.fullmatch(tag)]
        accepted = {v.partition(";")[0].strip().lower() for v in request.headers.values("Accept")}
    except SipParseError:
        return 400, []
    if required and request.method != "CANCEL":
        return 420, [("Unsupported", ", ".join(required))]  # we support no extension
    if request.method != "INVITE":
        return None
    if request.body and request.content_type not in (None, SDP):
        return 415, [("Accept", SDP)]
    if "Accept" in request.headers and not accepted & {SDP, "application/*", "*/*"}:
        return 406, []  # our answer would be SDP, which the caller refuses (4475 sdp01)
    return None
