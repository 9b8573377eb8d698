"""The SIP endpoint: the asyncio UDP shell around the sans-I/O user agent.

Datagrams and timer deadlines go into `SipUserAgent`; its actions come out as datagrams
and as calls: an INVITE with a usable offer opens a conversation at once (the greeting
is ready while the phone rings) and is answered; the ACK starts the media; a BYE, a
CANCEL or our own hang-up ends it. Every call is a session in the shared registry, like a
browser's, so limits, health and shutdown cover phones too.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, cast

from omnivox.media.rtp.sdp import Negotiated, NoCommonCodec, SdpError, negotiate
from omnivox.media.sessions import SessionRegistry
from omnivox.media.sip.actions import (
    CallConnected,
    CallEnded,
    CallUpdated,
    Dropped,
    IncomingCall,
    Send,
    SipAction,
)
from omnivox.media.sip.phone_call import PhoneCall, RtpPorts
from omnivox.media.sip.user_agent import SipUserAgent
from omnivox.media.transport import ConversationFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MediaSettings:
    address: str
    """Our IP address in the SDP (where callers send RTP)."""
    bind_host: str
    ports: tuple[int, int]
    codecs: tuple[str, ...] = ("PCMU", "PCMA")


class SipEndpoint(asyncio.DatagramProtocol):
    def __init__(
        self,
        agent: SipUserAgent,
        open_conversation: ConversationFactory,
        registry: SessionRegistry,
        media: MediaSettings,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._agent = agent
        self._open = open_conversation
        self._registry = registry
        self._media = media
        self._ports = RtpPorts(media.bind_host, *media.ports)
        self._monotonic = monotonic
        self._calls: dict[str, PhoneCall] = {}
        """By SIP Call-ID."""
        self._ending: set[str] = set()
        """Call-IDs the SIP side has already ended (no BYE owed)."""
        self._transport: asyncio.DatagramTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._jobs: set[asyncio.Task[None]] = set()

    # ---- asyncio protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A datagram endpoint's transport (asyncio's class does not derive from it).
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._do(self._agent.receive(data, (addr[0], addr[1]), self._now_ms()))

    def error_received(self, exc: Exception) -> None:
        log.debug("SIP socket error: %s", exc)  # an ICMP unreachable for a gone caller

    async def close(self) -> None:
        for call_id in list(self._calls):
            self._do(self._agent.hang_up(call_id, now_ms=self._now_ms()))
        await asyncio.gather(*list(self._jobs), return_exceptions=True)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None  # no timer rearms on a closed socket

    # ---- the user agent's actions -----------------------------------------------------

    def _now_ms(self) -> float:
        return self._monotonic() * 1000.0

    def _on_timer(self) -> None:
        self._timer = None
        self._do(self._agent.tick(self._now_ms()))

    def _schedule_timer(self) -> None:
        """One timer handle at the user agent's next deadline (it moves with every
        message and every application call)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self._agent.next_deadline()
        if deadline is not None and self._transport is not None:
            delay = max(0.0, (deadline - self._now_ms()) / 1000.0)
            self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _do(self, actions: list[SipAction]) -> None:
        self._carry_out(actions)
        self._schedule_timer()

    def _carry_out(self, actions: list[SipAction]) -> None:
        for action in actions:
            match action:
                case Send():
                    if self._transport is not None:
                        self._transport.sendto(action.data, action.destination)
                case IncomingCall():
                    self._job(self._answer(action), "answer")
                case CallConnected():
                    if (call := self._calls.get(action.call_id)) is not None:
                        call.connect()
                case CallUpdated():
                    self._update(action)
                case CallEnded():
                    if (call := self._calls.get(action.call_id)) is not None:
                        self._ending.add(action.call_id)
                        self._job(self._registry.close(call.id, action.reason), "close")
                case Dropped():
                    log.debug("SIP datagram dropped from %s: %s", action.source, action.reason)

    def _job(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"sip-{name}")
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    async def _answer(self, invite: IncomingCall) -> None:
        call_id = invite.call_id
        if self._registry.full:
            self._do(self._agent.reject(call_id, 486, "Busy Here", now_ms=self._now_ms()))
            return
        if not invite.offer_sdp:
            # Late offers (the answer in the ACK) are rare among phones and trunks.
            self._do(self._agent.reject(call_id, 488, "Offer Required", now_ms=self._now_ms()))
            return
        try:
            sock = self._ports.bind()
        except OSError as err:
            log.warning("call %s refused: %s", call_id, err)
            self._do(self._agent.reject(call_id, 503, "No Media Port", now_ms=self._now_ms()))
            return
        port = int(sock.getsockname()[1])
        try:
            negotiated = self._negotiate(invite.offer_sdp, port)
        except (NoCommonCodec, SdpError) as err:
            sock.close()
            self._ports.release(port)
            no_codec = isinstance(err, NoCommonCodec)
            status, reason = (488, "Not Acceptable Here") if no_codec else (400, "Bad SDP")
            log.info("call %s refused (%d): %s", call_id, status, err)
            self._do(self._agent.reject(call_id, status, reason, now_ms=self._now_ms()))
            return
        call = PhoneCall(
            f"sip-{secrets.token_urlsafe(6)}",
            sock,
            negotiated,
            self._open,
            lambda c, reason: self._closed(call_id, c),
            self._monotonic,
        )
        self._calls[call_id] = call
        self._registry.add(call)
        self._do(self._agent.ring(call_id, now_ms=self._now_ms()))
        await call.prepare()
        if call.closed:  # the caller gave up while we got ready
            return
        self._do(self._agent.accept(call_id, negotiated.answer_sdp, now_ms=self._now_ms()))
        log.info("call %s answered as %s (%s)", call_id, call.id, negotiated.codec)

    def _update(self, update: CallUpdated) -> None:
        call = self._calls.get(update.call_id)
        if call is None:
            return
        try:
            negotiated = self._negotiate(update.offer_sdp, call.port)
        except (NoCommonCodec, SdpError) as err:
            log.info("re-INVITE of %s refused: %s", update.call_id, err)
            self._do(self._agent.reject(update.call_id, 488, "Not Acceptable Here"))
            return
        call.update(negotiated)
        self._do(self._agent.accept(update.call_id, negotiated.answer_sdp))

    def _negotiate(self, offer: str, port: int) -> Negotiated:
        return negotiate(
            offer,
            self._media.address,
            port,
            session_id=int(self._now_ms()),
            prefer=self._media.codecs,
        )

    def _closed(self, call_id: str, call: PhoneCall) -> None:
        """A call's session closed: for whatever reason it was ours, say BYE."""
        self._calls.pop(call_id, None)
        self._ports.release(call.port)
        if call_id not in self._ending:
            self._do(self._agent.hang_up(call_id, now_ms=self._now_ms()))
        self._ending.discard(call_id)
