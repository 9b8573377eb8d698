"""The HTTP app: the web page, health, and the transports and APIs it mounts.

The app is not a transport itself: WebRTC signaling (media/webrtc) is mounted on it with
a factory that opens one `Session` per call, and every transport's sessions share one
registry (limits, health, shutdown).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from aiohttp import web

from omnivox.agent.api.access.guard import AccessGuard
from omnivox.agent.api.lifecycle import Lifecycle
from omnivox.agent.api.metrics import SessionMetrics
from omnivox.agent.api.realtime.endpoint import RealtimeEndpoint
from omnivox.agent.api.telephony import start_sip
from omnivox.agent.config import AgentConfig
from omnivox.agent.events import Event
from omnivox.agent.journal import Journal, prepare_folder
from omnivox.agent.session import Session
from omnivox.agent.stack import ModelStack
from omnivox.media.call_control import CallControl
from omnivox.media.clock import Clock
from omnivox.media.media_streams.stream import MediaStreamEndpoint
from omnivox.media.sessions import SessionRegistry
from omnivox.media.sip.endpoint import SipEndpoint
from omnivox.media.transport import ConversationFactory
from omnivox.media.webrtc.signaling import SignalingLimits, WebRTCSignaling
from omnivox.media.webrtc.whip import WhipEndpoint

event_log = logging.getLogger("omnivox.events")

REGISTRY: web.AppKey[SessionRegistry] = web.AppKey("registry", SessionRegistry)
SIP_ENDPOINTS: web.AppKey[list[SipEndpoint]] = web.AppKey("sip_endpoints", list)
LIFECYCLE: web.AppKey[Lifecycle] = web.AppKey("lifecycle", Lifecycle)
ACCESS: web.AppKey[AccessGuard] = web.AppKey("access", AccessGuard)
METRICS: web.AppKey[SessionMetrics] = web.AppKey("metrics", SessionMetrics)


def web_root() -> Path:
    return Path(str(resources.files("omnivox.web")))


def session_factory(
    config: AgentConfig,
    stack: ModelStack,
    opened: Callable[[Session], None] | None = None,
    observe: Callable[[Event], None] | None = None,
) -> ConversationFactory[Session]:
    """Opens one conversation per call; its events go to the far end, the log, the
    journal (when `journal.dir` is set) and `observe` (the metrics). `opened` is told of
    each."""
    folder = prepare_folder(config.journal.dir) if config.journal.dir is not None else None

    def open_session(
        session_id: str,
        clock: Clock,
        send: Callable[[str], None],
        /,
        call: CallControl | None = None,
    ) -> Session:
        journal = Journal(folder, session_id) if folder is not None else None

        def sink(event: Event) -> None:
            line = event.to_json()
            event_log.log(event.type.log_level, line)
            if journal is not None:
                journal(event)
            if observe is not None:
                observe(event)
            send(line)

        session = Session(session_id, config, stack, clock, sink, call)
        if opened is not None:
            opened(session)
        return session

    return open_session


async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(web_root() / "index.html")


def create_app(config: AgentConfig, stack: ModelStack) -> web.Application:
    server = config.server
    max_body = max(server.max_sdp_bytes + 1024, config.access.max_body_bytes)
    app = web.Application(client_max_size=max_body)
    registry = SessionRegistry(server.max_sessions)
    app[REGISTRY] = registry
    # Outermost first: a draining server refuses before anything else is asked.
    lifecycle = app[LIFECYCLE] = Lifecycle(registry)
    app.middlewares.append(lifecycle.middleware)
    access = app[ACCESS] = AccessGuard.from_env(config.access, registry, os.environ)
    access.mount(app)
    app.router.add_get("/", _index)
    app.router.add_get("/v1/health", lifecycle.health)
    metrics = app[METRICS] = SessionMetrics(registry)
    app.router.add_get("/metrics", metrics.handle)
    limits = SignalingLimits(
        server.max_sdp_bytes,
        server.ice_gather_timeout_s,
        config.camera.max_fps,
        server.media_timeout_s,
    )
    open_session = session_factory(
        config, stack, lifecycle.conversations.add, observe=metrics.observe
    )
    webrtc = WebRTCSignaling(open_session, registry, limits, server.ice())
    webrtc.mount(app)
    WhipEndpoint(webrtc).mount(app)
    if server.media_stream_path is not None:
        MediaStreamEndpoint(
            open_session, registry, transfer_targets=config.telephony.transfer_targets
        ).mount(app, server.media_stream_path)
    if server.realtime_path is not None:
        RealtimeEndpoint(open_session, registry, config.system_prompt).mount(
            app, server.realtime_path
        )
    # Last, so the API routes above win; the page's modules load by relative path.
    app.router.add_static("/", web_root(), show_index=False)
    phones: list[SipEndpoint] = []
    app[SIP_ENDPOINTS] = phones

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
