"""Sample-rate conversion for mono PCM at the transport edges.

Transports run at 8000 (G.711), 22050 (eSpeak NG), 24000 (OpenAI PCM) and 48000 Hz
(WebRTC Opus); omnivox runs at 16000 Hz internally. The fast path is libsoxr (through the
``soxr`` wheel); :func:`resample_reference` is a plain Kaiser-windowed-sinc interpolator
that the tests hold soxr against.

int16 input is converted to float32 for soxr and rounded back here, rather than letting
soxr convert: soxr's int16 output adds TPDF dither, which would make streamed and one-shot
output differ by an LSB or two, while float32 through soxr is bit-identical both ways.

Latency: soxr filters in DFT blocks, so :class:`StreamResampler` returns output in bursts
(some 20 ms chunks give nothing, later ones several frames' worth) and holds audio back:
at "HQ", up to about 37 ms between 16 kHz and 24/48 kHz and 115 ms between 8 and 16 kHz;
"LQ" roughly halves both. Callers that need steady 20 ms frames re-frame the output.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import soxr

from omnivox.kernels._pcm import FULL_SCALE, as_unit_float32, require_pcm, saturate_int16

Quality = Literal["VHQ", "HQ", "MQ", "LQ"]

# Reference filter: a sinc cut off at ROLLOFF of the lower Nyquist frequency, windowed
# by a Kaiser window spanning ZERO_CROSSINGS sinc lobes each side. Beta 8.6 gives about
# 86 dB stop-band rejection; 64 lobes put the transition band within +-4% of the cutoff.
_ROLLOFF = 0.92
_ZERO_CROSSINGS = 64
_KAISER_BETA = 8.6
_REFERENCE_BLOCK = 2048  # output samples computed per vectorised step


def _check_rates(src_rate: int, dst_rate: int) -> None:
    for name, rate in (("src_rate", src_rate), ("dst_rate", dst_rate)):
        if isinstance(rate, bool) or not isinstance(rate, int | np.integer) or rate <= 0:
            raise ValueError(f"{name} must be a positive integer number of Hz, got {rate!r}")


def _check_quality(quality: str) -> None:
    if quality not in ("VHQ", "HQ", "MQ", "LQ"):
        raise ValueError(f"quality must be one of VHQ, HQ, MQ, LQ; got {quality!r}")


def _from_float(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype == np.float32:
        return y
    return saturate_int16(y * np.float32(FULL_SCALE))


def resample(pcm: np.ndarray, src_rate: int, dst_rate: int, quality: Quality = "HQ") -> np.ndarray:
    """Resample a whole mono signal; int16 in gives int16 out, float32 gives float32.

    The output has ``ceil(len(pcm) * dst_rate / src_rate)`` samples and no delay.
    Equal rates return ``pcm`` itself, not a copy.
    """
    require_pcm(pcm, "pcm", np.int16, np.float32)
    _check_rates(src_rate, dst_rate)
    _check_quality(quality)
    if src_rate == dst_rate:
        return pcm
    if len(pcm) == 0:
        return pcm[:0].copy()
    return _from_float(soxr.resample(as_unit_float32(pcm), src_rate, dst_rate, quality), pcm.dtype)


class StreamResampler:
    """Resample a continuous stream chunk by chunk, without clicks at chunk boundaries.

    The filter state carries over between :meth:`process` calls, so the concatenated
    output of all chunks plus :meth:`flush` equals :func:`resample` of the whole signal.
    Output comes in bursts (see the module docstring). With equal rates each chunk is
    returned as is.
    """

    def __init__(
        self,
        src_rate: int,
        dst_rate: int,
        dtype: type[np.int16] | type[np.float32] = np.int16,
        quality: Quality = "HQ",
    ) -> None:
        _check_rates(src_rate, dst_rate)
        _check_quality(quality)
        self._dtype = np.dtype(dtype)
        if self._dtype not in (np.dtype(np.int16), np.dtype(np.float32)):
            raise TypeError(f"dtype must be int16 or float32, got {self._dtype}")
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self._stream = (
            None
            if src_rate == dst_rate
            else soxr.ResampleStream(src_rate, dst_rate, 1, "float32", quality)
        )

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Feed the next chunk; return whatever output is ready (possibly none)."""
        require_pcm(chunk, "chunk", self._dtype.type)
        if self._stream is None:
            return chunk
        return _from_float(self._stream.resample_chunk(as_unit_float32(chunk)), self._dtype)

    def flush(self) -> np.ndarray:
        """End the stream: return the output still held in the filter, then start afresh."""
        if self._stream is None:
            return np.zeros(0, dtype=self._dtype)
        tail = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        self._stream.clear()
        return _from_float(tail, self._dtype)

    def reset(self) -> None:
        """Drop buffered audio without returning it (e.g. when a reply is cancelled)."""
        if self._stream is not None:
            self._stream.clear()


def resample_reference(pcm: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Kaiser-windowed-sinc resampler evaluated directly at each output instant.

    Slow (hundreds of taps per output sample); for tests and benchmarks. Same input and
    output conventions as :func:`resample`: the signal is taken as zero outside its ends.
    """
    require_pcm(pcm, "pcm", np.int16, np.float32)
    _check_rates(src_rate, dst_rate)
    if src_rate == dst_rate:
        return pcm
    x = as_unit_float32(pcm).astype(np.float64)
    n_out = -(-len(x) * dst_rate // src_rate)
    # Cutoff as a fraction of the input Nyquist frequency; below 1 when downsampling.
    cutoff = _ROLLOFF * min(1.0, dst_rate / src_rate)
    half_width = _ZERO_CROSSINGS / cutoff  # kernel half-length in input samples
    taps = np.arange(-int(half_width) - 1, int(half_width) + 2)
    padded = np.concatenate([np.zeros(len(taps)), x, np.zeros(len(taps))])
    y = np.empty(n_out)
    for start in range(0, n_out, _REFERENCE_BLOCK):
        m = np.arange(start, min(start + _REFERENCE_BLOCK, n_out))
        t = m * src_rate / dst_rate  # output instants, in input samples
        k = np.floor(t).astype(np.int64)[:, None] + taps[None, :]  # input samples in reach
        u = (t[:, None] - k) / half_width  # distance, as a fraction of the half-width
        window = np.i0(_KAISER_BETA * np.sqrt(np.clip(1.0 - u * u, 0.0, None)))
        kernel = cutoff * np.sinc(cutoff * (t[:, None] - k)) * window / np.i0(_KAISER_BETA)
        kernel[np.abs(u) > 1.0] = 0.0
        y[m] = np.sum(kernel * padded[k + len(taps)], axis=1)
    return _from_float(y.astype(np.float32), pcm.dtype)
