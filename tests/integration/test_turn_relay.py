"""A spoken turn through a real TURN server (Debian's coturn) with both ends forced to
relay: the server mints TURN REST credentials from the shared secret for its own peer
connection and for the client, which gets them from `GET /v1/ice-servers`."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aioice import stun
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from omnivox.agent.config import parse_config
from omnivox.lab.bench.load import Caller
from omnivox.lab.browser import CHROMIUM, launch_chromium, wait_for_event
from omnivox.lab.local_server import RunningServer, serving
from omnivox.media.audio_files import read_audio
from omnivox.media.webrtc.peer import WebRTCPeer

from .conftest import TEST_CONFIG, shared_stack

HELLO_WORLD = Path("/usr/share/asterisk/sounds/en/hello-world.wav")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("turnserver") is None, reason="needs coturn (./dev test installs it)"
    ),
    pytest.mark.skipif(
        not HELLO_WORLD.exists(),
        reason="needs asterisk-core-sounds-en-wav (./dev test installs it)",
    ),
]


@dataclass
class TurnServer:
    url: str
    secret: str
    log: Path


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers_stun(port: int) -> bool:
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        s.sendto(bytes(request), ("127.0.0.1", port))
        try:
            return stun.parse_message(s.recv(2048)).transaction_id == request.transaction_id
        except OSError:
            return False


@pytest.fixture
async def turn_server(tmp_path: Path) -> AsyncIterator[TurnServer]:
    """coturn of our own on a free loopback port (not the system service): TURN REST
    shared secret, no TLS, no CLI, in the foreground, loopback peers allowed."""
    port, secret = free_udp_port(), secrets.token_hex(16)
    relay_low = 40000 + port % 20000
    log = tmp_path / "turnserver.log"
    args = [
        "-n", "--no-cli", "--no-tls", "--no-dtls", "--verbose",
        "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1",
        "--listening-port", str(port),
        "--min-port", str(relay_low), "--max-port", str(relay_low + 200),
        "--allow-loopback-peers", "--use-auth-secret", "--static-auth-secret", secret,
        "--realm", "omnivox.test", "--userdb", str(tmp_path / "turndb"),
        "--pidfile", str(tmp_path / "turnserver.pid"),
        "--log-file", str(log), "--simple-log", "--no-stdout-log",
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        "turnserver", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            if proc.returncode is not None or answers_stun(port):
                break
            await asyncio.sleep(0.1)
        assert proc.returncode is None, log.read_text()[-2000:] if log.exists() else "no log"
        yield TurnServer(f"turn:127.0.0.1:{port}?transport=udp", secret, log)
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()


@pytest.fixture
async def relay_server(turn_server: TurnServer) -> AsyncIterator[RunningServer]:
    config = parse_config(
        {
            **TEST_CONFIG,
            "turns": {"classifier": "none"},  # the transport is under test, not the turn
            "server": {
                "ice_servers": [{"urls": [turn_server.url]}],
                "turn_secret": turn_server.secret,
                "ice_transport_policy": "relay",
            },
        },
        "relay config",
    )
    async with serving(config, shared_stack()) as running:
        yield running


def candidate_types(sdp: str) -> set[str]:
    return {line.split(" typ ")[1].split()[0] for line in sdp.splitlines() if " typ " in line}


async def test_a_spoken_turn_over_turn_relays_only(
    relay_server: RunningServer, turn_server: TurnServer
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(relay_server.url + "/v1/ice-servers") as resp:
            assert resp.headers["Cache-Control"] == "no-store"
            page = await resp.json()
        async with http.options(relay_server.url + "/v1/whip") as resp:
            [link] = resp.headers.getall("Link")  # what a WHIP client is handed
        assert link.startswith(f'<{turn_server.url}>; rel="ice-server"; username="')
    assert page["iceTransportPolicy"] == "relay"
    [ice] = page["iceServers"]
    assert ice["username"].split(":")[0].isdigit() and ice["credential"]

    caller = Caller(
        configuration=RTCConfiguration(
            iceServers=[RTCIceServer(ice["urls"], ice["username"], ice["credential"])],
            iceTransportPolicy=RTCIceTransportPolicy.RELAY,
        )
    )
    try:
        await asyncio.wait_for(caller.connect(relay_server.url), 60)
        assert candidate_types(caller.pc.localDescription.sdp) == {"relay"}
        assert candidate_types(caller.pc.remoteDescription.sdp) == {"relay"}
        caller.mic.say(read_audio(HELLO_WORLD))
        await asyncio.wait_for(caller.hear_reply(), 90)
        result = caller.result()
    finally:
        await caller.close(relay_server.url)
    assert result.v2v_ms is not None, caller.events  # the answer was heard at the caller
    assert any(e["type"] == "turn_metrics" for e in caller.events)
    assert result.heard, "the server heard no words through the relay"
    # Both ends allocated a relay with credentials minted from the secret.
    assert turn_server.log.read_text().count("ALLOCATE processed, success") >= 2


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium (./dev test installs it)")
async def test_the_page_takes_its_ice_servers_from_the_server(
    relay_server: RunningServer,
) -> None:
    """The page fetches the servers before it makes its peer connection: its offer
    carries only candidates relayed by our coturn."""
    async with launch_chromium() as page:
        await page.goto(relay_server.url + "/")
        await page.evaluate("() => window.omnivox.connect()")
        await wait_for_event(page, "session_started", 30)
        [peer] = relay_server.registry.sessions.values()
        assert isinstance(peer, WebRTCPeer)
        assert candidate_types(peer.pc.remoteDescription.sdp) == {"relay"}
        await page.evaluate("() => window.omnivox.hangup()")
