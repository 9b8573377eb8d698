"""Question marks for unpunctuated recognizer text."""

from __future__ import annotations

import pytest

from omnivox.models.recognizer.punctuation import mark_question


@pytest.mark.parametrize(
    "text",
    [
        "what are your opening dollars",
        "how much is a day pass",
        "where's the pool",
        "do you have a sauna",
        "can i book a class",
        "what time do you close",
        "is there parking",
    ],
)
def test_questions_get_a_question_mark(text: str) -> None:
    assert mark_question(text) == text + "?"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "i'd like to book a class",
        "when i get there",  # a wh-word opening a statement
        "what a day",
        "how",  # one word: too little to tell
        "have a nice day",  # an imperative
        "yeah",
        "is it open?",  # already marked
    ],
)
def test_other_text_is_left_as_it_is(text: str) -> None:
    assert mark_question(text) == text
