"""Runs the turn policy's classifier queries on the model executor.

The policy decides when to ask and on which words (`QueryClassifier`); this shell adds
the user's recent audio, runs the model off the event loop, and hands the answer back
as an `OverlapScore` / `PauseScore` with the query's generation (the policy drops a
stale one), or `ClassifierFailed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import numpy as np

from omnivox.agent.turns.events import (
    ClassifierFailed,
    OverlapScore,
    PauseScore,
    QueryClassifier,
    TurnEvent,
)
from omnivox.models.blocking import Priority, run_blocking_at
from omnivox.models.turn.classifier import TurnClassifier

log = logging.getLogger(__name__)


class TurnQueries:
    def __init__(
        self,
        classifier: TurnClassifier,
        deliver: Callable[[TurnEvent], None],
        now_ms: Callable[[], float],
        on_failure: Callable[[str], None],
    ) -> None:
        self._classifier = classifier
        self._deliver = deliver
        self._now_ms = now_ms
        self._on_failure = on_failure
        self._task: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def submit(self, query: QueryClassifier, audio: np.ndarray) -> None:
        """Run `query`. The policy sends one while another is in flight only to replace
        it (a pause's final supersedes its partial): the older one is dropped, and never
        runs if no thread took it yet."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = asyncio.create_task(self._run(query, audio), name="turn-query")

    async def _run(self, q: QueryClassifier, audio: np.ndarray) -> None:
        try:
            # Over the agent a query decides whether to stop talking over someone, and on
            # a pause's final transcript whether the turn is over: both go ahead of
            # other sessions' finals. One on a pause's streaming partial only stands in
            # for the final: it queues with the finals (eight sessions scoring partials
            # every 100 ms ahead of their finals kept every final waiting).
            decides = q.kind == "overlap" or q.settles
            priority = Priority.DECISION if decides else Priority.URGENT
            scores = await run_blocking_at(
                priority, self._classifier.score, audio, q.text, q.context
            )
        except Exception as err:
            # Fall back to the timing rules for the rest of the session rather than crash.
            log.exception("turn classifier failed; using timing rules")
            self._on_failure(f"turn classifier failed ({err}); using timing rules")
            self._deliver(ClassifierFailed(self._now_ms()))
            return
        t = self._now_ms()
        if q.kind == "overlap":
            self._deliver(OverlapScore(t, scores.p_takeover, q.text, q.generation))
        else:
            self._deliver(PauseScore(t, scores.p_finished, q.text, q.generation))

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
