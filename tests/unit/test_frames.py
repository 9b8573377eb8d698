"""Frame types and re-framing: pieces of any length in, whole 20 ms frames out."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.media.frames import FRAME_SAMPLES, AudioFrame, Reframer, split_frames


def ramp(n: int, first: int = 0) -> np.ndarray:
    return (np.arange(first, first + n) % 30_000).astype(np.int16)


@pytest.mark.parametrize("piece", [1, 100, FRAME_SAMPLES, FRAME_SAMPLES + 1, 7 * FRAME_SAMPLES])
def test_reframer_cuts_any_piece_length_into_the_same_frames(piece: int) -> None:
    pcm = ramp(10 * FRAME_SAMPLES + 57)
    reframer = Reframer()
    frames: list[np.ndarray] = []
    for i in range(0, len(pcm), piece):
        frames += reframer.push(pcm[i : i + piece])
    assert len(frames) == 10
    assert all(f.dtype == np.int16 and f.shape == (FRAME_SAMPLES,) for f in frames)
    np.testing.assert_array_equal(np.concatenate(frames), pcm[: 10 * FRAME_SAMPLES])
    (last,) = reframer.flush()
    np.testing.assert_array_equal(last[:57], pcm[-57:])
    assert not last[57:].any()  # padded with silence
    assert reframer.flush() == []  # the remainder goes out once


def test_reframer_frames_do_not_share_the_callers_buffer() -> None:
    buffer = ramp(2 * FRAME_SAMPLES)
    reframer = Reframer()
    frames = reframer.push(buffer)
    buffer[:] = 0  # a decoder or talker reusing its buffer
    assert all(f.any() for f in frames)


def test_reframer_clear_drops_the_remainder() -> None:
    reframer = Reframer()
    assert reframer.push(ramp(FRAME_SAMPLES - 1, 1)) == []
    reframer.clear()
    assert reframer.flush() == []
    (frame,) = reframer.push(ramp(FRAME_SAMPLES, 5))
    assert frame[0] == 5  # nothing from before the clear


def test_reframer_refuses_what_is_not_int16_mono() -> None:
    reframer = Reframer()
    with pytest.raises(TypeError, match="int16"):
        reframer.push(np.zeros(FRAME_SAMPLES, np.float32))
    with pytest.raises(ValueError, match="1-D"):
        reframer.push(np.zeros((2, FRAME_SAMPLES), np.int16))


def test_split_frames_pads_the_last_frame_and_stamps_the_media_clock() -> None:
    pcm = ramp(2 * FRAME_SAMPLES + 10, 1)
    frames = split_frames(pcm, start=16_000)
    assert [f.timestamp for f in frames] == [16_000, 16_000 + FRAME_SAMPLES, 16_000 + 640]
    assert [f.t_ms for f in frames] == [1000.0, 1020.0, 1040.0]
    np.testing.assert_array_equal(np.concatenate([f.pcm for f in frames])[: len(pcm)], pcm)
    assert not frames[-1].pcm[10:].any()
    assert split_frames(np.zeros(0, np.int16)) == []


def test_audio_frame_takes_only_int16_mono() -> None:
    assert AudioFrame.silence(timestamp=320).duration_ms == 20.0
    with pytest.raises(ValueError, match=r"AudioFrame\.pcm"):
        AudioFrame(np.zeros(FRAME_SAMPLES, np.float32))
