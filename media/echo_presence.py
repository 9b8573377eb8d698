"""Whether the far end plays the agent's voice back into its microphone at all.

The server's echo canceller (AEC3) needs a reference and an echo to learn from. On a call
with no echo path (headphones, a headset, a phone held to the ear) it still damps the
user's voice whenever the agent talks, 10-60 dB in its first seconds and again now and
then later, and a user's "wait" said over the agent is lost. So a call whose canceller
runs only for safety (a browser whose own canceller does harm) watches for the echo: while
the agent talks, the last two seconds of what the microphone heard are cross-correlated
with what was sent (GCC-PHAT: whitened, so the peak stands out of speech's pitch and the
room's colouring), up to a second of delay. A clear peak at the same delay in two windows
in a row is an echo path, with its delay and gain; windows with no peak and a quiet
microphone while the agent spoke are none (with the user talking over the agent a window
says nothing: their voice can hide a weak echo's peak).

Pure: fed the frames sent and received (16 kHz int16, one each per 20 ms on the session's
media clock); `state` changes as windows are judged.
"""

from __future__ import annotations

from collections import deque
from enum import Enum

import numpy as np

from omnivox.kernels.level import frame_dbfs
from omnivox.media.echo_likeness import HALF_FRAME, half_rate_frame
from omnivox.media.frames import SAMPLE_RATE as INPUT_RATE
from omnivox.media.local_audio.echo_path import EchoPathEstimate

RATE = INPUT_RATE // 2
"""Judged at 8 kHz (pairs of samples averaged): the band fits, and the correlation costs
a quarter (~4 ms a window, on the event loop)."""
STEP = HALF_FRAME
"""Samples a frame keeps."""

WINDOW_FRAMES = 100
"""2 s of microphone per judgement: a few words of the agent."""
MAX_DELAY_FRAMES = 50
"""1 s: a browser's jitter buffer at a call's start, the network and the sound card."""
HOP_FRAMES = 25
"""A window is judged every 0.5 s."""
ACTIVE_DBFS = -50.0
"""A reference frame this loud carries the agent's voice."""
MIN_ACTIVE_FRAMES = 50
"""A window is judged only once the agent spoke through 1 s of it (with its echo's reach)."""
BAND_HZ = (200.0, 4000.0)
"""Where speech and a loudspeaker's echo are; outside, noise and the codec's edges."""
PRESENT_CLARITY = 9.0
"""A peak this many times the correlation's RMS may be the echo; it is when the next
window's peak agrees on the delay (a lone peak can be two onsets out of digital silence
that happen to line up: whitening makes any sharp edge a peak)."""
AGREE_MS = 20.0
"""Two windows' peaks this close are the same echo path."""
ABSENT_CLARITY = 6.0
"""A window whose peak stays under this has no echo in it."""
QUIET_DB = -20.0
"""A window without a peak shows no echo only when the microphone was this much quieter
than the agent: louder, the user (or a noise) was talking over it and could hide one."""
SILENT_DB = -35.0
"""A microphone this much quieter than the agent holds no echo that matters, peak or not
(whitening makes a peak of a near-silent microphone's rounding noise)."""
ABSENT_WINDOWS = 2
"""Consecutive echo-free windows that make the path absent."""


class EchoState(Enum):
    UNKNOWN = "unknown"
    PRESENT = "present"
    ABSENT = "absent"


def _gcc_phat(mic: np.ndarray, ref: np.ndarray, max_lag: int) -> np.ndarray:
    """Whitened cross-correlation: entry k scores `mic[j] ~ ref[j + k]`, k in 0..max_lag."""
    n = len(mic) + len(ref)  # 40000 = 2^6 5^4: as fast as a power of two, and shorter
    cross = np.fft.rfft(ref, n) * np.conj(np.fft.rfft(mic, n))
    freqs = np.fft.rfftfreq(n, 1.0 / RATE)
    band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
    weighted = np.where(band, cross / (np.abs(cross) + 1e-12), 0.0)
    return np.fft.irfft(weighted, n)[: max_lag + 1]


