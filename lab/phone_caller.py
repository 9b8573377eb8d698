"""Phones on a developer's desk, for benchmarks: a SIP caller and the callers' RTP.

`SipCaller` is a minimal SIP user agent client over UDP: INVITE with a PCMU offer
(resent until answered, as RFC 3261's Timer A does), ACK for the 200, BYE at the end.
`RtpLine` is one UDP socket carrying the RTP of any number of calls: each call's
audio is sent every 20 ms on one drift-free schedule, and what each agent sends back
is kept with its arrival time (time.monotonic()).
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import numpy as np
from aiortc.rtp import RtpPacket

from omnivox.kernels.g711 import ulaw_decode, ulaw_encode
from omnivox.kernels.level import rms_dbfs
from omnivox.kernels.resample import resample
from omnivox.media.pacing import FrameSchedule
from omnivox.media.sip import SipResponse, parse_message
from omnivox.media.sip.syntax import SipParseError

Address = tuple[str, int]
RETRANSMIT_S = 0.5


@dataclass
class Dialog:
    call_id: str
    from_header: str
    to_header: str
    """With the agent's tag."""
    target: Address
    cseq: int = 1


class _UdpSocket(asyncio.DatagramProtocol):
    """A bound UDP socket: its transport once made, and its port."""

    transport: asyncio.DatagramTransport | None = None

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)


class SipCaller(_UdpSocket):
    """Places calls from 127.0.0.1 (see the module docstring)."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self._waiting: dict[tuple[str, str], asyncio.Future[SipResponse]] = {}
        self._ids = itertools.count(1)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            message = parse_message(data)
        except SipParseError:
            return
        if not isinstance(message, SipResponse) or message.status < 200:
            return  # requests (our BYE is the only one that ends a call) and 1xx
        waiting = self._waiting.get((message.call_id, message.cseq.method))
        if waiting is not None and not waiting.done():
            waiting.set_result(message)

    async def call(self, target: Address, media_port: int, timeout_s: float = 30.0) -> Dialog:
        """INVITE `target` with media at `media_port` on 127.0.0.1, and ACK its 200;
        RuntimeError for any other final response."""
        n = next(self._ids)
        call_id = f"bench-{n}-{secrets.token_hex(4)}"
        sdp = (
            f"v=0\r\no=bench {n} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {media_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n"
        )
        dialog = Dialog(call_id, f"<sip:bench@127.0.0.1>;tag=b{n}", "<sip:agent@127.0.0.1>", target)
        ok = await self._transact(dialog, "INVITE", timeout_s, sdp)
        if ok.status != 200:
            raise RuntimeError(f"the call was refused: {ok.status} {ok.reason}")
        dialog.to_header = ok.headers.get("To") or dialog.to_header
        self._send(dialog, "ACK")
        return dialog

    async def hang_up(self, dialog: Dialog, timeout_s: float = 5.0) -> None:
        dialog.cseq += 1
        await self._transact(dialog, "BYE", timeout_s)

    async def _transact(
        self, dialog: Dialog, method: str, timeout_s: float, body: str = ""
    ) -> SipResponse:
        future = asyncio.get_running_loop().create_future()
        key = (dialog.call_id, method)
        self._waiting[key] = future
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    self._send(dialog, method, body)
                    done, _ = await asyncio.wait({future}, timeout=RETRANSMIT_S)
                    if done:
                        return future.result()
        finally:
            del self._waiting[key]

    def _send(self, dialog: Dialog, method: str, body: str = "") -> None:
        assert self.transport is not None
        cseq = 1 if method == "ACK" else dialog.cseq
        branch = f"z9hG4bK-{dialog.call_id}-{method}-{cseq}"
        lines = [
            f"{method} sip:agent@{dialog.target[0]}:{dialog.target[1]} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch};rport",
            "Max-Forwards: 70",
            f"From: {dialog.from_header}",
            f"To: {dialog.to_header}",
            f"Call-ID: {dialog.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:bench@127.0.0.1:{self.port}>",
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n" + body).encode()
        self.transport.sendto(data, dialog.target)


@dataclass
class Arrival:
    at_s: float
    dbfs: float


@dataclass
class RemoteCall:
    """One agent's RTP as this line sees it: where it comes from, what it sent when,
    and what this line sends it next (`script` frames, 20 ms of 8 kHz mu-law each)."""

    address: Address
    arrivals: list[Arrival] = field(default_factory=list)
    script: list[bytes] = field(default_factory=list)
    sent_frames: int = 0
    """Frames of `script` sent so far (silence goes out once it has run out)."""
    sent_at: list[float] = field(default_factory=list)
    """When each frame of `script` went out."""
    ssrc: int = field(default_factory=lambda: secrets.randbits(32))


class RtpLine(_UdpSocket):
    """The callers' RTP, on one socket (see the module docstring). An agent's first
    packet opens its `RemoteCall` (symmetric RTP: we answer where it comes from)."""

    def __init__(self, on_packet: Callable[[RemoteCall], None] | None = None) -> None:
        self.calls: dict[Address, RemoteCall] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self._on_packet = on_packet
        self._seq = secrets.randbits(16)
        self._ts = secrets.randbits(32)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            packet = RtpPacket.parse(data)
        except ValueError:
            return
        if packet.payload_type != 0:
            return
        address = (addr[0], addr[1])
        call = self.calls.setdefault(address, RemoteCall(address))
        pcm = ulaw_decode(np.frombuffer(packet.payload, np.uint8))
        call.arrivals.append(Arrival(time.monotonic(), rms_dbfs(pcm)))
        if self._on_packet is not None:
            self._on_packet(call)

    async def run(self) -> None:
        """Send every call's next frame every 20 ms, until cancelled."""
        schedule = FrameSchedule(0.020, time.monotonic)
        silence = bytes([0xFF]) * 160  # mu-law for zero
        while True:
            await schedule.wait()
            now = time.monotonic()
            for call in list(self.calls.values()):
                if call.sent_frames < len(call.script):
                    payload = call.script[call.sent_frames]
                    call.sent_frames += 1
                    call.sent_at.append(now)
                else:
                    payload = silence
                self._send(call, payload)
            self._seq = (self._seq + 1) & 0xFFFF
            self._ts = (self._ts + 160) & 0xFFFFFFFF

    def _send(self, call: RemoteCall, payload: bytes) -> None:
        assert self.transport is not None
        packet = RtpPacket(0, 0, self._seq, self._ts, call.ssrc, payload)
        self.transport.sendto(packet.serialize(), call.address)


def mulaw_frames(pcm16k: np.ndarray) -> list[bytes]:
    """16 kHz int16 -> 20 ms PCMU payloads (the last frame padded with silence)."""
    codes = ulaw_encode(resample(pcm16k, 16_000, 8_000)).tobytes()
    codes += bytes([0xFF]) * (-len(codes) % 160)
    return [codes[i : i + 160] for i in range(0, len(codes), 160)]
