"""The session's classifier queries, and the policy settings taken from the model."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from omnivox.agent.config import TurnsConfig
from omnivox.agent.turns.policy import OverlapScore, PauseScore, TurnEvent
from omnivox.agent.turns.queries import Query, TurnQueries, turn_policy_config
from omnivox.models.turn.classifier import TurnClassifier
from omnivox.models.turn.features import TurnContext


@pytest.fixture(scope="module")
def classifier() -> TurnClassifier:
    return TurnClassifier.load()


def test_open_thresholds_come_from_the_model(classifier: TurnClassifier) -> None:
    cfg = turn_policy_config(TurnsConfig(), classifier)
    assert cfg.use_classifier
    assert cfg.takeover_threshold == pytest.approx(classifier.thresholds.takeover)
    assert cfg.finished_threshold == pytest.approx(classifier.thresholds.finished)


def test_configured_thresholds_win_and_no_model_means_timing_rules(
    classifier: TurnClassifier,
) -> None:
    turns = TurnsConfig(takeover_threshold=0.6, takeover_words_margin=0.1)
    cfg = turn_policy_config(turns, classifier)
    assert (cfg.takeover_threshold, cfg.takeover_words_margin) == (0.6, 0.1)
    assert not turn_policy_config(TurnsConfig(), None).use_classifier


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now_ms(self) -> float:
        return self.t


def _query(kind: str, generation: int) -> Query:
    audio = np.zeros(16_000, np.int16)
    return Query(kind, generation, audio, "wait", TurnContext(kind == "overlap", 2000.0, False))


def _queries(
    classifier: TurnClassifier, clock: _Clock, generation: list[int]
) -> tuple[TurnQueries, list[TurnEvent], list[str]]:
    got: list[TurnEvent] = []
    failures: list[str] = []
    q = TurnQueries(
        classifier, 100, got.append, lambda: generation[0], clock.now_ms, failures.append
    )
    return q, got, failures


async def _settle(q: TurnQueries) -> None:
    """Wait for the query in flight (its task is named for this)."""
    await asyncio.gather(*(t for t in asyncio.all_tasks() if t.get_name() == "turn-query"))
    assert not q.busy


async def test_answers_arrive_as_policy_events_spaced_by_the_interval(
    classifier: TurnClassifier,
) -> None:
    clock, generation = _Clock(), [1]
    q, got, _ = _queries(classifier, clock, generation)
    assert q.due()
    q.submit(_query("overlap", 1))
    assert not q.due()  # one in flight
    await _settle(q)
    assert not q.due()  # answered, but the interval has not passed
    clock.t = 100.0
    assert q.due()
    q.submit(_query("pause", 1))
    await _settle(q)
    assert [type(e) for e in got] == [OverlapScore, PauseScore]
    assert all(0.0 <= getattr(e, "p_takeover", getattr(e, "p_finished", -1)) <= 1.0 for e in got)


async def test_a_late_answer_to_a_past_overlap_is_dropped(classifier: TurnClassifier) -> None:
    clock, generation = _Clock(), [1]
    q, got, _ = _queries(classifier, clock, generation)
    q.submit(_query("overlap", 1))
    generation[0] = 2  # the overlap ended while the model ran
    await _settle(q)
    assert got == []


async def test_a_failing_model_is_reported_once_and_not_asked_again(
    classifier: TurnClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("bad model")

    monkeypatch.setattr(classifier, "score", broken)
    clock, generation = _Clock(), [1]
    q, got, failures = _queries(classifier, clock, generation)
    q.submit(_query("overlap", 1))
    await _settle(q)
    clock.t = 1000.0
    assert got == [] and len(failures) == 1 and "bad model" in failures[0]
    assert not q.due()
