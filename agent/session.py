"""One conversation: the mediator between the user's audio, the turn policy and the
agent's replies.

The session is transport-agnostic. A transport (WebRTC, SIP, WebSocket, local audio, or
the simulator) calls `push_audio` for every 20 ms input frame and `pull_audio` every
20 ms for the next output frame. Both are synchronous and cheap: model work runs in
tasks on the shared executor, so a slow model never stalls the media clock. Every
decision is the turn policy's (agent/turns); the session feeds it timed events and
carries out the actions it returns.
"""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np

from omnivox.agent.call_tools import CallTools
from omnivox.agent.config import AgentConfig
from omnivox.agent.events import Emitter, EventSink, EventType
from omnivox.agent.interventions.chain import Intervention, ToolsIntervention
from omnivox.agent.reply.replies import Replies
from omnivox.agent.reply.reply import Reply, ReplyTimings, gather_user_media
from omnivox.agent.speech.echo_control import EchoControl
from omnivox.agent.speech.echo_gate import EchoGateSettings
from omnivox.agent.speech.transcription import MAX_CHUNK_SAMPLES, TranscriptionWorker
from omnivox.agent.speech.turn_audio import TurnAudio
from omnivox.agent.speech.user_speech import UserSpeech
from omnivox.agent.stack import ModelStack
from omnivox.agent.turns import events as te
from omnivox.agent.turns.policy import TurnPolicy
from omnivox.agent.turns.queries import TurnQueries
from omnivox.agent.vision.visitors import Visitors
from omnivox.media.call_control import CallControl
from omnivox.media.clock import Clock
from omnivox.media.echo_presence import EchoState
from omnivox.media.frames import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame

CLASSIFIER_AUDIO_MS = 3000
"""How much of the user's latest audio a classifier query gets."""


