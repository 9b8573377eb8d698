"""A phone call from a real SIP peer: sipp places it, the test is the phone's RTP side.

sipp does the signalling (INVITE, ACK, BYE) with an SDP that points the media at this
test's UDP socket; the test speaks a question to omnivox in PCMU RTP, presses a key
(RFC 4733), and records what comes back, which must be the agent's spoken answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import shutil
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import numpy as np
import pytest
from aiortc.rtp import RtpPacket

from omnivox.agent.config import parse_config
from omnivox.kernels.g711 import ulaw_decode, ulaw_encode
from omnivox.kernels.resample import resample
from omnivox.lab.local_server import RunningServer, serving
from omnivox.lab.user_track import silence, speech
from omnivox.models.recognizer.factory import create_recognizer
from tests.integration.conftest import TEST_CONFIG, shared_stack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="needs sipp (Debian sip-tester)"),
]

SCENARIO = Path(__file__).parent.parent / "fixtures" / "sip" / "uac_call.xml"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Phone(asyncio.DatagramProtocol):
    """The caller's RTP: sends 20 ms PCMU packets, keeps what the agent sends."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.agent: tuple[str, int] | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self._seq = random.randrange(1 << 16)
        self._ts = random.randrange(1 << 32)
        self._ssrc = random.randrange(1 << 32)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.agent = addr  # symmetric RTP: answer where it comes from
        packet = RtpPacket.parse(data)
        if packet.payload_type == 0:
            self.received.append(packet.payload)

    def send(self, payload: bytes, payload_type: int = 0, *, marker: int = 0) -> None:
        assert self.transport is not None and self.agent is not None
        packet = RtpPacket(
            payload_type=payload_type,
            marker=marker,
            sequence_number=self._seq,
            timestamp=self._ts,
            ssrc=self._ssrc,
            payload=payload,
        )
        self.transport.sendto(packet.serialize(), self.agent)
        self._seq = (self._seq + 1) & 0xFFFF

    async def say(self, pcm16k: np.ndarray) -> None:
        """Speak `pcm16k` in real time, 20 ms a packet."""
        codes = ulaw_encode(resample(pcm16k, 16_000, 8_000)).tobytes()
        for i in range(0, len(codes) - 159, 160):
            self.send(codes[i : i + 160])
            self._ts = (self._ts + 160) & 0xFFFFFFFF
            await asyncio.sleep(0.02)

    async def press(self, digit: int) -> None:
        """An RFC 4733 key press: three updates, then the end packet three times."""
        for i, duration in enumerate((160, 320, 480, 640, 640, 640)):
            end = 0x80 if i >= 3 else 0
            self.send(struct.pack("!BBH", digit, end | 10, duration), 101, marker=int(i == 0))
            await asyncio.sleep(0.02)
        self._ts = (self._ts + 800) & 0xFFFFFFFF

    def heard(self) -> np.ndarray:
        codes = np.frombuffer(b"".join(self.received), np.uint8)
        return resample(ulaw_decode(codes), 8_000, 16_000)


class EventLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.events: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append(json.loads(record.getMessage()))

    def of(self, kind: str) -> list[dict[str, object]]:
        return [e for e in self.events if e["type"] == kind]


@pytest.fixture
def events() -> Iterator[EventLog]:
    log = logging.getLogger("omnivox.events")
    handler, level = EventLog(), log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    yield handler
    log.removeHandler(handler)
    log.setLevel(level)


@pytest.fixture
async def phone_server() -> AsyncIterator[tuple[RunningServer, int]]:
    port = free_udp_port()
    config = parse_config(
        {**TEST_CONFIG, "telephony": {"sip": f"127.0.0.1:{port}", "rtp_ports": [31000, 31099]}},
        "sip test config",
    )
    async with serving(config, shared_stack()) as running:
        yield running, port


async def test_a_sipp_call_is_answered_with_speech(
    phone_server: tuple[RunningServer, int], events: EventLog
) -> None:
    server, sip_port = phone_server
    loop = asyncio.get_running_loop()
    phone = Phone()
    transport, _ = await loop.create_datagram_endpoint(lambda: phone, local_addr=("127.0.0.1", 0))
    media_port = transport.get_extra_info("sockname")[1]
    sipp = await asyncio.create_subprocess_exec(
        "sipp",
        *("-sf", str(SCENARIO), "-m", "1", "-d", "11000", "-timeout", "40", "-nostdin"),
        *("-i", "127.0.0.1", "-p", str(free_udp_port()), "-key", "phone_rtp_port", str(media_port)),
        f"127.0.0.1:{sip_port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(200):  # the agent's RTP starts once the call is answered
            if phone.agent is not None:
                break
            await asyncio.sleep(0.05)
        assert phone.agent is not None, "no RTP from omnivox after the call was answered"
        assert len(server.registry) == 1
        await phone.say(silence(0.5))
        await phone.press(5)
        asked_at = len(phone.received)
        await phone.say(np.concatenate([speech("What are your opening hours?"), silence(5.0)]))
        _, err = await asyncio.wait_for(sipp.communicate(), 40)
        assert sipp.returncode == 0, err.decode(errors="replace")[-2000:]
    finally:
        if sipp.returncode is None:
            sipp.kill()
            await sipp.wait()
        transport.close()

    assert [e["digit"] for e in events.of("dtmf")] == ["5"]
    finals = [str(e["text"]) for e in events.of("transcript_final")]
    assert finals and finals[0].strip(), "omnivox heard no words over the phone"
    assert events.of("reply_text") and events.of("turn_metrics")
    answer = phone.heard()[asked_at * 320 :]
    assert np.sqrt(np.mean(answer.astype(np.float64) ** 2)) > 300, "the answer was silent"
    stream = create_recognizer("moonshine").new_stream()
    stream.accept(answer)
    assert len(stream.final().split()) >= 3, "the answer does not sound like words"
    for _ in range(100):  # the BYE closes the session
        if len(server.registry) == 0:
            break
        await asyncio.sleep(0.05)
    assert len(server.registry) == 0 and server.registry.running_tasks() == 0
    assert events.of("session_ended")[-1]["reason"] == "hangup"
