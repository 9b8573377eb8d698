"""A bad network between a WebRTC peer and the server, in user space: loss, delay, jitter.

`tc netem` needs a kernel module that containers and CI machines often lack, so the
impairment is a UDP relay that every packet of the call crosses (ICE checks, DTLS, RTP,
RTCP, SCTP): the offer's candidates are replaced by the relay's server-facing address
and the answer's by its client-facing one, so each side only ever sees the relay. Each
direction drops packets at random and delays the rest by a base delay plus uniform jitter
(which reorders them, as real jitter does).

`Impairment` is pure (seeded: a run repeats); `UdpRelay` is its asyncio shell.
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription

Address = tuple[str, int]

_CANDIDATE = re.compile(
    r"^a=candidate:(\S+) (\d+) (udp|UDP) (\d+) (\S+) (\d+) typ host.*$", re.MULTILINE
)


@dataclass(slots=True)
class Impairment:
    loss: float = 0.0
    """Share of packets dropped, 0..1."""
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    """Each packet is delayed by delay_ms + uniform(0, jitter_ms)."""
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.loss < 1.0 or self.delay_ms < 0 or self.jitter_ms < 0:
            raise ValueError("loss must be in [0, 1), delay and jitter not negative")
        self._rng = random.Random(self.seed)

    def delay_s(self) -> float | None:
        """How long the next packet takes, or None if it is lost."""
        if self._rng.random() < self.loss:
            return None
        return (self.delay_ms + self._rng.uniform(0.0, self.jitter_ms)) / 1000


def only_candidate(sdp: str, address: Address) -> tuple[str, Address]:
    """`sdp` whose candidates are replaced by one host candidate at `address`, and the
    first IPv4 UDP host candidate it had (where the relay forwards to)."""
    found = [
        (m.group(5), int(m.group(6))) for m in _CANDIDATE.finditer(sdp) if ":" not in m.group(5)
    ]
    if not found:
        raise ValueError("the description has no IPv4 UDP host candidate")
    line = f"a=candidate:relay 1 udp 2130706431 {address[0]} {address[1]} typ host"
    out: list[str] = []
    placed = False  # the first candidate line of each media section becomes the relay's
    for current in sdp.split("\r\n"):
        if current.startswith("m="):
            placed = False
        if current.startswith("a=candidate:"):
            if not placed:
                out.append(line)
                placed = True
            continue
        out.append(current)
    return "\r\n".join(out), found[0]


class _Side(asyncio.DatagramProtocol):
    def __init__(self, relay: UdpRelay, inbound: bool) -> None:
        self.relay = relay
        self.inbound = inbound  # True: the client-facing socket
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.relay.forward(data, from_client=self.inbound)


class UdpRelay:
    """Two loopback-facing sockets; what arrives on one leaves the other, impaired."""

    def __init__(self, up: Impairment, down: Impairment) -> None:
        self.up, self.down = up, down  # client -> server, server -> client
        self.client: Address | None = None
        self.server: Address | None = None
        self._client_side: _Side | None = None
        self._server_side: _Side | None = None
        self._pending: set[asyncio.TimerHandle] = set()
        self.forwarded = self.dropped = 0

    async def open(self, host: str) -> tuple[Address, Address]:
        """Bind both sockets on `host`: (client-facing, server-facing) addresses."""
        loop = asyncio.get_running_loop()
        c_transport, self._client_side = await loop.create_datagram_endpoint(
            lambda: _Side(self, True), local_addr=(host, 0)
        )
        s_transport, self._server_side = await loop.create_datagram_endpoint(
            lambda: _Side(self, False), local_addr=(host, 0)
        )
        client_facing: Address = c_transport.get_extra_info("sockname")[:2]
        server_facing: Address = s_transport.get_extra_info("sockname")[:2]
        return client_facing, server_facing

    def forward(self, data: bytes, from_client: bool) -> None:
        target = self.server if from_client else self.client
        side = self._server_side if from_client else self._client_side
        if target is None or side is None or side.transport is None:
            return
        delay = (self.up if from_client else self.down).delay_s()
        if delay is None:
            self.dropped += 1
            return
        self.forwarded += 1
        transport = side.transport
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def send() -> None:
            self._pending.discard(handle)
            if not transport.is_closing():
                transport.sendto(data, target)

        handle = loop.call_later(delay, send)
        self._pending.add(handle)

    def close(self) -> None:
        for handle in self._pending:
            handle.cancel()
        self._pending.clear()
        for side in (self._client_side, self._server_side):
            if side is not None and side.transport is not None:
                side.transport.close()


async def offer_through(
    url: str, pc: RTCPeerConnection, up: Impairment, down: Impairment
) -> tuple[dict[str, Any], UdpRelay]:
    """Like `bench.idle_cpu.offer`, with the call's packets crossing a `UdpRelay`."""
    await pc.setLocalDescription(await pc.createOffer())
    relay = UdpRelay(up, down)
    local = pc.localDescription.sdp
    host = next(m.group(5) for m in _CANDIDATE.finditer(local) if ":" not in m.group(5))
    client_facing, server_facing = await relay.open(host)
    sdp, relay.client = only_candidate(local, server_facing)
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + "/v1/sessions", json={"sdp": sdp, "type": "offer"}) as resp,
    ):
        if resp.status != 200:
            relay.close()
            raise RuntimeError(f"POST /v1/sessions: {resp.status} {await resp.text()}")
        answer: dict[str, Any] = await resp.json()
    answer_sdp, relay.server = only_candidate(answer["sdp"], client_facing)
    await pc.setRemoteDescription(RTCSessionDescription(answer_sdp, answer["type"]))
    return answer, relay
