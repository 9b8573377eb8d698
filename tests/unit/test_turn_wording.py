"""Wording cues the turn policy applies on top of the classifier's scores."""

import pytest

from omnivox.models.turn.wording import (
    after_asking_to_wait,
    asks_a_question,
    asks_to_wait,
    content_words,
    ends_unfinished,
    heard_words,
    opens_asking_to_wait,
    said_words,
)


@pytest.mark.parametrize(
    "text",
    ["I'd like to book the", "so um", "Can you tell me and", "I need a ticket for", "my"],
)
def test_dangling_words_mean_the_turn_goes_on(text: str) -> None:
    assert ends_unfinished(text)


@pytest.mark.parametrize(
    "text",
    ["", "Where can I park?", "Who is it for?", "I'd like to book a class.", "That's it"],
)
def test_finished_looking_turns_are_not_flagged(text: str) -> None:
    assert not ends_unfinished(text)


def test_punctuation_is_ignored() -> None:
    assert ends_unfinished("I was going to, um,") == ends_unfinished("I was going to um")


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("Where can I park?", True),
        ("Who is it for? ", True),
        ("Where can I park", False),  # a recogniser that does not punctuate: no cue
        ("Is it open on the?", False),  # dangling: still going
        ("Wait?", False),
        ("I'd like to book a class.", False),
    ],
)
def test_a_question_mark_marks_a_question_asked(text: str, asked: bool) -> None:
    assert asks_a_question(text) is asked


def test_content_words_skip_backchannel_tokens_and_fillers() -> None:
    assert content_words("uh-huh yeah, I see") == 0
    assert content_words("um okay") == 0
    assert content_words("no, wait") == 2
    assert content_words("A. m. m. m") == 0
    assert content_words("Thank you.") == 0  # one token, as "thanks"
    assert content_words("thank you, but no") == 2


@pytest.mark.parametrize(
    ("text", "heard"),
    [
        ("A.", ""),
        ("M. M. M.", ""),
        ("", ""),
        ("I.", ""),
        ("A day pass.", "A day pass."),
        ("I see", "I see"),
    ],
)
def test_a_murmur_spelled_in_letters_is_no_words(text: str, heard: str) -> None:
    assert heard_words(text) == heard


def test_content_words_count_a_looping_recognizer_once() -> None:
    assert content_words("Thank. Thank. Thank") == 1
    assert content_words("Press star. Press star.") == 2
    assert content_words("no no no, stop") == 2


def test_content_words_leave_out_what_the_agent_said() -> None:
    agent = said_words("I am a member of the government.")
    assert content_words("Mm okay. I am a member of the governments.", agent) == 0
    assert content_words("No, the other member.", agent) == 2  # "no" and "other"
    assert content_words("No, the other member.") == 4


def test_the_agent_s_own_request_to_wait_is_not_the_user_s() -> None:
    agent = said_words("One moment, let me check.")
    assert not asks_to_wait("oh, one moment", agent)
    assert asks_to_wait("wait, one moment", agent)
    assert asks_to_wait("oh, one moment")


@pytest.mark.parametrize("text", ["Wait, stop.", "Hold on.", "hang on a sec", "Stop, one second."])
def test_asking_the_agent_to_wait_holds_the_floor(text: str) -> None:
    assert asks_to_wait(text) and ends_unfinished(text)


@pytest.mark.parametrize("text", ["No.", "Sorry?", "Stop the yoga booking.", "Okay."])
def test_answers_and_requests_are_not_asking_to_wait(text: str) -> None:
    assert not asks_to_wait(text)


@pytest.mark.parametrize(
    ("text", "rest"),
    [
        ("Wait, stop. How much is a day pass?", "How much is a day pass?"),
        ("hold on one second where do I park", "where do I park"),
        ("One day pass please", "One day pass please"),  # no request to wait
        ("Wait, stop.", "Wait, stop."),  # nothing after it
    ],
)
def test_what_follows_a_request_to_wait(text: str, rest: str) -> None:
    assert after_asking_to_wait(text) == rest


@pytest.mark.parametrize(
    "text", ["Hold on, that's not what I asked.", "Stop the yoga booking.", "oh wait I meant"]
)
def test_a_transcript_that_opens_asking_to_wait_is_a_take_over(text: str) -> None:
    assert opens_asking_to_wait(text) and not asks_to_wait(text)


@pytest.mark.parametrize("text", ["I can't wait.", "Okay, one more thing.", "Yeah.", "No, stop."])
def test_a_wait_word_later_or_no_request_is_not_an_opening_request(text: str) -> None:
    assert not opens_asking_to_wait(text)


def test_the_agent_s_own_wait_words_do_not_open_a_request() -> None:
    agent = said_words("One moment, let me check.")
    assert not opens_asking_to_wait("oh, one moment, let me", agent)
    assert opens_asking_to_wait("wait, one moment, let me", agent)
