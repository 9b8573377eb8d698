"""The omnivox web app served in this process on an ephemeral port (tests, benchmarks).

async with serving(config, build_stack(config)) as server:
    ...  # server.url, server.registry (the live sessions)
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from omnivox.agent.api.app import REGISTRY, SessionRegistry, create_app
from omnivox.agent.config import AgentConfig
from omnivox.agent.stack import ModelStack


@dataclass
class RunningServer:
    url: str
    registry: SessionRegistry
    app: web.Application


@contextlib.asynccontextmanager
async def serving(
    config: AgentConfig, stack: ModelStack, tls: ssl.SSLContext | None = None
) -> AsyncIterator[RunningServer]:
    """The app for `config` on `stack`'s models, listening on 127.0.0.1 until the block
    ends; over TLS with `tls` (clients that insist on https and wss)."""
    app = create_app(config, stack)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    scheme = "https" if tls is not None else "http"
    try:
        yield RunningServer(f"{scheme}://127.0.0.1:{port}", app[REGISTRY], app)
    finally:
        await runner.cleanup()
