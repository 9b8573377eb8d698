"""Forced alignment of known transcripts (pocketsphinx), for cutting turn data."""

from __future__ import annotations

import itertools

import numpy as np

from omnivox.lab.training.word_alignment import WordAligner, spoken_words
from omnivox.models.talker.espeak import EspeakTalker


def test_spoken_words_spell_numbers_and_symbols_per_token() -> None:
    assert spoken_words("Press 1, or 42 * now.") == [
        ("press", 0),
        ("one", 1),
        ("or", 2),
        ("forty", 3),
        ("two", 3),
        ("star", 4),
        ("now", 5),
    ]
    assert spoken_words("Call-Forward on") == [("call", 0), ("forward", 0), ("on", 1)]
    assert spoken_words("in 1999") is None  # said too many ways to guess
    assert spoken_words("") == []


def test_words_are_found_in_order_where_they_are_said() -> None:
    talker = EspeakTalker(voice="en-us", rate_wpm=150)
    first = talker.synthesize_pcm("Good morning.")
    pause = np.zeros(8000, np.int16)  # digital silence, as synthetic speech has
    second = talker.synthesize_pcm("Thank you.")
    words = WordAligner().align(np.concatenate([first, pause, second]), "Good morning. Thank you.")
    assert words is not None and [w.token for w in words] == [0, 1, 2, 3]
    assert all(a.end <= b.start for a, b in itertools.pairwise(words))
    assert words[1].end <= len(first) + 1600 and words[2].start >= len(first) + 6400


def test_unknown_words_and_silence_give_no_alignment() -> None:
    aligner = WordAligner()
    speech = EspeakTalker().synthesize_pcm("Good morning.")
    assert aligner.align(speech, "Xqzvw brrrk") is None
    assert aligner.align(speech, "") is None
