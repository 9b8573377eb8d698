"""How much of a stretch of the microphone is a delayed copy of what the agent sent.

The echo canceller's residual is normally far under the user's voice, but when the echo
path moves (a sound server re-buffers, a Bluetooth link drops a packet burst) the canceller
loses it for a few hundred milliseconds and the echo comes through nearly whole. That leak
is loud, so by level alone it looks like a person talking over the agent; by its waveform
it is plainly the agent's own voice, a scaled, delayed copy of the reference. A person's
voice correlates with the reference no better than chance.

Judged at 8 kHz (pairs of samples averaged, as the echo watch does) on pre-emphasised
signals, so speech's low-frequency swell does not pass for alignment.
"""

from __future__ import annotations

import numpy as np

from omnivox.media.frames import FRAME_SAMPLES

HALF_FRAME = FRAME_SAMPLES // 2
"""Samples a frame keeps at 8 kHz."""


def half_rate_frame(pcm: np.ndarray) -> np.ndarray:
    """One 16 kHz frame at 8 kHz (float), padded or cut to a whole frame first so that
    buffers of frames stay aligned with the media clock."""
    whole = np.zeros(FRAME_SAMPLES, np.float64)
    n = min(len(pcm), FRAME_SAMPLES)
    whole[:n] = pcm[:n]
    return whole.reshape(HALF_FRAME, 2).mean(axis=1)


def echo_share(segment: np.ndarray, reference: np.ndarray) -> float:
    """The largest share (0-1) of `segment`'s energy that one scaled copy of `reference`
    explains, over every alignment of the segment within the reference (both 8 kHz,
    `reference` at least as long; 0 if shorter). Unrelated speech scores under 0.1 over a
    tenth of a second, less over longer stretches; an echo through a short path, ~1."""
    seg = np.diff(segment)
    ref = np.diff(reference)
    n, length = len(ref), len(seg)
    if length == 0 or n < length:
        return 0.0
    size = 1 << int(np.ceil(np.log2(n + length)))
    cross = np.fft.irfft(np.fft.rfft(ref, size) * np.conj(np.fft.rfft(seg, size)), size)
    cross = cross[: n - length + 1]
    cumulative = np.concatenate([[0.0], np.cumsum(ref**2)])
    ref_energy = cumulative[length:] - cumulative[: n - length + 1]
    seg_energy = float(np.sum(seg**2))
    if seg_energy <= 0.0:
        return 0.0
    return float(np.max(cross**2 / (seg_energy * ref_energy + 1e-9)))
