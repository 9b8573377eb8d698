"""One phone call's media: an RTP socket, a 20 ms clock, and the conversation it carries.

Every 20 ms (a drift-free schedule) the call hands the conversation the caller's next
frame out of the jitter buffer (silence while nothing has arrived: time goes on for the
turn policy even when the caller is muted) and sends the agent's next frame as RTP.
Pull-based like WebRTC: when a reply is cut, the very next packet is already silence, and
the RTP actually sent is what the caller heard.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable

import numpy as np

from omnivox.media.call_control import CallControl
from omnivox.media.clock import MediaClock
from omnivox.media.frames import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, AudioFrame
from omnivox.media.pacing import FrameSchedule
from omnivox.media.rtp.sdp import Negotiated
from omnivox.media.rtp.session import RtpSession
from omnivox.media.sessions import SessionTasks
from omnivox.media.transport import Conversation, ConversationFactory

log = logging.getLogger(__name__)


class RtpPorts:
    """The RTP ports calls may bind: even ports of a range, first free first."""

    def __init__(self, host: str, first: int, last: int) -> None:
        if not 0 < first <= last < 65536:
            raise ValueError(f"RTP port range {first}-{last} is not valid")
        self._host = host
        self._ports = range(first + first % 2, last + 1, 2)
        self._used: set[int] = set()

    def bind(self) -> socket.socket:
        """A bound, non-blocking UDP socket on a free port of the range."""
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        for port in self._ports:
            if port in self._used:
                continue
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.bind((self._host, port))
            except OSError:
                sock.close()
                continue
            sock.setblocking(False)
            self._used.add(port)
            return sock
        raise OSError(f"no free RTP port in {self._ports.start}-{self._ports.stop - 1}")

    def release(self, port: int) -> None:
        self._used.discard(port)

    @property
    def in_use(self) -> int:
        return len(self._used)


class _RtpProtocol(asyncio.DatagramProtocol):
    def __init__(self, on_packet: Callable[[bytes, tuple[str, int]], None]) -> None:
        self._on_packet = on_packet

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._on_packet(data, addr)


class PhoneCall:
    """A `TransportSession` for the registry; the SIP endpoint drives its life."""

    def __init__(
        self,
        session_id: str,
        sock: socket.socket,
        negotiated: Negotiated,
        open_conversation: ConversationFactory,
        on_closed: Callable[[PhoneCall, str], None],
        monotonic: Callable[[], float] = time.monotonic,
        control: CallControl | None = None,
    ) -> None:
        """`control` is what the conversation may do to the call (the SIP side's)."""
        self.id = session_id
        self.transport = "sip"
        self.port = int(sock.getsockname()[1])
        self._sock = sock
        self._monotonic = monotonic
        self.rtp = RtpSession(negotiated)
        self.clock = MediaClock(monotonic)
        self.conversation: Conversation = open_conversation(
            session_id, self.clock, _no_page, call=control
        )
        self._on_closed = on_closed
        self._tasks = SessionTasks(session_id)
        self._transport: asyncio.DatagramTransport | None = None
        self._samples_in = 0
        self.closed = False

    @property
    def running_tasks(self) -> int:
        return self._tasks.running

    async def prepare(self) -> None:
        """While the phone rings: the socket listens and the conversation (greeting
        included) gets ready, so the first words go out as the call connects."""
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _RtpProtocol(self._on_packet), sock=self._sock
        )
        await self.conversation.start()

    def connect(self) -> None:
        """The caller acknowledged the answer: media flows."""
        if not self.closed and not self._tasks.running:
            self._tasks.spawn(self._run(), "rtp")

    def update(self, negotiated: Negotiated) -> None:
        """A re-INVITE: hold, resume, another codec or address."""
        self.rtp.update(negotiated)

    async def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        await self._tasks.cancel_all()
        await self.conversation.close(reason)
        if self._transport is not None:
            self._transport.close()
        else:
            self._sock.close()
        self._on_closed(self, reason)

    def _now_ms(self) -> float:
        return self._monotonic() * 1000.0

    def _on_packet(self, data: bytes, source: tuple[str, int]) -> None:
        if self.closed:
            return
        for digit in self.rtp.accept(data, source, self._now_ms()):
            self.conversation.push_dtmf(digit.digit)

    async def _run(self) -> None:
        schedule = FrameSchedule(FRAME_MS / 1000.0, self._monotonic)
        silence = np.zeros(FRAME_SAMPLES, np.int16)
        while True:
            await schedule.wait()
            now = self._now_ms()
            pcm = self.rtp.playout(now)
            frame = AudioFrame(pcm if pcm is not None else silence, SAMPLE_RATE, self._samples_in)
            self._samples_in += FRAME_SAMPLES
            self.clock.on_audio(frame.t_ms + frame.duration_ms)
            self.conversation.push_audio(frame)
            if (digit := self.rtp.poll_dtmf(now)) is not None:
                self.conversation.push_dtmf(digit.digit)
            agent = self.conversation.pull_audio()
            if self.rtp.negotiated.sends and self._transport is not None:
                self._transport.sendto(self.rtp.next_packet(agent), self.rtp.remote_address)
            else:
                self.rtp.skip_frame()


def _no_page(_line: str) -> None:
    """A phone has no screen for events: they go to the server's log only."""
