"""The media half of the SIP/RTP transport, sans-I/O: SDP offer/answer, G.711 with loss
concealment, an adaptive jitter buffer, RFC 4733 DTMF and the per-call RTP session.

Nothing here opens a socket or reads a clock: the asyncio shell feeds datagrams and its
20 ms tick in (`now_ms`) and sends what comes back.
"""

from omnivox.media.rtp.codec import G711Codec
from omnivox.media.rtp.dtmf import DtmfDigit, DtmfError, DtmfReceiver, TelephoneEvent, parse_event
from omnivox.media.rtp.jitter_buffer import JitterBuffer, JitterConfig, JitterStats, Lost, Payload
from omnivox.media.rtp.sdp import Direction, Negotiated, NoCommonCodec, SdpError, negotiate
from omnivox.media.rtp.session import MalformedPacket, RtpSession, RtpStats, parse_packet

__all__ = [
    "Direction",
    "DtmfDigit",
    "DtmfError",
    "DtmfReceiver",
    "G711Codec",
    "JitterBuffer",
    "JitterConfig",
    "JitterStats",
    "Lost",
    "MalformedPacket",
    "Negotiated",
    "NoCommonCodec",
    "Payload",
    "RtpSession",
    "RtpStats",
    "SdpError",
    "TelephoneEvent",
    "negotiate",
    "parse_event",
    "parse_packet",
]
