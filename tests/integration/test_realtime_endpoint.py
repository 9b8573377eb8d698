"""The `/v1/realtime` shell against the real server, with a plain WebSocket client: bad
input answered and survived, limits, hang-up and shutdown."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import aiohttp

from omnivox.agent.config import parse_config
from omnivox.lab.local_server import serving
from tests.integration.conftest import TEST_CONFIG, shared_stack
from tests.integration.test_realtime_sdk import until


async def next_event(ws: aiohttp.ClientWebSocketResponse, within_s: float = 5) -> dict[str, Any]:
    msg = await ws.receive(timeout=within_s)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    event: dict[str, Any] = json.loads(msg.data)
    return event


async def test_bad_events_get_errors_and_the_socket_stays_open() -> None:
    config = parse_config({**TEST_CONFIG, "server": {"max_sessions": 1}}, "one session")
    async with (
        serving(config, shared_stack()) as server,
        aiohttp.ClientSession() as http,
        http.ws_connect(server.url + "/v1/realtime?model=mine") as ws,
    ):
        created = await next_event(ws)
        assert created["type"] == "session.created"
        assert created["session"]["model"] == "mine"
        for bad in ("not json", '{"type": "session.explode", "event_id": "e1"}', "[]"):
            await ws.send_str(bad)
            error = await next_event(ws)
            assert error["type"] == "error" and error["error"]["message"]
        await ws.send_bytes(b"\x00\x01")
        assert (await next_event(ws))["error"]["code"] == "invalid_event"
        odd = {"type": "input_audio_buffer.append", "audio": "AAAA"}  # 3 bytes: half a sample
        await ws.send_str(json.dumps(odd))
        assert (await next_event(ws))["error"]["param"] == "audio"
        await ws.send_str(json.dumps({"type": "session.update", "session": {"instructions": "x"}}))
        assert (await next_event(ws))["type"] == "session.updated"

        async with http.ws_connect(server.url + "/v1/realtime") as second:
            msg = await second.receive(timeout=5)
            assert msg.type == aiohttp.WSMsgType.CLOSE and second.close_code == 1013
        async with http.get(server.url + "/v1/realtime") as resp:
            assert resp.status == 400
            assert (await resp.json())["error"]["code"] == "websocket_expected"
        await ws.close()
        await until(lambda: len(server.registry) == 0, 5, "the session to close")
        assert server.registry.running_tasks() == 0


async def test_server_shutdown_closes_realtime_sockets() -> None:
    async with (
        aiohttp.ClientSession() as http,
        serving(parse_config(TEST_CONFIG, "test"), shared_stack()) as server,
        http.ws_connect(server.url + "/v1/realtime") as ws,
    ):
        assert (await next_event(ws))["type"] == "session.created"
        await server.app.shutdown()
        while (msg := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT:
            pass  # events sent before the close
        assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 1001
        assert len(server.registry) == 0 and server.registry.running_tasks() == 0


async def test_response_cancel_stops_the_answer_at_once() -> None:
    async with (
        serving(parse_config(TEST_CONFIG, "test"), shared_stack()) as server,
        aiohttp.ClientSession() as http,
        http.ws_connect(server.url + "/v1/realtime") as ws,
    ):
        assert (await next_event(ws))["type"] == "session.created"
        question = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "What are your opening hours?"}],
        }
        await ws.send_str(json.dumps({"type": "conversation.item.create", "item": question}))
        await ws.send_str(json.dumps({"type": "response.create"}))
        while (event := await next_event(ws))["type"] != "response.output_audio.delta":
            assert event["type"] != "error", event
        await ws.send_str(json.dumps({"type": "response.cancel"}))
        while (event := await next_event(ws))["type"] != "response.done":
            pass
        assert event["response"]["status"] == "cancelled"
        assert event["response"]["status_details"]["reason"] == "client_cancelled"
        after = []
        with contextlib.suppress(TimeoutError):
            while True:
                after.append((await next_event(ws, within_s=0.5))["type"])
        assert "response.output_audio.delta" not in after
        history = server.registry.sessions  # the history keeps what was sent
        (conn,) = history.values()
        said = conn.session.replies.history.messages[-1]  # type: ignore[attr-defined]
        assert said.role == "assistant" and said.content.endswith("…")
