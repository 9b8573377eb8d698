"""PauseSegmenter on synthetic audio (tone bursts stand in for speech), check_pcm and
PartialFilter."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.models.recognizer.segmenter import (
    FRAME,
    SAMPLE_RATE,
    PartialFilter,
    PauseSegmenter,
    SegmenterConfig,
    check_pcm,
    frame_levels_db,
)
from tests.fakes.signals import burst, gap


def feed(seg: PauseSegmenter, pcm: np.ndarray) -> list[np.ndarray]:
    closed: list[np.ndarray] = []
    for i in range(0, len(pcm), FRAME):
        closed += seg.push(pcm[i : i + FRAME])
    return closed


def test_check_pcm_accepts_int16_mono_and_column() -> None:
    assert check_pcm(np.zeros(5, np.int16)).shape == (5,)
    assert check_pcm(np.zeros((5, 1), np.int16)).shape == (5,)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.zeros(5, np.float32), "dtype int16, got float32"),
        (np.zeros((5, 2), np.int16), "mono"),
        ([0, 1, 2], "numpy array of int16, got list"),
        (b"\x00\x00", "got bytes"),
    ],
)
def test_check_pcm_rejects_bad_input_with_message(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_pcm(value)


def test_partial_filter_lets_only_news_through() -> None:
    partials = PartialFilter()
    assert [partials.news(t) for t in ["", "hi", "hi", "hi there", ""]] == [
        None,
        "hi",
        None,
        "hi there",
        None,
    ]
    partials.forget()
    assert partials.news("hi there") == "hi there"


def test_frame_levels() -> None:
    levels = frame_levels_db(np.concatenate([gap(40), burst(40, 220.0)]))
    assert len(levels) == 4
    assert levels[0] == 0.0 and levels[2] > 70.0


def test_pause_closes_a_segment_with_margins() -> None:
    seg = PauseSegmenter(SegmenterConfig(pause_ms=200, margin_ms=100))
    closed = feed(seg, np.concatenate([gap(500), burst(1000, 220.0), gap(400), burst(600, 220.0)]))
    assert len(closed) == 1
    # 1000 ms of speech plus 100 ms margin each side
    assert len(closed[0]) == 1200 * SAMPLE_RATE // 1000
    audio = seg.open_audio()
    assert audio is not None and len(audio) == (100 + 600) * SAMPLE_RATE // 1000
    assert seg.trailing_pause_ms == 0


def test_short_gap_does_not_cut() -> None:
    seg = PauseSegmenter(SegmenterConfig(pause_ms=200))
    assert feed(seg, np.concatenate([burst(500, 220.0), gap(100), burst(500, 220.0)])) == []
    assert seg.has_speech


def test_silence_only_never_makes_a_segment_and_stays_bounded() -> None:
    seg = PauseSegmenter()
    assert feed(seg, gap(5000)) == []
    assert seg.open_audio() is None
    assert seg.open_samples <= SegmenterConfig().margin_ms * SAMPLE_RATE // 1000


def test_a_click_is_not_speech() -> None:
    seg = PauseSegmenter(SegmenterConfig(min_speech_ms=60))
    assert feed(seg, np.concatenate([burst(20, 220.0), gap(600)])) == []
    assert seg.open_audio() is None


def test_quiet_pause_relative_to_loud_speech() -> None:
    # The "pause" is noise at -40 dB relative: absolutely audible, yet a pause.
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(8000) * 80).astype(np.int16)
    seg = PauseSegmenter(SegmenterConfig(pause_ms=200))
    closed = feed(seg, np.concatenate([burst(800, 220.0, 20000), noise, burst(400, 220.0, 20000)]))
    assert len(closed) == 1


def test_length_cap_cuts_unbroken_speech() -> None:
    seg = PauseSegmenter(SegmenterConfig(max_segment_ms=2000))
    closed = feed(seg, burst(5000, 220.0))
    assert [len(c) for c in closed] == [2000 * SAMPLE_RATE // 1000] * 2


def test_close_open_starts_afresh() -> None:
    seg = PauseSegmenter()
    feed(seg, np.concatenate([burst(500, 220.0), gap(120)]))
    assert seg.trailing_pause_ms == 120
    seg.close_open()
    assert seg.open_audio() is None and seg.open_samples == 0


def test_speech_extent_ignores_trailing_silence_and_counts_from_the_stream_start() -> None:
    seg = PauseSegmenter(SegmenterConfig(pause_ms=200))
    assert seg.speech_extent is None
    feed(seg, np.concatenate([gap(100), burst(300, 220.0), gap(60)]))
    extent = seg.speech_extent
    assert extent == (5, 19)
    feed(seg, gap(80))  # more pause, no more speech: same extent
    assert seg.speech_extent == extent
    # A cut, then speech.
    feed(seg, np.concatenate([burst(100, 220.0), gap(400), burst(200, 220.0)]))
    first, last = seg.speech_extent or (0, 0)
    assert first > extent[1] and last - first == 9
