"""Turn policy: who holds the floor, as a pure state machine.

Sans-I/O, like h11: `TurnPolicy.handle(event)` takes one timed event and returns the
actions to carry out. It owns no tasks, sockets or clocks, so it is tested with scripted
events in virtual time and the live session and the simulator make the same decisions.

v1 rules (the learned classifier plugs in at `_overlap_verdict` / `_pause_verdict`):
- end of turn: the user has been silent for `end_of_turn_silence_ms` after speech;
- barge-in: user speech during agent speech that lasts `barge_in_min_speech_ms`;
- speech while the agent is still thinking means the user was not done: the pending
  reply is dropped and the turn continues.
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


TurnEvent = SpeechStarted | SpeechStopped | Tick | AgentAudioStarted | AgentReplyFinished


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


TurnAction = UserPaused | StartReply | CancelReply | StateChanged


@dataclass(frozen=True, slots=True)
class TurnPolicyConfig:
    end_of_turn_silence_ms: float = 400.0
    barge_in_min_speech_ms: float = 200.0


class TurnPolicy:
    def __init__(self, config: TurnPolicyConfig | None = None) -> None:
        self.config = config or TurnPolicyConfig()
        self.state = TurnState.LISTENING
        self._speech_end_ms: float | None = None
        """End of the user's last speech while we wait to see if the turn is over."""
        self._overlap_onset_ms: float | None = None

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
        return actions

    def _go(self, state: TurnState, t_ms: float, actions: list[TurnAction]) -> None:
        if state is not self.state:
            self.state = state
            actions.append(StateChanged(t_ms, state))

    def _on_speech_started(self, ev: SpeechStarted, actions: list[TurnAction]) -> None:
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
            self._go(TurnState.OVERLAP, ev.t_ms, actions)

    def _on_speech_stopped(self, ev: SpeechStopped, actions: list[TurnAction]) -> None:
        if self.state is TurnState.USER_SPEAKING:
            self._speech_end_ms = ev.speech_end_ms
            actions.append(UserPaused(ev.t_ms, ev.speech_end_ms))
            self._maybe_end_turn(ev.t_ms, actions)
        elif self.state is TurnState.OVERLAP:
            # Too short to be a take-over (a cough, an "mm"): the agent keeps the floor.
            self._overlap_onset_ms = None
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
            self._go(TurnState.USER_SPEAKING, ev.t_ms, actions)

    def _maybe_end_turn(self, t_ms: float, actions: list[TurnAction]) -> None:
        if self._speech_end_ms is None or not self._pause_verdict(t_ms, self._speech_end_ms):
            return
        actions.append(StartReply(t_ms, self._speech_end_ms))
        self._speech_end_ms = None
        self._go(TurnState.THINKING, t_ms, actions)

    def _maybe_barge_in(self, t_ms: float, actions: list[TurnAction]) -> None:
        onset = self._overlap_onset_ms
        if onset is None or not self._overlap_verdict(t_ms, onset):
            return
        self._overlap_onset_ms = None
        actions.append(CancelReply(t_ms, "barge_in", onset))
        self._go(TurnState.USER_SPEAKING, t_ms, actions)

    def _pause_verdict(self, t_ms: float, speech_end_ms: float) -> bool:
        """Is the user finished? v1: long enough silence."""
        return t_ms - speech_end_ms >= self.config.end_of_turn_silence_ms

    def _overlap_verdict(self, t_ms: float, onset_ms: float) -> bool:
        """Does the overlapping speech take the floor? v1: long enough speech."""
        return t_ms - onset_ms >= self.config.barge_in_min_speech_ms
