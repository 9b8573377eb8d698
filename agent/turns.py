"""Turn policy: who holds the floor, as a pure state machine.

Sans-I/O, like h11: `TurnPolicy.handle(event)` takes one timed event and returns the
actions to carry out. It owns no tasks, sockets or clocks, so it is tested with scripted
events in virtual time and the live session and the simulator make the same decisions.

Rules without the classifier:
- end of turn: the user has been silent for `end_of_turn_silence_ms` after speech;
- barge-in: user speech during agent speech that lasts `barge_in_min_speech_ms`;
- speech while the agent is still thinking means the user was not done: the pending
  reply is dropped and the turn continues.

With the learned classifier (`use_classifier`), scores arrive as `OverlapScore` and
`PauseScore` events (the session queries the model every ~100 ms) and refine them:
- overlap: a take-over cancels at once; a confident backchannel lets the agent talk on;
  while undecided the agent may be ducked, and if the user stops undecided the agent
  resumes (a false interruption). Undecided speech that lasts `max_overlap_ms` takes over.
- pause: "finished" takes the turn as soon as it is scored; "holding" waits up to
  `max_end_of_turn_silence_ms`; in between the plain silence rule applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TurnState(StrEnum):
    LISTENING = "listening"
    USER_SPEAKING = "user_speaking"
    THINKING = "thinking"
    AGENT_SPEAKING = "agent_speaking"
    OVERLAP = "overlap"


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
    """Time passes (one per input frame); lets silence-based decisions fire."""

    t_ms: float


@dataclass(frozen=True, slots=True)
class AgentAudioStarted:
    t_ms: float


@dataclass(frozen=True, slots=True)
class AgentReplyFinished:
    """The reply's last frame was played, or it ended without audio."""

    t_ms: float


@dataclass(frozen=True, slots=True)
class OverlapScore:
    """Classifier: probability that overlapping user speech is a take-over."""

    t_ms: float
    p_takeover: float


@dataclass(frozen=True, slots=True)
class PauseScore:
    """Classifier: probability that the user, now pausing, has finished the turn."""

    t_ms: float
    p_finished: float


TurnEvent = (
    SpeechStarted
    | SpeechStopped
    | Tick
    | AgentAudioStarted
    | AgentReplyFinished
    | OverlapScore
    | PauseScore
)


# ---- actions returned ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserPaused:
    """The user stopped; a good moment to start transcribing speculatively."""

    t_ms: float
    speech_end_ms: float


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


@dataclass(frozen=True, slots=True)
class Duck:
    """Lower (or restore) the agent's voice while overlapping speech is undecided."""

    t_ms: float
    ducked: bool


TurnAction = UserPaused | StartReply | CancelReply | StateChanged | TurnDecision | Duck


@dataclass(frozen=True, slots=True)
class TurnPolicyConfig:
    end_of_turn_silence_ms: float = 400.0
    barge_in_min_speech_ms: float = 200.0
    use_classifier: bool = False
    takeover_threshold: float = 0.5
    backchannel_threshold: float = 0.2
    """At or below this p_takeover the overlap is a backchannel."""
    finished_threshold: float = 0.5
    hold_threshold: float = 0.2
    """At or below this p_finished the user is holding the turn."""
    max_end_of_turn_silence_ms: float = 1500.0
    max_overlap_ms: float = 1500.0
    backchannel_max_ms: float = 700.0
    """Once an overlap is judged a backchannel, a take-over score counts only after this
    much speech: backchannels are short, and the same murmur scored again is no reason
    to stop; a real "yeah, but..." goes on past it."""
    duck_while_undecided: bool = True


