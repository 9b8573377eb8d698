"""Phone providers' media streams over aiohttp WebSockets: one call per socket.

The provider (Twilio's <Connect><Stream>, or a close dialect) opens the socket and sends
`start`; that opens a conversation, registered with every other transport's sessions.
The caller's mu-law goes in as 16 kHz frames on a media clock that counts what was
received. The agent's audio is pulled every 20 ms on a drift-free schedule, sent as
mu-law `media` with a `mark` every 100 ms or so (their echoes give the playout delay),
and not sent at all while it is silence and no reply is playing. A cut reply (barge-in)
sends `clear` at once, so the provider drops what it has not played. `stop`, a closed
socket or a silent one ends the call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from aiohttp import WSMsgType, web

from omnivox.media.clock import MediaClock
from omnivox.media.frames import FRAME_MS, AudioFrame
from omnivox.media.media_streams.after_stream import AfterStream, StreamCallControl
from omnivox.media.media_streams.codec import MulawDecoder, MulawEncoder
from omnivox.media.media_streams.protocol import (
    MAX_MESSAGE_CHARS,
    BadMessage,
    Connected,
    Dtmf,
    InboundEvent,
    Media,
    MediaStreamProtocol,
    Start,
    Stop,
)
from omnivox.media.pacing import FrameSchedule
from omnivox.media.sessions import SessionRegistry, SessionTasks
from omnivox.media.transport import Conversation, ConversationFactory

log = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED = 1003
CLOSE_TRY_AGAIN_LATER = 1013


class Socket(Protocol):
    """What a call needs of its WebSocket (aiohttp's `WebSocketResponse`)."""

    async def send_str(self, data: str) -> None: ...

    async def close(self, *, code: int = CLOSE_NORMAL, message: bytes = b"") -> bool: ...


@dataclass(frozen=True, slots=True)
class MediaStreamLimits:
    mark_every_ms: float = 100.0
    """Agent audio between two marks (each echo updates the playout delay)."""
    idle_timeout_s: float = 20.0
    """Nothing received for this long ends the call (providers send audio all along)."""


class MediaStreamCall:
    """One call on one socket, from `start` to `stop` (a `TransportSession`)."""

    def __init__(
        self,
        session_id: str,
        ws: Socket,
        protocol: MediaStreamProtocol,
        open_conversation: ConversationFactory,
        monotonic: Callable[[], float],
        after: AfterStream | None = None,
        transfer_targets: Mapping[str, str] | None = None,
    ) -> None:
        """With `after` the conversation gets call tools (after_stream.py): hang up, and
        transfer to `transfer_targets`."""
        self.id = session_id
        self.transport = "media_stream"
        self.clock = MediaClock()
        self.protocol = protocol
        self.tasks = SessionTasks(session_id)
        self._ws = ws
        self._monotonic = monotonic
        self._decoder = MulawDecoder(self._on_frame)
        self._encoder = MulawEncoder()
        self._playing = False
        """A reply's audio is under way (silence inside it is sent too)."""
        self._sending = False
        """The last frame went out: a stretch of agent audio whose end gets a mark."""
        self._reported: set[str] = set()
        self.closed = False
        control = (
            StreamCallControl(self.end, _call_sid(protocol), transfer_targets or {}, after)
            if after is not None
            else None
        )
        self.conversation: Conversation = open_conversation(
            session_id, self.clock, self._on_session_event, call=control
        )

    @property
    def running_tasks(self) -> int:
        return self.tasks.running

    async def start(self) -> None:
        await self.conversation.start()
        self.tasks.spawn(self._play(), "audio-out")

    async def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        await self.conversation.close(reason)
        await self.tasks.cancel_all()
        code = CLOSE_GOING_AWAY if reason == "server_shutdown" else CLOSE_NORMAL
        await self._ws.close(code=code, message=reason.encode()[:100])

    def end(self, reason: str) -> None:
        """End the call from our side (a call tool): the socket closes, the provider's
        call flow goes on (after_stream.py)."""
        if not self.closed:
            self.tasks.spawn(self.close(reason), "end")

    # ---- from the provider -------------------------------------------------------------

    def handle(self, event: InboundEvent | BadMessage) -> None:
        """An inbound event after `start` (`stop` is the endpoint's)."""
        match event:
            case Media(track=track) if not track.startswith("outbound"):
                self._decoder.feed(event.payload)
            case Dtmf():
                self.conversation.push_dtmf(event.digit)
            case BadMessage():
                self.report(event.kind, event.describe())
            case Start():
                self.report("second_start", "a second `start` on a started stream is ignored")
        delay = self.protocol.playout_delay_ms  # set by a mark's echo
        if delay is not None:
            self.conversation.report_playout_delay(delay)

    def report(self, kind: str, message: str) -> None:
        """Once a kind: a provider that keeps sending the same bad thing must not flood
        the session's events."""
        if kind not in self._reported:
            self._reported.add(kind)
            self.conversation.report_error(message, source="media_stream")

    def _on_frame(self, frame: AudioFrame) -> None:
        self.clock.on_audio(frame.t_ms + frame.duration_ms)
        self.conversation.push_audio(frame)

    # ---- to the provider ---------------------------------------------------------------

    def _on_session_event(self, line: str) -> None:
        """Every session event passes here as a JSON line; a phone has no channel for
        them, but the reply's start, end and cut decide what is sent."""
        kind = _event_type(line)
        if kind == "reply_audio_start":
            self._playing = True
        elif kind in ("reply_audio_end", "reply_done"):
            self._playing = False
        elif kind == "reply_cancelled":
            self._playing = False
            self._interrupt()

    def _interrupt(self) -> None:
        """Barge-in: the provider drops the audio it holds, at once."""
        if self.closed or self.protocol.stream_sid is None:
            return
        self._sending = False
        self._encoder.reset()
        self.tasks.spawn(self._send([self.protocol.clear()]), "clear")

    async def _play(self) -> None:
        schedule = FrameSchedule(FRAME_MS / 1000, self._monotonic)
        while True:
            await schedule.wait()
            if not await self._send(self._outbound(self.conversation.pull_audio())):
                return

    def _outbound(self, pcm: np.ndarray) -> list[str]:
        """The messages for the agent's next 20 ms: none while all is quiet."""
        if not (self._playing or self._sending or pcm.any()):
            return []  # idle: the resampler holds nothing but silence, leave it be
        mulaw, silent = self._encoder.encode(pcm)
        now_ms = 1000.0 * self._monotonic()
        if silent and not self._playing:
            if self._sending:
                self._sending = False
                return self.protocol.end_of_audio(now_ms)
            return []
        self._sending = True
        return self.protocol.send_audio(mulaw, now_ms) if mulaw else []

    async def _send(self, lines: list[str]) -> bool:
        """False once the socket is gone (the receiving side then ends the call)."""
        try:
            for line in lines:
                await self._ws.send_str(line)
        except ConnectionError:
            return False
        return True


def _describe(event: InboundEvent | BadMessage) -> str:
    return event.describe() if isinstance(event, BadMessage) else type(event).__name__.lower()


def _event_type(line: str) -> str | None:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


class MediaStreamEndpoint:
    """The WebSocket route providers connect to; each socket carries one call."""

    def __init__(
        self,
        open_conversation: ConversationFactory,
        registry: SessionRegistry,
        limits: MediaStreamLimits = MediaStreamLimits(),
        monotonic: Callable[[], float] | None = None,
        transfer_targets: Mapping[str, str] | None = None,
    ) -> None:
        """`transfer_targets`: where the transfer tool may send a caller (name -> tel: or
        sip: URI), dialled by the provider when asked at `{path}/next`."""
        self._open = open_conversation
        self._targets = dict(transfer_targets or {})
        self.after = AfterStream()
        self._registry = registry
        self._limits = limits
        self._monotonic = monotonic

    def mount(self, app: web.Application, path: str = "/v1/media-stream") -> None:
        app.router.add_get(path, self.handle)
        app.router.add_post(f"{path.rstrip('/')}/next", self.after.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        # Base64 mu-law hardly compresses; per-message deflate would cost CPU and latency.
        ws = web.WebSocketResponse(max_msg_size=4 * MAX_MESSAGE_CHARS, compress=False)
        if not ws.can_prepare(request).ok:
            return web.json_response(
                {"error": "a WebSocket upgrade is expected (a provider's media stream)"},
                status=400,
            )
        await ws.prepare(request)
        monotonic = self._monotonic or asyncio.get_running_loop().time
        protocol = MediaStreamProtocol(self._limits.mark_every_ms)
        call: MediaStreamCall | None = None
        reason = "hangup"
        early = False
        try:
            while True:
                try:
                    msg = await ws.receive(timeout=self._limits.idle_timeout_s)
                except TimeoutError:
                    reason = "timeout"
                    break
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break  # closed, closing or failed
                event = protocol.receive(msg.data, 1000.0 * monotonic())
                if isinstance(event, Stop):
                    break
                if call is not None:
                    call.handle(event)
                elif isinstance(event, Start):
                    call = await self._start(ws, protocol, event, monotonic)
                    if call is None:
                        return ws
                elif not isinstance(event, Connected) and not early:
                    early = True  # once a socket: a provider may stream media every 20 ms
                    log.warning("media stream: %s before `start`, ignored", _describe(event))
        finally:
            if call is not None:
                await self._registry.close(call.id, reason)
        await ws.close()
        return ws

    async def _start(
        self,
        ws: web.WebSocketResponse,
        protocol: MediaStreamProtocol,
        start: Start,
        monotonic: Callable[[], float],
    ) -> MediaStreamCall | None:
        """The call, started and registered; None when it is refused (the socket closed
        with a code that says why)."""
        fmt = start.media_format
        if not fmt.supported:
            log.warning("media stream %s refused: %s", start.stream_sid, fmt)
            await ws.close(
                code=CLOSE_UNSUPPORTED,
                message=f"unsupported media format {fmt.encoding}/{fmt.sample_rate}/"
                f"{fmt.channels}: audio/x-mulaw/8000/1 only".encode()[:120],
            )
            return None
        if self._registry.full:
            await ws.close(code=CLOSE_TRY_AGAIN_LATER, message=b"server busy: too many sessions")
            return None
        sid = start.stream_sid
        if sid in self._registry.sessions:
            sid = secrets.token_urlsafe(8)
        call = MediaStreamCall(sid, ws, protocol, self._open, monotonic, self.after, self._targets)
        self._registry.add(call)
        await call.start()
        log.info("media stream %s for call %s started", start.stream_sid, start.call_sid)
        return call


def _call_sid(protocol: MediaStreamProtocol) -> str | None:
    """The provider's id of the call the stream carries, if its `start` gave one."""
    start = protocol.start
    return (start.call_sid or None) if start is not None else None
