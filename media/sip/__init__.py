"""SIP for the phone transport: a sans-I/O user agent server and its message parser.

`SipUserAgent` (user_agent.py) is the whole protocol side of a SIP phone line over
UDP: fed datagrams and the time, it returns datagrams to send and call events for the
application (actions.py). The asyncio shell, RTP and SDP live beside it; SDP bodies
are opaque strings here.
"""

from omnivox.media.sip.actions import (
    Address,
    CallConnected,
    CallEnded,
    CallUpdated,
    Dropped,
    IncomingCall,
    Send,
    SipAction,
    TransferAnswered,
    TransferEnded,
)
from omnivox.media.sip.config import DigestCredentials, SipConfig
from omnivox.media.sip.headers import Headers
from omnivox.media.sip.message import SipRequest, SipResponse, parse_message
from omnivox.media.sip.syntax import SipParseError
from omnivox.media.sip.user_agent import SipUserAgent

__all__ = [
    "Address",
    "CallConnected",
    "CallEnded",
    "CallUpdated",
    "DigestCredentials",
    "Dropped",
    "Headers",
    "IncomingCall",
    "Send",
    "SipAction",
    "SipConfig",
    "SipParseError",
    "SipRequest",
    "SipResponse",
    "SipUserAgent",
    "TransferAnswered",
    "TransferEnded",
    "parse_message",
]
