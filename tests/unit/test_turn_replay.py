"""Replaying clips as a session sees them: query times, pauses, partial transcripts."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.agent.config import TurnsConfig
from omnivox.agent.speech.user_speech import INTERIM_FINAL_MS
from omnivox.agent.turns.events import AGENT_WORD_AHEAD_MS
from omnivox.lab.bench.latency import silence_pcm, trim_silence
from omnivox.lab.evaluation.turn_replay import (
    FINAL_LAG_MS,
    AgentReply,
    LabelledClip,
    PartialSource,
    Trace,
    agent_word_times,
    policy_fire_ms,
    trace_clip,
)
from omnivox.models.talker.espeak import EspeakTalker
from omnivox.models.turn.classifier import TurnClassifier, TurnThresholds

MS = 16
SAMPLE_RATE = 16_000


def test_a_pause_sounds_like_the_recording_not_its_speech() -> None:
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(16000) * 30).astype(np.int16)
    tone = 8000 * np.sin(np.arange(8000) * 0.3)
    audio[4000:12000] += tone.astype(np.int16)  # speech from 250 to 750 ms
    clip = LabelledClip("x.wav", "end_of_turn", audio, "one two three")
    trace = trace_clip(TurnClassifier.load(), clip, PartialSource(), None, rng)
    assert trace.times_ms[0] == 100.0
    # The pause is the recording's quiet background, and every word has been heard.
    assert trace.texts[-1] == "one two three"


@pytest.fixture(scope="module")
def utterance() -> np.ndarray:
    talker = EspeakTalker(voice="en-us", rate_wpm=150)
    speech = trim_silence(talker.synthesize_pcm("Wait, I meant the swimming pool."))
    return np.concatenate([silence_pcm(50), speech, silence_pcm(300)])


def test_hybrid_over_the_agent_reads_interim_finals_once_ready(utterance: np.ndarray) -> None:
    clip = LabelledClip("x.wav", "interruption", utterance, None)
    times = list(range(100 * MS, len(utterance), 100 * MS))
    heard = PartialSource("hybrid").at(clip, utterance, (50 * MS, len(utterance)), times, True)
    texts = [text for text, _ in heard]
    first_final_ms = INTERIM_FINAL_MS + FINAL_LAG_MS
    assert all(
        len(t.split()) <= 2 for t, at in zip(texts, times, strict=True) if at < first_final_ms * MS
    )
    # The final recognizer (Moonshine) punctuates; pocketsphinx doesn't. (Its last word,
    # "pool" or "poo", varies with what the whole suite left in eSpeak and the CPU.)
    assert "meant" in texts[-1].lower() and texts[-1][0].isupper() and texts[-1][-1] in ".?!"


def test_hybrid_at_a_pause_reads_the_final_of_the_speech(utterance: np.ndarray) -> None:
    clip = LabelledClip("x.wav", "end_of_turn", utterance, "ignored: hybrid is forced")
    end = len(utterance) - 300 * MS
    times = [end + d * MS for d in (100, 200, 300)]
    texts = [
        t for t, _ in PartialSource("hybrid").at(clip, utterance, (50 * MS, end), times, False)
    ]
    assert len(set(texts)) == 1 and "meant the" in texts[0].lower()


def test_transcript_source_falls_back_to_the_recognizer(utterance: np.ndarray) -> None:
    clip = LabelledClip("x.wav", "end_of_turn", utterance, None)
    end = len(utterance) - 300 * MS
    [(text, final)] = PartialSource("transcript").at(clip, utterance, (50 * MS, end), [end], False)
    assert final  # the recognizer's final at a pause
    assert "pool" in text.lower()


def test_unknown_source_is_refused() -> None:
    with pytest.raises(ValueError, match="partials from 'whisper'"):
        PartialSource("whisper")


def test_the_replay_hands_the_policy_interim_finals_as_a_session_does() -> None:
    """Only the final recognizer's words count for "more words than a backchannel":
    the same words as a streaming partial leave the decision to the scores."""
    config, tuned = TurnsConfig(backchannel_max_ms=700), TurnThresholds(0.8, 0.75)
    times = tuple(float(t) for t in range(100, 1300, 100))
    texts = ("",) * 6 + ("so I need the other one",) * 6
    low = (0.05,) * len(times)

    def trace(finals: tuple[bool, ...]) -> Trace:
        return Trace("interruption", times, low, (0,) * len(times), texts, 1200.0, finals)

    assert policy_fire_ms(trace((False,) * len(times)), config, tuned) is None
    assert policy_fire_ms(trace((False,) * 6 + (True,) * 6), config, tuned) == 700.0


def test_the_replay_tells_the_policy_what_the_agent_was_saying() -> None:
    """Words the overlaid agent reply says, heard in the overlap, are not the user's."""
    config, tuned = TurnsConfig(backchannel_max_ms=700), TurnThresholds(0.8, 0.75)
    times = tuple(float(t) for t in range(100, 1300, 100))
    texts = ("",) * 6 + ("mm I am a member of the government",) * 6
    finals = (False,) * 6 + (True,) * 6
    low = (0.05,) * len(times)
    told = ((-300.0, "I"), (-100.0, "am a member"), (200.0, "of the government"))

    def trace(agent_words: tuple[tuple[float, str], ...]) -> Trace:
        args = (times, low, (0,) * len(times), texts, 1200.0, finals, agent_words)
        return Trace("backchannel", *args)

    assert policy_fire_ms(trace(()), config, tuned) == 700.0
    assert policy_fire_ms(trace(told), config, tuned) is None


def test_agent_words_are_told_as_they_end_across_the_reply_s_speech() -> None:
    reply = np.zeros(4 * SAMPLE_RATE, np.int16)
    reply[SAMPLE_RATE // 2 : 3 * SAMPLE_RATE + SAMPLE_RATE // 2] = 1000  # speech 0.5-3.5 s
    told = agent_word_times(AgentReply("one two three", reply), SAMPLE_RATE, 3 * SAMPLE_RATE)
    words = [w for _, w in told]
    assert words == ["one", "two", "three"]  # the next loop's first ends past 3 s
    # "three" ends with the speech at 3.5 s of the reply: 2.5 s after the start, told
    # AGENT_WORD_AHEAD_MS sooner; each word's time grows with its end's place in the text.
    assert told[-1][0] == 2500.0 - AGENT_WORD_AHEAD_MS
    assert told[0][0] < told[1][0] < told[2][0]
