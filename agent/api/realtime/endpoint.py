"""`/v1/realtime`: the OpenAI-Realtime-compatible WebSocket API, one conversation per
socket, driving the same Session as every transport.

The shell around protocol.py: it feeds the protocol the client's messages and the
session's events, sends the server events it returns, and carries out its commands.
The client's audio is the media clock (a client streams its microphone all along, as a
phone does); the agent's audio is pulled every 20 ms on a drift-free schedule and sent
as `response.output_audio.delta` while a reply plays, so a cut reply sends nothing more
from the very next frame.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from omnivox.agent.api.realtime import commands as c
from omnivox.agent.api.realtime.audio import AudioDataError, InputAudio, OutputAudio
from omnivox.agent.api.realtime.client_tools import ClientTools
from omnivox.agent.api.realtime.events import MAX_EVENT_CHARS, error_event
from omnivox.agent.api.realtime.protocol import RealtimeProtocol
from omnivox.agent.api.realtime.session_config import RealtimeSession, SemanticVad
from omnivox.agent.session import Session
from omnivox.media.clock import MediaClock
from omnivox.media.frames import FRAME_MS
from omnivox.media.pacing import FrameSchedule
from omnivox.media.sessions import SessionRegistry, SessionTasks
from omnivox.media.transport import ConversationFactory
from omnivox.models.thinker.base import ToolCall

log = logging.getLogger(__name__)

MAX_BUFFER_FRAMES = 5 * 60 * 50
"""Manual turn detection: the input buffer keeps the newest 5 minutes."""
MAX_OUTBOX = 1500
"""Server events waiting for a client that does not read (30 s of audio deltas)."""
CLOSE_GOING_AWAY = 1001
CLOSE_TRY_AGAIN_LATER = 1013


class RealtimeConnection:
    """One client's conversation on one socket (a `TransportSession`)."""

    def __init__(
        self,
        session_id: str,
        ws: web.WebSocketResponse,
        open_session: ConversationFactory[Session],
        monotonic: Callable[[], float],
        model: str,
        system_prompt: str,
    ) -> None:
        self.id = session_id
        self.transport = "realtime"
        self.clock = MediaClock(monotonic)
        self.tasks = SessionTasks(session_id)
        self.protocol = RealtimeProtocol(session_id, RealtimeSession(model=model))
        self._system_prompt = system_prompt
        """The configured prompt, used while the client gives no instructions (and not
        shown to it: an operator's prompt may hold what clients should not read)."""
        self._ws = ws
        self._monotonic = monotonic
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._input = InputAudio(self.protocol.session.audio.input.format)
        self._output = OutputAudio(self.protocol.session.audio.output.format)
        self._was_playing = False
        self._manual = False
        """turn_detection null: the client commits, the buffered audio is transcribed."""
        self._buffer: list[np.ndarray] = []
        self._transcripts: list[asyncio.Future[str]] = []
        self._tools = ClientTools(self._send_call)
        self.closed = False
        self._stalled = False
        self.session = open_session(session_id, self.clock, self._on_session_event)
        self.session.add_intervention(self._tools)

    @property
    def running_tasks(self) -> int:
        return self.tasks.running

    async def start(self) -> None:
        self.tasks.spawn(self._send_loop(), "send")
        self._apply(self.protocol.opened())
        await self.session.start(greet=False)  # a Realtime client speaks first
        self.tasks.spawn(self._play(), "audio-out")

    async def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        await self.session.close(reason)
        for pending in self._transcripts:
            pending.cancel()
        await self.tasks.cancel_all()
        code = CLOSE_GOING_AWAY if reason == "server_shutdown" else 1000
        await self._ws.close(code=code, message=reason.encode()[:100])

    # ---- in ------------------------------------------------------------------------------

    def receive(self, raw: str | bytes) -> None:
        try:
            self._apply(self.protocol.receive(raw))
        except Exception:  # a bug must cost this event, not the conversation
            log.exception("realtime %s: handling a client event failed", self.id)
            self._send(
                error_event(
                    "server_error", "The event could not be handled.", kind="server_error"
                ).to_json()
            )

    def _on_session_event(self, line: str) -> None:
        data: dict[str, Any] = json.loads(line)
        self._apply(self.protocol.on_session_event(data["type"], data))

    # ---- carrying out the protocol's outputs ---------------------------------------------

    def _apply(self, outputs: list[c.Output]) -> None:
        for out in outputs:
            match out:
                case c.AppendAudio():
                    self._append(out.data)
                case c.CommitAudio():
                    self._commit(out.item_id)
                case c.ClearAudio():
                    self._buffer.clear()
                case c.Configure():
                    self._configure(out.session)
                case c.Respond():
                    self._respond(out.user_text)
                case c.ToolOutputs():
                    self._tools.resolve(out.outputs)
                case c.CancelReply():
                    self.session.cancel_reply("client_cancelled")
                case c.Truncate():
                    self._truncate(out)
                case _:
                    self._send(out.to_json())

    def _append(self, data: bytes) -> None:
        try:
            frames = self._input.frames(data)
        except AudioDataError as err:
            self._send(
                error_event("invalid_value", f"Invalid 'audio': {err}.", param="audio").to_json()
            )
            return
        for frame in frames:
            self.clock.on_audio(frame.t_ms + frame.duration_ms)
            if self._manual:
                self._buffer.append(frame.pcm)
                if len(self._buffer) > MAX_BUFFER_FRAMES:  # never committed: keep the newest
                    del self._buffer[0]
            else:
                self.session.push_audio(frame)

    def _commit(self, item_id: str) -> None:
        pcm = np.concatenate(self._buffer) if self._buffer else np.zeros(0, np.int16)
        self._buffer.clear()
        transcript = self.session.transcribe(pcm)
        self._transcripts.append(transcript)

        def done(future: asyncio.Future[str]) -> None:
            self._transcripts.remove(future)
            if not future.cancelled() and future.exception() is None and not self.closed:
                self._apply(self.protocol.transcribed(item_id, future.result()))

        transcript.add_done_callback(done)

    def _respond(self, typed: str | None) -> None:
        pending = list(self._transcripts)
        if not pending:
            self.session.respond(typed)
            return

        async def words() -> str:  # committed audio still being transcribed
            spoken = await asyncio.gather(*pending)
            return "\n".join(t for t in [*spoken, typed] if t)

        self.session.respond(asyncio.ensure_future(words()))

    def _configure(self, session: RealtimeSession) -> None:
        fmt = session.audio.input.format
        if fmt != self._input.format:
            samples, self._input = self._input.samples, InputAudio(fmt)
            self._input.samples = samples  # the media clock goes on
        if session.audio.output.format != self._output.format:
            self._output = OutputAudio(session.audio.output.format)
        detection = session.turn_detection
        self._manual = detection is None
        if not self._manual:
            self._buffer.clear()
        self.session.use_turn_classifier(isinstance(detection, SemanticVad))
        self.session.set_instructions(session.instructions or self._system_prompt)
        self._tools.declare(session.tools)

    def _truncate(self, cut: c.Truncate) -> None:
        heard = self.session.truncate_reply(cut.reply_id, cut.audio_end_ms)
        if heard is not None:
            self.protocol.truncated(cut.item_id, heard)
        if self.protocol.items[cut.item_id]["status"] == "incomplete":
            # A cut reply: what was sent but not played is how far the client's playout
            # trails, which the next cut's heard text allows for.
            self.session.report_playout_delay(cut.sent_ms - cut.audio_end_ms)

    def _send_call(self, call: ToolCall, arguments: str) -> None:
        self._apply(self.protocol.function_call(call.id, call.name, arguments))
        # Parallel calls of one round are all sent before the response ends.
        asyncio.get_running_loop().call_soon(lambda: self._apply(self.protocol.calls_sent()))

    # ---- out -----------------------------------------------------------------------------

    def _send(self, text: str) -> None:
        if self.closed or self._stalled:
            return
        if self._outbox.qsize() >= MAX_OUTBOX:
            # The client stopped reading: end the call rather than hold its audio for ever.
            self._stalled = True
            log.warning("realtime %s: the client is not reading; closing", self.id)
            self.tasks.spawn(
                self._ws.close(code=CLOSE_TRY_AGAIN_LATER, message=b"client not reading"), "close"
            )
            return
        self._outbox.put_nowait(text)

    async def _send_loop(self) -> None:
        while True:
            text = await self._outbox.get()
            try:
                await self._ws.send_str(text)
            except ConnectionError:
                return

    async def _play(self) -> None:
        schedule = FrameSchedule(FRAME_MS / 1000, self._monotonic)
        while True:
            await schedule.wait()
            pcm = self.session.pull_audio()
            playing = self.protocol.audio_open
            if playing and not self._was_playing:
                self._output.reset()  # nothing of the last reply is left in the filter
            self._was_playing = playing
            payload = self._output.encode(pcm) if playing else None
            self._apply(self.protocol.agent_audio(payload, FRAME_MS))


