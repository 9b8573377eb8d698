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
  longer speech or on real words retire it. Whatever the score, words that ask the
  agent to wait ("wait", "hold on", "one moment"), or more than `BACKCHANNEL_MAX_WORDS`
  words that are not backchannel tokens in the final recognizer's transcript once the
  speech has outlasted a backchannel (`backchannel_max_ms`), take over: a backchannel is
  short and has few words, and the score is least reliable on voices and rooms unlike
  its training data. Words the agent was saying around then (`AgentWords`) are not
  counted as the user's anywhere: an echo no canceller took out reaches the
  recogniser, which transcribes our own reply under a user's "mm okay". From the
  onset, while undecided, the agent is ducked (`duck_while_undecided`). If the user
  stops undecided, the recogniser's final
  words of the overlap decide within `overlap_final_wait_ms`: a request to wait ("stop",
  "hold on"), often over before any score could rule, stops the agent; anything else,
  or no words in time, resumes it (a false interruption). Speech that starts again
  within `OVERLAP_JOIN_MS` continues the same overlap ("Wait, ... stop"): a pause inside
  a phrase is not a new one.
  Undecided speech that lasts `max_overlap_ms` takes over.
- pause: "finished" takes the turn as soon as it is scored; "holding", or a transcript
  that stops on "the", "and", "to", "um", waits up to `max_end_of_turn_silence_ms`; in
  between, the lower the score, the longer the wait. A transcript the recogniser ended
  with a question mark lowers the finished threshold to `question_threshold`. Until
  the first score arrives the silence rule waits up to `pause_score_wait_ms` for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from omnivox.agent.config import TurnsConfig
from omnivox.agent.turns.events import (
    AgentAudioStarted,
    AgentReplyFinished,
    AgentWords,
    CancelReply,
    ClassifierFailed,
    Duck,
    OverlapPaused,
    OverlapScore,
    OverlapTranscript,
    PartialTranscript,
    PauseScore,
    PauseTranscript,
    QueryClassifier,
    QueryKind,
    SpeechStarted,
    SpeechStopped,
    StartReply,
    StateChanged,
    Tick,
    TurnAction,
    TurnDecision,
    TurnEvent,
    TurnState,
    UserPaused,
)
from omnivox.agent.turns.pause_reading import PauseReading
from omnivox.agent.turns.spoken_words import SpokenWords
from omnivox.models.turn.classifier import TurnThresholds
from omnivox.models.turn.features import TurnContext
from omnivox.models.turn.wording import (
    content_words,
    heard_words,
    opens_asking_to_wait,
)

BACKCHANNEL_MAX_WORDS = 2
"""The most words other than backchannel tokens a backchannel has: "oh my god", "that's
interesting", "thank you so much"."""

OVERLAP_JOIN_MS = 500.0
"""Speech over the agent that starts again this soon after stopping goes on with the
same overlap: the pauses inside a phrase (a comma, a breath) run up to about half a
second, and the VAD ends speech on much shorter ones."""


@dataclass(frozen=True, slots=True)
class _Thresholds:
    """The thresholds in force: configured, else tuned with the model."""

    takeover: float
    finished: float

    @classmethod
    def of(cls, config: TurnsConfig, tuned: TurnThresholds | None) -> _Thresholds:
        tuned = tuned or TurnThresholds()
        return cls(
            tuned.takeover if config.takeover_threshold is None else config.takeover_threshold,
            tuned.finished if config.finished_threshold is None else config.finished_threshold,
        )


