"""What the phone tests share: an RTP caller, the server's event log, free ports, and an
omnivox server that answers SIP.

Real peers do the signalling (sipp, baresip); where a test needs to speak and listen
sample by sample, `Phone` is the caller's RTP side, in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
from aiortc.rtp import RtpPacket

from omnivox.agent.api.app import SIP_ENDPOINTS
from omnivox.agent.config import parse_config
from omnivox.agent.stack import ModelStack
from omnivox.kernels.g711 import ulaw_decode, ulaw_encode
from omnivox.kernels.resample import resample
from omnivox.lab.local_server import RunningServer, serving
from omnivox.media.sip.endpoint import SipEndpoint
from tests.integration.conftest import TEST_CONFIG, shared_stack


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Phone(asyncio.DatagramProtocol):
    """The caller's RTP: sends 20 ms PCMU packets, keeps what the agent sends."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.arrivals: list[float] = []
        """When each of `received` came (time.monotonic())."""
        self.agent: tuple[str, int] | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.events: list[bytes] = []
        self.sources: set[tuple[str, int]] = set()
        """Every address agent RTP came from (one per call)."""
        """Telephone-event payloads the agent sent (RFC 4733 key presses)."""
        self._seq = random.randrange(1 << 16)
        self._ts = random.randrange(1 << 32)
        self._ssrc = random.randrange(1 << 32)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.agent = addr  # symmetric RTP: answer where it comes from
        self.sources.add((addr[0], addr[1]))
        packet = RtpPacket.parse(data)
        if packet.payload_type == 0:
            self.received.append(packet.payload)
            self.arrivals.append(time.monotonic())
        elif packet.payload_type == 101:
            self.events.append(packet.payload)

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
        """Speak `pcm16k` in real time, 20 ms a packet (on a drift-free schedule)."""
        codes = ulaw_encode(resample(pcm16k, 16_000, 8_000)).tobytes()
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n, i in enumerate(range(0, len(codes) - 159, 160)):
            self.send(codes[i : i + 160])
            self._ts = (self._ts + 160) & 0xFFFFFFFF
            await asyncio.sleep(max(0.0, start + 0.02 * (n + 1) - loop.time()))

    async def press(self, digit: int) -> None:
        """An RFC 4733 key press: three updates, then the end packet three times."""
        for i, duration in enumerate((160, 320, 480, 640, 640, 640)):
            end = 0x80 if i >= 3 else 0
            self.send(struct.pack("!BBH", digit, end | 10, duration), 101, marker=int(i == 0))
            await asyncio.sleep(0.02)
        self._ts = (self._ts + 800) & 0xFFFFFFFF

    def heard(self, start_s: float = 0.0, end_s: float = float("inf")) -> np.ndarray:
        """What the agent sent, 16 kHz: all of it, or what arrived between two instants
        of time.monotonic()."""
        payloads = [
            p for p, t in zip(self.received, self.arrivals, strict=True) if start_s <= t < end_s
        ]
        codes = np.frombuffer(b"".join(payloads), np.uint8)
        return resample(ulaw_decode(codes), 8_000, 16_000)

    async def wait_for_agent(self, timeout_s: float = 10.0) -> None:
        """Until the agent's RTP starts (the call was answered)."""
        await wait_until(lambda: self.agent is not None, timeout_s, "no RTP from omnivox")


@contextlib.asynccontextmanager
async def phone_socket() -> AsyncIterator[tuple[Phone, int]]:
    """A caller's RTP socket on loopback, and its port (for the caller's SDP)."""
    phone = Phone()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: phone, local_addr=("127.0.0.1", 0))
    try:
        yield phone, int(transport.get_extra_info("sockname")[1])
    finally:
        transport.close()


class EventLog(logging.Handler):
    """The server's events (the `omnivox.events` log), as dicts."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.events: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        event = json.loads(record.getMessage())
        event["_received_s"] = time.monotonic()  # on the clock of Phone.arrivals
        self.events.append(event)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    async def wait_for(self, kind: str, timeout_s: float) -> dict[str, Any]:
        await wait_until(lambda: bool(self.of(kind)), timeout_s, f"no {kind} event")
        return self.of(kind)[0]


@contextlib.contextmanager
def capture_events() -> Iterator[EventLog]:
    log = logging.getLogger("omnivox.events")
    handler, level = EventLog(), log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


@contextlib.asynccontextmanager
async def phone_server(
    stack: ModelStack | None = None, **settings: Any
) -> AsyncIterator[tuple[RunningServer, SipEndpoint, int]]:
    """omnivox with SIP on a free loopback port: (server, its SIP endpoint, SIP port).
    `settings` override the test config (`telephony` is merged)."""
    port = free_udp_port()
    telephony = {"sip": f"127.0.0.1:{port}", "rtp_ports": [31000, 31099]}
    telephony.update(settings.pop("telephony", {}))
    config = parse_config({**TEST_CONFIG, **settings, "telephony": telephony}, "phone config")
    async with serving(config, stack or shared_stack()) as running:
        yield running, running.app[SIP_ENDPOINTS][0], port


async def wait_until_closed(
    server: RunningServer, endpoint: SipEndpoint | None = None, timeout_s: float = 10.0
) -> None:
    """Until every session has closed, its tasks have finished and (given the endpoint)
    every RTP port is free again; AssertionError if that does not come (a leak)."""
    registry = server.registry

    def closed() -> bool:
        ports = endpoint.rtp_ports_in_use if endpoint is not None else 0
        return not len(registry) and not registry.running_tasks() and not ports

    await wait_until(closed, timeout_s, "sessions, tasks or RTP ports left behind")


async def wait_until(done: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `done` every 50 ms; AssertionError saying `what` after `timeout_s`."""
    for _ in range(int(timeout_s / 0.05)):
        if done():
            return
        await asyncio.sleep(0.05)
    assert done(), what


SCENARIOS = Path(__file__).parent.parent / "fixtures" / "sip"


async def start_sipp(
    scenario: str, sip_port: int, media_port: int, *options: str
) -> asyncio.subprocess.Process:
    """sipp placing calls to omnivox by tests/fixtures/sip/`scenario`, the calls' media
    at `media_port` (the scenario's [phone_rtp_port])."""
    return await asyncio.create_subprocess_exec(
        "sipp",
        *("-sf", str(SCENARIOS / scenario), "-timeout", "60", "-nostdin"),
        *("-i", "127.0.0.1", "-p", str(free_udp_port())),
        *("-key", "phone_rtp_port", str(media_port)),
        *options,
        f"127.0.0.1:{sip_port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def sipp_finished(sipp: asyncio.subprocess.Process, timeout_s: float) -> None:
    """Wait for sipp to end; it must have succeeded (its stderr tells why not)."""
    try:
        _, err = await asyncio.wait_for(sipp.communicate(), timeout_s)
    finally:
        if sipp.returncode is None:
            sipp.kill()
            await sipp.wait()
    assert sipp.returncode == 0, err.decode(errors="replace")[-2000:]
