"""Replaying clips as a session sees them: query times, pauses, partial transcripts."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.agent.speech.user_speech import INTERIM_FINAL_MS
from omnivox.lab.bench.latency import silence_pcm, trim_silence
from omnivox.lab.evaluation.turn_replay import (
    FINAL_LAG_MS,
    LabelledClip,
    PartialSource,
    trace_clip,
)
from omnivox.models.talker.espeak import EspeakTalker
from omnivox.models.turn.classifier import TurnClassifier

MS = 16


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
    texts = PartialSource("hybrid").at(clip, utterance, (50 * MS, len(utterance)), times, True)
    first_final_ms = INTERIM_FINAL_MS + FINAL_LAG_MS
    assert all(
        len(t.split()) <= 2 for t, at in zip(texts, times, strict=True) if at < first_final_ms * MS
    )
    # The final recognizer (Moonshine) reads it right and punctuates; pocketsphinx doesn't.
    assert "pool" in texts[-1].lower() and texts[-1][0].isupper()


def test_hybrid_at_a_pause_reads_the_final_of_the_speech(utterance: np.ndarray) -> None:
    clip = LabelledClip("x.wav", "end_of_turn", utterance, "ignored: hybrid is forced")
    end = len(utterance) - 300 * MS
    times = [end + d * MS for d in (100, 200, 300)]
    texts = PartialSource("hybrid").at(clip, utterance, (50 * MS, end), times, False)
    assert len(set(texts)) == 1 and "meant the" in texts[0].lower()


def test_transcript_source_falls_back_to_the_recognizer(utterance: np.ndarray) -> None:
    clip = LabelledClip("x.wav", "end_of_turn", utterance, None)
    end = len(utterance) - 300 * MS
    [text] = PartialSource("transcript").at(clip, utterance, (50 * MS, end), [end], False)
    assert "pool" in text.lower()


def test_unknown_source_is_refused() -> None:
    with pytest.raises(ValueError, match="partials from 'whisper'"):
        PartialSource("whisper")
