"""What the agent said lately, fed in virtual time."""

from __future__ import annotations

from omnivox.agent.turns.spoken_words import AGENT_ECHO_LEAD_MS, SpokenWords
from omnivox.models.turn.wording import said_words


def test_words_from_around_an_onset_on_are_the_agent_s() -> None:
    words = SpokenWords()
    words.played(0.0, "Welcome to the gym.")
    words.played(AGENT_ECHO_LEAD_MS + 500.0, "It opens at six.")
    onset = AGENT_ECHO_LEAD_MS + 800.0
    # The first piece began more than the lead before the onset: no longer in the echo.
    assert words.around(onset) == said_words("It opens at six.")
    assert {"welcome", "gym"} <= words.around(AGENT_ECHO_LEAD_MS)


def test_forget_keeps_what_an_overlap_under_way_may_be_compared_with() -> None:
    words = SpokenWords()
    words.played(0.0, "Welcome")
    words.played(1000.0, "to the gym")
    words.forget(5000.0, 1200.0)  # an overlap began at 1.2 s: both may be its echo
    assert "welcome" in words.around(0.0)
    words.forget(5000.0, None)  # it ended: only what speech now could be compared with
    assert words.around(0.0) == frozenset()
