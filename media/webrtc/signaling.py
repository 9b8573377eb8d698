"""WebRTC signaling over HTTP: the page POSTs its complete SDP offer and gets the answer.

aiortc has no trickle ICE, so the offer carries every candidate and the answer is sent
once gathering is done (bounded by `ice_gather_timeout_s`). Bad input of any kind gets
a 4xx with a one-line reason; a peer that never connects frees its slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from dataclasses import dataclass

from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription

from omnivox.media.sessions import SessionRegistry
from omnivox.media.transport import ConversationFactory
from omnivox.media.webrtc.peer import WebRTCPeer

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class SignalingLimits:
    max_sdp_bytes: int = 64_000
    ice_gather_timeout_s: float = 5.0
    video_max_fps: float = 2.0
    """Camera frames a peer hands on per second (the rest are read and dropped)."""


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class WebRTCSignaling:
    def __init__(
        self,
        open_conversation: ConversationFactory,
        registry: SessionRegistry,
        limits: SignalingLimits,
    ) -> None:
        self._open = open_conversation
        self._registry = registry
        self._limits = limits

    def mount(self, app: web.Application, prefix: str = "/v1/sessions") -> None:
        app.router.add_post(prefix, self.create)
        app.router.add_delete(prefix + "/{session_id}", self.delete)

    async def create(self, request: web.Request) -> web.Response:
        max_bytes = self._limits.max_sdp_bytes
        too_large = error_response(413, f"offer too large (limit {max_bytes} bytes)")
        if request.content_length is not None and request.content_length > max_bytes:
            return too_large
        body = await request.content.read(max_bytes + 1)
        if len(body) > max_bytes:
            return too_large
        try:
            offer = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return error_response(400, 'body must be JSON: {"sdp": "...", "type": "offer"}')
        if not isinstance(offer, dict) or not isinstance(offer.get("sdp"), str):
            return error_response(400, 'body must be a JSON object with a string "sdp"')
        if offer.get("type") != "offer":
            return error_response(400, '"type" must be "offer"')
        if "m=audio" not in offer["sdp"]:
            return error_response(400, "the offer has no audio section (m=audio)")
        if self._registry.full:
            return error_response(503, "server busy: too many sessions, try again later")
        return await self._answer(offer["sdp"])

    async def _answer(self, sdp: str) -> web.Response:
        pc = RTCPeerConnection()
        # Before the offer is applied: aiortc fires "track" while applying it.
        peer = WebRTCPeer(secrets.token_urlsafe(8), pc, self._open, self._limits.video_max_fps)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                reason = f"connection_{pc.connectionState}"
                peer.spawn(self._registry.close(peer.id, reason), "close")

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as err:  # aiortc raises many types for bad SDP
            await pc.close()
            return error_response(400, f"malformed SDP offer: {err or type(err).__name__}")
        pc.addTrack(peer.agent_track())
        try:
            answer = await pc.createAnswer()
            await asyncio.wait_for(
                pc.setLocalDescription(answer), self._limits.ice_gather_timeout_s
            )
        except Exception as err:
            await pc.close()
            log.warning("answer failed: %s", err)
            return error_response(400, f"cannot answer this offer: {err or type(err).__name__}")
        self._registry.add(peer)
        await peer.conversation.start()
        peer.spawn(self._watchdog(peer), "watchdog")
        local = pc.localDescription
        return web.json_response({"sdp": local.sdp, "type": local.type, "session_id": peer.id})

    async def _watchdog(self, peer: WebRTCPeer) -> None:
        """A peer that never connects must not hold a session slot forever."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(peer.closed.wait(), CONNECT_TIMEOUT_S)
            return
        if peer.pc.connectionState != "connected":
            await self._registry.close(peer.id, "connect_timeout")

    async def delete(self, request: web.Request) -> web.Response:
        session_id = request.match_info["session_id"]
        if session_id not in self._registry.sessions:
            return error_response(404, "no such session")
        await self._registry.close(session_id, "hangup")
        return web.json_response({"closed": session_id})
