"""One conversation: audio in, decisions, replies, audio out, events.

The session is transport-agnostic. A transport (WebRTC, SIP, WebSocket, local audio, or
the simulator) calls `push_audio` for every 20 ms input frame and `pull_audio` every
20 ms for the next output frame. Both are synchronous and cheap: model work runs in
tasks on the shared executor, so a slow model never stalls the media clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
from collections import deque

import numpy as np

from omnivox.agent.config import AgentConfig
from omnivox.agent.events import Event, EventSink
from omnivox.agent.interventions.chain import InterventionChain
from omnivox.agent.interventions.config import build_interventions
from omnivox.agent.reply.history import History
from omnivox.agent.reply.playout import ClientPlayout
from omnivox.agent.reply.reply import Reply, ReplyDeps, ReplyTimings, UserMedia
from omnivox.agent.speech.user_speech import UserSpeech
from omnivox.agent.stack import ModelStack
from omnivox.agent.turns.policy import (
    AgentAudioStarted,
    AgentReplyFinished,
    CancelReply,
    Duck,
    SpeechStarted,
    SpeechStopped,
    StartReply,
    StateChanged,
    Tick,
    TurnAction,
    TurnDecision,
    TurnEvent,
    TurnPolicy,
    TurnState,
    UserPaused,
)
from omnivox.agent.turns.queries import Query, TurnQueries, turn_policy_config
from omnivox.agent.vision.camera import Camera
from omnivox.agent.vision.presence import (
    Forget,
    Greet,
    Presence,
    PresenceConfig,
    VisitorConfig,
    VisitorPolicy,
)
from omnivox.kernels.mixing import apply_gain
from omnivox.media.audio_files import wav_bytes
from omnivox.media.clock import Clock
from omnivox.media.echo_canceller import EchoCanceller
from omnivox.media.frames import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, AudioFrame
from omnivox.models.turn.features import TurnContext

log = logging.getLogger(__name__)

MAX_TURN_AUDIO_S = 60
"""The most of one turn's audio kept (its end): what an audio-taking Thinker gets, and
a bound on memory when a turn never ends (a noisy room)."""


class Session:
    def __init__(
        self,
        session_id: str,
        config: AgentConfig,
        stack: ModelStack,
        clock: Clock,
        emit: EventSink,
    ) -> None:
        self.id = session_id
        self.config = config
        self.clock = clock
        self._emit_sink = emit
        self._generation = 0
        """Counts overlaps and pauses, so a late classifier answer is not misapplied."""
        turns = config.turns
        self._final_wait_ms = turns.pause_final_wait_ms
        classifier = stack.turn_classifier if turns.classifier == "learned" else None
        self.policy = TurnPolicy(turn_policy_config(turns, classifier))
        self._queries = (
            TurnQueries(
                classifier,
                turns.classifier_interval_ms,
                deliver=self._handle,
                current_generation=lambda: self._generation,
                now_ms=clock.now_ms,
                on_failure=self._classifier_failed,
            )
            if classifier is not None
            else None
        )
        cam = config.camera
        self.camera = Camera(
            stack.face_detector if cam.presence else None,
            clock.now_ms,
            self._on_presence,
            lambda msg: self._emit("error", message=msg, source="camera"),
            PresenceConfig(arrive_frames=cam.arrive_frames, leave_ms=cam.leave_ms),
        )
        self.visitors = VisitorPolicy(
            VisitorConfig(
                greeting=(cam.arrival_greeting or config.greeting) if cam.greet_on_arrival else "",
                greet_after_quiet_ms=cam.greet_after_quiet_s * 1000,
                forget_on_leave=cam.forget_on_leave,
            )
        )
        self.vad = stack.new_vad()
        self.history = History()
        self.reply: Reply | None = None
        self._deps = ReplyDeps(
            thinker=stack.thinker,
            talker=stack.talker,
            clock=clock,
            emit=self._emit_event,
            tools=stack.tools,
            system_prompt=config.system_prompt,
            first_token_timeout_s=config.thinker.timeout_s,
            fallback_text=config.thinker.fallback_text,
            playout_max_ahead=config.playout.max_ahead_frames,
            interventions=InterventionChain(
                # The stack's, built once for its config; a session configured otherwise
                # (a test reusing one stack with several configs) builds its own.
                stack.interventions
                if stack.interventions is not None
                and config.interventions == stack.config.interventions
                else build_interventions(config.interventions, thinker_tools=stack.tools),
                clock,
                report=lambda msg: self._emit("error", message=msg, source="intervention"),
            ),
        )
        self.speech = UserSpeech(
            stack.recognizer,
            early_final_ms=config.recognizer.early_final_ms,
            on_partial=lambda text: self._emit("transcript_partial", text=text),
            on_error=lambda msg: self._emit("error", message=msg, source="recognizer"),
        )
        self._echo = EchoCanceller() if config.echo.cancel else None
        self._paused_at_ms = 0.0
        self._overlap_text = ""
        """The latest interim final's words while the user talks over the agent."""
        self._reply_ids = itertools.count(1)
        self._silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        self.client_playout = ClientPlayout()
        self._turn_audio: deque[np.ndarray] = deque(maxlen=MAX_TURN_AUDIO_S * 1000 // FRAME_MS)
        """The user's audio since the current turn's (or overlap's) onset, for the classifier."""
        self._ducked = False
        self._agent_quiet_since_ms = 0.0
        self._last_agent_text = ""
        self.closed = False

    # ---- lifecycle ---------------------------------------------------------------------

    async def start(self, greet: bool = True) -> None:
        self.speech.start()
        self._emit("session_started", session_id=self.id)
        self._emit("turn_state", state=self.policy.state.value)
        if greet and self.config.greeting:
            self._start_reply(text=self.config.greeting)

    async def close(self, reason: str = "closed") -> None:
        if self.closed:
            return
        self.closed = True
        if self.reply is not None:
            self.reply.cancel()
            task = self.reply.task
            self.reply = None
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.speech.close()
        await self.camera.close()
        if self._queries is not None:
            await self._queries.close()
        self._emit("session_ended", reason=reason)

    @property
    def busy(self) -> bool:
        """Model work in flight (the simulator paces to real time while this is true, so
        compute latency lands on the media clock)."""
        if self.speech.busy or self.camera.busy:
            return True
        if self._queries is not None and self._queries.busy:
            return True
        r = self.reply
        return r is not None and not r.finished and len(r.playout) < r.playout.max_ahead

    # ---- media in ----------------------------------------------------------------------

    def push_video(self, rgb: np.ndarray) -> None:
        """One sampled camera frame, RGB (H, W, 3) uint8 (the transport samples the rate)."""
        if not self.closed:
            self.camera.push(rgb)

    def push_audio(self, frame: AudioFrame) -> None:
        if self.closed:
            return
        if self.camera.frames:
            self.camera.tick()
            if (forget := self.visitors.tick(idle=self._idle)) is not None:
                self._visitor_action(forget)
        if self._echo is not None:
            frame = dataclasses.replace(frame, pcm=self._echo.process(frame.pcm))
        vad_events = self.vad.process(frame.pcm, frame.t_ms)
        self.speech.push(frame)
        for ve in vad_events:
            if ve.kind == "start":
                self._emit("vad_start", onset_ms=round(ve.speech_t_ms, 1))
                self._on_speech_start(ve.speech_t_ms)
                self._handle(SpeechStarted(self.clock.now_ms(), ve.speech_t_ms))
            else:
                self._emit("vad_stop", speech_end_ms=round(ve.speech_t_ms, 1))
                self.speech.speech_stopped()
                self._handle(SpeechStopped(self.clock.now_ms(), ve.speech_t_ms))
        if self.policy.state in (TurnState.USER_SPEAKING, TurnState.OVERLAP):
            self._turn_audio.append(frame.pcm)
        self._handle(Tick(self.clock.now_ms()))
        self.speech.maybe_early_final(
            self.vad.silence_ms, user_speaking=self.policy.state is TurnState.USER_SPEAKING
        )
        self._maybe_interim_final()
        self._maybe_query_classifier()

    def _maybe_query_classifier(self, *, now_due: bool = False) -> None:
        """Ask the classifier every interval during overlap and pauses. At a pause it is
        asked with the speculative final (the moment it arrives): the final recognizer is
        far more accurate than the streaming partials, and a reply has to wait for that
        final anyway. A final slower than `turns.pause_final_wait_ms` is not waited for."""
        q = self._queries
        state = self.policy.state
        if q is None or q.busy or not (now_due or q.due()):
            return
        text = self.speech.partial
        if state is TurnState.OVERLAP:
            kind, speaking = "overlap", True
            text = self._overlap_text or text
        elif state is TurnState.USER_SPEAKING and self.policy.awaiting_end_of_turn:
            kind, speaking = "pause", False
            final = self.speech.speculative
            if final is not None and final.done() and not final.cancelled():
                text = final.result()
            elif self.clock.now_ms() - self._paused_at_ms < self._final_wait_ms:
                return
        else:
            return
        now = self.clock.now_ms()
        reply = self.reply
        since = now - (reply.timings.playout_start_ms or now) if speaking and reply else None
        context = TurnContext(
            agent_speaking=speaking,
            ms_since_agent_pause=max(
                0.0, since if since is not None else now - self._agent_quiet_since_ms
            ),
            agent_asked_question=self._last_agent_text.rstrip().endswith("?"),
        )
        recent = list(itertools.islice(self._turn_audio, max(0, len(self._turn_audio) - 150), None))
        audio = np.concatenate(recent) if recent else self._silence
        q.submit(Query(kind, self._generation, audio, text, context))

    def _maybe_interim_final(self) -> None:
        if self._queries is None or self.policy.state is not TurnState.OVERLAP:
            return
        interim = self.speech.interim_final(self.clock.now_ms())
        if interim is None:
            return
        generation = self._generation

        def arrived(done: asyncio.Future[str]) -> None:
            if done.cancelled() or self.closed or generation != self._generation:
                return
            self._overlap_text = done.result()
            self._maybe_query_classifier(now_due=True)

        interim.add_done_callback(arrived)

    def _on_speculative_final(self, final: asyncio.Future[str]) -> None:
        if final is self.speech.speculative and not self.closed:
            self._maybe_query_classifier(now_due=True)

    def _classifier_failed(self, message: str) -> None:
        self.policy.config = dataclasses.replace(self.policy.config, use_classifier=False)
        self._emit("error", message=message, source="turn_classifier")

    def _on_speech_start(self, onset_ms: float) -> None:
        self.visitors.activity(self.clock.now_ms())
        self._overlap_text = ""
        new_turn = self.policy.state in (TurnState.LISTENING, TurnState.AGENT_SPEAKING)
        self._generation += 1
        primed = self.speech.speech_started(onset_ms, self.clock.now_ms(), new_turn=new_turn)
        if primed is not None:
            self._turn_audio.clear()
            self._turn_audio.extend(primed)

    # ---- media out ---------------------------------------------------------------------

    def pull_audio(self) -> np.ndarray:
        """The next 20 ms of agent audio (silence when there is none)."""
        frame = self._next_agent_frame()
        if self._echo is not None:
            self._echo.reference(frame)
        return frame

    def _next_agent_frame(self) -> np.ndarray:
        reply = self.reply
        if reply is None or self.closed:
            return self._silence
        frame = reply.pop_frame()
        if frame is not None and reply.playout.played_samples == len(frame):
            self._on_playout_start(reply)
        if frame is not None and self._ducked:
            frame = apply_gain(frame, self.config.turns.duck_db)
        if reply.finished:
            self._on_reply_finished(reply)
        return frame if frame is not None else self._silence

    def report_playout_delay(self, delay_ms: float) -> None:
        """The far end says agent audio takes `delay_ms` from being sent to being played."""
        self.client_playout.report(delay_ms)
        if self._echo is not None:
            self._echo.set_delay_ms(delay_ms)

    def _on_playout_start(self, reply: Reply) -> None:
        self._emit("reply_audio_start", reply_id=reply.id)
        if reply.user_text is not None:
            self._emit("turn_metrics", reply_id=reply.id, **reply.timings.metrics())
        self._handle(AgentAudioStarted(self.clock.now_ms()))

    def _on_reply_finished(self, reply: Reply) -> None:
        self.reply = None
        self._ducked = False
        self._agent_quiet_since_ms = self.clock.now_ms()
        self._last_agent_text = reply.playout.text
        if reply.playout.played_samples:
            self._emit("reply_audio_end", reply_id=reply.id, played_ms=reply.playout.played_ms)
        self._emit("reply_done", reply_id=reply.id)
        self._commit(reply, interrupted=False)
        self._handle(AgentReplyFinished(self.clock.now_ms()))

    def _commit(self, reply: Reply, *, interrupted: bool, heard: str | None = None) -> None:
        if reply.user_text:
            self.history.add_user(reply.user_text)
        text = reply.playout.heard_text() if heard is None else heard
        self.history.add_assistant(text, interrupted=interrupted)

    # ---- decisions ---------------------------------------------------------------------

    def _handle(self, event: TurnEvent) -> None:
        for action in self.policy.handle(event):
            self._execute(action)

    def _execute(self, action: TurnAction) -> None:
        match action:
            case StateChanged():
                self._emit("turn_state", state=action.state.value)
            case UserPaused():
                self._generation += 1
                self._paused_at_ms = action.t_ms
                self.speech.paused().add_done_callback(self._on_speculative_final)
            case TurnDecision():
                data = {
                    "kind": action.kind,
                    "probability": None
                    if action.probability is None
                    else round(action.probability, 3),
                    "decision_ms": round(action.decision_ms, 1),
                }
                self._emit("turn_decision", **data)
                if action.kind in ("backchannel", "interruption", "false_interruption_resumed"):
                    self._emit(action.kind, **data)
            case Duck():
                self._ducked = action.ducked
            case StartReply():
                self._emit("user_turn_end", speech_end_ms=round(action.speech_end_ms, 1))
                transcript = self.speech.take_final()
                timings = ReplyTimings(speech_end_ms=action.speech_end_ms, turn_end_ms=action.t_ms)
                self._start_reply(transcript=transcript, timings=timings, media=self._user_media())
            case CancelReply():
                self._cancel_reply(action)

    def _start_reply(
        self,
        *,
        text: str | None = None,
        transcript: asyncio.Future[str] | None = None,
        timings: ReplyTimings | None = None,
        media: asyncio.Future[UserMedia] | None = None,
    ) -> None:
        self.visitors.activity(self.clock.now_ms())
        if self.reply is not None:
            self.reply.cancel()
        reply = Reply(
            f"r{next(self._reply_ids)}",
            self._deps,
            self.history.for_thinker(self.config.system_prompt),
            transcript=self._announced(transcript) if transcript is not None else None,
            text=text,
            timings=timings,
            media=media,
        )
        self.reply = reply
        self._emit("reply_start", reply_id=reply.id)
        reply.start()

    def _cancel_reply(self, action: CancelReply) -> None:
        reply = self.reply
        if reply is None:
            return
        self.reply = None
        self._ducked = False
        self._agent_quiet_since_ms = self.clock.now_ms()
        reply.cancel()
        played_ms = reply.playout.played_ms
        # What the far end had not played yet is dropped there on this event (the page
        # does), so it was never heard.
        lag_ms = self.client_playout.lag_ms
        heard_ms = max(0.0, played_ms - lag_ms)
        heard = reply.playout.heard_text(round(heard_ms * SAMPLE_RATE / 1000))
        self._last_agent_text = heard
        self._emit(
            "reply_cancelled",
            reply_id=reply.id,
            reason=action.reason,
            played_ms=played_ms,
            heard_ms=round(heard_ms, 1),
            heard_text=heard,
            onset_ms=round(action.onset_ms, 1),
            stop_ms=round(action.t_ms - action.onset_ms, 1),
        )
        if action.reason != "user_resumed":
            self._commit(reply, interrupted=bool(played_ms), heard=heard)

    def _user_media(self) -> asyncio.Future[UserMedia] | None:
        """Start gathering what this Thinker takes besides words, while the recognizer
        finishes: the turn's audio now (it is about to be reset), the snapshot later."""
        thinker = self._deps.thinker
        if not (thinker.takes_images or thinker.takes_audio):
            return None
        audio = None
        if thinker.takes_audio and self._turn_audio:
            audio = np.concatenate(self._turn_audio)

        async def gather() -> UserMedia:
            images = []
            if thinker.takes_images:
                jpeg = await self.camera.snapshot(self.config.camera.snapshot_max_age_ms)
                images = [jpeg] if jpeg else []
            return UserMedia(images, wav_bytes(audio) if audio is not None else None)

        return asyncio.ensure_future(gather())

    @property
    def _idle(self) -> bool:
        return self.reply is None and self.policy.state is TurnState.LISTENING

    def _on_presence(self, p: Presence) -> None:
        self._emit("presence", present=p.present, facing=p.facing, faces=p.faces)
        for action in self.visitors.presence(p, idle=self._idle):
            self._visitor_action(action)

    def _visitor_action(self, action: Greet | Forget) -> None:
        if isinstance(action, Greet):
            self._start_reply(text=action.text)
        else:
            self.history = History()
            self._emit("conversation_reset", reason="visitor_left")

    async def _announced(self, transcript: asyncio.Future[str]) -> str:
        """Await the final transcript and announce it as an event."""
        text = await asyncio.shield(transcript)
        self._emit("transcript_final", text=text)
        return text

    # ---- events ------------------------------------------------------------------------

    def _emit_event(self, event: Event) -> None:
        try:
            self._emit_sink(event)
        except Exception:  # a broken listener must not break the conversation
            log.exception("event sink failed for %s", event.type)

    def _emit(self, type_: str, **data: object) -> None:
        self._emit_event(Event(type_, self.clock.now_ms(), dict(data)))
