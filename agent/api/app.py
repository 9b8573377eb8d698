"""HTTP server: the web page, WebRTC signaling, and the live session registry.

Signaling is one POST: the page sends its complete SDP offer (aiortc has no trickle ICE)
and gets the answer. Each session is one aiortc peer connection: mic audio in, optional
camera video in, agent audio out, and an `events` data channel to the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
from importlib import resources
from pathlib import Path
from typing import Any, TypeGuard

from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcdatachannel import RTCDataChannel

from omnivox.agent.config import AgentConfig
from omnivox.agent.events import Event
from omnivox.agent.session import Session
from omnivox.agent.stack import ModelStack
from omnivox.media.clock import MediaClock
from omnivox.media.frames import AudioFrame
from omnivox.media.webrtc.tracks import AgentAudioTrack, InboundAudio, InboundVideo, frame_to_rgb

log = logging.getLogger(__name__)
event_log = logging.getLogger("omnivox.events")

MAX_BACKLOG = 500
"""Events kept for the page until its data channel opens."""
CONNECT_TIMEOUT_S = 30.0


def web_root() -> Path:
    return Path(str(resources.files("omnivox.web")))


class LiveSession:
    """A Session bound to one peer connection, with the tasks that feed it."""

    def __init__(
        self, session_id: str, pc: RTCPeerConnection, config: AgentConfig, stack: ModelStack
    ) -> None:
        self.id = session_id
        self.pc = pc
        self.clock = MediaClock()
        self.session = Session(session_id, config, stack, self.clock, self._send)
        self.channel: RTCDataChannel | None = None
        self._backlog: list[str] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.audio_in = InboundAudio(self._on_audio)
        self.video_in = InboundVideo(
            lambda frame: self.session.push_video(frame_to_rgb(frame)), config.camera.max_fps
        )
        self.closed = asyncio.Event()
        self._bad_message_reported = False

    def spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=f"{self.id}:{name}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _on_audio(self, frame: AudioFrame) -> None:
        self.clock.on_audio(frame.t_ms + frame.duration_ms)
        self.session.push_audio(frame)

    def attach_channel(self, channel: RTCDataChannel) -> None:
        if channel.label != "events":
            return
        self.channel = channel
        channel.on("message", self._on_message)
        backlog, self._backlog = self._backlog, []
        for line in backlog:
            channel.send(line)

    def _on_message(self, message: object) -> None:
        """Messages from the page: playout reports (other types are for newer servers).
        An unreadable one is reported once and ignored: a foreign page must not break
        the call."""
        data = _page_message(message)
        if data is None:
            if not self._bad_message_reported:
                self._bad_message_reported = True
                self._send(
                    Event(
                        "error",
                        self.clock.now_ms(),
                        {
                            "message": "unreadable message from the page: expected a JSON "
                            'object with a "type", like {"type": "playout", "delay_ms": 40}',
                            "source": "data_channel",
                        },
                    )
                )
            return
        delay = data.get("delay_ms")
        if data["type"] == "playout" and _is_real(delay) and delay >= 0:
            self.session.report_playout_delay(float(delay))

    def _send(self, event: Event) -> None:
        line = event.to_json()
        if event.type in ("turn_metrics", "reply_cancelled", "error", "session_ended"):
            event_log.info(line)
        else:
            event_log.debug(line)
        ch = self.channel
        if ch is not None and ch.readyState == "open":
            ch.send(line)
        elif ch is None and len(self._backlog) < MAX_BACKLOG:
            self._backlog.append(line)


def _page_message(message: object) -> dict[str, Any] | None:
    """A data channel message as a JSON object with a string `type`, else None."""
    if not isinstance(message, str) or len(message) > 4096:
        return None
    try:
        data = json.loads(message)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return None
    return data


def _is_real(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class SessionRegistry:
    def __init__(self) -> None:
        self.sessions: dict[str, LiveSession] = {}

    def __len__(self) -> int:
        return len(self.sessions)

    def running_tasks(self) -> int:
        """Tasks still running for live sessions (zero once everything has closed)."""
        return sum(1 for live in self.sessions.values() for t in live.tasks if not t.done())

    async def close(self, session_id: str, reason: str) -> None:
        live = self.sessions.pop(session_id, None)
        if live is None:
            return
        live.closed.set()
        await live.session.close(reason)
        tasks = [t for t in live.tasks if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await live.pc.close()
        log.info("session %s closed (%s)", session_id, reason)

    async def close_all(self) -> None:
        for sid in list(self.sessions):
            await self.close(sid, "server_shutdown")


REGISTRY: web.AppKey[SessionRegistry] = web.AppKey("registry", SessionRegistry)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class Signaling:
    def __init__(self, config: AgentConfig, stack: ModelStack, registry: SessionRegistry) -> None:
        self.config = config
        self.stack = stack
        self.registry = registry

    async def create(self, request: web.Request) -> web.Response:
        limits = self.config.server
        if request.content_length is not None and request.content_length > limits.max_sdp_bytes:
            return _error(413, f"offer too large (limit {limits.max_sdp_bytes} bytes)")
        body = await request.content.read(limits.max_sdp_bytes + 1)
        if len(body) > limits.max_sdp_bytes:
            return _error(413, f"offer too large (limit {limits.max_sdp_bytes} bytes)")
        try:
            offer = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _error(400, 'body must be JSON: {"sdp": "...", "type": "offer"}')
        if not isinstance(offer, dict) or not isinstance(offer.get("sdp"), str):
            return _error(400, 'body must be a JSON object with a string "sdp"')
        if offer.get("type") != "offer":
            return _error(400, '"type" must be "offer"')
        if "m=audio" not in offer["sdp"]:
            return _error(400, "the offer has no audio section (m=audio)")
        if len(self.registry) >= limits.max_sessions:
            return _error(503, "server busy: too many sessions, try again later")
        return await self._answer(offer["sdp"])

    async def _answer(self, sdp: str) -> web.Response:
        pc = RTCPeerConnection()
        session_id = secrets.token_urlsafe(8)
        live = LiveSession(session_id, pc, self.config, self.stack)
        self._wire(live)  # before the offer is applied: aiortc fires "track" while applying it
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as err:  # aiortc raises many types for bad SDP
            await pc.close()
            return _error(400, f"malformed SDP offer: {err or type(err).__name__}")
        pc.addTrack(AgentAudioTrack(live.session.pull_audio))
        try:
            answer = await pc.createAnswer()
            await asyncio.wait_for(
                pc.setLocalDescription(answer), self.config.server.ice_gather_timeout_s
            )
        except Exception as err:
            await pc.close()
            log.warning("answer failed: %s", err)
            return _error(400, f"cannot answer this offer: {err or type(err).__name__}")
        self.registry.sessions[session_id] = live
        await live.session.start()
        live.spawn(self._watchdog(live), "watchdog")
        local = pc.localDescription
        return web.json_response({"sdp": local.sdp, "type": local.type, "session_id": session_id})

    def _wire(self, live: LiveSession) -> None:
        pc = live.pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                live.spawn(live.audio_in.consume(track), "audio-in")
            elif track.kind == "video":
                live.spawn(live.video_in.consume(track), "video-in")

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            live.attach_channel(channel)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                live.spawn(
                    self.registry.close(live.id, f"connection_{pc.connectionState}"), "close"
                )

    async def _watchdog(self, live: LiveSession) -> None:
        """A peer that never connects must not hold a session slot forever."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(live.closed.wait(), CONNECT_TIMEOUT_S)
            return
        if live.pc.connectionState != "connected":
            await self.registry.close(live.id, "connect_timeout")

    async def delete(self, request: web.Request) -> web.Response:
        session_id = request.match_info["session_id"]
        if session_id not in self.registry.sessions:
            return _error(404, "no such session")
        await self.registry.close(session_id, "hangup")
        return web.json_response({"closed": session_id})


async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(web_root() / "index.html")


async def _health(request: web.Request) -> web.Response:
    registry = request.app[REGISTRY]
    return web.json_response({"status": "ok", "sessions": len(registry)})


def create_app(config: AgentConfig, stack: ModelStack) -> web.Application:
    app = web.Application(client_max_size=config.server.max_sdp_bytes + 1024)
    registry = SessionRegistry()
    signaling = Signaling(config, stack, registry)
    app[REGISTRY] = registry
    app.router.add_get("/", _index)
    app.router.add_get("/v1/health", _health)
    app.router.add_post("/v1/sessions", signaling.create)
    app.router.add_delete("/v1/sessions/{session_id}", signaling.delete)
    # Last, so the API routes above win; the page's modules load by relative path.
    app.router.add_static("/", web_root(), show_index=False)

    async def shutdown(_app: web.Application) -> None:
        await registry.close_all()
        close = getattr(stack.thinker, "close", None)  # HTTP backends hold a client session
        if close is not None:
            await close()

    app.on_shutdown.append(shutdown)
    return app