class Session:
    def __init__(
        self,
        session_id: str,
        config: AgentConfig,
        stack: ModelStack,
        clock: Clock,
        emit: EventSink,
        call: CallControl | None = None,
    ) -> None:
        """`call`: the phone call this conversation is on, for the call tools."""
        self.id = session_id
        self.config = config
        self.clock = clock
        self._emit = Emitter(emit, clock)
        classifier = stack.turn_classifier if config.turns.classifier == "learned" else None
        self.policy = TurnPolicy(config.turns, classifier.thresholds if classifier else None)
        self._queries = (
            TurnQueries(
                classifier,
                self._handle,
                clock.now_ms,
                lambda msg: self._emit.error(msg, source="turn_classifier"),
            )
            if classifier is not None
            else None
        )
        self.visitors = Visitors(
            config.camera,
            config.greeting,
            stack.face_detector,
            clock,
            self._emit,
            idle=lambda: self.idle,
            greet=self._say,
            forget=self._forget,
        )
        self.vad = stack.new_vad()
        self._thinker = stack.thinker
        self._recognizer = stack.recognizer
        self._deps = stack.reply_deps(config, clock, self._emit)
        self.replies = Replies(
            self._deps,
            self._emit,
            on_audio_started=lambda: self._handle(te.AgentAudioStarted(clock.now_ms())),
            on_ended=self._reply_ended,
        )
        self.speech = UserSpeech(
            stack.recognizer,
            early_final_ms=config.recognizer.early_final_ms,
            on_partial=self._on_partial,
            on_error=lambda msg: self._emit.error(msg, source="recognizer"),
        )
        self.turn_audio = TurnAudio()
        self._echo: EchoControl | None = None
        if config.echo.cancel:
            self.cancel_echo()
        self._silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        self._spoken: tuple[Reply, int] | None = None
        """The reply being played and how much of its text the policy has been told of."""
        self.closed = False
        self._call_tools = CallTools(call, clock) if call is not None else None
        if self._call_tools is not None:
            self.add_intervention(ToolsIntervention([self._call_tools.registry], name="call"))

    # ---- lifecycle ---------------------------------------------------------------------

    async def start(self, greet: bool = True) -> None:
        self.speech.start()
        self._emit(EventType.SESSION_STARTED, session_id=self.id)
        self._emit(EventType.TURN_STATE, state=self.policy.state.value)
        if greet and self.config.greeting:
            self._say(self.config.greeting)

    async def close(self, reason: str = "closed") -> None:
        if self.closed:
            return
        self.closed = True
        if self._call_tools is not None:
            self._call_tools.close()
        await self.replies.close()
        await self.speech.close()
        await self.visitors.close()
        if self._queries is not None:
            await self._queries.close()
        self._emit(EventType.SESSION_ENDED, reason=reason)

    @property
    def busy(self) -> bool:
        """Model work in flight (the simulator paces to real time while this is true, so
        compute latency lands on the media clock)."""
        queries = self._queries is not None and self._queries.busy
        return self.speech.busy or self.visitors.busy or queries or self.replies.busy

    @property
    def idle(self) -> bool:
        """Nobody is speaking and nothing is being answered."""
        return self.replies.current is None and self.policy.state is te.TurnState.LISTENING

    # ---- media in ----------------------------------------------------------------------

    def push_video(self, rgb: np.ndarray) -> None:
        """One sampled camera frame, RGB (H, W, 3) uint8 (the transport samples the rate)."""
        if not self.closed:
            self.visitors.push(rgb)

    def push_dtmf(self, digit: str) -> None:
        """A key the caller pressed (telephony transports); an event for now."""
        if not self.closed:
            self._emit(EventType.DTMF, digit=digit)

    def push_audio(self, frame: AudioFrame) -> None:
        if self.closed:
            return
        self.visitors.tick()
        raw = frame.pcm
        if self._echo is not None:
            heard, change = self._echo.clean(raw)
            frame = dataclasses.replace(frame, pcm=heard)
            if change is not None:
                self._echo_path_found(change)
        now = self.clock.now_ms()
        vad_events = self.vad.process(frame.pcm, frame.t_ms)
        if self._echo is not None:
            vad_events, verdicts = self._echo.gate(frame.t_ms, raw, frame.pcm, vad_events)
            for verdict in verdicts:
                self._emit(EventType.ECHO_GATE, **verdict.fields())
        self.speech.push(frame)
        for ve in vad_events:
            if ve.kind == "start":
                self._emit(EventType.VAD_START, onset_ms=round(ve.speech_t_ms, 1))
                self._on_speech_start(ve.speech_t_ms)
                self._handle(te.SpeechStarted(now, ve.speech_t_ms))
            else:
                self._emit(EventType.VAD_STOP, speech_end_ms=round(ve.speech_t_ms, 1))
                self.speech.speech_stopped()
                self._handle(te.SpeechStopped(now, ve.speech_t_ms))
        if self.policy.hearing_user:
            self.turn_audio.append(frame.pcm)
        self._handle(te.Tick(now))
        self.speech.maybe_early_final(
            self.vad.silence_ms, user_speaking=self.policy.state is te.TurnState.USER_SPEAKING
        )
        if self.policy.wants_overlap_words:
            self._ask_overlap_words(now)

    def _on_speech_start(self, onset_ms: float) -> None:
        self.visitors.activity()
        state = self.policy.state
        new_turn = state is te.TurnState.LISTENING or (
            state is te.TurnState.AGENT_SPEAKING and not self.policy.continues_overlap(onset_ms)
        )
        primed = self.speech.speech_started(onset_ms, self.clock.now_ms(), new_turn=new_turn)
        if primed is not None:
            self.turn_audio.restart(primed)

    def _on_partial(self, text: str) -> None:
        self._emit(EventType.TRANSCRIPT_PARTIAL, text=text)
        self._handle(te.PartialTranscript(self.clock.now_ms(), text))

    def _ask_overlap_words(self, now: float) -> None:
        interim = self.speech.interim_final(now)
        if interim is not None:
            self._feed_back(interim, te.OverlapTranscript, self.policy.generation)

    def _feed_back(
        self,
        future: asyncio.Future[str],
        event: type[te.OverlapTranscript] | type[te.PauseTranscript],
        generation: int,
    ) -> None:
        """Hand a transcript to the policy when it arrives (the policy drops it if the
        moment it was asked for has passed)."""

        def arrived(done: asyncio.Future[str]) -> None:
            if not done.cancelled() and done.exception() is None and not self.closed:
                self._handle(event(self.clock.now_ms(), generation, done.result()))

        future.add_done_callback(arrived)

    # ---- media out ---------------------------------------------------------------------

    def pull_audio(self) -> np.ndarray:
        """The next 20 ms of agent audio (silence when there is none)."""
        if self.closed:
            return self._silence
        duck = self.config.turns.duck_db if self.policy.ducked else None
        reply = self.replies.current
        frame = self.replies.next_frame(self._silence, duck)
        if reply is not None:
            self._tell_agent_words(reply)
        if self._echo is not None:
            self._echo.sent(frame)
        return frame

    def _tell_agent_words(self, reply: Reply) -> None:
        """Hand the policy the words of `reply` that began playing since the last frame."""
        told = self._spoken[1] if self._spoken is not None and self._spoken[0] is reply else 0
        playout = reply.playout
        ahead = round(te.AGENT_WORD_AHEAD_MS * SAMPLE_RATE / 1000)
        text = playout.heard_text(playout.played_samples + ahead)
        self._spoken = (reply, max(told, len(text)))
        if len(text) > told:
            self._handle(te.AgentWords(self.clock.now_ms(), text[told:]))

    def report_error(self, message: str, source: str) -> None:
        self._emit.error(message, source)

    def cancel_echo(self) -> None:
        """Take the agent's own voice out of the user's audio here, with what it plays as
        the reference: for every call (`echo.cancel`), or for one whose far end asks
        because its own canceller does harm (Firefox's erases the user's speech)."""
        if self._echo is not None:
            return
        echo = self.config.echo
        gate = EchoGateSettings(margin_db=echo.gate_margin_db) if echo.gate else None
        self._echo = EchoControl(noise_suppression=echo.noise_suppression, gate=gate)

    def report_mouth_to_ear(self, reply_id: str, ms: float) -> None:
        """The page's own figure for a reply, logged and sent back beside the server's."""
        self._emit(EventType.MOUTH_TO_EAR, reply_id=reply_id, mouth_to_ear_ms=round(ms, 1))

    def report_playout_delay(self, delay_ms: float) -> None:
        """The far end says agent audio takes `delay_ms` from being sent to being played."""
        self.replies.client_playout.report(delay_ms)
        if self._echo is not None:
            self._echo.playout_delay(delay_ms)

    def report_echo_path(self, delay_ms: float, gain_db: float) -> None:
        """A local transport measured its echo path (speaker to microphone): the
        canceller's delay hint, and where the echo gate looks for our own voice."""
        if self._echo is not None:
            self._echo.path_measured(delay_ms, gain_db)

    def _echo_path_found(self, state: EchoState) -> None:
        """The echo watch concluded: an `echo_path` event says which."""
        path = self._echo.path if self._echo is not None else None
        fields: dict[str, object] = {"state": state.value}
        if state is EchoState.PRESENT and path is not None:
            fields.update(delay_ms=round(path.delay_ms, 1), gain_db=round(path.gain_db, 1))
        self._emit(EventType.ECHO_PATH, **fields)

    # ---- decisions ---------------------------------------------------------------------

    def _reply_ended(self, heard: str) -> None:
        self._handle(te.AgentReplyFinished(self.clock.now_ms(), heard))
        if self._call_tools is not None:
            self._call_tools.reply_ended()

    def _handle(self, event: te.TurnEvent) -> None:
        for action in self.policy.handle(event):
            self._execute(action)

    def _execute(self, action: te.TurnAction) -> None:
        match action:
            case te.StateChanged():
                self._emit(EventType.TURN_STATE, state=action.state.value)
            case te.UserPaused():
                self._feed_back(self.speech.paused(), te.PauseTranscript, action.generation)
            case te.OverlapPaused():
                self._feed_back(
                    self.speech.overlap_words(), te.OverlapTranscript, action.generation
                )
            case te.QueryClassifier():
                if self._queries is not None:
                    self._queries.submit(action, self.turn_audio.recent(CLASSIFIER_AUDIO_MS))
            case te.TurnDecision():
                self._emit(EventType.TURN_DECISION, **action.fields())
                if action.kind in ("backchannel", "interruption", "false_interruption_resumed"):
                    self._emit(EventType(action.kind), **action.fields())
            case te.StartReply():
                self._emit(EventType.USER_TURN_END, speech_end_ms=round(action.speech_end_ms, 1))
                self.visitors.activity()
                self.replies.start(
                    transcript=self.speech.take_final(),
                    timings=ReplyTimings(action.speech_end_ms, turn_end_ms=action.t_ms),
                    media=gather_user_media(
                        self._thinker, self.turn_audio.whole, self.visitors.snapshot
                    ),
                )
            case te.CancelReply():
                if self._call_tools is not None:
                    self._call_tools.barged_in()
                self.replies.cancel(action.reason, action.onset_ms, action.t_ms)
            case te.Duck():
                pass  # pull_audio reads policy.ducked

    # ---- for API clients that drive the turns themselves (the Realtime API) -------------

    def respond(self, user_text: str | asyncio.Future[str] | None) -> None:
        """Answer now, not at a turn end the policy found: the user's words (typed, or a
        transcript still on its way), or None for the conversation so far."""
        if self.closed:
            return
        self.visitors.activity()
        if isinstance(user_text, str):
            typed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            typed.set_result(user_text)
            user_text = typed
        self.replies.start(transcript=user_text, timings=ReplyTimings())

    def cancel_reply(self, reason: str) -> None:
        """Cut the current reply now (the far end asked)."""
        now = self.clock.now_ms()
        self.replies.cancel(reason, now, now)

    def truncate_reply(self, reply_id: str, heard_ms: float) -> str | None:
        """The far end played only `heard_ms` of reply `reply_id`: the history keeps what
        was heard by then (returned; None if that reply is no longer the last)."""
        return self.replies.truncate(reply_id, heard_ms)

    def use_turn_classifier(self, on: bool) -> None:
        """Turn taking by the classifier (when the stack has one) or by timing rules."""
        self.policy.use_classifier = on and self._queries is not None

    def set_instructions(self, system_prompt: str) -> None:
        """The Thinker's system prompt from the next reply on."""
        self._deps.system_prompt = system_prompt

    def add_intervention(self, intervention: Intervention) -> None:
        """An intervention of this session only (a Realtime client's own tools)."""
        assert self._deps.interventions is not None  # the stack always builds the chain
        self._deps.interventions.add(intervention)

    def transcribe(self, pcm: np.ndarray) -> asyncio.Future[str]:
        """The recognizer's final for `pcm` (16 kHz), off the event loop, outside the
        turn taking (a client that commits its audio itself)."""
        worker = TranscriptionWorker(
            self._recognizer,
            lambda _partial: None,
            lambda msg: self._emit.error(msg, source="recognizer"),
        )
        worker.start()
        worker.open_stream()
        for start in range(0, len(pcm), MAX_CHUNK_SAMPLES):  # bounded recognizer calls
            worker.feed(pcm[start : start + MAX_CHUNK_SAMPLES])
        final = worker.request_final()

        async def finish() -> str:
            try:
                return await final
            finally:
                await worker.close()

        return asyncio.ensure_future(finish())

    def _say(self, text: str) -> None:
        self.visitors.activity()
        self.replies.start(text=text)

    def _forget(self) -> None:
        self.replies.forget()
        self._emit(EventType.CONVERSATION_RESET, reason="visitor_left")
