"""WER and the normaliser, on examples worked out by hand."""

from __future__ import annotations

import pytest

from omnivox.lab.evaluation.wer import (
    corpus_wer,
    edit_distance,
    normalize,
    number_words,
    word_error_rate,
    word_errors,
)


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (40, "forty"),
        (42, "forty two"),
        (100, "one hundred"),
        (105, "one hundred five"),
        (2000, "two thousand"),
        (1_000_001, "one million one"),
        (-3, "minus three"),
    ],
)
def test_number_words(n: int, words: str) -> None:
    assert number_words(n) == words


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Press 5.", "press five"),
        ("press five", "press five"),
        ("Mr. John Dashwood", "mister john dashwood"),
        ("2,000 users", "two thousand users"),
        ("the 3rd and 21st time", "the third and twenty first time"),
        ("12th, 20th", "twelfth twentieth"),
        ("press 1, 2 or 3", "press one two or three"),
        ("2.5%", "two point five percent"),
        ("Call-Forward on Busy.", "call forward on busy"),
        ("...has joined the conference.", "has joined the conference"),
        ("party's 'quoted' word", "party's quoted word"),
        ("Good-bye!", "goodbye"),
        ("Rock & roll", "rock and roll"),
        ("It's 9:30 now, until 10 tonight.", "it's nine thirty now until ten tonight"),
        ("9:05 or 10:00", "nine oh five or ten o'clock"),
        ("at 10.30", "at ten thirty"),
        ("10.30 p.m.", "ten thirty pm"),
        ("It's 9.30 now", "it's nine thirty now"),
        ("99.95 or 0.125", "ninety nine point nine five or zero point one two five"),
        (
            "$49, $4.50 or $1.01",
            "forty nine dollars four dollars fifty cents or one dollar one cent",
        ),
        ("£3", "three pounds"),
        ("four hundred and ninety", "four hundred ninety"),
        ("me and you", "me and you"),
        ("pay up front", "pay upfront"),
        ("free Wi-Fi", "free wifi"),
        ("help you to-day", "help you today"),
        ("", ""),
    ],
)
def test_normalize(text: str, spoken: str) -> None:
    assert normalize(text) == spoken


def test_edit_distance() -> None:
    assert edit_distance([], []) == 0
    assert edit_distance(["a"], []) == 1
    assert edit_distance([], ["a", "b"]) == 2
    assert edit_distance("a b c".split(), "a x c".split()) == 1
    assert edit_distance("a b c".split(), "b c d".split()) == 2
    assert edit_distance("kitten sat".split(), "sat kitten".split()) == 2


def test_word_error_rate() -> None:
    assert word_error_rate("Press five now.", "press 5 now") == 0.0
    assert (
        word_error_rate("forty nine dollars, or four hundred and ninety dollars", "$49 or $490")
        == 0.0
    )
    assert word_error_rate("a b c d", "a x c") == 0.5  # one substitution, one deletion
    assert word_error_rate("a b", "a b c d") == 1.0  # two insertions over two words
    assert word_error_rate("", "") == 0.0
    assert word_error_rate("", "uh huh") == 2.0


def test_corpus_wer_weights_by_reference_length() -> None:
    pairs = [("a b c d e f g h", "a b c d e f g h"), ("a b", "x y")]
    assert word_errors("a b", "x y").edits == 2
    assert corpus_wer(pairs) == pytest.approx(2 / 10)  # not the mean of 0.0 and 1.0
    assert corpus_wer([]) == 0.0
