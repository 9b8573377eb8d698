"""An adaptive jitter buffer for one inbound RTP audio stream: pure, fed timed events.

The shell pushes each packet as it arrives and pops once every 20 ms. Playout follows
the sequence numbers, one slot per pop, so reordering within the buffer's depth is
undone, duplicates and packets whose slot has already gone are dropped, and a slot
nothing arrived for comes out as `Lost` (the shell conceals it). Packets that carry no
audio (RFC 4733 events, comfort noise) share the sequence space: `push_gap` marks their
slots so they count as neither audio nor loss.

Delay. The target is how much audio (in slots of 20 ms) sits ahead of the playout point
before a pop. It follows the RFC 3550 interarrival jitter J: frame + `jitter_factor` * J,
rounded up to whole frames, within [min_delay_ms, max_delay_ms]. It rises at once when J
does and falls one frame at most every `shrink_step_ms`, so a burst of jitter is met
immediately and calm brings the delay down slowly. The buffer meets a higher target at
once, by playing a concealed frame for each frame the target rose by while it holds
less than the target, and again whenever it runs dry (it waits, concealing, until the
target is buffered: the packets of a late burst are then played, not dropped). It meets
a lower one by dropping one packet when, for a whole `shrink_step_ms`, it never held
less than a frame above the target.

Restarts. A new SSRC, or a jump in sequence numbers that RFC 3550's probation (A.1)
confirms with a second packet in sequence, is a new stream: the buffer starts afresh
(the jitter estimate and target are kept; they describe the network, not the stream).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace

MAX_DROPOUT = 3000
"""Sequence numbers ahead of the highest seen that are still the same stream (RFC 3550)."""
MAX_MISORDER = 100
"""Sequence numbers behind the highest seen that are still a late packet (RFC 3550)."""
_REMEMBERED = 128  # played slots remembered to tell a duplicate from a late packet


@dataclass(frozen=True, slots=True)
class JitterConfig:
    frame_ms: int = 20
    clock_rate: int = 8000
    min_delay_ms: int = 20
    max_delay_ms: int = 200
    initial_delay_ms: int = 40
    jitter_factor: float = 4.0
    """Target = frame + jitter_factor * J. J tracks the mean transit-time difference of
    consecutive packets, about 1.1 standard deviations of a Gaussian transit time, so
    4 J covers all but the rarest late packets."""
    shrink_step_ms: int = 1000
    capacity_ms: int = 400
    """A sender running ahead further than this loses its oldest packets."""


@dataclass(frozen=True, slots=True)
class Payload:
    seq: int
    timestamp: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Lost:
    """Conceal one frame: the packet of `seq` never came, or (seq None) the buffer
    holds back to reach a higher target, or ran dry and waits to fill to it again."""

    seq: int | None = None


@dataclass(slots=True)
class JitterStats:
    received: int = 0
    """Audio packets pushed (duplicates, late ones and those of a stream restart too)."""
    lost: int = 0
    """Slots played as Lost because no packet came for them in time."""
    late: int = 0
    duplicates: int = 0
    discarded: int = 0
    """Packets dropped to shrink the delay or because the buffer was full."""
    underruns: int = 0
    """Times the buffer ran dry while playing (then it refills to the target)."""
    resets: int = 0
    jitter_ms: float = 0.0
    target_delay_ms: int = 0
    delay_ms: int = 0
    """Audio buffered ahead of the playout point, holes included."""


@dataclass(frozen=True, slots=True)
class _Packet:
    seq: int
    timestamp: int
    data: bytes | None  # None: a slot without audio (push_gap)
    arrival_ms: float
    ssrc: int | None


class JitterBuffer:
    def __init__(self, config: JitterConfig | None = None) -> None:
        self.config = config or JitterConfig()
        c = self.config
        if not c.frame_ms <= c.min_delay_ms <= c.initial_delay_ms <= c.max_delay_ms:
            raise ValueError("need frame_ms <= min_delay_ms <= initial_delay_ms <= max_delay_ms")
        self._stats = JitterStats(target_delay_ms=self._round_up(c.initial_delay_ms))
        self._calm_since: float | None = None  # since when J has asked for less than the target
        self._stretch = 0  # frames to conceal to let the delay catch up with a raised target
        self._jitter = 0.0
        # The stream's state, (re)set by _restart_stream:
        self._slots: dict[int, _Packet]  # by extended sequence number
        self._next: int | None  # extended seq of the slot the next pop plays
        self._highest: int  # extended seq of the newest packet
        self._ssrc: int | None
        self._playing: bool
        self._started: bool  # played at least once since the stream began
        self._played: deque[int]  # recent slots played, to tell duplicates from late ones
        self._probation: _Packet | None  # the first packet after a far jump in seq
        self._previous: tuple[float, int] | None  # arrival, timestamp of the last audio
        self._window: tuple[float, int]  # start of a shrink step, least delay seen since
        self._restart_stream()

    @property
    def stats(self) -> JitterStats:
        """A snapshot of the counters and of the current jitter, target and delay."""
        return replace(self._stats, jitter_ms=self._jitter, delay_ms=self._delay_ms())

    def push(
        self,
        seq: int,
        timestamp: int,
        payload: bytes,
        arrival_ms: float,
        *,
        ssrc: int | None = None,
    ) -> None:
        """One audio packet as it arrives (16-bit `seq`, 32-bit `timestamp`)."""
        self._stats.received += 1
        self._admit(_Packet(seq & 0xFFFF, timestamp & 0xFFFFFFFF, payload, arrival_ms, ssrc))

    def push_gap(self, seq: int, arrival_ms: float, *, ssrc: int | None = None) -> None:
        """A packet of the same stream without audio (RFC 4733 event, comfort noise):
        its slot is skipped at playout, neither played nor counted lost."""
        self._admit(_Packet(seq & 0xFFFF, 0, None, arrival_ms, ssrc))

    def pop(self, now_ms: float) -> Payload | Lost | None:
        """What to play for the next 20 ms: None until the stream first reaches its
        target, then a Payload, or Lost to conceal."""
        if self._next is None:
            return None
        if not self._playing:
            if self._delay_ms() < self._stats.target_delay_ms:
                return Lost() if self._started else None
            self._playing = self._started = True
            self._window = (now_ms, self._delay_ms())
            self._stretch = 0
        if self._stretch:
            self._stretch -= 1
            if self._delay_ms() < self._stats.target_delay_ms:
                return Lost()
        self._shrink(now_ms)
        while self._next <= self._highest:
            seq = self._next
            self._next += 1
            packet = self._slots.pop(seq, None)
            if packet is None:
                self._stats.lost += 1
                return Lost(seq & 0xFFFF)
            self._played.append(seq)
            if packet.data is not None:
                return Payload(packet.seq, packet.timestamp, packet.data)
        self._stats.underruns += 1
        self._playing = False
        return Lost()

    def reset(self) -> None:
        """Forget the stream (the far end restarted it): wait for the target again."""
        self._stats.resets += 1
        self._restart_stream()

    # --- arrival ----------------------------------------------------------------------

    def _restart_stream(self) -> None:
        self._slots = {}
        self._next = None
        self._highest = 0
        self._ssrc = None
        self._playing = False
        self._started = False
        self._played = deque(maxlen=_REMEMBERED)
        self._probation = None
        self._previous = None
        self._window = (0.0, 0)

    def _admit(self, packet: _Packet) -> None:
        if self._next is not None and packet.ssrc is not None and packet.ssrc != self._ssrc:
            self.reset()
        if self._next is None:
            self._ssrc = packet.ssrc
            self._highest = self._next = packet.seq + 0x10000  # room for earlier ones
        delta = (packet.seq - self._highest + 0x8000) % 0x10000 - 0x8000
        if delta > MAX_DROPOUT or delta < -MAX_MISORDER:
            self._on_jump(packet)
            return
        self._probation = None
        seq = self._highest + delta
        if seq < self._next and not self._started:
            self._next = seq  # reordered ahead of the first packet: nothing has played yet
        if seq < self._next or seq in self._slots:
            if packet.data is None:
                pass
            elif seq in self._slots or seq in self._played:
                self._stats.duplicates += 1
            else:
                self._stats.late += 1
            return
        self._slots[seq] = packet
        self._highest = max(self._highest, seq)
        if packet.data is not None:
            self._measure(packet)
        capacity = self.config.capacity_ms // self.config.frame_ms
        while self._highest - self._next >= capacity:
            self._drop_next()

    def _on_jump(self, packet: _Packet) -> None:
        """RFC 3550 A.1: a far jump is a new stream once the next packet follows it."""
        candidate = self._probation
        if candidate is not None and packet.seq == (candidate.seq + 1) & 0xFFFF:
            self.reset()
            self._admit(candidate)
            self._admit(packet)
        else:
            self._probation = packet

    def _measure(self, packet: _Packet) -> None:
        """RFC 3550 6.4.1 interarrival jitter, then the target it asks for."""
        if self._previous is not None:
            arrival, timestamp = self._previous
            elapsed = (packet.timestamp - timestamp + 0x80000000) % 0x100000000 - 0x80000000
            d = (packet.arrival_ms - arrival) - 1000.0 * elapsed / self.config.clock_rate
            self._jitter += (abs(d) - self._jitter) / 16.0
        self._previous = (packet.arrival_ms, packet.timestamp)
        c = self.config
        wanted = self._round_up(c.frame_ms + c.jitter_factor * self._jitter)
        now = packet.arrival_ms
        if wanted >= self._stats.target_delay_ms:
            self._stretch += (wanted - self._stats.target_delay_ms) // c.frame_ms
            self._stats.target_delay_ms = wanted
            self._calm_since = None
        elif self._calm_since is None:
            self._calm_since = now
        elif now - self._calm_since >= c.shrink_step_ms:
            self._stats.target_delay_ms -= c.frame_ms
            self._calm_since = now

    # --- playout ----------------------------------------------------------------------

    def _shrink(self, now_ms: float) -> None:
        """Drop one packet when a whole step held more than a frame above the target."""
        start, least = self._window
        least = min(least, self._delay_ms())
        if now_ms - start < self.config.shrink_step_ms:
            self._window = (start, least)
            return
        if least - self._stats.target_delay_ms >= self.config.frame_ms:
            self._drop_next()
        self._window = (now_ms, self._delay_ms())

    def _drop_next(self) -> None:
        assert self._next is not None
        if self._slots.pop(self._next, None) is None:
            self._stats.lost += 1  # a hole: nothing came for this slot
        else:
            self._stats.discarded += 1
        self._next += 1

    def _delay_ms(self) -> int:
        if self._next is None or self._highest < self._next:
            return 0
        return (self._highest - self._next + 1) * self.config.frame_ms

    def _round_up(self, delay_ms: float) -> int:
        """Whole frames, at least `delay_ms`, within the configured bounds."""
        c = self.config
        frames = math.ceil(max(delay_ms, c.min_delay_ms) / c.frame_ms - 1e-9)
        return min(frames * c.frame_ms, c.max_delay_ms)
