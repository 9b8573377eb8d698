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
import time
from dataclasses import dataclass

from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription

from omnivox.media.sessions import SessionRegistry
from omnivox.media.transport import ConversationFactory
from omnivox.media.webrtc.ice import IceServers
from omnivox.media.webrtc.liveness import Liveness, tolerate_late_consent_answers
from omnivox.media.webrtc.peer import WebRTCPeer

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 30.0
LIVENESS_POLL_S = 0.25


@dataclass(frozen=True, slots=True)
class SignalingLimits:
    max_sdp_bytes: int = 64_000
    ice_gather_timeout_s: float = 5.0
    video_max_fps: float = 2.0
    """Camera frames a peer hands on per second (the rest are read and dropped)."""
    media_timeout_s: float = 3.0
    """A connected peer that sends no audio this long has vanished and is closed."""


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class OfferError(Exception):
    """An offer that cannot be answered: the HTTP status and a one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class WebRTCSignaling:
    def __init__(
        self,
        open_conversation: ConversationFactory,
        registry: SessionRegistry,
        limits: SignalingLimits,
        ice: IceServers | None = None,
    ) -> None:
        self._open = open_conversation
        self.registry = registry
        self.limits = limits
        self.ice = ice or IceServers()
        tolerate_late_consent_answers()  # the watchdog finds vanished peers instead

    def mount(self, app: web.Application, prefix: str = "/v1/sessions") -> None:
        app.router.add_post(prefix, self.create)
        app.router.add_delete(prefix + "/{session_id}", self.delete)
        app.router.add_get("/v1/ice-servers", self.ice_servers)

    async def ice_servers(self, _request: web.Request) -> web.Response:
        """The page's RTCConfiguration, fetched before it makes its peer connection;
        minted TURN credentials make it uncacheable."""
        config = self.ice.page_configuration(secrets.token_urlsafe(8), time.time())
        return web.json_response(config, headers={"Cache-Control": "no-store"})

    async def read_offer(self, request: web.Request) -> bytes | None:
        """The request's body, or None if it is larger than an offer may be (read no
        further than the limit: a client cannot make the server buffer more)."""
        max_bytes = self.limits.max_sdp_bytes
        if request.content_length is not None and request.content_length > max_bytes:
            return None
        body = await request.content.read(max_bytes + 1)
        return None if len(body) > max_bytes else body

    def offer_too_large(self) -> web.Response:
        return error_response(413, f"offer too large (limit {self.limits.max_sdp_bytes} bytes)")

    async def create(self, request: web.Request) -> web.Response:
        body = await self.read_offer(request)
        if body is None:
            return self.offer_too_large()
        try:
            offer = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return error_response(400, 'body must be JSON: {"sdp": "...", "type": "offer"}')
        if not isinstance(offer, dict) or not isinstance(offer.get("sdp"), str):
            return error_response(400, 'body must be a JSON object with a string "sdp"')
        if offer.get("type") != "offer":
            return error_response(400, '"type" must be "offer"')
        echo_cancel = offer.get("echo_cancel", False)
        if not isinstance(echo_cancel, bool):
            return error_response(400, '"echo_cancel" must be true or false')
        try:
            peer = await self.open_peer(offer["sdp"], echo_cancel=echo_cancel)
        except OfferError as err:
            return error_response(err.status, err.message)
        local = peer.pc.localDescription
        return web.json_response({"sdp": local.sdp, "type": local.type, "session_id": peer.id})

    async def open_peer(self, sdp: str, *, echo_cancel: bool = False) -> WebRTCPeer:
        """A registered, started call answering the offer `sdp` (its answer is the peer
        connection's local description); OfferError when there is none to be had.
        `echo_cancel`: the page turned its browser's echo canceller off and asks the
        server to cancel the agent's echo, with the exact reference it plays."""
        if "m=audio" not in sdp:
            raise OfferError(400, "the offer has no audio section (m=audio)")
        if self.registry.full:
            raise OfferError(503, "server busy: too many sessions, try again later")
        session_id = secrets.token_urlsafe(8)
        pc = RTCPeerConnection(self.ice.rtc_configuration(session_id, time.time()))
        # Before the offer is applied: aiortc fires "track" while applying it.
        peer = WebRTCPeer(session_id, pc, self._open, self.limits.video_max_fps)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                reason = f"connection_{pc.connectionState}"
                peer.spawn(self.registry.close(peer.id, reason), "close")

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as err:  # aiortc raises many types for bad SDP
            await pc.close()
            raise OfferError(400, f"malformed SDP offer: {err or type(err).__name__}") from None
        pc.addTrack(peer.agent_track())
        try:
            answer = await pc.createAnswer()
            await asyncio.wait_for(pc.setLocalDescription(answer), self.limits.ice_gather_timeout_s)
        except Exception as err:
            # aiortc's own close can trip over a half-applied offer (found by the fuzz test)
            with contextlib.suppress(Exception):
                await pc.close()
            log.warning("answer failed: %s", err)
            raise OfferError(
                400, f"cannot answer this offer: {err or type(err).__name__}"
            ) from None
        self.registry.add(peer)
        if echo_cancel:
            peer.conversation.cancel_echo()
        await peer.conversation.start()
        peer.spawn(self._watchdog(peer), "watchdog")
        return peer

    async def _watchdog(self, peer: WebRTCPeer) -> None:
        """A peer that never connects, or vanishes without hanging up, must not hold a
        session slot (and its reply's work) for long."""
        loop = asyncio.get_running_loop()
        connect_by = loop.time() + CONNECT_TIMEOUT_S
        liveness = Liveness(self.limits.media_timeout_s)
        while not peer.closed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(peer.closed.wait(), LIVENESS_POLL_S)
            connected = peer.pc.connectionState == "connected"
            if not connected and loop.time() > connect_by:
                await self.registry.close(peer.id, "connect_timeout")
            elif liveness.vanished(loop.time(), peer.audio_in.samples, connected):
                await self.registry.close(peer.id, "media_timeout")
            connect_by = loop.time() + CONNECT_TIMEOUT_S if connected else connect_by

    async def delete(self, request: web.Request) -> web.Response:
        session_id = request.match_info["session_id"]
        if session_id not in self.registry.sessions:
            return error_response(404, "no such session")
        await self.registry.close(session_id, "hangup")
        return web.json_response({"closed": session_id})
