"""Turn-classifier speech tools: audio files, speech timing, labels and cuts."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from omnivox.lab.training.turn_data import (
    VOICES,
    LabelledAudio,
    cut_at_pause,
    held_out,
    load_16k,
    load_phrases,
    pauses,
    reveal,
    speech_bounds,
    synthesize,
    trim,
    write_labelled_dir,
)
from omnivox.media.audio_files import AudioFileError, decode_audio, write_wav
from omnivox.models.talker.espeak import EspeakTalker
from tests.fakes.signals import burst, gap, three_words

RNG = np.random.default_rng


def test_load_16k_resamples_files_and_headerless_pcm(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", burst(500), sample_rate=8000)
    assert len(load_16k(tmp_path / "a.wav")) == 16000  # 500 ms of 16 kHz samples at 8 kHz
    burst(500).astype("<i2").tofile(tmp_path / "a.raw")
    raw = load_16k(tmp_path / "a.raw", raw_rate=8000)
    assert raw.tolist() == load_16k(tmp_path / "a.wav").tolist()
    (tmp_path / "bad.wav").write_bytes(b"hello")
    with pytest.raises(AudioFileError, match=r"bad\.wav: not a readable audio file"):
        load_16k(tmp_path / "bad.wav")


def test_speech_bounds_and_pauses() -> None:
    pcm = three_words()
    assert speech_bounds(pcm) == (100 * 16, 1250 * 16)
    assert pauses(pcm, 80) == [(400 * 16, 600 * 16)]
    assert len(pauses(pcm, 40)) == 2
    assert speech_bounds(gap(500)) == (0, 0)


def test_reveal_lags_behind_the_words() -> None:
    text = "aa bb cc dd"
    assert reveal(text, 0, 1200, 600, 0) == "aa bb"
    assert reveal(text, 0, 1200, 600, 300) == "aa"
    assert reveal(text, 0, 1200, 600, 301) == ""
    assert reveal(text, 0, 1200, 5000, 300) == text
    assert reveal("", 0, 100, 100, 0) == ""


def test_cut_at_pause_keeps_the_words_said_before_an_unfinished_pause() -> None:
    talker = EspeakTalker(voice="en-us", rate_wpm=150)
    pcm = talker.synthesize_pcm("I would like, a table for two.")
    [(start, _)] = pauses(pcm)
    cut = cut_at_pause(pcm, "I would like, a table for two.", RNG(0))
    assert cut is not None
    audio, words = cut
    assert len(audio) == start and words == "I would like,"
    # A pause after a sentence end is not a hold; nor is a recording without a pause.
    done = talker.synthesize_pcm("Done. Two three.")
    assert pauses(done) and cut_at_pause(done, "Done. Two three.", RNG(0)) is None
    assert cut_at_pause(talker.synthesize_pcm("one word"), "one word", RNG(0)) is None
    # Words the dictionary lacks: no alignment, no cut rather than a guess.
    assert cut_at_pause(pcm, "Xqzvw brrrk, a table for two.", RNG(0)) is None


def test_trim_keeps_the_speech_and_adds_the_tail() -> None:
    audio, end = trim(three_words(), RNG(1), tail_ms=500)
    assert len(audio) == end + 500 * 16 and 1150 * 16 <= end <= 1270 * 16


def test_held_out_split_is_stable_and_about_a_fifth() -> None:
    phrases = [p for v in load_phrases().values() for p in v]
    share = np.mean([held_out(p) for p in phrases])
    assert 0.1 < share < 0.3
    assert held_out("Wait, stop!") == held_out("wait stop")
    assert any(v.held_out for v in VOICES) and any(not v.held_out for v in VOICES)


def test_phrases_are_read_as_written() -> None:
    phrases = load_phrases()
    assert "yes" in phrases["backchannel"] and "false" in phrases["takeover"]
    assert not {"True", "False"} & {p for v in phrases.values() for p in v}


def test_write_labelled_dir(tmp_path: Path) -> None:
    n = write_labelled_dir(tmp_path, [LabelledAudio("a", burst(100), "hold", "so, um")])
    assert n == 1
    assert (tmp_path / "labels.csv").read_text().splitlines() == [
        "path,label,transcript",
        'a.wav,hold,"so, um"',
    ]
    assert decode_audio(tmp_path / "a.wav")[1] == 16000


@pytest.mark.skipif(
    shutil.which("flite") is None or shutil.which("espeak-ng") is None,
    reason="needs the flite and espeak-ng CLIs",
)
def test_both_engines_speak() -> None:
    for voice in (VOICES[0], next(v for v in VOICES if v.engine == "flite")):
        audio = synthesize(voice, "hold on", RNG(0))
        start, end = speech_bounds(audio)
        assert 0.2 < (end - start) / 16000 < 2.0
