"""The classifier's verdict on a pause, and how long the silence must last given it.

Pure, like the policy that holds it: "finished" takes the turn as soon as it is scored;
"holding", or a transcript that stops on "the", "and", "to" or "um", waits up to
`max_end_of_turn_silence_ms`; in between, the lower the score, the longer the wait
(`graded_pause`). A transcript the recogniser ended with a question mark lowers the
finished threshold to `question_threshold`.
"""

from __future__ import annotations

from dataclasses import dataclass

from omnivox.agent.config import TurnsConfig
from omnivox.agent.turns.events import PauseScore
from omnivox.models.turn.wording import asks_a_question, ends_unfinished


@dataclass(frozen=True, slots=True)
class PauseReading:
    """The classifier's latest score on the current pause, with the wording rules
    applied to the transcript it was computed from."""

    p_finished: float
    unfinished: bool
    """The transcript stops on a word a finished turn does not end on."""
    asked: bool
    """The transcript is a question (ends in "?"), scored at or above
    `question_threshold`."""

    @classmethod
    def of(cls, score: PauseScore, config: TurnsConfig) -> PauseReading:
        q = config.question_threshold
        asked = q is not None and score.p_finished >= q and asks_a_question(score.text)
        return cls(score.p_finished, ends_unfinished(score.text), asked)

    def finished(self, threshold: float) -> bool:
        return self.asked or (self.p_finished >= threshold and not self.unfinished)

    def holding(self, config: TurnsConfig) -> bool:
        return self.unfinished or (self.p_finished <= config.hold_threshold and not self.asked)

    def silence_needed_ms(self, config: TurnsConfig, finished_threshold: float) -> float:
        """How long the user must stay silent for the turn to be over."""
        if self.finished(finished_threshold):
            return 0.0
        if self.holding(config):
            return float(config.max_end_of_turn_silence_ms)
        if not config.graded_pause:
            return float(config.end_of_turn_silence_ms)
        doubt = (finished_threshold - self.p_finished) / (
            finished_threshold - config.hold_threshold
        )
        extra = max(0.0, config.max_end_of_turn_silence_ms - config.end_of_turn_silence_ms)
        return config.end_of_turn_silence_ms + extra * doubt
