"""The shell that runs the policy's classifier queries on the real model."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import numpy as np
import pytest

from omnivox.agent.turns import queries
from omnivox.agent.turns.events import (
    ClassifierFailed,
    OverlapScore,
    PauseScore,
    QueryClassifier,
    QueryKind,
    TurnEvent,
)
from omnivox.agent.turns.queries import TurnQueries
from omnivox.models.blocking import Priority
from omnivox.models.turn.classifier import TurnClassifier
from omnivox.models.turn.features import TurnContext


@pytest.fixture(scope="module")
def classifier() -> TurnClassifier:
    return TurnClassifier.load()


def _query(kind: QueryKind, generation: int) -> QueryClassifier:
    return QueryClassifier(
        0.0, kind, generation, "wait", TurnContext(kind == "overlap", 2000.0, False)
    )


def _queries(classifier: TurnClassifier) -> tuple[TurnQueries, list[TurnEvent], list[str]]:
    got: list[TurnEvent] = []
    failures: list[str] = []
    return TurnQueries(classifier, got.append, lambda: 500.0, failures.append), got, failures


async def _settle(q: TurnQueries) -> None:
    """Wait for the query in flight (its task is named for this)."""
    await asyncio.gather(*(t for t in asyncio.all_tasks() if t.get_name() == "turn-query"))
    assert not q.busy


async def test_answers_come_back_as_scores_of_the_query_generation(
    classifier: TurnClassifier,
) -> None:
    q, got, _ = _queries(classifier)
    audio = np.zeros(16_000, np.int16)
    q.submit(_query("overlap", 3), audio)
    assert q.busy
    await _settle(q)
    q.submit(_query("pause", 4), audio)
    await _settle(q)
    assert [type(e) for e in got] == [OverlapScore, PauseScore]
    assert [(e.generation, e.text, e.t_ms) for e in got] == [(3, "wait", 500.0), (4, "wait", 500.0)]  # type: ignore[union-attr]
    assert all(0.0 <= getattr(e, "p_takeover", getattr(e, "p_finished", -1)) <= 1.0 for e in got)


async def test_a_failing_model_is_reported_and_the_policy_told(
    classifier: TurnClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("bad model")

    monkeypatch.setattr(classifier, "score", broken)
    q, got, failures = _queries(classifier)
    q.submit(_query("overlap", 1), np.zeros(320, np.int16))
    await _settle(q)
    assert got == [ClassifierFailed(500.0)]
    assert len(failures) == 1 and "bad model" in failures[0]


async def test_queries_that_decide_go_before_other_sessions_finals(
    classifier: TurnClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[Priority] = []
    real = queries.run_blocking_at

    async def recording(priority: Priority, fn, *args):  # type: ignore[no-untyped-def]
        asked.append(priority)
        return await real(priority, fn, *args)

    monkeypatch.setattr(queries, "run_blocking_at", recording)
    q, got, _ = _queries(classifier)
    settling = replace(_query("pause", 1), settles=True)
    for query in (_query("overlap", 1), _query("pause", 1), settling):
        q.submit(query, np.zeros(8_000, np.int16))
        await _settle(q)
    assert asked == [Priority.DECISION, Priority.URGENT, Priority.DECISION] and len(got) == 3


async def test_a_query_sent_while_one_is_in_flight_replaces_it(
    classifier: TurnClassifier,
) -> None:
    """The policy does this only when a pause's final supersedes the query on its
    partial: the older answer never reaches it."""
    q, got, _ = _queries(classifier)
    audio = np.zeros(16_000, np.int16)
    q.submit(_query("pause", 5), audio)
    q.submit(replace(_query("pause", 5), text="wait for me", settles=True), audio)
    await asyncio.sleep(0)  # the older task sees its cancellation
    await _settle(q)
    assert [(type(e), e.text) for e in got] == [(PauseScore, "wait for me")]  # type: ignore[union-attr]