class EchoPresence:
    """Judges, window by window while the agent talks, whether its voice comes back."""

    def __init__(self) -> None:
        self.state = EchoState.UNKNOWN
        self.estimate: EchoPathEstimate | None = None
        """The latest echo path found (delay from sending to hearing, gain, clarity)."""
        self._sent: deque[np.ndarray] = deque(maxlen=WINDOW_FRAMES + MAX_DELAY_FRAMES)
        self._heard: deque[np.ndarray] = deque(maxlen=WINDOW_FRAMES)
        self._active: deque[bool] = deque(maxlen=WINDOW_FRAMES + MAX_DELAY_FRAMES)
        self._since_judged = 0
        self._echo_free = 0
        self._last_peak_ms: float | None = None
        """The previous window's delay, when its peak was clear."""

    def sent(self, pcm: np.ndarray) -> None:
        """The frame the agent just sent."""
        self._sent.append(half_rate_frame(pcm))
        self._active.append(frame_dbfs(pcm) > ACTIVE_DBFS)

    def heard(self, pcm: np.ndarray) -> EchoState | None:
        """The frame the microphone just delivered: the new state, if it changed."""
        self._heard.append(half_rate_frame(pcm))
        self._since_judged += 1
        if self._since_judged < HOP_FRAMES:
            return None
        if sum(self._active) < MIN_ACTIVE_FRAMES:
            return None
        self._since_judged = 0
        return self._judge()

    def _judge(self) -> EchoState | None:
        # Early in a call the buffers are short: silence before it (it holds no echo).
        mic = _padded(self._heard, WINDOW_FRAMES)
        ref = _padded(self._sent, WINDOW_FRAMES + MAX_DELAY_FRAMES)
        max_lag = MAX_DELAY_FRAMES * STEP
        corr = _gcc_phat(mic, ref, max_lag)
        k = int(np.argmax(corr))
        clarity = float(corr[k] / (np.sqrt(np.mean(corr**2)) + 1e-12))
        before = self.state
        quiet = self._quiet_db(mic, ref)
        delay_ms = 1000.0 * (max_lag - k) / RATE
        peak, self._last_peak_ms = self._last_peak_ms, None
        if clarity >= PRESENT_CLARITY and quiet > SILENT_DB:
            self._echo_free = 0
            self._last_peak_ms = delay_ms
            if peak is not None and abs(peak - delay_ms) <= AGREE_MS:
                self.state = EchoState.PRESENT
                # All the microphone heard against what came back of the agent: with the
                # user talking too this errs loud, the side a gate against echo should
                # err on.
                self.estimate = EchoPathEstimate(delay_ms, quiet, clarity)
        elif quiet < SILENT_DB or (quiet < QUIET_DB and clarity < ABSENT_CLARITY):
            self._echo_free += 1
            if self._echo_free >= ABSENT_WINDOWS:
                self.state = EchoState.ABSENT
        return self.state if self.state is not before else None

    def _quiet_db(self, mic: np.ndarray, ref: np.ndarray) -> float:
        """The microphone's level against the agent's, both since the agent began within
        the window (before it, the microphone can hold no echo: the user's last words)."""
        active = list(self._active)
        padding = WINDOW_FRAMES + MAX_DELAY_FRAMES - len(active)
        first = padding + active.index(True)
        heard_from = max(0, first - MAX_DELAY_FRAMES) * STEP
        sent = ref[first * STEP :]
        heard = mic[heard_from:]
        mic_power = float(np.mean(heard**2)) if len(heard) else 0.0
        ref_power = float(np.mean(sent**2))
        return float(10 * np.log10((mic_power + 1e-3) / (ref_power + 1e-3)))


def _padded(frames: deque[np.ndarray], length: int) -> np.ndarray:
    """`frames` as float samples, `length` frames long, silence in front."""
    pad = np.zeros((length - len(frames)) * STEP)
    return np.concatenate([pad, *frames])
