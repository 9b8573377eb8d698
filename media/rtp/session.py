"""The RTP side of one SIP call, pure: packets in and out, no sockets, no clock of its own.

The asyncio shell owns the UDP socket and a 20 ms tick. Per datagram it calls `accept`
(DTMF digits come back; audio waits in the jitter buffer); per tick it calls `playout`
for the caller's next 20 ms and `next_packet` (or `skip_frame`) for ours, and sends the
bytes to `remote_address`.

Symmetric RTP (RFC 4961): until a packet comes we send to the address in the SDP; the
first well-formed RTP packet from that IP (any port: a NAT may change it) latches the
session onto its source, and from then on only that source is heard and answered. With
`latch_any_source` the first packet from anywhere latches, for callers behind NAT with
no media relay rewriting their SDP (in production rtpengine does that, so it is off).

Packet parsing is aiortc's RtpPacket; RTCP is not handled here (SIP peers rarely need
it, and a muxed RTCP packet is counted and dropped).
"""

from __future__ import annotations

import ipaddress
import secrets
import struct
from dataclasses import dataclass, field, replace

import numpy as np
from aiortc.rtp import RtpPacket

from omnivox.media.frames import FRAME_SAMPLES
from omnivox.media.rtp.codec import G711Codec
from omnivox.media.rtp.dtmf import DtmfDigit, DtmfReceiver, DtmfSender
from omnivox.media.rtp.jitter_buffer import JitterBuffer, JitterConfig, JitterStats, Lost
from omnivox.media.rtp.sdp import Negotiated

_RTCP_PACKET_TYPES = range(200, 205)  # SR, RR, SDES, BYE, APP (RFC 3550 section 12.1)


class MalformedPacket(ValueError):
    """The datagram is not an RTP packet."""


def parse_packet(data: bytes) -> RtpPacket:
    """Parse one RTP packet; MalformedPacket for anything else, whatever the bytes."""
    try:
        return RtpPacket.parse(data)
    except (ValueError, struct.error, IndexError) as error:
        raise MalformedPacket(str(error)) from None


def is_rtcp(data: bytes) -> bool:
    """An RTCP packet multiplexed on the RTP port (RFC 5761 section 4)."""
    return len(data) >= 2 and data[0] >> 6 == 2 and data[1] in _RTCP_PACKET_TYPES


@dataclass(slots=True)
class RtpStats:
    packets_received: int = 0
    """RTP packets accepted from the latched source."""
    ignored_source: int = 0
    """Datagrams from an address other than the far end's."""
    malformed: int = 0
    rtcp: int = 0
    unknown_payload: int = 0
    """Packets of a payload type not negotiated (comfort noise among them)."""
    packets_sent: int = 0
    octets_sent: int = 0
    """Payload octets sent, as RTCP sender reports count them."""
    samples_sent: int = 0
    """16 kHz samples sent: the playout position, for truncating history."""
    jitter: JitterStats = field(default_factory=JitterStats)


