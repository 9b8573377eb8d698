"""The classifier's verdict on a pause, with the wording rules, and the silence it asks."""

import pytest

from omnivox.agent.config import TurnsConfig
from omnivox.agent.turns.events import PauseScore
from omnivox.agent.turns.pause_reading import PauseReading

CONFIG = TurnsConfig(
    end_of_turn_silence_ms=400, max_end_of_turn_silence_ms=1500, hold_threshold=0.2
)
FINISHED = 0.75


def reading(p: float, text: str, config: TurnsConfig = CONFIG) -> PauseReading:
    return PauseReading.of(PauseScore(0.0, p, text), config)


def test_a_finished_score_takes_the_turn_at_once() -> None:
    assert reading(0.9, "What are your hours").silence_needed_ms(CONFIG, FINISHED) == 0.0


@pytest.mark.parametrize(("p", "text"), [(0.9, "I'd like to book the"), (0.1, "So")])
def test_a_dangling_word_or_a_holding_score_waits_the_longest(p: float, text: str) -> None:
    r = reading(p, text)
    assert r.holding(CONFIG) and not r.finished(FINISHED)
    assert r.silence_needed_ms(CONFIG, FINISHED) == 1500.0


def test_a_question_counts_as_finished_from_the_question_threshold() -> None:
    assert reading(0.3, "Do you have wifi?").finished(FINISHED)
    assert not reading(0.05, "Do you have wifi?").finished(FINISHED)  # below 0.1: holding
    assert not reading(0.3, "What about the?").finished(FINISHED)  # still going


def test_the_wait_grows_with_doubt_between_the_thresholds() -> None:
    waits = [reading(p, "okay then").silence_needed_ms(CONFIG, FINISHED) for p in (0.7, 0.5, 0.3)]
    assert 400 < waits[0] < waits[1] < waits[2] < 1500


def test_without_grading_the_plain_silence_rule_applies() -> None:
    flat = TurnsConfig(end_of_turn_silence_ms=400, graded_pause=False)
    assert reading(0.5, "okay then", flat).silence_needed_ms(flat, FINISHED) == 400.0