class TurnPolicy:
    def __init__(
        self, config: TurnsConfig | None = None, tuned: TurnThresholds | None = None
    ) -> None:
        """`tuned`: the thresholds of the classifier the session queries; None: there
        is none, and the timing rules decide."""
        self.config = config or TurnsConfig()
        self.use_classifier = tuned is not None and self.config.classifier == "learned"
        self.thresholds = _Thresholds.of(self.config, tuned)
        self.state = TurnState.LISTENING
        self.generation = 0
        """Counts speech onsets and pauses, so a late answer about one is not applied
        to the next."""
        self.ducked = False
        self._speech_end_ms: float | None = None
        """End of the user's last speech while we wait to see if the turn is over."""
        self._paused_at_ms = 0.0
        self._overlap_onset_ms: float | None = None
        self._overlap_rejoin: tuple[float, float] | None = None
        """(end of speech, onset) of an overlap that stopped: speech again before
        `OVERLAP_JOIN_MS` continues it."""
        self._agent_words = SpokenWords()
        self._overlap_closing: tuple[float, float] | None = None
        """(when, end of speech) of undecided speech over the agent that stopped: its
        final words decide between stopping the agent and resuming it."""
        self._overlap_verdict_kind: str | None = None
        """"backchannel" once decided; None while undecided."""
        self._pause: PauseReading | None = None
        """The classifier's latest verdict on the current pause."""
        self._previous_p: float | None = None
        """The overlap's previous take-over score."""
        # What the next classifier query reads.
        self._partial = ""
        self._pause_text: str | None = None
        """The final transcript of the current pause, once it arrived."""
        self._overlap_text = ""
        """The latest interim final's words while the user talks over the agent."""
        self._query_in_flight = False
        self._standing_in = False
        """The query in flight scores a pause's streaming partial: its final supersedes it."""
        self._last_query_ms = -1e9
        # What the classifier is told about the agent.
        self._agent_audio_since_ms = 0.0
        self._agent_quiet_since_ms = 0.0
        self._agent_asked = False

    @property
    def awaiting_end_of_turn(self) -> bool:
        """The user has paused and the policy is deciding whether the turn is over."""
        return self.state is TurnState.USER_SPEAKING and self._speech_end_ms is not None

    @property
    def hearing_user(self) -> bool:
        """The user holds or contests the floor: their audio is what a query scores."""
        return self.state in (TurnState.USER_SPEAKING, TurnState.OVERLAP)

    @property
    def wants_overlap_words(self) -> bool:
        """Interim finals of the user's words during overlap would inform a query."""
        return self.use_classifier and self.state is TurnState.OVERLAP

    def continues_overlap(self, onset_ms: float) -> bool:
        """Speech beginning at `onset_ms` goes on with the overlap that just paused (its
        words are one utterance with the ones before)."""
        rejoin = self._overlap_rejoin
        return (
            self.state is TurnState.AGENT_SPEAKING
            and rejoin is not None
            and onset_ms - rejoin[0] <= OVERLAP_JOIN_MS
        )

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
                self._agent_audio_since_ms = event.t_ms
                # From listening too: a greeting is spoken without a user turn.
                if self.state in (TurnState.THINKING, TurnState.LISTENING):
                    self._go(TurnState.AGENT_SPEAKING, event.t_ms, actions)
            case AgentReplyFinished():
                self._on_reply_finished(event, actions)
            case AgentWords():
                self._agent_words.played(event.t_ms, event.text)
                rejoin = self._overlap_rejoin and self._overlap_rejoin[1]
                self._agent_words.forget(event.t_ms, self._overlap_onset_ms, rejoin)
            case PartialTranscript():
                fresh = event.text != self._partial
                self._partial = event.text
                if fresh and self.state is TurnState.OVERLAP and not self._overlap_text:
                    # Streaming words over the agent are what the query reads: new ones
                    # are scored now, not up to an interval later.
                    self._maybe_query(event.t_ms, actions, now=True)
            case PauseTranscript():
                if event.generation == self.generation and self.awaiting_end_of_turn:
                    self._pause_text = event.text
                    if self._standing_in:
                        # The query on the partial may still be queued behind other
                        # sessions' finals (a loaded server): the one on the final
                        # replaces it (the shell cancels it) rather than wait for it.
                        self._query_in_flight = self._standing_in = False
                    self._maybe_query(event.t_ms, actions, now=True)
            case OverlapTranscript():
                if event.generation == self.generation and self.state is TurnState.OVERLAP:
                    # A later final that heard nothing does not unsay an earlier one's
                    # words: the audio only grew, and Moonshine drops a murmur it had
                    # transcribed ("A." then "" for "uh-huh"), which let the streaming
                    # partial's "op" stand in and stop the agent.
                    heard = bool(event.text.strip())
                    if heard:
                        self._overlap_text = event.text
                    if self._overlap_closing is not None:
                        self._close_overlap(event.t_ms, actions)
                    elif heard:
                        self._maybe_query(event.t_ms, actions, now=True)
            case OverlapScore():
                if self._answered(event.generation):
                    self._on_overlap_score(event, actions)
            case PauseScore():
                if self._answered(event.generation):
                    self._on_pause_score(event, actions)
            case ClassifierFailed():
                self._query_in_flight = self._standing_in = False
                self.use_classifier = False
        return actions

    def _go(self, state: TurnState, t_ms: float, actions: list[TurnAction]) -> None:
        if state is not self.state:
            self.state = state
            actions.append(StateChanged(t_ms, state))

    # ---- classifier queries -------------------------------------------------------------

    def _answered(self, generation: int | None) -> bool:
        """A score came back: the next query may go; is it about the current moment?"""
        if generation is None:
            return True
        self._query_in_flight = self._standing_in = False
        return generation == self.generation

    def _maybe_query(self, t_ms: float, actions: list[TurnAction], *, now: bool = False) -> None:
        """Ask the classifier every `classifier_interval_ms` during overlap and pauses,
        one query at a time. At a pause it reads the final transcript (asked for when
        the pause began, and queried the moment it arrives): far more accurate than the
        streaming partial, and a reply has to wait for it anyway. A final slower than
        `pause_final_wait_ms` is not waited for."""
        cfg = self.config
        if not self.use_classifier or self._query_in_flight:
            return
        if not now and t_ms - self._last_query_ms < cfg.classifier_interval_ms:
            return
        if self.state is TurnState.OVERLAP:
            kind: QueryKind = "overlap"
            text = heard_words(self._overlap_text or self._partial)
            since_agent_pause = t_ms - self._agent_audio_since_ms
        elif self.awaiting_end_of_turn:
            kind = "pause"
            if self._pause_text is not None:
                text = self._pause_text
            elif t_ms - self._paused_at_ms < cfg.pause_final_wait_ms:
                return
            else:
                text = self._partial
            since_agent_pause = t_ms - self._agent_quiet_since_ms
        else:
            return
        context = TurnContext(
            agent_speaking=kind == "overlap",
            ms_since_agent_pause=max(0.0, since_agent_pause),
            agent_asked_question=self._agent_asked,
        )
        self._query_in_flight = True
        self._last_query_ms = t_ms
        settles = kind == "pause" and self._pause_text is not None
        self._standing_in = kind == "pause" and not settles
        actions.append(QueryClassifier(t_ms, kind, self.generation, text, context, settles))

    # ---- the floor ----------------------------------------------------------------------

    def _on_speech_started(self, ev: SpeechStarted, actions: list[TurnAction]) -> None:
        rejoin = self._overlap_rejoin if self.continues_overlap(ev.onset_ms) else None
        self._overlap_rejoin = None
        self.generation += 1
        self._pause = None
        self._pause_text = None
        if rejoin is None and self._overlap_closing is None:
            self._overlap_text = ""
        if self._overlap_closing is not None:
            self._overlap_closing = None  # speech again: the same overlap goes on
        if self.state is TurnState.LISTENING:
            self._partial = ""
            self._go(TurnState.USER_SPEAKING, ev.t_ms, actions)
        elif self.state is TurnState.USER_SPEAKING:
            self._speech_end_ms = None  # a pause, not the end
        elif self.state is TurnState.THINKING:
            # The reply has not made a sound yet: the user simply was not finished.
            self._speech_end_ms = None
            actions.append(CancelReply(ev.t_ms, "user_resumed", ev.onset_ms))
            self._go(TurnState.USER_SPEAKING, ev.t_ms, actions)
        elif self.state is TurnState.AGENT_SPEAKING:
            if rejoin is not None:
                # The same overlap after a pause inside it: its onset, words and verdict.
                self._overlap_onset_ms = rejoin[1]
            else:
                self._partial = ""
                self._overlap_onset_ms = ev.onset_ms
                self._overlap_verdict_kind = None
                self._previous_p = None
            self._go(TurnState.OVERLAP, ev.t_ms, actions)
            if self._overlap_verdict_kind is None:
                self._duck(ev.t_ms, actions)  # at onset: the agent yields before any score

    def _on_speech_stopped(self, ev: SpeechStopped, actions: list[TurnAction]) -> None:
        if self.state is TurnState.USER_SPEAKING:
            self._speech_end_ms = ev.speech_end_ms
            self._paused_at_ms = ev.t_ms
            self.generation += 1
            actions.append(UserPaused(ev.t_ms, ev.speech_end_ms, self.generation))
            self._maybe_end_turn(ev.t_ms, actions)
        elif self.state is TurnState.OVERLAP:
            undecided = self._overlap_verdict_kind is None and self._overlap_onset_ms is not None
            if self.use_classifier and undecided and self.config.overlap_final_wait_ms > 0:
                # A short "stop" can end before its words were scored: they decide.
                self._overlap_closing = (ev.t_ms, ev.speech_end_ms)
                actions.append(OverlapPaused(ev.t_ms, self.generation))
            else:
                self._resume(ev.t_ms, ev.speech_end_ms, actions)

    def _resume(self, t_ms: float, speech_end_ms: float, actions: list[TurnAction]) -> None:
        """Speech over the agent ended without taking the floor (a backchannel, a
        cough): the agent keeps it."""
        onset = self._overlap_onset_ms
        if self.use_classifier and self._overlap_verdict_kind is None and onset is not None:
            actions.append(TurnDecision(t_ms, "false_interruption_resumed", onset))
        if onset is not None:
            self._overlap_rejoin = (speech_end_ms, onset)
        self._overlap_closing = None
        self._overlap_onset_ms = None
        self._unduck(t_ms, actions)
        self._go(TurnState.AGENT_SPEAKING, t_ms, actions)

    def _close_overlap(self, t_ms: float, actions: list[TurnAction]) -> None:
        """The final words of undecided speech over the agent that stopped (or none in
        time): a request to wait stops the agent, anything else lets it go on."""
        closing, onset = self._overlap_closing, self._overlap_onset_ms
        if closing is None or onset is None:
            return
        if opens_asking_to_wait(self._overlap_text, self._agent_words.around(onset)):
            self._overlap_closing = None
            self._take_over(t_ms, onset, None, actions)
        else:
            self._resume(t_ms, closing[1], actions)

    def _on_tick(self, ev: Tick, actions: list[TurnAction]) -> None:
        if self.state is TurnState.USER_SPEAKING:
            self._maybe_end_turn(ev.t_ms, actions)
        elif self._overlap_closing is not None:
            if ev.t_ms - self._overlap_closing[0] >= self.config.overlap_final_wait_ms:
                self._close_overlap(ev.t_ms, actions)  # no words in time
        elif self.state is TurnState.OVERLAP:
            self._maybe_barge_in(ev.t_ms, actions)
        self._maybe_query(ev.t_ms, actions)

    def _on_reply_finished(self, ev: AgentReplyFinished, actions: list[TurnAction]) -> None:
        self._agent_quiet_since_ms = ev.t_ms
        self._overlap_rejoin = None
        self._agent_asked = ev.heard_text.rstrip().endswith("?")
        if self.state in (TurnState.THINKING, TurnState.AGENT_SPEAKING):
            self._go(TurnState.LISTENING, ev.t_ms, actions)
        elif self._overlap_closing is not None:
            self._resume(ev.t_ms, self._overlap_closing[1], actions)  # and it is over
            self._go(TurnState.LISTENING, ev.t_ms, actions)
        elif self.state is TurnState.OVERLAP:
            # The agent finished while the user was already talking: it is their turn.
            self._overlap_onset_ms = None
            self._speech_end_ms = None
            self._unduck(ev.t_ms, actions)
            self._go(TurnState.USER_SPEAKING, ev.t_ms, actions)

    def _on_overlap_score(self, ev: OverlapScore, actions: list[TurnAction]) -> None:
        onset = self._overlap_onset_ms
        if self.state is not TurnState.OVERLAP or onset is None or not self.use_classifier:
            return
        cfg = self.config
        echoed = self._agent_words.around(onset)
        p, words = ev.p_takeover, content_words(ev.text, echoed)
        threshold = self.thresholds.takeover
        support = min(cfg.takeover_support, threshold)
        if words >= 2:
            threshold -= cfg.takeover_words_margin
            support -= cfg.takeover_words_margin
        agreed = p >= threshold and (self._previous_p or 0.0) >= support
        self._previous_p = p
        long = ev.t_ms - onset >= cfg.backchannel_max_ms
        # What was said decides on its own where the score is no help (a voice or a room
        # unlike the training data): a request to wait, or more words, and longer, than
        # a backchannel ever has. Counted in the final recognizer's words: the streaming
        # one spells a long murmur as several words.
        heard = content_words(self._overlap_text, echoed)
        said = opens_asking_to_wait(ev.text, echoed) or (long and heard > BACKCHANNEL_MAX_WORDS)
        if self._overlap_verdict_kind == "backchannel":
            # Retired only by agreeing scores on speech that outlasts a backchannel or
            # words that are not one (a recogniser may respell the same "yeah" as "yet").
            takes = said or (agreed and (long or words > 0))
        else:
            worded = p >= threshold and words > 0
            takes = said or agreed or worded or p >= max(threshold, cfg.takeover_confident)
        if takes:
            self._take_over(ev.t_ms, onset, p, actions)
        elif self._overlap_verdict_kind is None and p <= cfg.backchannel_threshold and words == 0:
            # Words that are not backchannel tokens ("wait, the...") veto the verdict.
            self._overlap_verdict_kind = "backchannel"
            actions.append(TurnDecision(ev.t_ms, "backchannel", onset, p))
            self._unduck(ev.t_ms, actions)
        elif self._overlap_verdict_kind is None:
            self._duck(ev.t_ms, actions)  # undecided (again, after a resume)

    def _on_pause_score(self, ev: PauseScore, actions: list[TurnAction]) -> None:
        if self.state is not TurnState.USER_SPEAKING or self._speech_end_ms is None:
            return
        if not self.use_classifier:
            return
        self._pause = PauseReading.of(ev, self.config)
        if self._pause.holding(self.config):
            actions.append(TurnDecision(ev.t_ms, "hold", self._speech_end_ms, ev.p_finished))
        self._maybe_end_turn(ev.t_ms, actions)

    def _maybe_end_turn(self, t_ms: float, actions: list[TurnAction]) -> None:
        if self._speech_end_ms is None or not self._pause_verdict(t_ms, self._speech_end_ms):
            return
        if self.use_classifier:
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
        if self.use_classifier:
            # The classifier decides; only undecided speech that goes on this long wins.
            if self._overlap_verdict_kind is None and t_ms - onset >= self.config.max_overlap_ms:
                self._take_over(t_ms, onset, None, actions)
        elif t_ms - onset >= self.config.barge_in_min_speech_ms:
            self._take_over(t_ms, onset, None, actions)

    def _take_over(
        self, t_ms: float, onset: float, p: float | None, actions: list[TurnAction]
    ) -> None:
        self._overlap_onset_ms = None
        if self.use_classifier:
            actions.append(TurnDecision(t_ms, "interruption", onset, p))
        actions.append(CancelReply(t_ms, "barge_in", onset))
        self.ducked = False  # the reply is gone; nothing left to restore
        self._go(TurnState.USER_SPEAKING, t_ms, actions)

    def _duck(self, t_ms: float, actions: list[TurnAction]) -> None:
        if self.use_classifier and self.config.duck_while_undecided and not self.ducked:
            self.ducked = True
            actions.append(Duck(t_ms, True))

    def _unduck(self, t_ms: float, actions: list[TurnAction]) -> None:
        if self.ducked:
            self.ducked = False
            actions.append(Duck(t_ms, False))

    def _pause_verdict(self, t_ms: float, speech_end_ms: float) -> bool:
        """Is the user finished? Long enough silence, refined by the classifier."""
        cfg = self.config
        silence = t_ms - speech_end_ms
        if self._pause is None:
            wait = cfg.pause_score_wait_ms if self.use_classifier else cfg.end_of_turn_silence_ms
            return silence >= max(wait, cfg.end_of_turn_silence_ms)
        return silence >= self._pause.silence_needed_ms(cfg, self.thresholds.finished)
