"""pocketsphinx streaming: partials while feeding, final keeps the stream, decoder pool."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest

from omnivox.lab.evaluation.wer import word_error_rate
from omnivox.media.audio_files import read_audio
from omnivox.models.recognizer.pocketsphinx import PocketsphinxRecognizer

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
CLIP = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0870.wav"
CLIP_TEXT = (
    "and mister john dashwood had then leisure to consider how much there might be "
    "prudently in his power to do for them"
)
# "he was not an ill disposed young man"
SHORT = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"


@pytest.fixture(scope="module")
def recognizer() -> PocketsphinxRecognizer:
    return PocketsphinxRecognizer(partial_interval_ms=200)


def feed(stream: object, pcm: np.ndarray) -> list[str]:
    out = []
    for i in range(0, len(pcm), 320):
        partial = stream.accept(pcm[i : i + 320])  # type: ignore[attr-defined]
        if partial is not None:
            out.append(partial)
    return out


def test_partials_while_feeding_and_a_final(recognizer: PocketsphinxRecognizer) -> None:
    stream = recognizer.new_stream()
    partials = feed(stream, read_audio(CLIP))
    assert len(partials) >= 5
    assert len(set(partials)) == len(partials), "a partial repeated an unchanged text"
    final = stream.final()
    # pocketsphinx is far less accurate than Moonshine; it still gets most words here
    assert word_error_rate(CLIP_TEXT, final) < 0.5, final


def test_final_then_more_audio_keeps_the_utterance_open(
    recognizer: PocketsphinxRecognizer,
) -> None:
    assert recognizer.interim_finals
    stream = recognizer.new_stream()
    feed(stream, read_audio(SHORT))
    first = stream.final()
    assert "young man" in first
    assert stream.final() == first  # no new audio, same text
    assert stream.current()  # the first-pass utterance is still open
    feed(stream, read_audio(SHORT))
    second = stream.final()
    assert second.count("young man") == 2


def test_second_pass_final_ends_the_utterance() -> None:
    r = PocketsphinxRecognizer(final_pass=True)
    assert not r.interim_finals
    stream = r.new_stream()
    feed(stream, read_audio(SHORT))
    first = stream.final()
    assert "young man" in first
    assert stream.current() == ""  # ended: the next audio starts a new utterance
    assert stream.final() == first  # no new audio, same text
    feed(stream, read_audio(SHORT))
    second = stream.final()
    assert second.startswith(first + " ")
    assert second.count("young man") == 2


@pytest.mark.parametrize("final_pass", [False, True])
def test_a_final_that_opens_as_a_question_is_marked(final_pass: bool) -> None:
    stream = PocketsphinxRecognizer(final_pass=final_pass).new_stream()
    stream._texts.append("what are your opening hours")  # as if an earlier utterance
    assert stream.final() == "what are your opening hours?"


def test_decoders_are_pooled(recognizer: PocketsphinxRecognizer) -> None:
    gc.collect()
    idle = len(recognizer.pool)
    stream = recognizer.new_stream()
    feed(stream, read_audio(SHORT)[:8000])  # dropped mid-utterance
    assert len(recognizer.pool) == max(0, idle - 1)
    del stream
    gc.collect()
    assert len(recognizer.pool) == max(1, idle)
    reused = recognizer.new_stream()  # takes the pooled decoder and ends its utterance
    feed(reused, read_audio(SHORT))
    assert "young man" in reused.final()


def test_empty_and_bad_input(recognizer: PocketsphinxRecognizer) -> None:
    stream = recognizer.new_stream()
    assert stream.accept(np.zeros(0, np.int16)) is None
    assert stream.final() == ""
    with pytest.raises(ValueError, match="int16"):
        stream.accept(np.zeros(320, np.int32))
    with pytest.raises(ValueError, match="mono"):
        stream.accept(np.zeros((320, 2), np.int16))


def test_close_gives_the_decoder_back_once() -> None:
    r = PocketsphinxRecognizer()
    assert len(r.pool) == 1  # loaded with the recognizer, not in a user's turn
    s = r.new_stream()
    s.accept(np.zeros(1600, np.int16))
    assert len(r.pool) == 0
    s.close()
    s.close()
    assert len(r.pool) == 1
    del s
    assert len(r.pool) == 1  # the finalizer does not give it back a second time


def test_prepare_takes_a_decoder_without_opening_an_utterance() -> None:
    r = PocketsphinxRecognizer()
    s = r.new_stream()
    s.prepare()
    assert len(r.pool) == 0
    assert s.current() == "" and s.final() == ""
    s.prepare()  # already holds one
    assert len(r.pool) == 0
    feed(s, read_audio(SHORT))
    assert "young man" in s.final()
    s.close()
    assert len(r.pool) == 1
