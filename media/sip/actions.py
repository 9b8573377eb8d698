"""What the SIP user agent asks its shell and its application to do.

`SipUserAgent` returns lists of these: the shell sends `Send`s on its UDP socket, logs
`Dropped`s, and hands the call events to the application, which answers through the
agent's `ring`/`accept`/`reject`/`hang_up`/`refer`. Every `IncomingCall` is followed,
sooner or later, by exactly one `CallEnded` with the same call id.
"""

from __future__ import annotations

from dataclasses import dataclass

Address = tuple[str, int]
"""(IP address, port): where a datagram came from or goes to."""


@dataclass(frozen=True, slots=True)
class Send:
    """Send `data` as one UDP datagram to `destination`."""

    data: bytes
    destination: Address


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A new INVITE passed every check. The application answers it with ring(),
    accept() or reject(); the caller may give up first (CallEnded "cancelled")."""

    call_id: str
    offer_sdp: str
    """The caller's SDP offer; "" for an INVITE without one (a late offer: the SDP
    given to accept() is then our offer, and the answer comes in CallConnected)."""
    source: Address
    from_uri: str
    to_uri: str


@dataclass(frozen=True, slots=True)
class CallConnected:
    """The caller acknowledged our 200 OK: media may flow both ways."""

    call_id: str
    answer_sdp: str = ""
    """The caller's SDP answer when the INVITE came without an offer, else ""."""


@dataclass(frozen=True, slots=True)
class CallUpdated:
    """A re-INVITE (hold, resume, codec change, session refresh) brought a new offer:
    answer it with accept() again, or refuse it with reject() (the call goes on)."""

    call_id: str
    offer_sdp: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The call is over; `reason` is one of the `END_*` strings below."""

    call_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class TransferAnswered:
    """The caller answered our REFER (refer()): 2xx, it will call the target; 3xx-6xx, it
    will not (408: no answer at all). The call goes on either way."""

    call_id: str
    status: int


@dataclass(frozen=True, slots=True)
class TransferEnded:
    """The caller's NOTIFY told how its call to the transfer target ended: a 2xx (the
    application hangs up, RFC 5589 6.1) or a failure (the call with us goes on)."""

    call_id: str
    status: int


@dataclass(frozen=True, slots=True)
class Dropped:
    """A datagram was ignored without an answer (unreadable, or a response to nothing)."""

    reason: str
    source: Address | None = None


SipAction = (
    Send
    | IncomingCall
    | CallConnected
    | CallUpdated
    | CallEnded
    | TransferAnswered
    | TransferEnded
    | Dropped
)

END_HANGUP = "hangup"
"""The caller sent BYE."""
END_CANCELLED = "cancelled"
"""The caller gave up before the call was answered (CANCEL, or BYE on an early dialog)."""
END_REJECTED = "rejected"
"""The application refused the call (reject(), or hang_up() before accept())."""
END_ACK_TIMEOUT = "ack_timeout"
"""Our 200 OK was never acknowledged (Timer H): we sent BYE."""
END_LOCAL_HANGUP = "local_hangup"
"""Our BYE (hang_up()) was answered."""
END_BYE_TIMEOUT = "bye_timeout"
"""Our BYE was never answered (Timer F); the call is over anyway."""