class TurnPolicy:
    def __init__(self, config: TurnPolicyConfig | None = None) -> None:
        self.config = config or TurnPolicyConfig()
        self.state = TurnState.LISTENING
        self._speech_end_ms: float | None = None
        """End of the user's last speech while we wait to see if the turn is over."""
        self._overlap_onset_ms: float | None = None
        self._overlap_verdict_kind: str | None = None
        """"backchannel" once decided; None while undecided."""
        self._ducked = False
        self._p_finished: float | None = None
        """The classifier's latest verdict on the current pause."""

    @property
    def awaiting_end_of_turn(self) -> bool:
        """The user has paused and the policy is deciding whether the turn is over."""
        return self.state is TurnState.USER_SPEAKING and self._speech_end_ms is not None

    def handle(self, event: TurnEvent) -> list[TurnAction]:
        actions: list[TurnAction] = []
        match event:
            case SpeechStarted():
                self._on_speech_started(event, actions)
            case SpeechStopped():
                self._on_speech_stopped(event, actions)
            case Tick():
                self._on_tick(event, actions)
            case AgentAudioStarted():
                # From listening too: a greeting is spoken without a user turn.
                if self.state in (TurnState.THINKING, TurnState.LISTENING):
                    self._go(TurnState.AGENT_SPEAKING, event.t_ms, actions)
            case AgentReplyFinished():
                self._on_reply_finished(event, actions)
            case OverlapScore():
                self._on_overlap_score(event, actions)
            case PauseScore():
                self._on_pause_score(event, actions)
        return actions

    def _go(self, state: TurnState, t_ms: float, actions: list[TurnAction]) -> None:
        if state is not self.state:
            self.state = state
            actions.append(StateChanged(t_ms, state))

    def _on_speech_started(self, ev: SpeechStarted, actions: list[TurnAction]) -> None:
        self._p_finished = None
        if self.state is TurnState.LISTENING:
            self._go(TurnState.USER_SPEAKING, ev.t_ms, actions)
        elif self.state is TurnState.USER_SPEAKING:
            self._speech_end_ms = None  # a pause, not the end
        elif self.state is TurnState.THINKING:
            # The reply has not made a sound yet: the user simply was not finished.
            self._speech_end_ms = None
            actions.append(CancelReply(ev.t_ms, "user_resumed", ev.onset_ms))
            self._go(TurnState.USER_SPEAKING, ev.t_ms, actions)
        elif self.state is TurnState.AGENT_SPEAKING:
            self._overlap_onset_ms = ev.onset_ms
            self._overlap_verdict_kind = None
            self._go(TurnState.OVERLAP, ev.t_ms, actions)

    def _on_speech_stopped(self, ev: SpeechStopped, actions: list[TurnAction]) -> None:
        if self.state is TurnState.USER_SPEAKING:
            self._speech_end_ms = ev.speech_end_ms
            actions.append(UserPaused(ev.t_ms, ev.speech_end_ms))
            self._maybe_end_turn(ev.t_ms, actions)
        elif self.state is TurnState.OVERLAP:
            # Not a take-over (a backchannel, a cough): the agent keeps the floor.
            onset = self._overlap_onset_ms
            if (
                self.config.use_classifier
                and self._overlap_verdict_kind is None
                and onset is not None
            ):
                actions.append(TurnDecision(ev.t_ms, "false_interruption_resumed", onset))
            self._overlap_onset_ms = None
            self._unduck(ev.t_ms, actions)
            self._go(TurnState.AGENT_SPEAKING, ev.t_ms, actions)

    def _on_tick(self, ev: Tick, actions: list[TurnAction]) -> None:
        if self.state is TurnState.USER_SPEAKING:
            self._maybe_end_turn(ev.t_ms, actions)
        elif self.state is TurnState.OVERLAP:
            self._maybe_barge_in(ev.t_ms, actions)

    def _on_reply_finished(self, ev: AgentReplyFinished, actions: list[TurnAction]) -> None:
        if self.state in (TurnState.THINKING, TurnState.AGENT_SPEAKING):
            self._go(TurnState.LISTENING, ev.t_ms, actions)
        elif self.state is TurnState.OVERLAP:
            # The agent finished while the user was already talking: it is their turn.
            self._overlap_onset_ms = None
            self._speech_end_ms = None
            self._unduck(ev.t_ms, actions)
            self._go(TurnState.USER_SPEAKING, ev.t_ms, actions)

    def _on_overlap_score(self, ev: OverlapScore, actions: list[TurnAction]) -> None:
        onset = self._overlap_onset_ms
        if self.state is not TurnState.OVERLAP or onset is None or not self.config.use_classifier:
            return
        cfg = self.config
        if ev.p_takeover >= cfg.takeover_threshold:
            if self._overlap_verdict_kind == "backchannel" and (
                ev.t_ms - onset < cfg.backchannel_max_ms
            ):
                return
            self._take_over(ev.t_ms, onset, ev.p_takeover, actions)
        elif self._overlap_verdict_kind is None and ev.p_takeover <= cfg.backchannel_threshold:
            self._overlap_verdict_kind = "backchannel"
            actions.append(TurnDecision(ev.t_ms, "backchannel", onset, ev.p_takeover))
            self._unduck(ev.t_ms, actions)
        elif self._overlap_verdict_kind is None and cfg.duck_while_undecided and not self._ducked:
            self._ducked = True
            actions.append(Duck(ev.t_ms, True))

    def _on_pause_score(self, ev: PauseScore, actions: list[TurnAction]) -> None:
        if self.state is not TurnState.USER_SPEAKING or self._speech_end_ms is None:
            return
        if not self.config.use_classifier:
            return
        self._p_finished = ev.p_finished
        cfg = self.config
        paused = self._speech_end_ms
        if ev.p_finished >= cfg.finished_threshold:
            actions.append(TurnDecision(ev.t_ms, "finished", paused, ev.p_finished))
        elif ev.p_finished <= cfg.hold_threshold:
            actions.append(TurnDecision(ev.t_ms, "hold", paused, ev.p_finished))
        self._maybe_end_turn(ev.t_ms, actions)

    def _maybe_end_turn(self, t_ms: float, actions: list[TurnAction]) -> None:
        if self._speech_end_ms is None or not self._pause_verdict(t_ms, self._speech_end_ms):
            return
        actions.append(StartReply(t_ms, self._speech_end_ms))
        self._speech_end_ms = None
        self._p_finished = None
        self._go(TurnState.THINKING, t_ms, actions)

    def _maybe_barge_in(self, t_ms: float, actions: list[TurnAction]) -> None:
        onset = self._overlap_onset_ms
        if onset is None:
            return
        if self.config.use_classifier:
            # The classifier decides; only undecided speech that goes on this long wins.
            if self._overlap_verdict_kind is None and t_ms - onset >= self.config.max_overlap_ms:
                self._take_over(t_ms, onset, None, actions)
        elif t_ms - onset >= self.config.barge_in_min_speech_ms:
            self._take_over(t_ms, onset, None, actions)

    def _take_over(
        self, t_ms: float, onset: float, p: float | None, actions: list[TurnAction]
    ) -> None:
        self._overlap_onset_ms = None
        if self.config.use_classifier:
            actions.append(TurnDecision(t_ms, "interruption", onset, p))
        actions.append(CancelReply(t_ms, "barge_in", onset))
        self._ducked = False  # the reply is gone; nothing left to restore
        self._go(TurnState.USER_SPEAKING, t_ms, actions)

    def _unduck(self, t_ms: float, actions: list[TurnAction]) -> None:
        if self._ducked:
            self._ducked = False
            actions.append(Duck(t_ms, False))

    def _pause_verdict(self, t_ms: float, speech_end_ms: float) -> bool:
        """Is the user finished? Long enough silence, refined by the classifier."""
        silence = t_ms - speech_end_ms
        p = self._p_finished
        if p is not None and p >= self.config.finished_threshold:
            return True
        if p is not None and p <= self.config.hold_threshold:
            return silence >= self.config.max_end_of_turn_silence_ms
        return silence >= self.config.end_of_turn_silence_ms
