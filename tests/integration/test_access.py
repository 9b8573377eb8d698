"""Access control on a real server: the API key, client tokens (over HTTP, WebSocket and
from the page's URL in a real browser), Origin, and JSON errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from omnivox.lab.browser import CHROMIUM, launch_chromium, wait_for_event
from omnivox.lab.local_server import RunningServer, serving

from .conftest import agent_config, shared_stack

KEY = "sk-omnivox-test-0123456789"


@pytest.fixture
async def keyed_server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningServer]:
    monkeypatch.setenv("OMNIVOX_API_KEY", KEY)
    async with serving(agent_config(), shared_stack()) as running:
        yield running


async def mint(http: aiohttp.ClientSession, server: RunningServer) -> str:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with http.post(server.url + "/v1/tokens", headers=headers) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert set(body) == {"value", "expires_at"}
    return str(body["value"])


async def test_without_credentials_the_api_is_a_json_401_but_page_and_health_are_open(
    keyed_server: RunningServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(keyed_server.url + "/v1/sessions", json={}) as resp:
            assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Bearer"
            assert "Bearer" in (await resp.json())["error"]
        async with http.post(keyed_server.url + "/v1/tokens") as resp:
            assert resp.status == 401
        for path in ("/", "/app.js", "/auth.js", "/v1/health"):
            async with http.get(keyed_server.url + path) as resp:
                assert resp.status == 200, path
        async with http.get(keyed_server.url + "/v1/no-such-route") as resp:
            assert resp.status == 401  # unknown routes learn nothing without a key
        headers = {"Authorization": f"Bearer {KEY}"}
        async with http.get(keyed_server.url + "/v1/no-such-route", headers=headers) as resp:
            assert resp.status == 404 and "error" in await resp.json()


async def test_a_client_token_opens_and_closes_a_real_webrtc_session(
    keyed_server: RunningServer,
) -> None:
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    pc.createDataChannel("events")
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"sdp": pc.localDescription.sdp, "type": "offer"}
    try:
        async with aiohttp.ClientSession() as http:
            token = await mint(http, keyed_server)
            async with http.post(
                keyed_server.url + "/v1/tokens", headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                assert resp.status == 401  # a token cannot mint tokens
            headers = {"Authorization": f"Bearer {token}"}
            url = keyed_server.url + "/v1/sessions"
            async with http.post(url, json=offer, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
                answer = await resp.json()
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
            assert len(keyed_server.registry) == 1
            async with http.delete(f"{url}/{answer['session_id']}") as resp:
                assert resp.status == 401
            async with http.delete(f"{url}/{answer['session_id']}", headers=headers) as resp:
                assert resp.status == 200
    finally:
        await pc.close()
    assert len(keyed_server.registry) == 0


async def test_websockets_take_the_token_as_a_query_or_subprotocol(
    keyed_server: RunningServer,
) -> None:
    url = keyed_server.url + "/v1/media-stream"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url)
        assert refused.value.status == 401
        token = await mint(http, keyed_server)
        async with http.ws_connect(f"{url}?token={token}") as ws:
            assert not ws.closed
        async with http.ws_connect(url, protocols=[f"omnivox-token.{token}"]) as ws:
            assert not ws.closed


async def test_a_foreign_origin_is_a_403(keyed_server: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {KEY}", "Origin": "https://elsewhere.example"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(keyed_server.url + "/v1/sessions", json={}, headers=headers) as resp,
    ):
        assert resp.status == 403 and "elsewhere" in (await resp.json())["error"]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium")
async def test_the_page_connects_with_a_token_from_its_url(keyed_server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        token = await mint(http, keyed_server)
    async with launch_chromium() as page:
        await page.goto(f"{keyed_server.url}/?token={token}")
        assert "token=" not in page.url  # out of the address bar
        await page.evaluate("() => window.omnivox.connect()")
        await wait_for_event(page, "session_started", 30)
        assert len(keyed_server.registry) == 1
