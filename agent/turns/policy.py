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
`PauseScore` events (the session queries the model every ~100 ms), each with the
transcript it was computed from, and refine them:
- overlap: a take-over cancels the reply. One score at `takeover_confident` suffices;
  below it a score at the threshold needs the previous one to lean the same way, since a
  lone spike on a murmur is the commonest false stop, or, until the overlap is called a
  backchannel, a recognised word that is not a backchannel token (then it is no
  murmur). Two or more such words lower the threshold, and any veto a backchannel
  verdict. That verdict (a low score) lets the agent talk on; only supported scores on
  longer speech or on real words retire it. While undecided the agent may be ducked,
  and if the user stops undecided the agent resumes (a false interruption). Undecided
  speech that lasts `max_overlap_ms` takes over.
- pause: "finished" takes the turn as soon as it is scored; "holding", or a transcript
  that stops on "the", "and", "to", "um", waits up to `max_end_of_turn_silence_ms`; in
  between, the lower the score, the longer the wait. A transcript the recogniser ended
  with a question mark lowers the finished threshold to `question_threshold`. Until
  the first score arrives the silence rule waits up to `pause_score_wait_ms` for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from omnivox.models.turn.wording import asks_a_question, content_words, ends_unfinished


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
    text: str = ""
    """The partial transcript the score was computed from."""


@dataclass(frozen=True, slots=True)
class PauseScore:
    """Classifier: probability that the user, now pausing, has finished the turn."""

    t_ms: float
    p_finished: float
    text: str = ""
    """The transcript the score was computed from."""


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
    takeover_confident: float = 0.99
    """One score this high takes the floor on its own. Below it, a score at or above
    `takeover_threshold` needs the previous one at or above `takeover_support`, or (while
    undecided) a recognised word that is not a backchannel token: a lone spike on a
    murmur ("oh", "uh-huh") is no reason to stop."""
    takeover_support: float = 0.8
    takeover_words_margin: float = 0.1
    """With two or more words in the partial that are not backchannel tokens, the
    take-over threshold (and its support) drops by this much: the words confirm the
    audio. A margin, not a number, so it follows the threshold tuned with each model."""
    pause_score_wait_ms: float = 700.0
    """At a pause, the silence rule waits this long for the classifier's first score
    (it follows the recognizer's final) rather than race it."""
    graded_pause: bool = True
    """Between the hold and finished thresholds, wait longer the lower the score."""
    question_threshold: float | None = 0.1
    """With a pause transcript ending in "?", this p_finished already means finished:
    the classifier reads a question's rise as a continuation, and the recogniser heard
    the question whole. Below it the classifier is sure the user holds the turn (a
    recogniser punctuates a halting "Can you tell me" as a question too). None: off."""


@dataclass(frozen=True, slots=True)
class _PauseReading:
    """The classifier's latest score on the current pause, with the wording rules
    applied to the transcript it was computed from."""

    p_finished: float
    unfinished: bool
    """The transcript stops on a word a finished turn does not end on."""
    asked: bool
    """The transcript is a question (ends in "?"), scored at or above
    `question_threshold`."""

    @classmethod
    def of(cls, score: PauseScore, config: TurnPolicyConfig) -> _PauseReading:
        q = config.question_threshold
        asked = q is not None and score.p_finished >= q and asks_a_question(score.text)
        return cls(score.p_finished, ends_unfinished(score.text), asked)

    def finished(self, config: TurnPolicyConfig) -> bool:
        return self.asked or (self.p_finished >= config.finished_threshold and not self.unfinished)

    def holding(self, config: TurnPolicyConfig) -> bool:
        return self.unfinished or (self.p_finished <= config.hold_threshold and not self.asked)


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
        self._pause: _PauseReading | None = None
        """The classifier's latest verdict on the current pause."""
        self._previous_p: float | None = None
        """The overlap's previous take-over score."""

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
        self._pause = None
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
            self._previous_p = None
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
        p, words = ev.p_takeover, content_words(ev.text)
        threshold = cfg.takeover_threshold
        support = min(cfg.takeover_support, threshold)
        if words >= 2:
            threshold -= cfg.takeover_words_margin
            support -= cfg.takeover_words_margin
        agreed = p >= threshold and (self._previous_p or 0.0) >= support
        self._previous_p = p
        if self._overlap_verdict_kind == "backchannel":
            # Retired only by agreeing scores on speech that outlasts a backchannel or
            # words that are not one (a recogniser may respell the same "yeah" as "yet").
            takes = agreed and (ev.t_ms - onset >= cfg.backchannel_max_ms or words > 0)
        else:
            worded = p >= threshold and words > 0
            takes = agreed or worded or p >= max(threshold, cfg.takeover_confident)
        if takes:
            self._take_over(ev.t_ms, onset, p, actions)
        elif self._overlap_verdict_kind is None and p <= cfg.backchannel_threshold and words == 0:
            # Words that are not backchannel tokens ("wait, the...") veto the verdict.
            self._overlap_verdict_kind = "backchannel"
            actions.append(TurnDecision(ev.t_ms, "backchannel", onset, p))
            self._unduck(ev.t_ms, actions)
        elif self._overlap_verdict_kind is None and cfg.duck_while_undecided and not self._ducked:
            self._ducked = True
            actions.append(Duck(ev.t_ms, True))

    def _on_pause_score(self, ev: PauseScore, actions: list[TurnAction]) -> None:
        if self.state is not TurnState.USER_SPEAKING or self._speech_end_ms is None:
            return
        if not self.config.use_classifier:
            return
        self._pause = _PauseReading.of(ev, self.config)
        if self._pause.holding(self.config):
            actions.append(TurnDecision(ev.t_ms, "hold", self._speech_end_ms, ev.p_finished))
        self._maybe_end_turn(ev.t_ms, actions)

    def _maybe_end_turn(self, t_ms: float, actions: list[TurnAction]) -> None:
        if self._speech_end_ms is None or not self._pause_verdict(t_ms, self._speech_end_ms):
            return
        if self.config.use_classifier:
            # However the turn ended (a finished score, a question, or the wait running
            # out), with the latest score: every turn the classifier saw is on record.
            p = None if self._pause is None else self._pause.p_finished
            actions.append(TurnDecision(t_ms, "finished", self._speech_end_ms, p))
        actions.append(StartReply(t_ms, self._speech_end_ms))
        self._speech_end_ms = None
        self._pause = None
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
        cfg = self.config
        silence = t_ms - speech_end_ms
        reading = self._pause
        if reading is None:
            wait = cfg.pause_score_wait_ms if cfg.use_classifier else cfg.end_of_turn_silence_ms
            return silence >= max(wait, cfg.end_of_turn_silence_ms)
        if reading.finished(cfg):
            return True
        if reading.holding(cfg):
            return silence >= cfg.max_end_of_turn_silence_ms
        if not cfg.graded_pause:
            return silence >= cfg.end_of_turn_silence_ms
        doubt = (cfg.finished_threshold - reading.p_finished) / (
            cfg.finished_threshold - cfg.hold_threshold
        )
        extra = max(0.0, cfg.max_end_of_turn_silence_ms - cfg.end_of_turn_silence_ms)
        return silence >= cfg.end_of_turn_silence_ms + extra * doubt
