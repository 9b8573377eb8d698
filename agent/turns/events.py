"""What the turn policy is fed (timed events) and what it returns (actions).

Plain frozen dataclasses, so a test or a replay writes a conversation as a list of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from omnivox.models.turn.features import TurnContext


class TurnState(StrEnum):
    LISTENING = "listening"
    USER_SPEAKING = "user_speaking"
    THINKING = "thinking"
    AGENT_SPEAKING = "agent_speaking"
    OVERLAP = "overlap"


QueryKind = Literal["overlap", "pause"]


# ---- events fed to the policy --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    t_ms: float
    onset_ms: float
    """When the speech began (the VAD decides a little later than that)."""


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    t_ms: float
    speech_end_ms: float


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passes (one per input frame); lets silence-based decisions and classifier
    queries fire."""

    t_ms: float


@dataclass(frozen=True, slots=True)
class AgentAudioStarted:
    t_ms: float


@dataclass(frozen=True, slots=True)
class AgentReplyFinished:
    """The reply's last frame was played, it ended without audio, or it was cancelled."""

    t_ms: float
    heard_text: str = ""
    """What of it the user heard (the classifier asks whether the agent asked a question)."""


AGENT_WORD_AHEAD_MS = 400.0
"""`AgentWords` tells of a word this long before its audio ends (about a word's length),
so the word under way is among those told."""


@dataclass(frozen=True, slots=True)
class AgentWords:
    """Words of the agent's reply whose audio ends by `t_ms` + `AGENT_WORD_AHEAD_MS`: the
    user's audio may carry them back (an echo no canceller took out), and a recogniser
    then hears them as the user's."""

    t_ms: float
    text: str


@dataclass(frozen=True, slots=True)
class PartialTranscript:
    """The recognizer's latest streaming partial of the user's speech."""

    t_ms: float
    text: str


@dataclass(frozen=True, slots=True)
class PauseTranscript:
    """The final transcript asked for at a pause (`UserPaused`) arrived."""

    t_ms: float
    generation: int
    text: str


@dataclass(frozen=True, slots=True)
class OverlapTranscript:
    """An interim final of the user's words while they talk over the agent."""

    t_ms: float
    generation: int
    text: str


@dataclass(frozen=True, slots=True)
class OverlapScore:
    """Classifier: probability that overlapping user speech is a take-over."""

    t_ms: float
    p_takeover: float
    text: str = ""
    """The partial transcript the score was computed from."""
    generation: int | None = None
    """The overlap it answers (`QueryClassifier.generation`); None: the current one
    (replays that feed scores without queries)."""


@dataclass(frozen=True, slots=True)
class PauseScore:
    """Classifier: probability that the user, now pausing, has finished the turn."""

    t_ms: float
    p_finished: float
    text: str = ""
    """The transcript the score was computed from."""
    generation: int | None = None
    """The pause it answers; None: the current one."""


@dataclass(frozen=True, slots=True)
class ClassifierFailed:
    """The classifier raised: the timing rules decide from now on."""

    t_ms: float


TurnEvent = (
    SpeechStarted
    | SpeechStopped
    | Tick
    | AgentAudioStarted
    | AgentReplyFinished
    | AgentWords
    | PartialTranscript
    | PauseTranscript
    | OverlapTranscript
    | OverlapScore
    | PauseScore
    | ClassifierFailed
)


# ---- actions returned ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserPaused:
    """The user stopped; ask the recognizer for the final transcript now and feed it
    back as `PauseTranscript` with this generation."""

    t_ms: float
    speech_end_ms: float
    generation: int


@dataclass(frozen=True, slots=True)
class OverlapPaused:
    """Speech over the agent stopped undecided; ask the recognizer for its final words
    now and feed them back as `OverlapTranscript` with this generation."""

    t_ms: float
    generation: int


@dataclass(frozen=True, slots=True)
class QueryClassifier:
    """Score the user's recent audio and this text; answer with `OverlapScore` or
    `PauseScore` carrying `generation` (or `ClassifierFailed`)."""

    t_ms: float
    kind: QueryKind
    generation: int
    text: str
    context: TurnContext
    settles: bool = False
    """A pause scored on its final transcript: the answer decides the turn (a query on
    the streaming partial only stands in until the final comes)."""


@dataclass(frozen=True, slots=True)
class StartReply:
    """The user's turn is over: answer it."""

    t_ms: float
    speech_end_ms: float


@dataclass(frozen=True, slots=True)
class CancelReply:
    t_ms: float
    reason: str
    """"barge_in" (the user took the floor) or "user_resumed" (not finished after all)."""
    onset_ms: float


@dataclass(frozen=True, slots=True)
class StateChanged:
    t_ms: float
    state: TurnState


@dataclass(frozen=True, slots=True)
class TurnDecision:
    """What the policy concluded, and how fast: for events, the page and evaluation."""

    t_ms: float
    kind: str
    """backchannel | interruption | false_interruption_resumed | finished | hold"""
    onset_ms: float
    """What the decision is timed from: the overlapping speech's onset, or for finished
    and hold the start of the pause (the user's gap, which is what they feel)."""
    probability: float | None = None

    @property
    def decision_ms(self) -> float:
        return self.t_ms - self.onset_ms

    def fields(self) -> dict[str, object]:
        """As the `turn_decision` event carries it."""
        p = self.probability
        return {
            "kind": self.kind,
            "probability": None if p is None else round(p, 3),
            "decision_ms": round(self.decision_ms, 1),
        }


@dataclass(frozen=True, slots=True)
class Duck:
    """Lower (or restore) the agent's voice while overlapping speech is undecided."""

    t_ms: float
    ducked: bool


TurnAction = (
    UserPaused
    | OverlapPaused
    | QueryClassifier
    | StartReply
    | CancelReply
    | StateChanged
    | TurnDecision
    | Duck
)
