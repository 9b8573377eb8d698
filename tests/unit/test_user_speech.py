"""The user's speech on its way to the real Moonshine recognizer: pre-roll, held pauses,
and when finals are asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest

from omnivox.agent.speech.user_speech import INTERIM_FINAL_MS, PREROLL_MS, UserSpeech
from omnivox.media.frames import FRAME_MS, FRAME_SAMPLES, AudioFrame, split_frames
from omnivox.models.recognizer.base import Recognizer
from omnivox.models.recognizer.factory import create_recognizer
from omnivox.models.talker.espeak import EspeakTalker
from tests.fakes.spied_recognizer import SpiedRecognizer


@pytest.fixture(scope="module")
def moonshine() -> Recognizer:
    return create_recognizer("moonshine")


@pytest.fixture
async def spied(moonshine: Recognizer) -> AsyncIterator[tuple[UserSpeech, SpiedRecognizer]]:
    recognizer = SpiedRecognizer(moonshine)
    speech = UserSpeech(recognizer, early_final_ms=64, on_partial=lambda _: None, on_error=print)
    speech.start()
    yield speech, recognizer
    await speech.close()


def silent_frames(start_ms: float, n: int) -> list[AudioFrame]:
    first = round(start_ms / FRAME_MS)
    return [AudioFrame.silence(timestamp=(first + i) * FRAME_SAMPLES) for i in range(n)]


def start_speaking(speech: UserSpeech, now_ms: float) -> None:
    """One frame in, and the VAD says a new turn began with it."""
    speech.push(silent_frames(0, 1)[0])
    speech.speech_started(0.0, now_ms, new_turn=True)


class FinalsAsked:
    """Counts the finals asked for so far. The worker answers in order, so once one more
    final (a marker) is answered, all asked before it are too; markers are not counted."""

    def __init__(self, speech: UserSpeech, recognizer: SpiedRecognizer) -> None:
        self.speech, self.recognizer, self.markers = speech, recognizer, 0

    async def count(self) -> int:
        await self.speech.paused()
        self.markers += 1
        return len(self.recognizer.calls.finals) - self.markers


@pytest.mark.parametrize("reported_ms", [600.0, 1200.0])
async def test_a_new_turn_primes_its_stream_with_half_the_preroll(
    spied: tuple[UserSpeech, SpiedRecognizer], reported_ms: float
) -> None:
    """The onset at 550 ms reported 50 ms later (the VAD's lag), or 650 ms later (the echo
    gate held it while it might be our own echo): the stream starts half the pre-roll
    before it either way."""
    speech, recognizer = spied
    for frame in silent_frames(0, int(reported_ms) // FRAME_MS):  # room before anyone speaks
        speech.push(frame)
    primed = speech.speech_started(550.0, reported_ms, new_turn=True)
    assert primed is not None
    # Frames that end after onset - PREROLL_MS / 2 = 400 ms: 400-420 ... up to the report.
    assert len(primed) == (reported_ms - (550 - PREROLL_MS // 2)) // FRAME_MS
    await speech.paused()
    assert recognizer.calls.fed == len(primed) * FRAME_SAMPLES


async def test_a_pause_is_held_and_fed_only_if_the_user_goes_on(
    spied: tuple[UserSpeech, SpiedRecognizer],
) -> None:
    speech, recognizer = spied
    frames = silent_frames(0, 40)
    speech.push(frames[0])
    primed = speech.speech_started(0.0, 20.0, new_turn=True)
    assert primed is not None
    for frame in frames[1:10]:
        speech.push(frame)
    speech.speech_stopped()
    for frame in frames[10:20]:  # the pause: held back
        speech.push(frame)
    await speech.paused()
    assert recognizer.calls.fed == 10 * FRAME_SAMPLES
    assert speech.speech_started(400.0, 400.0, new_turn=False) is None  # they went on
    await speech.take_final()
    assert recognizer.calls.fed == 20 * FRAME_SAMPLES
    speech.speech_stopped()
    for frame in frames[20:30]:
        speech.push(frame)
    primed = speech.speech_started(600.0, 600.0, new_turn=True)  # a new turn: pause dropped
    assert primed is not None
    await speech.take_final()
    assert recognizer.calls.fed == (20 + len(primed)) * FRAME_SAMPLES


async def test_the_turn_ends_with_its_speculative_final(
    spied: tuple[UserSpeech, SpiedRecognizer],
) -> None:
    speech, recognizer = spied
    pcm = EspeakTalker(voice="en-us", rate_wpm=170).synthesize_pcm("Can I bring my dog?")
    frames = split_frames(np.concatenate([pcm, np.zeros(8 * FRAME_SAMPLES, np.int16)]))
    speech.push(frames[0])
    speech.speech_started(0.0, 20.0, new_turn=True)
    for frame in frames[1:]:
        speech.push(frame)
    speech.speech_stopped()
    speculative = speech.paused()
    assert speech.take_final() is speculative
    assert speech.speculative is None
    assert "dog" in (await speculative).lower()
    assert len(recognizer.calls.finals) == 1


async def test_the_early_final_is_asked_once_per_silence_while_the_user_holds_the_turn(
    spied: tuple[UserSpeech, SpiedRecognizer],
) -> None:
    speech, recognizer = spied
    start_speaking(speech, 20.0)
    for silent_ms in (20.0, 60.0):  # not yet early_final_ms into the silence
        speech.maybe_early_final(silent_ms, user_speaking=True)
    speech.maybe_early_final(80.0, user_speaking=False)  # over the agent: interims do it
    asked = FinalsAsked(speech, recognizer)
    assert await asked.count() == 0
    for silent_ms in (80.0, 100.0, 120.0):
        speech.maybe_early_final(silent_ms, user_speaking=True)
    assert await asked.count() == 1
    speech.maybe_early_final(0.0, user_speaking=True)  # they spoke again
    speech.maybe_early_final(80.0, user_speaking=True)
    assert await asked.count() == 2


async def test_interim_finals_are_spaced_and_never_overlap(
    spied: tuple[UserSpeech, SpiedRecognizer],
) -> None:
    speech, _ = spied
    start_speaking(speech, 1000.0)
    assert speech.interim_final(1000.0 + INTERIM_FINAL_MS - 20) is None
    first = speech.interim_final(1000.0 + INTERIM_FINAL_MS)
    assert first is not None
    assert speech.interim_final(1000.0 + 3 * INTERIM_FINAL_MS) is None  # still in flight
    await first
    assert speech.interim_final(1000.0 + INTERIM_FINAL_MS + 20) is None  # too soon
    assert speech.interim_final(1000.0 + 2 * INTERIM_FINAL_MS) is not None
    speech.speech_stopped()
    assert speech.interim_final(1000.0 + 9 * INTERIM_FINAL_MS) is None  # not speaking


async def test_speech_over_the_agent_that_stops_gets_its_words_from_a_final(
    spied: tuple[UserSpeech, SpiedRecognizer],
) -> None:
    speech, recognizer = spied
    pcm = EspeakTalker(voice="en-us", rate_wpm=170).synthesize_pcm("Stop, I have a question.")
    speech.push(split_frames(pcm)[0])
    speech.speech_started(0.0, 20.0, new_turn=True)
    for frame in split_frames(pcm)[1:]:
        speech.push(frame)
    speech.speech_stopped()
    assert "question" in (await speech.overlap_words()).lower()
    assert len(recognizer.calls.finals) == 1


async def test_a_recognizer_without_cheap_finals_gets_no_early_or_interim_ones() -> None:
    recognizer = SpiedRecognizer(create_recognizer("pocketsphinx", final_pass=True))
    speech = UserSpeech(recognizer, early_final_ms=64, on_partial=lambda _: None, on_error=print)
    speech.start()
    start_speaking(speech, 0.0)
    speech.maybe_early_final(100.0, user_speaking=True)
    assert speech.interim_final(10 * INTERIM_FINAL_MS) is None
    speech.partial = "wait"
    assert await speech.overlap_words() == "wait"  # the streaming partial instead
    await speech.take_final()
    await speech.close()
    assert len(recognizer.calls.finals) == 1  # the turn's own
