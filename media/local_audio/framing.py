"""Between the device's blocks and the session's frames.

`InputFramer` turns the microphone's blocks (any rate) into 16 kHz 20 ms frames.
`OutputFifo` carries the agent's 16 kHz frames, resampled to the device rate, from the
event loop to PortAudio's callback thread: the loop appends whole chunks and the
callback takes exactly what the device asks for (deque appends and pops are atomic, so
neither side locks or waits).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from omnivox.media.frames import SAMPLE_RATE, Reframer
from omnivox.media.resampler import PcmResampler


class InputFramer:
    def __init__(self, device_rate: int) -> None:
        self._resampler = (
            PcmResampler(device_rate, SAMPLE_RATE) if device_rate != SAMPLE_RATE else None
        )
        self._reframer = Reframer()

    def push(self, block: np.ndarray) -> list[np.ndarray]:
        """The whole 16 kHz frames `block` (int16 at the device rate) completes."""
        pcm = self._resampler.process(block) if self._resampler is not None else block
        return self._reframer.push(pcm)


class OutputFifo:
    """The speaker's queue, with a cushion: the callback starts taking only once
    `cushion` chunks wait, and after running dry it waits for the cushion again, so the
    event loop's jitter (or a heavy frame) costs one gap, not a gap in every block."""

    def __init__(self, device_rate: int, max_chunks: int = 25, cushion: int = 2) -> None:
        self._resampler = (
            PcmResampler(SAMPLE_RATE, device_rate) if device_rate != SAMPLE_RATE else None
        )
        self._chunks: deque[np.ndarray] = deque(maxlen=max_chunks)
        self._cushion = cushion
        self._carry = np.zeros(0, np.int16)
        """Callback side only: what is left of the chunk it last took."""
        self._filling = True
        """Callback side: waiting for the cushion (at start, and after running dry)."""
        self.underruns = 0
        """Callback side: times the queue ran dry once audio had flowed."""

    def put(self, pcm16k: np.ndarray) -> None:
        """Loop side: the agent's next frame."""
        if not len(pcm16k):
            return
        pcm = self._resampler.process(pcm16k) if self._resampler is not None else pcm16k
        if len(pcm):
            self._chunks.append(pcm)

    def take(self, n: int) -> np.ndarray:
        """Callback side: exactly `n` samples (silence while the cushion fills)."""
        if self._filling:
            if len(self._chunks) < self._cushion:
                return np.zeros(n, np.int16)
            self._filling = False
        parts = [self._carry]
        have = len(self._carry)
        while have < n:
            try:
                chunk = self._chunks.popleft()
            except IndexError:
                break
            parts.append(chunk)
            have += len(chunk)
        pcm = np.concatenate(parts) if len(parts) > 1 else self._carry
        if have < n:
            self.underruns += 1
            self._filling = True
            pcm = np.concatenate([pcm, np.zeros(n - have, np.int16)])
        self._carry = pcm[n:]
        return pcm[:n]

    @property
    def queued_chunks(self) -> int:
        return len(self._chunks)
