"""The inbound audio buffer of a WebRTC peer: in order, and no later than it must be.

aiortc hands each audio packet to a `JitterBuffer(capacity=16, prefetch=4)` that gives
one frame out per packet in. It always holds four frames back (80 ms the user's speech
waits for nothing on a clean network), and when a packet is lost it waits until the gap
is 16 packets old; the frames that piled up meanwhile then stay queued for the rest of
the call, one in, one out: after the first loss the server hears the user up to 320 ms
late, and on a lossy network every turn ends that much later.

`ReorderWindow` keeps order without waiting when it can: a packet in sequence goes
through at once; a gap is held only until `depth` later packets have come (a reordered
packet is then no longer expected) and is then skipped. `depth` follows the network: a
packet that turns up after its gap was skipped raises it to what would have caught it,
and it comes down by one after a long run with no late packet. Pure: fed sequence
numbers, returns what to decode; `install` puts it into an aiortc receiver.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Generic, TypeVar

from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtp import RtpPacket

T = TypeVar("T")

MAX_DEPTH = 8  # 160 ms: later than that, a packet is treated as lost
CALM_PACKETS = 1500  # 30 s with nothing late: the window shrinks by one
RESTART_GAP = 100  # a jump this far ahead (or back) is a new stream, not loss


class ReorderWindow(Generic[T]):
    """Sequence numbers (16-bit RTP) in, items out in order, at most one per arrival."""

    def __init__(self, depth: int = 1) -> None:
        self.depth = depth
        self._held: dict[int, T] = {}
        self._next: int | None = None  # extended sequence number due out
        self._highest = 0
        self._calm = 0
        self._given_up: deque[int] = deque(maxlen=4 * MAX_DEPTH)
        self.late = 0
        """Packets that came after their gap had been skipped (dropped)."""
        self.skipped = 0
        """Sequence numbers given up on as lost."""

    def add(self, seq: int, item: T) -> T | None:
        """The packet `seq` arrived: the next item to decode, if one is due."""
        ext = self._extend(seq)
        if self._next is None or abs(ext - self._next) >= RESTART_GAP:
            self._held.clear()
            self._next = self._highest = ext
        if ext < self._next:
            if ext not in self._given_up:
                return None  # a duplicate of one already decoded
            self.late += 1
            # How many later packets had arrived: a window that deep would have waited.
            self.depth = min(MAX_DEPTH, max(self.depth, self._highest - ext + 1))
            self._calm = 0
            return None
        self._held[ext] = item
        self._highest = max(self._highest, ext)
        self._calm += 1
        if self._calm >= CALM_PACKETS and self.depth > 1:
            self.depth -= 1
            self._calm = 0
        if self._next not in self._held:
            if len(self._held) <= self.depth:
                return None  # the gap may yet be filled
            first = min(self._held)
            self.skipped += first - self._next
            self._given_up.extend(range(self._next, first))
            self._next = first
        self._next += 1
        return self._held.pop(self._next - 1)

    def _extend(self, seq: int) -> int:
        """`seq` unwrapped next to the highest extended number seen."""
        if self._next is None:
            return seq
        base = self._highest
        ext = (base & ~0xFFFF) | seq
        if ext - base > 0x8000:
            ext -= 0x10000
        elif base - ext > 0x8000:
            ext += 0x10000
        return ext


class _AudioBuffer:
    """What aiortc's receiver calls for each audio packet: (send a PLI?, frame or None)."""

    capacity = 16

    def __init__(self) -> None:
        self.window: ReorderWindow[RtpPacket] = ReorderWindow()

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        out = self.window.add(packet.sequence_number, packet)
        if out is None:
            return False, None
        data: bytes = getattr(out, "_data", b"")  # depayloaded by the receiver
        return False, JitterFrame(data=data, timestamp=out.timestamp)


def install(pc: RTCPeerConnection, track: MediaStreamTrack) -> ReorderWindow[Any] | None:
    """Give the receiver of the audio `track` a ReorderWindow in place of aiortc's buffer
    (before its first packet: call from the peer connection's "track" event). aiortc has
    no hook for this, so its private attribute is replaced; None if it is not there (an
    aiortc that changed), and aiortc's own buffer stays."""
    for receiver in pc.getReceivers():
        if receiver.track is track and hasattr(receiver, "_RTCRtpReceiver__jitter_buffer"):
            buffer = _AudioBuffer()
            receiver._RTCRtpReceiver__jitter_buffer = buffer
            return buffer.window
    return None