class RtpSession:
    def __init__(
        self,
        negotiated: Negotiated,
        *,
        ssrc: int | None = None,
        sequence: int | None = None,
        timestamp: int | None = None,
        jitter: JitterConfig | None = None,
        latch_any_source: bool = False,
    ) -> None:
        """SSRC, first sequence number and timestamp are random unless given (RFC 3550
        section 5.1 asks for random ones: tests give them)."""
        self._ssrc = secrets.randbits(32) if ssrc is None else ssrc & 0xFFFFFFFF
        self._sequence = secrets.randbits(16) if sequence is None else sequence & 0xFFFF
        self._timestamp = secrets.randbits(32) if timestamp is None else timestamp & 0xFFFFFFFF
        self._marker = True  # the first packet starts a talkspurt
        self._latch_any = latch_any_source
        self._jitter = JitterBuffer(jitter)
        self._dtmf = DtmfReceiver()
        self._dtmf_out = DtmfSender()
        self._event_timestamp = 0
        self._stats = RtpStats()
        self._negotiated = negotiated
        self._latched: tuple[str, int] | None = None
        self._encoder = G711Codec(negotiated.codec)
        self._decoder = G711Codec(negotiated.codec)

    @property
    def negotiated(self) -> Negotiated:
        return self._negotiated

    @property
    def ssrc(self) -> int:
        return self._ssrc

    @property
    def remote_address(self) -> tuple[str, int]:
        """Where to send: the latched source once a packet came, else the SDP's address."""
        return self._latched or self._negotiated.remote_address

    @property
    def stats(self) -> RtpStats:
        return replace(self._stats, jitter=self._jitter.stats)

    @property
    def samples_sent(self) -> int:
        """16 kHz samples of our audio sent so far (the playout position)."""
        return self._stats.samples_sent

    def update(self, negotiated: Negotiated) -> None:
        """A re-INVITE's outcome (hold, resume, a new address or codec). Our SSRC,
        sequence and timestamp go on; a new remote address is latched anew."""
        if negotiated.remote_address != self._negotiated.remote_address:
            self._latched = None
        if negotiated.codec != self._negotiated.codec:
            self._encoder = G711Codec(negotiated.codec)
            self._decoder = G711Codec(negotiated.codec)
            self._jitter.reset()
        self._negotiated = negotiated

    # --- outbound ---------------------------------------------------------------------

    def send_dtmf(self, digits: str) -> None:
        """Press `digits` (0-9, *, #, A-D) as RFC 4733 events, which take the place of
        our audio until they are sent (about 200 ms a key). ValueError for other keys, or
        when the far end takes no telephone-events."""
        if self._negotiated.telephone_event is None:
            raise ValueError("the far end did not offer telephone-event (RFC 4733)")
        self._dtmf_out.queue(digits)

    def next_packet(self, pcm: np.ndarray) -> bytes:
        """One 20 ms frame of our 16 kHz int16 audio as the RTP packet to send (or a
        key press's event packet in its place). While `negotiated.sends` is False (the
        far end holds us) call `skip_frame` instead."""
        event = self._dtmf_out.next()
        event_type = self._negotiated.telephone_event
        if event is not None and event_type is not None:
            if event.start:
                self._event_timestamp = self._timestamp
            payload_type, timestamp, payload = event_type, self._event_timestamp, event.payload
            marker = event.start
        else:
            payload = self._encoder.encode(pcm)
            payload_type, timestamp, marker = (
                self._negotiated.payload_type,
                self._timestamp,
                self._marker,
            )
            self._marker = False
        packet = RtpPacket(
            payload_type=payload_type,
            marker=int(marker),
            sequence_number=self._sequence,
            timestamp=timestamp,
            ssrc=self._ssrc,
            payload=payload,
        )
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._timestamp = (self._timestamp + len(pcm) // 2) & 0xFFFFFFFF  # 8 kHz clock
        self._stats.packets_sent += 1
        self._stats.octets_sent += len(payload)
        self._stats.samples_sent += len(pcm)
        return packet.serialize()

    def skip_frame(self, samples: int = FRAME_SAMPLES) -> None:
        """`samples` (16 kHz) of our time passed with nothing sent (silence suppressed,
        on hold): the RTP timestamp runs on, and the next packet is marked as the start
        of a talkspurt (RFC 3551 section 4.1)."""
        self._timestamp = (self._timestamp + samples // 2) & 0xFFFFFFFF
        self._marker = True

    # --- inbound ----------------------------------------------------------------------

    def accept(
        self, data: bytes, source: tuple[str, int] | tuple[str, int, int, int], now_ms: float
    ) -> list[DtmfDigit]:
        """One datagram from `source` (an asyncio address: (host, port[, flow, scope])).
        Audio goes to the jitter buffer; the key presses it completes come back."""
        address = (_normal_ip(source[0]), source[1])
        if not self._expected(address):
            self._stats.ignored_source += 1
            return []
        if is_rtcp(data):
            self._stats.rtcp += 1
            return []
        try:
            packet = parse_packet(data)
        except MalformedPacket:
            self._stats.malformed += 1
            return []
        negotiated = self._negotiated
        if packet.payload_type == negotiated.payload_type and not packet.payload:
            self._stats.malformed += 1
            return []
        self._latched = self._latched or address
        self._stats.packets_received += 1
        seq, ssrc = packet.sequence_number, packet.ssrc
        if packet.payload_type == negotiated.payload_type:
            self._jitter.push(seq, packet.timestamp, packet.payload, now_ms, ssrc=ssrc)
            return []
        # Events and comfort noise share the audio's sequence numbers: not a loss.
        self._jitter.push_gap(seq, now_ms, ssrc=ssrc)
        if packet.payload_type == negotiated.telephone_event:
            return self._dtmf.push(packet.timestamp, packet.payload, now_ms)
        self._stats.unknown_payload += 1
        return []

    def playout(self, now_ms: float) -> np.ndarray | None:
        """The caller's next 20 ms at 16 kHz (decoded, or concealment for a lost
        packet), or None before their audio first reaches the jitter buffer's target.

        One packet is played per call, so this is 20 ms as long as the far end sends the
        20 ms packets our answer asks for (a=ptime:20); a longer packet decodes whole."""
        item = self._jitter.pop(now_ms)
        if item is None:
            return None
        if isinstance(item, Lost):
            return self._decoder.conceal()
        return self._decoder.decode(item.data)

    def poll_dtmf(self, now_ms: float) -> DtmfDigit | None:
        """A key press whose end packets were all lost, once it has gone quiet."""
        return self._dtmf.poll(now_ms)

    def _expected(self, address: tuple[str, int]) -> bool:
        if self._latched is not None:
            return address == self._latched
        return self._latch_any or address[0] == _normal_ip(self._negotiated.remote_ip)


def _normal_ip(host: str) -> str:
    """One spelling per address: compressed IPv6, IPv4 for IPv4-mapped IPv6 (what a
    dual-stack socket reports for an IPv4 peer)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return address.compressed
