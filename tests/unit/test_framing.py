"""Device blocks to session frames and back (media/local_audio/framing.py)."""

from __future__ import annotations

import numpy as np

from omnivox.media.frames import FRAME_SAMPLES
from omnivox.media.local_audio.framing import InputFramer, OutputFifo


def tone(rate: int, seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.rint(8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def test_a_48k_microphone_becomes_16k_20ms_frames() -> None:
    framer = InputFramer(48_000)
    signal = tone(48_000, 1.0)
    frames = [f for i in range(0, len(signal), 960) for f in framer.push(signal[i : i + 960])]
    # A second in, a second out, less the resampler's ~1 ms held back.
    assert 49 <= len(frames) <= 50
    assert all(len(f) == FRAME_SAMPLES and f.dtype == np.int16 for f in frames)
    level = np.sqrt(np.mean(np.concatenate(frames[5:]).astype(float) ** 2))
    assert abs(level - 8000 / np.sqrt(2)) < 200  # the tone survives resampling


def test_odd_block_sizes_at_16k_pass_straight_through() -> None:
    framer = InputFramer(16_000)
    signal = tone(16_000, 0.1)
    out = framer.push(signal[:100]) + framer.push(signal[100:])
    assert np.array_equal(np.concatenate(out), signal[: len(out) * FRAME_SAMPLES])


def test_the_fifo_gives_exactly_what_the_device_asks_for() -> None:
    fifo = OutputFifo(44_100, cushion=1)
    for _ in range(10):
        fifo.put(tone(16_000, 0.02))
    blocks = [fifo.take(441) for _ in range(8)]
    assert all(len(b) == 441 for b in blocks)
    assert fifo.underruns == 0
    assert np.any(np.concatenate(blocks) != 0)


def test_playing_starts_once_the_cushion_is_there_and_a_gap_refills_it() -> None:
    fifo = OutputFifo(16_000, cushion=2)
    fifo.put(tone(16_000, 0.02))
    assert not np.any(fifo.take(320))  # one chunk waiting: not yet
    fifo.put(tone(16_000, 0.02))
    assert np.any(fifo.take(320)) and np.any(fifo.take(320))
    assert fifo.underruns == 0
    fifo.put(tone(16_000, 0.02))
    first = fifo.take(480)  # more than there is: the rest is silence ...
    assert np.any(first[:320]) and not np.any(first[320:])
    assert fifo.underruns == 1
    fifo.put(tone(16_000, 0.02))
    assert not np.any(fifo.take(320))  # ... and the cushion fills again first
    fifo.put(tone(16_000, 0.02))
    assert np.any(fifo.take(320))


def test_a_stalled_device_does_not_let_the_fifo_grow_without_bound() -> None:
    fifo = OutputFifo(16_000, max_chunks=5)
    for _ in range(50):
        fifo.put(tone(16_000, 0.02))
    assert fifo.queued_chunks == 5
