"""WHIP (RFC 9725) with a real aiortc publisher: recorded speech in, the agent's answer
back, `/metrics` counting the turn, DELETE ending it; and the RFC's error answers."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp
import av
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from prometheus_client.parser import text_string_to_metric_families

from omnivox.lab.bench.load import MicTrack
from omnivox.lab.local_server import RunningServer
from omnivox.media.audio_files import read_audio

# A real recording: the Asterisk PBX's professional voice saying "Hello world."
HELLO_WORLD = Path("/usr/share/asterisk/sounds/en/hello-world.wav")
SDP = "application/sdp"


class Publisher:
    """A WHIP client: aiortc with a microphone, keeping the level of what comes back."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # offline: no STUN
        self.mic = MicTrack()
        self.pc.addTrack(self.mic)  # sendrecv: the agent's voice comes back
        self.levels: list[float] = []
        self._reader: asyncio.Task[None] | None = None
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._reader = asyncio.ensure_future(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.AudioFrame)
                pcm = frame.to_ndarray().astype(np.float64) / 32768
                self.levels.append(float(np.sqrt(np.mean(pcm**2))))

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


async def scrape(http: aiohttp.ClientSession, server: RunningServer) -> dict[str, float]:
    async with http.get(server.url + "/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    return {
        s.name + "".join(f"|{k}={v}" for k, v in sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.slow
@pytest.mark.skipif(
    not HELLO_WORLD.exists(), reason="needs asterisk-core-sounds-en-wav (./dev test installs it)"
)
async def test_whip_publisher_holds_a_spoken_turn_then_deletes(server: RunningServer) -> None:
    client = Publisher()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                server.url + "/v1/whip", data=await client.offer(), headers={"Content-Type": SDP}
            ) as resp:
                assert resp.status == 201, await resp.text()
                assert resp.content_type == SDP
                location = resp.headers["Location"]
                assert location.startswith("/v1/whip/")
                assert resp.headers["ETag"].startswith('"')
                answer = await resp.text()
            await client.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
            assert (await scrape(http, server))["omnivox_active_sessions|transport=whip"] == 1

            client.mic.say(read_audio(HELLO_WORLD))
            await asyncio.wait_for(client.mic.spoken.wait(), 30)
            heard_from = len(client.levels)
            for _ in range(300):  # the answer, through the embedded stack
                if any(level > 0.01 for level in client.levels[heard_from:]):
                    break
                await asyncio.sleep(0.1)
            assert any(level > 0.01 for level in client.levels[heard_from:]), "no answer heard"

            metrics = await scrape(http, server)
            assert metrics["omnivox_turns_total"] >= 1
            assert metrics["omnivox_voice_to_voice_seconds_count"] >= 1
            assert metrics["omnivox_voice_to_voice_seconds_sum"] > 0
            assert metrics["omnivox_sessions_total"] == 1

            async with http.delete(server.url + location) as resp:
                assert resp.status == 200
            assert len(server.registry) == 0
            async with http.delete(server.url + location) as resp:
                assert resp.status == 404
            metrics = await scrape(http, server)
            assert not any(k.startswith("omnivox_active_sessions") for k in metrics)
    finally:
        await client.close()
    assert server.registry.running_tasks() == 0


async def test_whip_errors_follow_the_rfc(server: RunningServer) -> None:
    client = Publisher()
    offer = await client.offer()
    await client.close()
    url = server.url + "/v1/whip"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=offer, headers={"Content-Type": "application/json"}) as r:
            assert r.status == 415 and r.headers["Accept-Post"] == SDP
            assert SDP in (await r.json())["error"]
        for body, needle in (
            ("", "empty"),
            ("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nthis is not sdp\r\n", "SDP"),
            ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n", "audio"),
        ):
            async with http.post(url, data=body, headers={"Content-Type": SDP}) as r:
                assert r.status == 400, body
                assert needle in (await r.json())["error"]
        async with http.post(url, data=b"\xff\xfe", headers={"Content-Type": SDP}) as r:
            assert r.status == 400
        server.registry.max_sessions = 0
        async with http.post(url, data=offer, headers={"Content-Type": SDP}) as r:
            assert r.status == 503 and "Retry-After" in r.headers
        async with http.delete(url + "/nope") as r:
            assert r.status == 404
        async with http.patch(url + "/nope", data="a=end-of-candidates") as r:
            assert r.status == 405 and r.headers["Allow"] == "DELETE"
        async with http.options(url) as r:
            assert r.status == 204 and r.headers["Accept-Post"] == SDP
        for method in ("GET", "PUT"):
            async with http.request(method, url) as r:
                assert r.status == 405 and r.headers["Allow"] == "OPTIONS, POST"
    assert len(server.registry) == 0
