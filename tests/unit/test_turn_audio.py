"""The user's audio of the current turn, as the classifier and an omni Thinker get it."""

from __future__ import annotations

import numpy as np

from omnivox.agent.speech.turn_audio import TurnAudio
from omnivox.media.frames import FRAME_SAMPLES


def frame(value: int) -> np.ndarray:
    return np.full(FRAME_SAMPLES, value, np.int16)


def test_recent_audio_is_the_end_of_the_turn() -> None:
    audio = TurnAudio()
    assert audio.whole() is None
    assert np.array_equal(audio.recent(3000), np.zeros(FRAME_SAMPLES, np.int16))
    audio.restart([frame(1), frame(2)])
    for v in range(3, 8):
        audio.append(frame(v))
    assert list(audio.recent(60)[::FRAME_SAMPLES]) == [5, 6, 7]
    whole = audio.whole()
    assert whole is not None and list(whole[::FRAME_SAMPLES]) == [1, 2, 3, 4, 5, 6, 7]
    audio.restart([])
    assert audio.whole() is None


def test_a_turn_that_never_ends_keeps_only_its_last_minute_or_so() -> None:
    audio = TurnAudio(max_s=1)
    for v in range(80):
        audio.append(frame(v))
    whole = audio.whole()
    assert whole is not None and len(whole) == 50 * FRAME_SAMPLES and whole[0] == 30
