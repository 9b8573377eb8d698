"""The server's life: serving, and on SIGTERM a bounded drain.

On SIGTERM (or Ctrl-C) the server stops taking sessions (503 with a JSON body; health
says `draining` with a 503, so a load balancer stops sending), lets the replies being
spoken finish for up to `drain_timeout_s`, closes every session (their journals get
their last turn) and exits 0. A second signal skips the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import weakref
from collections.abc import Awaitable, Callable

from aiohttp import web

from omnivox.agent.api.access.guard import API_PREFIX, creates_session
from omnivox.agent.session import Session
from omnivox.media.sessions import SessionRegistry
from omnivox.media.webrtc.signaling import error_response

log = logging.getLogger(__name__)

POLL_S = 0.1

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Lifecycle:
    def __init__(self, registry: SessionRegistry) -> None:
        self._registry = registry
        self.conversations: weakref.WeakSet[Session] = weakref.WeakSet()
        """Every conversation opened (for the replies still being spoken)."""
        self.draining = False
        self._skip_wait = asyncio.Event()

    def replies_in_flight(self) -> int:
        return sum(1 for s in self.conversations if not s.closed and s.replies.current)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.draining and request.path.startswith(API_PREFIX) and creates_session(request):
            return error_response(503, "server draining: try another worker or again later")
        return await handler(request)

    async def health(self, request: web.Request) -> web.Response:
        status = "draining" if self.draining else "ok"
        # Live asyncio tasks: what a soak compares before and after its sessions.
        body = {
            "status": status,
            "sessions": len(self._registry),
            "tasks": len(asyncio.all_tasks()),
        }
        return web.json_response(body, status=503 if self.draining else 200)

    async def drain(self, timeout_s: float) -> None:
        """Refuse new sessions, wait (bounded) for replies in flight, close everything."""
        self.draining = self._registry.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        waiting = self.replies_in_flight()
        log.info("draining: %d sessions, %d replies in flight", len(self._registry), waiting)
        while self.replies_in_flight() and loop.time() < deadline:
            with contextlib.suppress(TimeoutError):  # polled: a reply ends on any frame
                await asyncio.wait_for(self._skip_wait.wait(), POLL_S)
                break
        await self._registry.close_all()

    def skip_wait(self) -> None:
        self._skip_wait.set()


async def serve(
    app: web.Application, lifecycle: Lifecycle, host: str, port: int, drain_timeout_s: float
) -> None:
    """Serve until SIGTERM or SIGINT, then drain and clean up."""
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if stop.is_set():
                lifecycle.skip_wait()
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        await stop.wait()
        await lifecycle.drain(drain_timeout_s)
    finally:
        await runner.cleanup()
