"""Acoustic echo cancellation at the transport edge: the agent's own voice, played by the
far end's speaker and picked up again by its microphone, is taken out of the user's audio
before the VAD, the recognizer and the turn classifier hear it.

WebRTC's AEC3 does the work, through the AudioProcessingModule in livekit's `rtc` wheel
(its native library ships inside the wheel; no network). The reference is what the
session sends, frame by frame, on the same media clock as the input; AEC3 finds the
delay between the two itself (it is given the far end's reported playout delay as a
hint). Browsers and phones cancel their own echo, so a session runs this only when
configured to (`echo.cancel`): for clients that do not, such as a loudspeaker kiosk.

The module works on 10 ms frames; the session's 20 ms frames are split in two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from omnivox.kernels._pcm import require_pcm
from omnivox.media.frames import SAMPLE_RATE

if TYPE_CHECKING:
    from livekit import rtc


MAX_DELAY_HINT_MS = 500
"""WebRTC's AudioProcessing takes stream delays of 0-500 ms."""


class EchoCanceller:
    def __init__(self, sample_rate: int = SAMPLE_RATE, noise_suppression: bool = False) -> None:
        from livekit import rtc  # imported here: ~0.2 s, and only sessions that cancel

        self._rtc = rtc
        self._rate = sample_rate
        self._chunk = sample_rate // 100
        self._apm: rtc.AudioProcessingModule = rtc.AudioProcessingModule(
            echo_cancellation=True,
            noise_suppression=noise_suppression,
            high_pass_filter=True,
            auto_gain_control=False,
        )

    def set_delay_ms(self, delay_ms: float) -> None:
        """A hint: how long the far end takes to play what is sent (AEC3 also estimates it).
        The module refuses (raises) a hint past its range; a browser's jitter buffer on a
        loaded machine reports more, so it gets the range's end."""
        self._apm.set_stream_delay_ms(min(MAX_DELAY_HINT_MS, max(0, round(delay_ms))))

    def reference(self, pcm: np.ndarray) -> None:
        """What the far end is about to play (int16 mono)."""
        for chunk in self._chunks(pcm):
            self._apm.process_reverse_stream(self._frame(chunk))

    def process(self, pcm: np.ndarray) -> np.ndarray:
        """The user's audio (int16 mono) without the echo."""
        out = []
        for chunk in self._chunks(pcm):
            frame = self._frame(chunk)
            self._apm.process_stream(frame)  # in place
            out.append(np.frombuffer(frame.data, dtype=np.int16))
        return np.concatenate(out)[: len(pcm)] if out else pcm.copy()

    def _chunks(self, pcm: np.ndarray) -> list[np.ndarray]:
        """10 ms pieces; a short last one is padded with silence."""
        require_pcm(pcm, "echo canceller input", np.int16)
        if pad := -len(pcm) % self._chunk:
            pcm = np.concatenate([pcm, np.zeros(pad, np.int16)])
        return [pcm[i : i + self._chunk] for i in range(0, len(pcm), self._chunk)]

    def _frame(self, chunk: np.ndarray) -> rtc.AudioFrame:
        return self._rtc.AudioFrame(chunk.tobytes(), self._rate, 1, self._chunk)
