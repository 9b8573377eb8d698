"""Signaling over real HTTP: bad input gets a clear 4xx, and a real aiortc client connects."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from omnivox.lab.local_server import RunningServer


async def post(
    server: RunningServer, data: bytes, content_type: str = "application/json"
) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            server.url + "/v1/sessions", data=data, headers={"content-type": content_type}
        ) as resp,
    ):
        return resp.status, await resp.json()


async def test_non_json_body_is_a_400_with_a_message(server: RunningServer) -> None:
    status, body = await post(server, b"v=0 this is not json", "text/plain")
    assert status == 400 and "JSON" in body["error"]


async def test_wrong_shapes_are_400(server: RunningServer) -> None:
    for payload, needle in (
        (b"[1, 2]", "object"),
        (b'{"type": "offer"}', "sdp"),
        (b'{"sdp": "v=0", "type": "answer"}', "offer"),
        (b'{"sdp": "v=0\\r\\no=- 1 1 IN IP4 0.0.0.0\\r\\n", "type": "offer"}', "audio"),
    ):
        status, body = await post(server, payload)
        assert status == 400, payload
        assert needle in body["error"], body


async def test_malformed_sdp_is_a_400(server: RunningServer) -> None:
    sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=garbage\r\nthis is not sdp\r\n"
    status, body = await post(server, json.dumps({"sdp": sdp, "type": "offer"}).encode())
    assert status == 400 and "SDP" in body["error"], body
    assert len(server.registry) == 0


async def test_oversized_offer_is_a_413(server: RunningServer) -> None:
    status, body = await post(server, b'{"sdp": "' + b"a" * 200_000 + b'", "type": "offer"}')
    assert status == 413 and "too large" in body["error"]


async def test_unknown_session_delete_is_a_404(server: RunningServer) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.delete(server.url + "/v1/sessions/nope") as resp,
    ):
        assert resp.status == 404
        assert "no such session" in (await resp.json())["error"]


async def test_page_and_health_are_served(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/") as resp:
            assert resp.status == 200 and "<html" in (await resp.text()).lower()
        async with http.get(server.url + "/app.js") as resp:
            assert resp.status == 200
        async with http.get(server.url + "/v1/health") as resp:
            assert (await resp.json())["status"] == "ok"


async def test_aiortc_client_connects_gets_events_and_hangs_up(server: RunningServer) -> None:
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())  # silence
    channel = pc.createDataChannel("events")
    got: list[str] = []
    channel.on("message", got.append)
    await pc.setLocalDescription(await pc.createOffer())
    async with aiohttp.ClientSession() as http:
        async with http.post(
            server.url + "/v1/sessions", json={"sdp": pc.localDescription.sdp, "type": "offer"}
        ) as resp:
            assert resp.status == 200, await resp.text()
            answer = await resp.json()
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        for _ in range(100):
            if any('"session_started"' in m for m in got):
                break
            await asyncio.sleep(0.1)
        assert any('"session_started"' in m for m in got)
        assert len(server.registry) == 1
        async with http.delete(server.url + f"/v1/sessions/{answer['session_id']}") as resp:
            assert resp.status == 200
    await pc.close()
    assert len(server.registry) == 0
    assert server.registry.running_tasks() == 0


async def test_page_messages_playout_reports_and_garbage(server: RunningServer) -> None:
    """Playout reports set the session's receive delay; an unreadable message gets one
    error event and the call goes on."""
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    channel = pc.createDataChannel("events")
    got: list[dict] = []  # type: ignore[type-arg]
    channel.on("message", lambda m: got.append(json.loads(m)))
    await pc.setLocalDescription(await pc.createOffer())
    async with aiohttp.ClientSession() as http:
        async with http.post(
            server.url + "/v1/sessions", json={"sdp": pc.localDescription.sdp, "type": "offer"}
        ) as resp:
            answer = await resp.json()
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        for _ in range(100):
            if channel.readyState == "open" and got:
                break
            await asyncio.sleep(0.1)
        session = server.registry.sessions[answer["session_id"]].conversation
        for message in (
            "not json",
            '{"type": "playout", "delay_ms": 80}',
            '{"type": "playout", "delay_ms": "soon"}',  # well-formed, unusable: ignored
            '{"type": "something_newer"}',
            "[1, 2]",
            '{"type": "playout", "delay_ms": 120}',
        ):
            channel.send(message)
        for _ in range(50):
            if session.replies.client_playout.lag_ms == 100:
                break
            await asyncio.sleep(0.1)
        assert session.replies.client_playout.lag_ms == 100  # median of 80 and 120
        errors = [e for e in got if e["type"] == "error"]
        assert len(errors) == 1 and "unreadable message from the page" in errors[0]["message"]
        assert len(server.registry) == 1
        async with http.delete(server.url + f"/v1/sessions/{answer['session_id']}"):
            pass
    await pc.close()
