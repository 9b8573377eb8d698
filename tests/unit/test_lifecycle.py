"""Draining: refuse new sessions, report it, let replies finish (bounded), close all."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from omnivox.agent.api.lifecycle import Lifecycle
from omnivox.media.sessions import SessionRegistry


class FakeTransport:
    def __init__(self, sid: str) -> None:
        self.id = sid
        self.running_tasks = 0
        self.closed_with: str | None = None

    async def close(self, reason: str) -> None:
        self.closed_with = reason


class FakeConversation:
    def __init__(self, replying: bool) -> None:
        self.closed = False
        self.replies = SimpleNamespace(current=object() if replying else None)


def conversation(replying: bool) -> Any:
    return FakeConversation(replying)


async def ok(_request: web.Request) -> web.Response:
    return web.json_response({})


async def test_health_and_new_sessions_while_draining() -> None:
    registry = SessionRegistry(4)
    life = Lifecycle(registry)
    health = await life.health(make_mocked_request("GET", "/v1/health"))
    assert health.status == 200
    await life.drain(0.0)
    health = await life.health(make_mocked_request("GET", "/v1/health"))
    assert health.status == 503 and json.loads(health.text or "")["status"] == "draining"
    refused = await life.middleware(make_mocked_request("POST", "/v1/whip"), ok)
    assert refused.status == 503
    assert "draining" in json.loads(getattr(refused, "text", "") or "")["error"]
    ws = make_mocked_request("GET", "/v1/realtime", headers={"Upgrade": "websocket"})
    assert (await life.middleware(ws, ok)).status == 503
    # hang-ups and the page still work; every transport sees the registry full
    assert (
        await life.middleware(make_mocked_request("DELETE", "/v1/sessions/x"), ok)
    ).status == 200
    assert (await life.middleware(make_mocked_request("GET", "/"), ok)).status == 200
    assert registry.full


async def test_drain_waits_for_replies_in_flight_then_closes_every_session() -> None:
    registry = SessionRegistry(4)
    life = Lifecycle(registry)
    transport = FakeTransport("a")
    registry.add(transport)
    speaking = conversation(replying=True)
    life.conversations.add(speaking)
    drain = asyncio.create_task(life.drain(10.0))
    await asyncio.sleep(0.3)
    assert not drain.done() and transport.closed_with is None
    speaking.replies.current = None  # the reply played out
    await asyncio.wait_for(drain, 2.0)
    assert transport.closed_with == "server_shutdown" and len(registry) == 0


async def test_drain_is_bounded_and_a_second_signal_skips_the_wait() -> None:
    registry = SessionRegistry(4)
    life = Lifecycle(registry)
    keep = conversation(replying=True)
    life.conversations.add(keep)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await life.drain(0.3)
    assert 0.25 <= loop.time() - t0 < 2.0
    life = Lifecycle(registry)
    life.conversations.add(keep)
    drain = asyncio.create_task(life.drain(60.0))
    await asyncio.sleep(0.05)
    life.skip_wait()
    await asyncio.wait_for(drain, 2.0)
