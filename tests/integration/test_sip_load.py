"""Many calls and bad callers: every call answered and hung up cleanly, an INVITE flood
answered with clear refusals, unusable offers refused (488, 400), and nothing left
behind (sessions, tasks, RTP ports).

sipp places calls at a steady rate; the flood comes from this test's own UDP socket,
20 ms of datagrams with no ACK, as a broken or hostile client would send them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from typing import cast

import pytest

from omnivox.media.sip import SipResponse, parse_message
from tests.integration.phone import (
    capture_events,
    free_udp_port,
    phone_server,
    phone_socket,
    sipp_finished,
    start_sipp,
    wait_until,
    wait_until_closed,
)

pytestmark = pytest.mark.slow

RTP_PORTS = (31200, 31299)


def rtp_ports_free() -> bool:
    """Every port of the range can be bound again: no RTP socket outlived its call."""
    for port in range(RTP_PORTS[0], RTP_PORTS[1] + 1, 2):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


@pytest.mark.skipif(shutil.which("sipp") is None, reason="needs sipp (Debian sip-tester)")
async def test_twenty_calls_at_two_a_second_are_answered_and_hung_up() -> None:
    telephony = {"rtp_ports": list(RTP_PORTS), "max_calls": 8}
    with capture_events() as events:
        async with (
            phone_server(telephony=telephony) as (server, endpoint, sip_port),
            phone_socket() as (_phone, media_port),
        ):
            calls = ("-m", "20", "-r", "2", "-rp", "1000", "-d", "2000")
            sipp = await start_sipp("uac_call.xml", sip_port, media_port, *calls)
            await sipp_finished(sipp, 60)  # exit 0: every call got its 200 and BYE's 200
            await wait_until_closed(server, endpoint)
    ended = events.of("session_ended")
    assert len(ended) == 20 and {e["reason"] for e in ended} == {"hangup"}
    assert len(events.of("session_started")) == 20
    assert rtp_ports_free()


class Flood(asyncio.DatagramProtocol):
    """A caller that sends INVITEs and acknowledges none: the final responses by Call-ID."""

    def __init__(self) -> None:
        self.finals: dict[str, SipResponse] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        message = parse_message(data)
        if isinstance(message, SipResponse) and message.status >= 200:
            self.finals.setdefault(message.call_id, message)


def offer(media_port: int, formats: str = "0") -> str:
    return (
        "v=0\r\no=flood 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {media_port} RTP/AVP {formats}\r\n"
    )


def invite(n: int, port: int, media_port: int, sdp: str | None = None) -> bytes:
    sdp = offer(media_port) if sdp is None else sdp
    head = (
        f"INVITE sip:agent@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-flood-{n}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:flood@127.0.0.1>;tag=f{n}\r\n"
        "To: <sip:agent@127.0.0.1>\r\n"
        f"Call-ID: flood-{n}\r\n"
        "CSeq: 1 INVITE\r\n"
        f"Contact: <sip:flood@127.0.0.1:{port}>\r\n"
        "Content-Type: application/sdp\r\n"
        f"Content-Length: {len(sdp)}\r\n\r\n"
    )
    return (head + sdp).encode()


def in_dialog(method: str, final: SipResponse, port: int, cseq: int) -> bytes:
    """ACK or BYE for an answered flood call."""
    to = final.headers.get("To") or ""
    return (
        f"{method} sip:agent@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{method}-{final.call_id}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: {final.headers.get('From')}\r\n"
        f"To: {to}\r\n"
        f"Call-ID: {final.call_id}\r\n"
        f"CSeq: {cseq} {method}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


async def test_an_invite_flood_gets_clear_answers_and_leaves_nothing_behind() -> None:
    telephony = {"rtp_ports": list(RTP_PORTS), "max_calls": 4}
    async with (
        phone_server(telephony=telephony) as (server, endpoint, sip_port),
        phone_socket() as (_phone, media_port),
    ):
        flood = Flood()
        loop = asyncio.get_running_loop()
        port = free_udp_port()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: flood, local_addr=("127.0.0.1", port)
        )
        target = ("127.0.0.1", sip_port)
        try:
            for n in range(200):
                transport.sendto(invite(n, port, media_port), target)
                if n % 10 == 0:  # and garbage between them
                    transport.sendto(os.urandom(300), target)
                    transport.sendto(b"INVITE sip:x SIP/2.0\r\nVia: broken\r\n\r\n", target)
            for _ in range(40):  # resent like any UDP client (Timer A): a burst overflows
                await asyncio.sleep(0.5)  # the kernel's receive buffer, which drops some
                unanswered = [n for n in range(200) if f"flood-{n}" not in flood.finals]
                if not unanswered:
                    break
                for n in unanswered:
                    transport.sendto(invite(n, port, media_port), target)
            assert len(flood.finals) == 200, f"{200 - len(flood.finals)} INVITEs unanswered"
            statuses = [r.status for r in flood.finals.values()]
            answered = [r for r in flood.finals.values() if r.status == 200]
            assert 1 <= len(answered) <= 4, statuses  # max_calls
            assert set(statuses) <= {200, 486, 503}, statuses
            assert len(server.registry) == len(answered)
            for final in answered:  # the answered ones are ended properly
                transport.sendto(in_dialog("ACK", final, port, 1), target)
                transport.sendto(in_dialog("BYE", final, port, 2), target)
            await wait_until_closed(server, endpoint)
            options = (
                b"OPTIONS sip:agent@127.0.0.1 SIP/2.0\r\n"
                + (
                    f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-alive\r\n"
                    "From: <sip:flood@127.0.0.1>;tag=a\r\nTo: <sip:agent@127.0.0.1>\r\n"
                    "Call-ID: alive\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
                ).encode()
            )
            transport.sendto(options, target)
            await wait_until(lambda: "alive" in flood.finals, 5, "no answer after the flood")
            assert flood.finals["alive"].status == 200
        finally:
            transport.close()
    assert rtp_ports_free()


async def test_unusable_offers_are_refused_clearly_and_leave_nothing_behind() -> None:
    telephony = {"rtp_ports": list(RTP_PORTS)}
    async with (
        phone_server(telephony=telephony) as (server, endpoint, sip_port),
        phone_socket() as (_phone, media_port),
    ):
        caller = Flood()
        loop = asyncio.get_running_loop()
        port = free_udp_port()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: caller, local_addr=("127.0.0.1", port)
        )
        opus_only = offer(media_port, "96") + "a=rtpmap:96 opus/48000/2\r\n"
        truncated = offer(media_port)[:40]
        try:
            for n, sdp in enumerate((opus_only, truncated)):
                transport.sendto(invite(n, port, media_port, sdp), ("127.0.0.1", sip_port))
            await wait_until(lambda: len(caller.finals) == 2, 10, "offers left unanswered")
        finally:
            transport.close()
        assert caller.finals["flood-0"].status == 488  # no codec in common
        assert caller.finals["flood-1"].status == 400  # SDP cut short
        await wait_until_closed(server, endpoint)
