"""Resampling: soxr fast path vs the windowed-sinc reference, and streaming vs one-shot."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.kernels.resample import StreamResampler, resample, resample_reference

# Every conversion a transport needs, both ways where both ways occur, plus 44.1 kHz files.
PAIRS = [
    (8000, 16000),
    (16000, 8000),
    (16000, 48000),
    (48000, 16000),
    (22050, 16000),
    (44100, 16000),
    (24000, 16000),
    (16000, 24000),
]


def _sweep(rate: int, top_hz: float, seconds: float = 0.4) -> np.ndarray:
    """Exponential sine sweep from 100 Hz to top_hz at half scale, with raised-cosine ends
    so that switching it on and off adds no energy above top_hz worth measuring."""
    t = np.arange(int(rate * seconds)) / rate
    k = np.log(top_hz / 100.0) / seconds
    phase = 2 * np.pi * 100.0 * np.expm1(k * t) / k
    ramp = np.sin(0.5 * np.pi * np.clip(np.minimum(t, seconds - t) / 0.05, 0, 1)) ** 2
    return 0.5 * ramp * np.sin(phase)


def _snr_db(want: np.ndarray, got: np.ndarray) -> float:
    want = want.astype(np.float64)
    err = want - got.astype(np.float64)
    return float(10 * np.log10(np.sum(want**2) / np.sum(err**2)))


def _pcm16(x: np.ndarray) -> np.ndarray:
    return np.round(x * 32768).astype(np.int16)


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_fast_and_reference_agree_and_are_accurate(src: int, dst: int) -> None:
    top = 0.8 * min(src, dst) / 2  # the sweep stays below the lower Nyquist frequency
    x = _pcm16(_sweep(src, top))
    ideal = _sweep(dst, top) * 32768  # the same sweep sampled directly at dst
    fast = resample(x, src, dst)
    ref = resample_reference(x, src, dst)
    assert fast.dtype == ref.dtype == np.int16
    assert len(fast) == len(ref) == -(-len(x) * dst // src)
    # Measured about 91-102 dB between them and 88-92 dB to the ideal (int16 rounding).
    assert _snr_db(ref, fast) > 70
    n = min(len(ideal), len(fast))
    assert _snr_db(ideal[:n], fast[:n]) > 70
    assert _snr_db(ideal[:n], ref[:n]) > 70


@pytest.mark.parametrize(("src", "dst"), [(16000, 48000), (48000, 16000), (22050, 16000)])
def test_float32_in_gives_float32_out(src: int, dst: int) -> None:
    x = _sweep(src, 0.8 * min(src, dst) / 2).astype(np.float32)
    fast = resample(x, src, dst)
    assert fast.dtype == np.float32
    assert _snr_db(resample_reference(x, src, dst), fast) > 80


@pytest.mark.parametrize(
    ("src", "dst", "tone_hz"),
    [(48000, 16000, 10000.0), (22050, 16000, 9000.0), (16000, 8000, 5000.0)],
)
def test_tones_above_the_new_nyquist_are_removed(src: int, dst: int, tone_hz: float) -> None:
    t = np.arange(src // 4) / src
    x = _pcm16(0.5 * np.sin(2 * np.pi * tone_hz * t))
    for y in (resample(x, src, dst), resample_reference(x, src, dst)):
        core = y[len(y) // 4 : -len(y) // 4].astype(np.float64)  # away from the edges
        assert np.sqrt(np.mean(core**2)) < 16384 * 10 ** (-70 / 20)  # > 70 dB rejection


def test_overshoot_saturates_instead_of_wrapping() -> None:
    square = np.tile(np.array([32767] * 20 + [-32768] * 20, dtype=np.int16), 20)
    y = resample(square, 8000, 16000).astype(np.int32)
    assert y.max() == 32767 and y.min() == -32768  # Gibbs overshoot is clipped ...
    assert np.max(np.abs(np.diff(y))) < 40000  # ... and never wraps to the other sign


def test_equal_rates_are_identity_without_copy() -> None:
    x = np.arange(320, dtype=np.int16)
    assert resample(x, 16000, 16000) is x
    stream = StreamResampler(16000, 16000)
    assert stream.process(x) is x
    assert stream.flush().shape == (0,)


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_stream_of_20ms_chunks_equals_one_shot(src: int, dst: int) -> None:
    rng = np.random.default_rng(src + dst)
    x = _pcm16(0.2 * rng.standard_normal(src // 2))
    stream = StreamResampler(src, dst)
    chunk = src // 50
    parts = [stream.process(x[i : i + chunk]) for i in range(0, len(x), chunk)]
    np.testing.assert_array_equal(np.concatenate([*parts, stream.flush()]), resample(x, src, dst))


def test_stream_with_irregular_chunks_reuse_and_reset() -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal(11025).astype(np.float32) * 0.2
    expected = resample(x, 22050, 16000)
    stream = StreamResampler(22050, 16000, dtype=np.float32)
    stream.process(x[:3000])
    stream.reset()  # what was buffered must not leak into the next stream
    for _ in range(2):  # flush() leaves the stream ready for the next utterance
        cuts = np.sort(rng.integers(0, len(x), 12))
        parts = [stream.process(p) for p in np.split(x, cuts)]
        out = np.concatenate([*parts, stream.flush()])
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, expected)


def test_bad_input_is_rejected_with_a_message() -> None:
    x = np.zeros(320, dtype=np.int16)
    with pytest.raises(TypeError, match="int16 or float32"):
        resample(x.astype(np.float64), 16000, 8000)
    with pytest.raises(ValueError, match="1-D"):
        resample(x.reshape(2, 160), 16000, 8000)
    for bad_rate in (0, -8000, 8000.5):
        with pytest.raises(ValueError, match="src_rate"):
            resample(x, bad_rate, 16000)
        with pytest.raises(ValueError, match="dst_rate"):
            StreamResampler(16000, bad_rate)
    with pytest.raises(ValueError, match="quality"):
        resample(x, 16000, 8000, quality="best")
    with pytest.raises(TypeError, match="dtype"):
        StreamResampler(16000, 8000, dtype=np.float64)
    with pytest.raises(TypeError, match="float32"):
        StreamResampler(16000, 8000, dtype=np.float32).process(x)
    assert resample(x[:0], 16000, 8000).shape == (0,)
