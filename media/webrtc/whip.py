"""WHIP (RFC 9725): the standard signaling for WebRTC publishers, beside the page's JSON call.

`POST /v1/whip` with an SDP offer (`application/sdp`) answers `201 Created` with the SDP
answer and the session's URL in `Location`; `DELETE` on that URL hangs up. The call is the
same `WebRTCPeer` the JSON call makes (WebRTCSignaling.open_peer), so a WHIP client that
offers to receive audio hears the agent. No trickle ICE and no ICE restart (aiortc has
neither): `PATCH` gets `405`, as the RFC asks of a resource that supports neither.
Errors are `{"error": "<one line>"}`, as everywhere in the API.
"""

from __future__ import annotations

import re
import time

from aiohttp import web

from omnivox.media.webrtc.signaling import OfferError, WebRTCSignaling, error_response

SDP = "application/sdp"
_UFRAG = re.compile(r"^a=ice-ufrag:(\S+)", re.MULTILINE)


def _error(status: int, message: str, **headers: str) -> web.Response:
    response = error_response(status, message)
    response.headers.update(headers)
    return response


class WhipEndpoint:
    def __init__(self, signaling: WebRTCSignaling) -> None:
        self._signaling = signaling

    def mount(self, app: web.Application, prefix: str = "/v1/whip") -> None:
        self._prefix = prefix
        app.router.add_route("OPTIONS", prefix, self.options)
        app.router.add_post(prefix, self.publish)
        for method in ("GET", "HEAD", "PUT"):  # RFC 9725 section 4.2; not the static files
            app.router.add_route(method, prefix, self.not_allowed)
        resource = prefix + "/{session_id}"
        app.router.add_delete(resource, self.delete)
        app.router.add_patch(resource, self.patch)

    def _ice_links(self, call_id: str) -> list[str]:
        ice = self._signaling.ice
        return [link for s in ice.for_call(call_id, time.time()) for link in s.link_headers()]

    async def options(self, _request: web.Request) -> web.Response:
        """What the endpoint accepts, and (as drafts before the RFC did) its ICE servers."""
        resp = web.Response(status=204, headers={"Accept-Post": SDP, "Allow": "OPTIONS, POST"})
        for link in self._ice_links("whip"):
            resp.headers.add("Link", link)
        return resp

    async def not_allowed(self, _request: web.Request) -> web.Response:
        return _error(405, "POST an SDP offer here", Allow="OPTIONS, POST")

    async def publish(self, request: web.Request) -> web.Response:
        if request.content_type != SDP:
            return _error(415, f"the offer must be {SDP}", **{"Accept-Post": SDP})
        body = await self._signaling.read_offer(request)
        if body is None:
            return self._signaling.offer_too_large()
        try:
            sdp = body.decode("utf-8")
        except UnicodeDecodeError:
            return _error(400, "the offer is not UTF-8 text")
        if not sdp.strip():
            return _error(400, "empty offer")
        try:
            peer = await self._signaling.open_peer(sdp)
        except OfferError as err:
            extra = {"Retry-After": "5"} if err.status == 503 else {}
            return _error(err.status, err.message, **extra)
        peer.transport = "whip"
        answer = peer.pc.localDescription.sdp
        resp = web.Response(
            status=201,
            body=answer.encode(),
            content_type=SDP,
            headers={"Location": f"{self._prefix}/{peer.id}"},
        )
        if (ufrag := _UFRAG.search(answer)) is not None:
            # The ICE session's identity (RFC 9725 section 4.3.1); it never changes here.
            resp.headers["ETag"] = f'"{ufrag.group(1)}"'
        for link in self._ice_links(peer.id):
            resp.headers.add("Link", link)
        return resp

    async def delete(self, request: web.Request) -> web.Response:
        session_id = request.match_info["session_id"]
        registry = self._signaling.registry
        if session_id not in registry.sessions:
            return _error(404, "no such WHIP session")
        await registry.close(session_id, "hangup")
        return web.Response(status=200)

    async def patch(self, _request: web.Request) -> web.Response:
        return _error(
            405, "no trickle ICE or ICE restart: send every candidate in the offer", Allow="DELETE"
        )
