"""The SIP endpoint: the asyncio UDP shell around the sans-I/O user agent.

Datagrams and timer deadlines go into `SipUserAgent`; its actions come out as datagrams
and as calls: an INVITE with a usable offer opens a conversation at once (the greeting
is ready while the phone rings) and is answered; the ACK starts the media; a BYE, a
CANCEL or our own hang-up ends it. Every call is a session in the shared registry, like a
browser's, so limits, health and shutdown cover phones too. The conversation gets a
`CallControl` for its call: hang up, transfer (REFER; a transfer that succeeds ends our
side of the call), and key presses out as RFC 4733 events.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from omnivox.media.call_control import CallControlError
from omnivox.media.rtp.sdp import Negotiated, NoCommonCodec, SdpError, make_offer, negotiate
from omnivox.media.sessions import SessionRegistry
from omnivox.media.sip.actions import (
    CallConnected,
    CallEnded,
    CallUpdated,
    Dropped,
    IncomingCall,
    Send,
    SipAction,
    TransferAnswered,
    TransferEnded,
)
from omnivox.media.sip.phone_call import PhoneCall, RtpPorts
from omnivox.media.sip.user_agent import SipUserAgent
from omnivox.media.transport import ConversationFactory

log = logging.getLogger(__name__)

TRANSFER_ANSWER_S = 4.0
"""How long a transfer waits for the caller's answer to our REFER before it reports
that none came (the REFER itself goes on being resent for 32 s)."""


@dataclass(frozen=True, slots=True)
class MediaSettings:
    address: str
    """Our IP address in the SDP (where callers send RTP)."""
    bind_host: str
    ports: tuple[int, int]
    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    transfer_targets: Mapping[str, str] = field(default_factory=dict)
    """Where calls may be transferred: name -> SIP URI."""


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
        self.media = media
        self._ports = RtpPorts(media.bind_host, *media.ports)
        self._monotonic = monotonic
        self._calls: dict[str, PhoneCall] = {}
        """By SIP Call-ID."""
        self._ending: set[str] = set()
        """Call-IDs the SIP side has already ended (no BYE owed)."""
        self._transport: asyncio.DatagramTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._jobs: set[asyncio.Task[None]] = set()
        self._transfers: dict[str, asyncio.Future[int]] = {}
        """By SIP Call-ID: the REFER waiting for its answer."""

    @property
    def rtp_ports_in_use(self) -> int:
        """RTP ports held by calls (zero once every call has ended)."""
        return self._ports.in_use

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
                    self._connected(action)
                case CallUpdated():
                    self._update(action)
                case CallEnded():
                    if (call := self._calls.get(action.call_id)) is not None:
                        self._ending.add(action.call_id)
                        self._job(self._registry.close(call.id, action.reason), "close")
                case TransferAnswered():
                    waiting = self._transfers.pop(action.call_id, None)
                    if waiting is not None and not waiting.done():
                        waiting.set_result(action.status)
                case TransferEnded():
                    self._transfer_ended(action)
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
        try:
            sock = self._ports.bind()
        except OSError as err:
            log.warning("call %s refused: %s", call_id, err)
            self._do(self._agent.reject(call_id, 503, "No Media Port", now_ms=self._now_ms()))
            return
        port = int(sock.getsockname()[1])
        # A late offer (an INVITE without SDP): ours goes in the 200, the answer comes in
        # the ACK. Until then the call is set up from our own offer (nothing is sent).
        late = not invite.offer_sdp
        offer = (
            make_offer(self.media.address, port, self._session_id(), self.media.codecs)
            if late
            else invite.offer_sdp
        )
        try:
            negotiated = self._negotiate(offer, port)
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
            SipCallControl(self, call_id),
        )
        self._calls[call_id] = call
        self._registry.add(call)
        self._do(self._agent.ring(call_id, now_ms=self._now_ms()))
        await call.prepare()
        if call.closed:  # the caller gave up while we got ready
            return
        sdp = offer if late else negotiated.answer_sdp
        self._do(self._agent.accept(call_id, sdp, now_ms=self._now_ms()))
        log.info("call %s answered as %s (%s)", call_id, call.id, negotiated.codec)

    def _connected(self, connected: CallConnected) -> None:
        call = self._calls.get(connected.call_id)
        if call is None:
            return
        if connected.answer_sdp:  # the answer to our late offer
            try:
                call.update(self._negotiate(connected.answer_sdp, call.port))
            except (NoCommonCodec, SdpError) as err:
                log.info("call %s: unusable answer in the ACK, hanging up: %s", call.id, err)
                self.hang_up(connected.call_id, "bad_answer")
                return
        call.connect()

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
            self.media.address,
            port,
            session_id=self._session_id(),
            prefer=self.media.codecs,
        )

    # ---- what the conversation does to its call (SipCallControl) ------------------------

    def hang_up(self, call_id: str, reason: str = "agent_hangup") -> None:
        """Close the call's session; closing it says BYE."""
        if (call := self._calls.get(call_id)) is not None:
            self._job(self._registry.close(call.id, reason), "hang-up")

    async def transfer(self, call_id: str, target: str) -> int:
        """REFER the caller to `target`; the status of the caller's answer (408: none in
        TRANSFER_ANSWER_S). CallControlError when the call is not connected."""
        if call_id in self._transfers:
            raise CallControlError("a transfer of this call is already under way")
        actions = self._agent.refer(call_id, target, now_ms=self._now_ms())
        if not actions:
            raise CallControlError("the call is not connected")
        waiting = asyncio.get_running_loop().create_future()
        self._transfers[call_id] = waiting
        self._do(actions)
        try:
            return await asyncio.wait_for(waiting, TRANSFER_ANSWER_S)
        except TimeoutError:
            return 408
        finally:
            self._transfers.pop(call_id, None)

    def send_dtmf(self, call_id: str, digits: str) -> None:
        call = self._calls.get(call_id)
        if call is None:
            raise CallControlError("the call is over")
        try:
            call.rtp.send_dtmf(digits)
        except ValueError as err:
            raise CallControlError(str(err)) from None

    def _transfer_ended(self, ended: TransferEnded) -> None:
        call = self._calls.get(ended.call_id)
        if call is None:
            return
        if 200 <= ended.status < 300:  # the caller talks to the target now (RFC 5589 6.1)
            log.info("call %s transferred", ended.call_id)
            self.hang_up(ended.call_id, "transferred")
        else:
            call.conversation.report_error(
                f"the transfer failed: the target answered {ended.status}", "transfer"
            )

    def _session_id(self) -> int:
        return int(self._now_ms())

    def _closed(self, call_id: str, call: PhoneCall) -> None:
        """A call's session closed: for whatever reason it was ours, say BYE."""
        self._calls.pop(call_id, None)
        self._ports.release(call.port)
        if call_id not in self._ending:
            self._do(self._agent.hang_up(call_id, now_ms=self._now_ms()))
        self._ending.discard(call_id)


class SipCallControl:
    """A SIP call's `CallControl`, for its conversation."""

    def __init__(self, endpoint: SipEndpoint, call_id: str) -> None:
        self._endpoint = endpoint
        self._call_id = call_id
        self.transfer_targets = dict(endpoint.media.transfer_targets)

    def hang_up(self) -> None:
        self._endpoint.hang_up(self._call_id)

    async def transfer(self, target: str) -> str:
        status = await self._endpoint.transfer(self._call_id, target)
        if 200 <= status < 300:
            return "accepted"
        if status == 408:
            raise CallControlError("the caller's phone did not answer the transfer request")
        raise CallControlError(f"the caller's phone refused the transfer ({status})")

    def send_dtmf(self, digits: str) -> None:
        self._endpoint.send_dtmf(self._call_id, digits)
