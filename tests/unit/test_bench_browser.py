"""`bench browser`'s pure parts: how much of a prompt said over the agent a final holds,
and the rooms it can make."""

from __future__ import annotations

import pytest

from omnivox.lab.bench.browser import own_voice_cuts, summary, words_held
from omnivox.lab.browser import launch_browser


def test_words_held_counts_the_prompts_words_in_a_final() -> None:
    assert words_held("Please hold the line.", "please hold the line") == 1.0
    # Joined to the question by the recognizer: all of the prompt is still there.
    assert words_held("one moment please", "What are your hours? One moment, please.") == 1.0
    assert words_held("please hold the line", "please hold") == 0.5
    assert words_held("the the end", "the end") == 2 / 3  # repeats count once each
    assert words_held("", "anything") == 0.0


def test_summary_of_nothing_and_of_values() -> None:
    assert summary([]) == {"p50": None, "p95": None, "n": 0}
    assert summary([300.0, 100.0, 200.0]) == {"p50": 200.0, "p95": 290.0, "n": 3}
    assert summary([1.0, 0.0, 1.0, 1.0], share=True) == {"pct": 75.0, "n": 4}
    assert summary([], share=True) == {"pct": None, "n": 0}


def test_own_voice_cuts_leave_out_replies_the_user_cut() -> None:
    spans = [(1.0, 3.0), (12.0, 15.0)]
    events = [
        {"type": "vad_start", "t_ms": 5100.0, "onset_ms": 5020.0},  # the track's 1.0 s
        {"type": "reply_done", "t_ms": 9000.0},
        # Answered in the second question's pause and cut by its rest (track 14.2 s).
        {"type": "reply_cancelled", "t_ms": 18500.0, "reason": "barge_in", "onset_ms": 18220.0},
        # Cut with the user silent (track 18.0 s): the agent's own voice.
        {"type": "reply_cancelled", "t_ms": 22300.0, "reason": "barge_in", "onset_ms": 22020.0},
        # Cut 0.2 s after the question ended: the reply's own echo, not the user.
        {"type": "reply_cancelled", "t_ms": 19500.0, "reason": "barge_in", "onset_ms": 19220.0},
        {"type": "reply_cancelled", "t_ms": 23000.0, "reason": "reconnect"},
    ]
    assert own_voice_cuts(events, spans) == [0.0, 1.0, 1.0]
    assert own_voice_cuts(events[1:], spans) == []  # nothing heard: nothing to place


async def test_a_room_echo_is_refused_in_chromium_which_plays_nothing_headless() -> None:
    with pytest.raises(ValueError, match="needs Firefox"):
        async with launch_browser("chromium", echo_delay_ms=60):
            pass
