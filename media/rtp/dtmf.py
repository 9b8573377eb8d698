"""RFC 4733 telephone-event payloads, and the key presses a stream of them makes.

A key press is one event: every packet of it carries the same RTP timestamp (its start)
and a growing duration; the last one has the end bit and is sent three times. Packets
are lost and reordered like any other, so a press is reported once, at the first end
packet, or, if every end packet was lost, when the next event begins or when `poll`
finds it silent for `timeout_ms`. `DtmfSender` writes such packets for keys we press.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

EVENT_DIGITS = "0123456789*#ABCD"
"""RFC 4733 section 3.2: events 0-15 are the DTMF keys, in this order."""
_FINISHED_REMEMBERED = 8  # recent events whose late retransmissions are ignored


class DtmfError(ValueError):
    """A telephone-event payload too short to hold an event."""


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    event: int
    end: bool
    volume: int
    """Power level in -dBm0 (0-63)."""
    duration: int
    """In RTP timestamp units since the event's start."""


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    digit: str
    duration_ms: float
    at_ms: float
    """When the first packet of the press arrived (the shell's clock)."""


def parse_event(payload: bytes) -> TelephoneEvent:
    """The first event of a telephone-event payload (RFC 4733 section 2.3)."""
    if len(payload) < 4:
        raise DtmfError(f"telephone-event payload needs 4 bytes, got {len(payload)}")
    event, flags, duration = struct.unpack_from("!BBH", payload)
    return TelephoneEvent(event, bool(flags & 0x80), flags & 0x3F, duration)


@dataclass(slots=True)
class _Press:
    timestamp: int
    digit: str
    duration: int
    at_ms: float
    last_ms: float


class DtmfReceiver:
    """Telephone-event packets in, one DtmfDigit per key press out."""

    def __init__(self, clock_rate: int = 8000, timeout_ms: float = 500.0) -> None:
        self._clock_rate = clock_rate
        self._timeout_ms = timeout_ms
        self._current: _Press | None = None
        self._finished: deque[int] = deque(maxlen=_FINISHED_REMEMBERED)
        self.ignored = 0
        """Payloads too short, or events other than DTMF keys (e.g. flash, tones)."""

    def push(self, timestamp: int, payload: bytes, now_ms: float) -> list[DtmfDigit]:
        """One telephone-event packet's RTP timestamp and payload; the presses it
        completes: its own at its first end packet, and the unfinished one before it
        when it begins another (usually none, at most two)."""
        try:
            event = parse_event(payload)
        except DtmfError:
            self.ignored += 1
            return []
        if event.event >= len(EVENT_DIGITS):
            self.ignored += 1
            return []
        if timestamp in self._finished:
            return []  # a retransmitted end packet, or one that came late
        done = []
        if self._current is not None and self._current.timestamp != timestamp:
            done.append(self._finish())  # its end packets were all lost
        if self._current is None:
            digit = EVENT_DIGITS[event.event]
            self._current = _Press(timestamp, digit, event.duration, now_ms, now_ms)
        self._current.duration = max(self._current.duration, event.duration)
        self._current.last_ms = now_ms
        if event.end:
            done.append(self._finish())
        return done

    def poll(self, now_ms: float) -> DtmfDigit | None:
        """The press in progress, if no packet of it came for `timeout_ms` (its end
        packets were lost and no other press followed)."""
        current = self._current
        if current is not None and now_ms - current.last_ms >= self._timeout_ms:
            return self._finish()
        return None

    def _finish(self) -> DtmfDigit:
        press, self._current = self._current, None
        assert press is not None
        self._finished.append(press.timestamp)
        return DtmfDigit(press.digit, 1000.0 * press.duration / self._clock_rate, press.at_ms)


@dataclass(frozen=True, slots=True)
class EventPacket:
    """One telephone-event packet to send in place of a 20 ms audio packet. Every
    packet of one event carries the RTP timestamp of its first (`start`)."""

    payload: bytes
    start: bool
    """The first packet of an event: marked (RFC 4733 section 2.5.1.3), and its frame's
    timestamp is the event's."""


class DtmfSender:
    """Key presses to send (RFC 4733 section 2.5.1): per 20 ms frame, an event packet,
    or None where audio goes out (between presses, and when there is nothing to send).

    A press lasts `tone_frames` (100 ms): a packet a frame with the duration so far, the
    last one marked as the end and sent three times, then `gap_frames` of audio before
    the next key."""

    def __init__(
        self, clock_rate: int = 8000, tone_frames: int = 5, gap_frames: int = 3, volume: int = 10
    ) -> None:
        self._frame = clock_rate // 50  # timestamp units in 20 ms
        self._tone_frames = tone_frames
        self._gap_frames = gap_frames
        self._volume = volume
        self._steps: deque[EventPacket | None] = deque()

    @property
    def busy(self) -> bool:
        """Packets still to send."""
        return bool(self._steps)

    def queue(self, digits: str) -> None:
        """Keys to press after those queued before; ValueError names a key that is not
        0-9, *, # or A-D (nothing of `digits` is queued then)."""
        bad = [d for d in digits if d.upper() not in EVENT_DIGITS]
        if bad or not digits:
            raise ValueError(f"DTMF keys are 0-9, * , # and A-D, not {''.join(bad) or 'nothing'}")
        for digit in digits.upper():
            event = EVENT_DIGITS.index(digit)
            for i in range(self._tone_frames - 1):
                self._steps.append(self._packet(event, i, end=False))
            for _ in range(3):
                self._steps.append(self._packet(event, self._tone_frames - 1, end=True))
            self._steps.extend([None] * self._gap_frames)

    def next(self) -> EventPacket | None:
        """What the next 20 ms frame carries."""
        return self._steps.popleft() if self._steps else None

    def clear(self) -> None:
        self._steps.clear()

    def _packet(self, event: int, frame: int, *, end: bool) -> EventPacket:
        flags = (0x80 if end else 0) | self._volume
        payload = struct.pack("!BBH", event, flags, (frame + 1) * self._frame)
        return EventPacket(payload, start=frame == 0 and not end)
