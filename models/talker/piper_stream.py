"""One piece of Piper speech shaped as it streams: native-rate windows in, 16 kHz chunks
with word positions out.

The vocoder hands a piece over window by window (piper_voice.py); this turns each window
into what the listener gets: one gain per voice (pieces equally loud), the silence before
the first sound trimmed to a short lead and after the last to a short tail (the voice's
own padding would otherwise add a pause at every cut), short fades at both ends, a soft
limiter, 16 kHz through a streaming resampler (no clicks between windows), and after the
last window the pause that fits where the piece was cut.

Trimming works on windows without seeing the whole piece: silence is judged against an
absolute floor (the voice is calibrated to TARGET_DBFS), and the quiet end of each window
is held back until the next one shows whether speech follows it, so only the piece's
final silence is dropped. A pure class: no model, no executor; tested on its own.
"""

from __future__ import annotations

import numpy as np

from omnivox.kernels.resample import StreamResampler
from omnivox.models.talker.base import SpeechChunk

SAMPLE_RATE = 16_000  # SpeechChunk's rate
LEAD_MS = 15  # kept before the first sound of a piece
TAIL_MS = 30  # kept after the last (the decay), before the pause
FADE_MS = 5
FLOOR_DBFS = -57.0
"""A 10 ms frame quieter than this (after the voice's gain) is silence: about 45 dB under
the loudest syllables of speech calibrated to -21 dBFS active level."""
MAX_HOLD_MS = 300  # quiet audio held back at most; a longer pause inside a piece is kept
_KNEE = 0.89  # the limiter bends peaks above this (-1 dBFS) towards full scale


class PieceStream:
    """Shapes one piece: `push` each window of native audio in order, `final` on the last."""

    def __init__(
        self, rate: int, gain: float, words: list[tuple[float, int]], pause_ms: int
    ) -> None:
        """`words`: (native sample where the word starts, character index in the text),
        in order; `pause_ms`: silence appended after the piece's speech."""
        self._rate = rate
        self._gain = np.float32(gain)
        self._words = list(words)
        self._pause = np.zeros(SAMPLE_RATE * pause_ms // 1000, np.int16)
        self._window = max(1, rate // 100)
        self._floor = float(10 ** (FLOOR_DBFS / 10))
        self._resampler = StreamResampler(rate, SAMPLE_RATE, np.float32)
        self._held = np.zeros(0, np.float32)
        self._held_at = 0  # native index of _held[0]
        self._begin: int | None = None  # native index where the output starts
        self._emitted = 0  # 16 kHz samples handed out
        self._last_word_at = -1

    def push(self, audio: np.ndarray, final: bool = False) -> SpeechChunk | None:
        """The next window; the chunk ready to play (None if nothing is, yet)."""
        x = np.concatenate([self._held, audio.astype(np.float32) * self._gain])
        at = self._held_at
        self._held = np.zeros(0, np.float32)
        if self._begin is None:
            loud = self._loud_frames(x, at)
            if not loud.size:  # still before the first sound
                keep = self._rate * LEAD_MS // 1000
                self._held, self._held_at = x[-keep:] if keep else x[:0], at + max(0, len(x) - keep)
                return self._finish(np.zeros(0, np.float32)) if final else None
            skip = max(0, int(loud[0]) - self._rate * LEAD_MS // 1000)
            x, at = x[skip:], at + skip
            self._begin = at
            _ramp(x, self._rate * FADE_MS // 1000, rising=True)
        loud = self._loud_frames(x, at)
        speech_end = int(loud[-1]) + self._window if loud.size else 0
        if final:
            out = x[: min(len(x), speech_end + self._rate * TAIL_MS // 1000)]
            _ramp(out, self._rate * FADE_MS // 1000, rising=False)
            return self._finish(out)
        cut = max(speech_end, len(x) - self._rate * MAX_HOLD_MS // 1000)
        self._held, self._held_at = x[cut:], at + cut
        return self._chunk(self._resampler.process(x[:cut]), tail=False)

    def _finish(self, out: np.ndarray) -> SpeechChunk | None:
        speech = np.concatenate([self._resampler.process(out), self._resampler.flush()])
        return self._chunk(speech, tail=True)

    def _chunk(self, speech: np.ndarray, tail: bool) -> SpeechChunk | None:
        pcm = _to_int16(speech)
        if tail and self._begin is not None:
            pcm = np.concatenate([pcm, self._pause])
        if not len(pcm):
            return None
        starts: list[tuple[int, int]] = []
        ratio = SAMPLE_RATE / self._rate
        while self._words and self._begin is not None:
            native, char = self._words[0]
            at = max(0, round((native - self._begin) * ratio))
            if not tail and at >= self._emitted + len(pcm):
                break  # starts in a later chunk
            at = max(at, self._last_word_at + 1)  # strictly increasing, as eSpeak's
            local = max(0, min(at - self._emitted, len(pcm) - 1))
            self._last_word_at = self._emitted + local
            starts.append((local, char))
            self._words.pop(0)
        self._emitted += len(pcm)
        return SpeechChunk(pcm, starts)

    def _loud_frames(self, x: np.ndarray, at: int) -> np.ndarray:
        """Where in `x` (native index `at` of the piece) each loud 10 ms frame starts.
        Frames are on the piece's own grid, so windows cut anywhere judge alike."""
        skip = -at % self._window
        frames = (len(x) - skip) // self._window
        if frames <= 0:
            return np.zeros(0, np.int64)
        grid = x[skip : skip + frames * self._window].reshape(frames, self._window)
        loud = np.flatnonzero(np.mean(grid**2, axis=1) >= self._floor)
        return skip + loud * self._window


def _ramp(x: np.ndarray, n: int, rising: bool) -> None:
    """A short linear fade, in place (the cuts are in near silence)."""
    n = min(n, len(x) // 2)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        if rising:
            x[:n] *= ramp
        else:
            x[-n:] *= ramp[::-1]


def _to_int16(x: np.ndarray) -> np.ndarray:
    """float -> int16 through a soft limiter: peaks above _KNEE bend towards full scale
    and never reach it, so loud syllables are not clipped and quiet ones untouched."""
    y = x.astype(np.float32, copy=True)
    over = np.abs(y) > _KNEE
    if over.any():
        room = 1.0 - _KNEE
        y[over] = np.sign(y[over]) * (_KNEE + room * np.tanh((np.abs(y[over]) - _KNEE) / room))
    return np.round(y * 32767.0).astype(np.int16)
