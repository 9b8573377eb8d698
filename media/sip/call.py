"""One call as the UAS keeps it: the dialog (RFC 3261 12) and what is pending in it.

The dialog is created by the INVITE (our tag goes in every response to it), fixes the
route our own requests take (the Record-Route set and the caller's Contact), and
orders requests by CSeq. Pending work hangs off it: the INVITE the application has not
answered yet, and our 2xx that the caller has not acknowledged yet.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from omnivox.media.sip.actions import Address
from omnivox.media.sip.compose import via, with_tag
from omnivox.media.sip.config import SipConfig
from omnivox.media.sip.fields import parse_name_address
from omnivox.media.sip.headers import Headers
from omnivox.media.sip.message import SipRequest
from omnivox.media.sip.transactions import Retransmission, ServerTransaction


class CallState(enum.Enum):
    OFFERED = "offered"
    """The INVITE came; the application has not accepted it yet (maybe ringing)."""
    ACCEPTED = "accepted"
    """We sent 200 OK; its ACK has not come."""
    CONFIRMED = "confirmed"
    """The ACK came: the call is up."""
    ENDING = "ending"
    """The application hung up: our BYE is out, or waits for the ACK to go out."""


@dataclass(slots=True)
class Call:
    call_id: str
    local_tag: str
    remote_tag: str
    """The caller's From tag ("" from an RFC 2543 caller that sends none)."""
    local_party: str
    """The INVITE's To value: our From in requests we send."""
    remote_party: str
    """The INVITE's From value (with the caller's tag): our To in requests we send."""
    remote_target: str
    """The caller's Contact URI: where our in-dialog requests are addressed."""
    route_set: list[str]
    """The INVITE's Record-Route values, in order (RFC 3261 12.1.1)."""
    remote_cseq: int
    peer: Address
    """Where the caller's requests last came from: our BYE goes there, which gets
    through NAT and through a proxy alike (the Request-URI still names the target)."""
    state: CallState = CallState.OFFERED
    local_cseq: int = 0
    invite: ServerTransaction | None = None
    """The INVITE or re-INVITE waiting for the application's answer."""
    ringing_refresh_ms: float | None = None
    """When to repeat 180 Ringing (RFC 3261 13.3.1.1: once a minute, lest a proxy
    give up on the INVITE after 3 minutes without a response)."""
    unacked: Retransmission | None = None
    """Our 2xx to an INVITE, resent until its ACK (RFC 3261 13.3.1.4)."""
    unacked_cseq: int = 0
    offered_by_us: bool = False
    """The acknowledged INVITE had no SDP: our 2xx carried the offer, its ACK the answer."""
    bye_after_ack: bool = False
    """hang_up() came before the ACK: a BYE may not precede it (RFC 3261 15)."""

    @classmethod
    def from_invite(cls, invite: SipRequest, local_tag: str, source: Address) -> Call:
        caller = invite.from_address
        return cls(
            call_id=invite.call_id,
            local_tag=local_tag,
            remote_tag=caller.tag or "",
            local_party=invite.headers.get("To") or "",
            remote_party=invite.headers.get("From") or "",
            remote_target=_contact(invite) or caller.uri.text,
            route_set=invite.headers.values("Record-Route"),
            remote_cseq=invite.cseq.number,
            peer=source,
        )

    def matches(self, request: SipRequest) -> bool:
        """Whether an in-dialog request belongs to this dialog (Call-ID and both tags)."""
        return (
            request.call_id == self.call_id
            and request.to_tag == self.local_tag
            and (request.from_tag or "") == self.remote_tag
        )

    def refresh_target(self, request: SipRequest) -> None:
        """A re-INVITE may move the caller (RFC 3261 12.2.2: target refresh)."""
        self.remote_target = _contact(request) or self.remote_target

    def request(
        self,
        method: str,
        config: SipConfig,
        branch: str,
        extra: Iterable[tuple[str, str]] = (),
    ) -> SipRequest:
        """Our in-dialog `method` (BYE, REFER), routed by the dialog's route set (RFC
        3261 12.2.1.1), with the `extra` header fields after the dialog's own."""
        self.local_cseq += 1
        routes = list(self.route_set)
        uri = self.remote_target
        if routes and parse_name_address(routes[0]).uri.param("lr") is None:
            # A strict router: it takes the Request-URI, the target goes last in Route.
            uri = parse_name_address(routes.pop(0)).uri.text
            routes.append(f"<{self.remote_target}>")
        headers = Headers()
        headers.add("Via", via(config, branch))
        headers.add("Max-Forwards", "70")
        for route in routes:
            headers.add("Route", route)
        headers.add("From", with_tag(self.local_party, self.local_tag))
        headers.add("To", self.remote_party)
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{self.local_cseq} {method}")
        headers.add("User-Agent", config.user_agent)
        for name, value in extra:
            headers.add(name, value)
        return SipRequest(method, uri, headers)


def _contact(request: SipRequest) -> str | None:
    """The URI of the request's first Contact, if it has a usable one."""
    contacts = request.headers.values("Contact")
    if not contacts:
        return None
    contact = parse_name_address(contacts[0], star_allowed=True)
    return None if contact.is_star else contact.uri.text
