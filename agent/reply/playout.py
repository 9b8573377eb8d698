"""The bounded playout queue between a Reply's Talker and the transport.

The Talker may run at most `max_ahead` frames ahead of the transport; the transport pulls
one 20 ms frame at a time. Because the transport pulls from here (nothing is pushed into
a transport buffer), `clear()` on cancel means no queued agent audio is sent afterwards:
only the frame already handed out before the decision, at most 20 ms, can still be heard.

It also keeps the text/sample marks of the reply so the words actually played can be
recovered when playback is cut.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

import numpy as np

from omnivox.media.frames import SAMPLE_RATE, Reframer


@dataclass(frozen=True, slots=True)
class TextMark:
    """By reply sample `sample`, all text before character `char` has been spoken."""

    sample: int
    char: int


class PlayoutQueue:
    def __init__(self, max_ahead: int = 3) -> None:
        if max_ahead < 1:
            raise ValueError("max_ahead must be at least 1 frame")
        self.max_ahead = max_ahead
        self._frames: deque[np.ndarray] = deque()
        self._reframer = Reframer()
        self._space = asyncio.Event()
        self._space.set()
        self._closed = False
        self.produced_samples = 0
        """Samples accepted from the Talker (framed or pending)."""
        self.played_samples = 0
        """Samples handed to the transport."""
        self.marks: list[TextMark] = []
        self.text = ""

    # ---- producer side (the Reply's talker task) ------------------------------------

    def add_text(self, chunk: str) -> int:
        """Append a chunk of reply text; returns the char offset where it starts."""
        if self.text:
            self.text += " "
        start = len(self.text)
        self.text += chunk
        return start

    def mark(self, sample_in_chunk_stream: int, char: int) -> None:
        self.marks.append(TextMark(sample_in_chunk_stream, char))

    async def put(self, pcm: np.ndarray) -> None:
        """Queue 16 kHz int16 audio, waiting while the queue is `max_ahead` frames full."""
        if self._closed:
            return
        self.produced_samples += len(pcm)
        for frame in self._reframer.push(pcm):
            while len(self._frames) >= self.max_ahead and not self._closed:
                self._space.clear()
                await self._space.wait()
            if self._closed:
                return
            self._frames.append(frame)

    def finish(self) -> None:
        """No more audio: pad and release the last partial frame."""
        self._frames.extend(self._reframer.flush())

    # ---- consumer side (the transport, via the session) -----------------------------

    def pop(self) -> np.ndarray | None:
        if not self._frames:
            return None
        frame = self._frames.popleft()
        self.played_samples += len(frame)
        self._space.set()
        return frame

    def __len__(self) -> int:
        return len(self._frames)

    def clear(self) -> int:
        """Drop everything queued and refuse more; returns frames dropped."""
        dropped = len(self._frames)
        self._frames.clear()
        self._reframer.clear()
        self._closed = True
        self._space.set()
        return dropped

    @property
    def played_ms(self) -> float:
        return 1000.0 * self.played_samples / SAMPLE_RATE

    def heard_text(self, played_samples: int | None = None) -> str:
        """The reply text whose audio was fully played: up to the last boundary passed
        (by `played_samples`, default all handed to the transport)."""
        played = self.played_samples if played_samples is None else played_samples
        char = 0
        for m in self.marks:
            if m.sample <= played:
                char = max(char, m.char)
        return self.text[:char].strip()


class ClientPlayout:
    """How far the far end's playout trails what the transport sent, from its reports.

    A browser reports the delay of its receive path (network transit and jitter buffer,
    from WebRTC stats): agent audio sent but not yet heard. When a reply is cut, that much
    of it was never heard (the page drops it on the cancel event). The median of recent
    reports ignores a one-off spike.
    """

    def __init__(self, window: int = 5, max_delay_ms: float = 1000.0) -> None:
        self._delays: deque[float] = deque(maxlen=window)
        self._max_delay_ms = max_delay_ms

    def report(self, delay_ms: float) -> None:
        self._delays.append(min(self._max_delay_ms, max(0.0, delay_ms)))

    @property
    def lag_ms(self) -> float:
        """0 until the far end reports (transports without reports: sent = heard)."""
        return float(np.median(self._delays)) if self._delays else 0.0
