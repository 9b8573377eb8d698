"""Asks the learned turn classifier, on the executor, while the policy needs an answer.

During overlap (the user talks over the agent) and during a pause in the user's turn the
session calls `maybe_query` every frame; at most one query is in flight, and queries are
spaced `interval_ms` apart on the media clock. Results go back to the turn policy as
`OverlapScore` / `PauseScore` events, unless the situation they answer has passed.

Also the turn policy's settings, which take the thresholds tuned with the classifier.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from omnivox.agent.config import TurnsConfig
from omnivox.agent.turns.policy import OverlapScore, PauseScore, TurnEvent, TurnPolicyConfig
from omnivox.models.blocking import run_blocking
from omnivox.models.turn.classifier import TurnClassifier
from omnivox.models.turn.features import TurnContext

log = logging.getLogger(__name__)

INTERIM_FINAL_MS = 200
"""While the user talks over the agent, ask the final recognizer for their words this
often (where that is cheap): "uh-huh" or "wait" read right is half the decision."""


@dataclass(frozen=True, slots=True)
class Query:
    kind: str
    """"overlap" or "pause"."""
    generation: int
    """Which overlap/pause this answers; a stale answer is dropped."""
    audio: np.ndarray
    partial_text: str
    context: TurnContext


class TurnQueries:
    def __init__(
        self,
        classifier: TurnClassifier,
        interval_ms: float,
        deliver: Callable[[TurnEvent], None],
        current_generation: Callable[[], int],
        now_ms: Callable[[], float],
        on_failure: Callable[[str], None],
    ) -> None:
        self._classifier = classifier
        self._interval_ms = interval_ms
        self._deliver = deliver
        self._current_generation = current_generation
        self._now_ms = now_ms
        self._on_failure = on_failure
        self._task: asyncio.Task[None] | None = None
        self._last_query_ms = -1e9
        self._failed = False

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def due(self) -> bool:
        if self.busy or self._failed:
            return False
        return self._now_ms() - self._last_query_ms >= self._interval_ms

    def submit(self, query: Query) -> None:
        self._last_query_ms = self._now_ms()
        self._task = asyncio.create_task(self._run(query), name="turn-query")

    async def _run(self, q: Query) -> None:
        try:
            scores = await run_blocking(self._classifier.score, q.audio, q.partial_text, q.context)
        except Exception as err:
            # Fall back to the timing rules for the rest of the session rather than crash.
            log.exception("turn classifier failed; using timing rules")
            self._failed = True
            self._on_failure(f"turn classifier failed ({err}); using timing rules")
            return
        if q.generation != self._current_generation():
            return
        t = self._now_ms()
        if q.kind == "overlap":
            self._deliver(OverlapScore(t, scores.p_takeover, q.partial_text))
        else:
            self._deliver(PauseScore(t, scores.p_finished, q.partial_text))

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def turn_policy_config(turns: TurnsConfig, classifier: TurnClassifier | None) -> TurnPolicyConfig:
    """The turn policy's settings from the config (the fields they share by name), with
    the thresholds tuned with the classifier where the config leaves them open (None:
    the timing rules)."""
    policy_fields = {f.name for f in dataclasses.fields(TurnPolicyConfig)}
    shared = {k: v for k, v in turns.model_dump().items() if k in policy_fields}

    def threshold(configured: float | None, name: str) -> float:
        if configured is not None:
            return configured
        return float(getattr(classifier.thresholds, name)) if classifier is not None else 0.5

    shared["takeover_threshold"] = threshold(turns.takeover_threshold, "takeover")
    shared["finished_threshold"] = threshold(turns.finished_threshold, "finished")
    return TurnPolicyConfig(use_classifier=classifier is not None, **shared)
