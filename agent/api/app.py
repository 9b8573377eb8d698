"""The HTTP app: the web page, health, and the transports and APIs it mounts.

The app is not a transport itself: WebRTC signaling (media/webrtc) is mounted on it with
a factory that opens one `Session` per call, and every transport's sessions share one
registry (limits, health, shutdown).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from aiohttp import web

from omnivox.agent.api.telephony import start_sip
from omnivox.agent.config import AgentConfig
from omnivox.agent.events import Event
from omnivox.agent.session import Session
from omnivox.agent.stack import ModelStack
from omnivox.media.clock import Clock
from omnivox.media.media_streams.stream import MediaStreamEndpoint
from omnivox.media.sessions import SessionRegistry
from omnivox.media.sip.endpoint import SipEndpoint
from omnivox.media.webrtc.signaling import SignalingLimits, WebRTCSignaling

event_log = logging.getLogger("omnivox.events")

REGISTRY: web.AppKey[SessionRegistry] = web.AppKey("registry", SessionRegistry)


def web_root() -> Path:
    return Path(str(resources.files("omnivox.web")))


def session_factory(
    config: AgentConfig, stack: ModelStack
) -> Callable[[str, Clock, Callable[[str], None]], Session]:
    """Opens one conversation per call; its events go to the far end and the log."""

    def open_session(session_id: str, clock: Clock, send: Callable[[str], None]) -> Session:
        def sink(event: Event) -> None:
            line = event.to_json()
            event_log.log(event.type.log_level, line)
            send(line)

        return Session(session_id, config, stack, clock, sink)

    return open_session


async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(web_root() / "index.html")


async def _health(request: web.Request) -> web.Response:
    registry = request.app[REGISTRY]
    return web.json_response({"status": "ok", "sessions": len(registry)})


def create_app(config: AgentConfig, stack: ModelStack) -> web.Application:
    server = config.server
    app = web.Application(client_max_size=server.max_sdp_bytes + 1024)
    registry = SessionRegistry(server.max_sessions)
    app[REGISTRY] = registry
    app.router.add_get("/", _index)
    app.router.add_get("/v1/health", _health)
    limits = SignalingLimits(
        server.max_sdp_bytes, server.ice_gather_timeout_s, config.camera.max_fps
    )
    open_session = session_factory(config, stack)
    WebRTCSignaling(open_session, registry, limits).mount(app)
    if server.media_stream_path is not None:
        MediaStreamEndpoint(open_session, registry).mount(app, server.media_stream_path)
    # Last, so the API routes above win; the page's modules load by relative path.
    app.router.add_static("/", web_root(), show_index=False)
    phones: list[SipEndpoint] = []

    async def startup(_app: web.Application) -> None:
        if config.telephony.sip is not None:
            phones.append(await start_sip(config.telephony, open_session, registry))

    async def shutdown(_app: web.Application) -> None:
        for endpoint in phones:
            await endpoint.close()
        await registry.close_all()
        close = getattr(stack.thinker, "close", None)  # HTTP backends hold a client session
        if close is not None:
            await close()

    app.on_startup.append(startup)
    app.on_shutdown.append(shutdown)
    return app
