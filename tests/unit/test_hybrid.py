"""Hybrid recognizer: pocketsphinx partials, Moonshine finals, segments closed at pauses."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from omnivox.lab.evaluation.wer import word_error_rate
from omnivox.media.audio_files import read_audio
from omnivox.models.recognizer.hybrid import HybridRecognizer, HybridStream

SOUNDS = Path("/usr/share/asterisk/sounds/en")
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


@pytest.fixture(scope="module")
def recognizer() -> HybridRecognizer:
    return HybridRecognizer(partial_interval_ms=200)


def feed(stream: HybridStream, pcm: np.ndarray) -> list[str]:
    out = []
    for i in range(0, len(pcm), 320):
        partial = stream.accept(pcm[i : i + 320])
        if partial is not None:
            out.append(partial)
    return out


def silence(ms: int) -> np.ndarray:
    return np.zeros(ms * 16, np.int16)


def test_partials_then_accurate_final(recognizer: HybridRecognizer) -> None:
    stream = recognizer.new_stream()
    pcm = read_audio(LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0920.wav")
    partials = feed(stream, pcm)
    assert len(partials) >= 5
    final = stream.final()
    ref = (
        "had he married a more amiable woman he might have been made still more "
        "respectable than he was"
    )
    assert word_error_rate(ref, final) < 0.2, final


def test_pause_hands_the_segment_to_moonshine(recognizer: HybridRecognizer) -> None:
    stream = recognizer.new_stream()
    partials = feed(
        stream, np.concatenate([read_audio(SOUNDS / "auth-thankyou.wav"), silence(600)])
    )
    # After the pause the partial is Moonshine's text of the closed segment.
    assert partials and word_error_rate("thank you", partials[-1]) == 0.0, partials
    partials = feed(stream, read_audio(SOUNDS / "vm-goodbye.wav"))
    final = stream.final()
    assert word_error_rate("thank you goodbye", final) == 0.0, final


def test_final_then_resume(recognizer: HybridRecognizer) -> None:
    stream = recognizer.new_stream()
    feed(stream, np.concatenate([read_audio(SOUNDS / "vm-goodbye.wav"), silence(120)]))
    first = stream.final()
    assert word_error_rate("goodbye", first) == 0.0, first
    feed(stream, np.concatenate([read_audio(SOUNDS / "auth-thankyou.wav"), silence(120)]))
    assert word_error_rate("goodbye thank you", stream.final()) == 0.0


def test_silence_and_bad_input(recognizer: HybridRecognizer) -> None:
    stream = recognizer.new_stream()
    assert stream.accept(np.zeros(0, np.int16)) is None
    feed(stream, silence(1000))
    assert stream.final() == ""
    with pytest.raises(ValueError, match="dtype"):
        stream.accept(np.zeros(320, np.float32))


def test_two_streams_on_two_threads(recognizer: HybridRecognizer) -> None:
    # Sessions share the recognizer; their streams run on executor threads at once.
    cases = {
        "thank you": read_audio(SOUNDS / "auth-thankyou.wav"),
        "he was not an ill disposed young man": read_audio(
            LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"
        ),
    }

    def run(pcm: np.ndarray) -> str:
        stream = recognizer.new_stream()
        feed(stream, np.concatenate([pcm, silence(160)]))
        return stream.final()

    with ThreadPoolExecutor(max_workers=2) as pool:
        texts = dict(zip(cases, pool.map(run, cases.values()), strict=True))
    for ref, text in texts.items():
        assert word_error_rate(ref, text) == 0.0, text


def test_catching_up_skips_pocketsphinx_and_keeps_the_final(recognizer: HybridRecognizer) -> None:
    pcm = read_audio(LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0920.wav")
    fed = recognizer.new_stream()
    feed(fed, pcm)
    behind = recognizer.new_stream()
    for i in range(0, len(pcm), 4800):
        behind.catch_up(pcm[i : i + 4800])
    assert behind._sphinx.current() == ""  # pocketsphinx decoded nothing
    assert behind.final() == fed.final()
    # Partials resume with the next audio: Moonshine's text, then pocketsphinx's anew.
    assert feed(behind, silence(400)) == [fed.final()]
