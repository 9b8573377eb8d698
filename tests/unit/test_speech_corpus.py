"""Speech corpora from the Debian packages: filtering, order, audio format, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from omnivox.lab import speech_corpus
from omnivox.lab.speech_corpus import CorpusError, is_plain_speech, load_corpus


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("Please enter your password followed by the pound key.", True),
        ("Press 5 to leave a message", True),
        ("[ascending tones]", False),
        ("<beep ascending>", False),
        ('IAX (note: does not say "2")', False),
        ("Asterisk is an Open Source full-featured PBX", False),
        ("M I S D N", False),
        ("Use the 7 key for Q", False),
        ("Thank you for calling Waldo's company", False),
        ("All of our represenatives are busy", False),
        ("", False),
    ],
)
def test_plain_speech_filter(text: str, plain: bool) -> None:
    assert is_plain_speech(text) is plain


def test_librivox_has_its_five_sentences() -> None:
    clips = load_corpus("librivox")
    assert [c.path.stem[-4:] for c in clips] == ["0870", "0880", "0890", "0920", "0930"]
    assert clips[1].text == "he was not an ill disposed young man"
    assert clips[1].pcm.dtype == np.int16 and clips[1].pcm.ndim == 1
    assert clips[1].seconds == pytest.approx(2.99, abs=0.01)


def test_asterisk_filtered_ordered_and_resampled() -> None:
    clips = load_corpus("asterisk", limit=20)
    assert len(clips) == 20
    names = [c.path.stem for c in clips]
    assert names == sorted(names)
    assert names[-1].startswith(("vm-", "y", "w"))  # the limit spreads over the whole list
    assert all(is_plain_speech(c.text) for c in clips)
    assert "beep" not in names and "spy-dahdi" not in names
    # 8 kHz files come back at 16 kHz
    activated = next(c for c in clips if c.path.stem == "activated")
    assert activated.text == "Activated."
    assert activated.seconds == pytest.approx(1.06, abs=0.02)
    assert load_corpus("asterisk", limit=20)[5].path == clips[5].path  # deterministic


def test_full_asterisk_corpus_size() -> None:
    # 359 transcribed prompts; the filter keeps about 300 of them
    assert 250 < len(load_corpus("asterisk")) < 330


def test_missing_package_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(speech_corpus, "LIBRIVOX", tmp_path / "nope")
    with pytest.raises(CorpusError, match="pocketsphinx-testdata"):
        load_corpus("librivox")
    monkeypatch.setattr(speech_corpus, "ASTERISK_TRANSCRIPTS", tmp_path / "x.txt.gz")
    with pytest.raises(CorpusError, match="asterisk-core-sounds-en"):
        load_corpus("asterisk")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown corpus"):
        load_corpus("timit")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        load_corpus("librivox", limit=-1)
