"""Signaling over real HTTP: bad input gets a clear 4xx, and a real aiortc client connects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnivox.agent.config import parse_config
from omnivox.lab.local_server import RunningServer, serving
from tests.integration.conftest import shared_stack


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
        (b'{"sdp": "m=audio", "type": "offer", "echo_cancel": "yes"}', "echo_cancel"),
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


async def test_a_page_can_ask_the_server_to_cancel_its_echo(server: RunningServer) -> None:
    """Firefox's page turns the browser's canceller off and asks for the server's, which
    has the exact reference; other calls keep the config's choice (off here)."""
    cancels = []
    async with aiohttp.ClientSession() as http:
        for ask in (True, False):
            pc = RTCPeerConnection()
            pc.addTrack(AudioStreamTrack())
            await pc.setLocalDescription(await pc.createOffer())
            offer = {"sdp": pc.localDescription.sdp, "type": "offer", "echo_cancel": ask}
            async with http.post(server.url + "/v1/sessions", json=offer) as resp:
                assert resp.status == 200, await resp.text()
                session_id = (await resp.json())["session_id"]
            cancels.append(server.registry.sessions[session_id].conversation._echo is not None)
            async with http.delete(server.url + f"/v1/sessions/{session_id}"):
                pass
            await pc.close()
    assert cancels == [True, False]


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
        assert channel.readyState == "open", "the events channel never opened"
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
        for _ in range(100):  # the error event comes back over SCTP meanwhile
            if session.replies.client_playout.lag_ms == 100 and any(
                e["type"] == "error" for e in got
            ):
                break
            await asyncio.sleep(0.1)
        assert session.replies.client_playout.lag_ms == 100  # median of 80 and 120
        errors = [e for e in got if e["type"] == "error"]
        assert len(errors) == 1 and "unreadable message from the page" in errors[0]["message"]
        assert len(server.registry) == 1
        async with http.delete(server.url + f"/v1/sessions/{answer['session_id']}"):
            pass
    await pc.close()


# ---- fuzzing: mangled SDP offers get an answer or a clear 4xx, never a crash or a hang --

FUZZ_CONFIG = {"greeting": "", "access": {"requests_per_s": 1000, "request_burst": 1000}}
_OFFER: list[str] = []


async def real_offer() -> str:
    """A real aiortc offer (audio, video, data channel), made once."""
    if not _OFFER:
        pc = RTCPeerConnection()
        pc.addTrack(AudioStreamTrack())
        pc.addTransceiver("video", direction="recvonly")
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())
        _OFFER.append(pc.localDescription.sdp)
        await pc.close()
    return _OFFER[0]


SDP_TEXT = st.text(
    st.characters(codec="ascii", exclude_characters="\r\n"), max_size=40
) | st.sampled_from(
    ["m=audio 9 UDP/TLS/RTP/SAVPF 0", "a=rtpmap:111 opus/0/2", "a=fingerprint:sha-256 ZZ",
     "a=ice-ufrag:", "a=setup:holdconn", "c=IN IP4 999.1.1.1", "a=candidate:1 1 udp x",
     "m=application 0 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:", "a=group:BUNDLE 7"]
)  # fmt: skip
EDITS = st.lists(
    st.tuples(
        st.sampled_from(["drop", "dup", "replace", "insert", "cut"]), st.integers(0, 200), SDP_TEXT
    ),
    max_size=5,
)


def mangle(sdp: str, edits: list[tuple[str, int, str]]) -> str:
    lines = sdp.split("\r\n")
    for op, at, text in edits:
        i = at % max(1, len(lines))
        if op == "drop" and lines:
            del lines[i]
        elif op == "dup" and lines:
            lines.insert(i, lines[i])
        elif op == "replace" and lines:
            lines[i] = text
        elif op == "insert":
            lines.insert(i, text)
        elif op == "cut":
            return "\r\n".join(lines)[: at * 10]
    return "\r\n".join(lines)


@pytest.fixture
async def fuzz_server() -> AsyncIterator[RunningServer]:
    async with serving(parse_config(FUZZ_CONFIG, "fuzz"), shared_stack()) as running:
        yield running


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(EDITS)
async def test_fuzz_mangled_offers_get_an_answer_or_a_clear_4xx(
    fuzz_server: RunningServer, caplog: pytest.LogCaptureFixture, edits: list[tuple[str, int, str]]
) -> None:
    body = json.dumps({"sdp": mangle(await real_offer(), edits), "type": "offer"}).encode()
    status, answer = await asyncio.wait_for(post(fuzz_server, body), 30)
    assert status in (200, 400), answer
    if status == 200:
        assert answer["type"] == "answer"
        await fuzz_server.registry.close(answer["session_id"], "hangup")
    else:
        assert answer["error"]
    assert len(fuzz_server.registry) == 0
    crashes = [r.getMessage() for r in caplog.records if r.exc_info is not None]
    assert crashes == []