class RealtimeEndpoint:
    """The WebSocket route Realtime clients connect to."""

    def __init__(
        self,
        open_session: ConversationFactory[Session],
        registry: SessionRegistry,
        system_prompt: str = "",
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self._open = open_session
        self._registry = registry
        self._system_prompt = system_prompt
        self._monotonic = monotonic

    def mount(self, app: web.Application, path: str = "/v1/realtime") -> None:
        app.router.add_get(path, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        # OpenAI's browser SDK offers the "realtime" subprotocol (beside its key's).
        ws = web.WebSocketResponse(max_msg_size=MAX_EVENT_CHARS + 1024, protocols=("realtime",))
        if not ws.can_prepare(request).ok:
            return web.json_response(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "websocket_expected",
                        "message": "Connect with a WebSocket (the Realtime API).",
                        "param": None,
                    }
                },
                status=400,
            )
        await ws.prepare(request)
        if self._registry.full:
            await ws.close(code=CLOSE_TRY_AGAIN_LATER, message=b"server busy: too many sessions")
            return ws
        monotonic = self._monotonic or asyncio.get_running_loop().time
        model = request.query.get("model", "omnivox")[:100]
        conn = RealtimeConnection(
            f"sess_{secrets.token_hex(8)}", ws, self._open, monotonic, model, self._system_prompt
        )
        self._registry.add(conn)
        try:
            await conn.start()
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    conn.receive(msg.data)
                else:
                    break  # closing or failed
        finally:
            await self._registry.close(conn.id, "hangup")
        return ws
