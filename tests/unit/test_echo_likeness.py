"""A delayed copy of the agent's voice told from another voice by its waveform."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.lab.simulate import EchoPath
from omnivox.lab.speech_corpus import load_corpus
from omnivox.media.echo_likeness import HALF_FRAME, echo_share, half_rate_frame
from omnivox.media.frames import FRAME_SAMPLES
from omnivox.models.talker.espeak import EspeakTalker


@pytest.fixture(scope="module")
def agent() -> np.ndarray:
    text = "Our opening hours are nine to five on weekdays, and ten to four on Saturdays."
    return _half_rate(EspeakTalker(voice="en-us", rate_wpm=170).synthesize_pcm(text))


def _half_rate(pcm: np.ndarray) -> np.ndarray:
    return pcm.astype(np.float64)[: len(pcm) // 2 * 2].reshape(-1, 2).mean(1)


def _voiced(signal: np.ndarray, start: int, length: int) -> np.ndarray:
    """`length` samples from the first loud stretch at or after `start`."""
    loud = np.flatnonzero(np.abs(signal[start:]) > 1000)
    first = start + int(loud[0])
    return signal[first : first + length]


@pytest.mark.parametrize("delay", [0, 800, 4000])  # 0, 100 and 500 ms at 8 kHz
def test_a_delayed_scaled_copy_is_explained_whole(agent: np.ndarray, delay: int) -> None:
    end = 16000
    reference = agent[end - 800 - 8000 : end]
    segment = 0.3 * agent[end - 800 - delay : end - delay]
    assert echo_share(segment, reference) > 0.99


def test_a_person_s_voice_is_not(agent: np.ndarray) -> None:
    """Real people (the Asterisk prompts) over the agent, 200 ms at a time: the length the
    echo gate's bar is set for. (Not eSpeak over eSpeak: its voices share recorded
    consonants, sample for sample.)"""
    reference = agent[8000:25600]
    shares = [
        echo_share(_voiced(_half_rate(clip.pcm), start, 1600), reference)
        for clip in load_corpus("asterisk", limit=8)
        for start in (0, len(clip.pcm) // 6)
    ]
    assert max(shares) < 0.08


def test_an_echo_through_a_room_still_shows(agent: np.ndarray) -> None:
    ir = EchoPath(gain_db=-10.0, delay_ms=0.0, rt60_s=0.05).impulse_response()[::2]
    echo = np.convolve(agent, ir)[: len(agent)]
    reference = agent[8000:17600]
    assert echo_share(echo[16000 - 1600 : 17600 - 800], reference) > 0.3


def test_nothing_to_judge_scores_zero(agent: np.ndarray) -> None:
    assert echo_share(np.zeros(800), agent[:8000]) == 0.0
    assert echo_share(agent[:800], agent[:400]) == 0.0  # no room for a delay


def test_a_frame_of_any_length_becomes_a_whole_half_rate_frame() -> None:
    assert len(half_rate_frame(np.ones(FRAME_SAMPLES, np.int16))) == HALF_FRAME
    short = half_rate_frame(np.full(10, 100, np.int16))
    assert len(short) == HALF_FRAME and short[0] == 100.0 and short[-1] == 0.0
    assert len(half_rate_frame(np.ones(FRAME_SAMPLES + 7, np.int16))) == HALF_FRAME
