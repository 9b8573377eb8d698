"""The SIP user agent server: calls in, answered by the application, over UDP.

Sans-I/O, like h11: `receive()` takes one datagram with its source and the time,
`tick()` takes the time, and the application's `ring()`, `accept()`, `reject()`,
`hang_up()` and `refer()` take a call id; each returns actions (actions.py): datagrams
to send and call events. No sockets, tasks or clocks here, so whole calls run in virtual time in
tests, and the asyncio shell only moves datagrams and calls `tick()` by
`next_deadline()`. Responses go back to the address the request came from (RFC 3581
rport behaviour, which is what gets through NAT), and so does our BYE.

What a request goes through, in order: parse (malformed: 400 when the message says
whom to answer, else Dropped); source network (403); an existing server transaction
(a retransmission: the last response again); method (405); Request-URI scheme (416);
Require (420: we support no extension); for INVITE an SDP body (415) and an Accept that
allows SDP (406); then by kind. A new INVITE is checked for a merged copy (482),
credentials (401) and capacity (486), answered with 100 Trying and handed to the
application as IncomingCall. In-dialog requests must match a dialog (481) and come in
CSeq order (500). Our own requests in a dialog are BYE and REFER (a blind transfer,
RFC 3515 and 5589); the caller's NOTIFYs about the transfer are answered and read.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable

from omnivox.media.sip.actions import (
    END_ACK_TIMEOUT,
    END_BYE_TIMEOUT,
    END_CANCELLED,
    END_HANGUP,
    END_LOCAL_HANGUP,
    END_REJECTED,
    Address,
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
from omnivox.media.sip.call import Call, CallState
from omnivox.media.sip.compose import ALLOW, SDP, contact, make_response
from omnivox.media.sip.config import SipConfig
from omnivox.media.sip.digest import AuthResult, DigestAuthenticator
from omnivox.media.sip.fields import BRANCH_COOKIE
from omnivox.media.sip.message import SipRequest, SipResponse, parse_message
from omnivox.media.sip.screening import (
    ANSWERABLE,
    SCHEMES,
    answerable,
    refusal,
    source_allowed,
)
from omnivox.media.sip.syntax import SipParseError
from omnivox.media.sip.transactions import (
    ClientTransaction,
    Retransmission,
    ServerTransaction,
    ServerTransactions,
    transaction_key,
)

RING_REFRESH_MS = 60_000.0
_SIPFRAG_STATUS = re.compile(rb"\s*SIP/2\.0[ \t]+([1-6]\d\d)\b")
"""The status line of a NOTIFY's message/sipfrag body (RFC 3515 2.4.5)."""


def _token() -> str:
    return secrets.token_hex(8)


class SipUserAgent:
    """A UAS for up to `config.max_calls` calls at once. See the module docstring."""

    def __init__(self, config: SipConfig, *, token: Callable[[], str] = _token) -> None:
        """`token` makes tags, branches and nonces (random hex by default)."""
        self.config = config
        self._token = token
        self._now = 0.0
        self._server = ServerTransactions(config.max_transactions)
        self._clients: dict[str, ClientTransaction] = {}
        self._calls: dict[str, Call] = {}
        self._auth = DigestAuthenticator(config.auth, token) if config.auth else None

    @property
    def active_calls(self) -> int:
        """Calls counted against max_calls: all but those we are hanging up."""
        return sum(call.state is not CallState.ENDING for call in self._calls.values())

    # -- from the network -----------------------------------------------------------

    def receive(self, data: bytes, source: Address, now_ms: float) -> list[SipAction]:
        """One datagram from `source`."""
        self._now = now_ms
        if not data.strip(b" \t\r\n"):
            return []  # a CRLF keep-alive
        try:
            message = parse_message(data)
        except SipParseError as error:
            return self._malformed(error, source)
        if not self._allowed(source):
            if isinstance(message, SipRequest) and answerable(message):
                response = make_response(message, 403, to_tag=self._token(), server=self._name)
                return [Send(response.to_bytes(), source)]
            return [Dropped("source not allowed", source)]
        if isinstance(message, SipResponse):
            return self._on_response(message, source, now_ms)
        if not message.has_fields(*ANSWERABLE):
            return [Dropped("request without Via, From, To, Call-ID or CSeq", source)]
        return self._on_request(message, source, now_ms)

    def tick(self, now_ms: float) -> list[SipAction]:
        """Fire the timers due by `now_ms`: retransmissions, give-ups, forgetting."""
        self._now = now_ms
        actions: list[SipAction] = list(self._server.tick(now_ms))
        for branch, client in list(self._clients.items()):
            sends, timed_out = client.tick(now_ms)
            actions += sends
            call = self._calls.get(client.call_id)
            if timed_out and call is not None:
                if client.method == "REFER":
                    actions.append(TransferAnswered(call.call_id, 408))
                elif call.state is CallState.ENDING:
                    actions += self._end(call, END_BYE_TIMEOUT)
            if client.forget_ms is not None and now_ms >= client.forget_ms:
                del self._clients[branch]
        for call in list(self._calls.values()):
            if call.unacked is not None and call.unacked.expired(now_ms):
                call.unacked = None  # Timer H for our 2xx: end the session (13.3.1.4)
                actions += self._send_bye(call, now_ms)
                actions += self._end(call, END_ACK_TIMEOUT)
                continue
            if call.unacked is not None:
                actions += call.unacked.fire(now_ms)
            due = call.ringing_refresh_ms
            if due is not None and now_ms >= due and call.invite is not None:
                actions += call.invite.absorb()
                call.ringing_refresh_ms = now_ms + RING_REFRESH_MS
        return actions

    def next_deadline(self) -> float | None:
        """When `tick()` next has work (ms, on the clock given to it), or None."""
        times = [self._server.next_ms(), *(c.next_ms for c in self._clients.values())]
        for call in self._calls.values():
            times.append(call.ringing_refresh_ms)
            if call.unacked is not None:
                times.append(call.unacked.next_ms)
        return min((t for t in times if t is not None), default=None)

    # -- from the application --------------------------------------------------------

    def ring(self, call_id: str, *, now_ms: float | None = None) -> list[SipAction]:
        """180 Ringing for a call not answered yet. `now_ms` defaults, here and in the
        calls below, to the latest time given to receive() or tick()."""
        call = self._calls.get(call_id)
        if call is None or call.state is not CallState.OFFERED or call.invite is None:
            return []
        now = self._now if now_ms is None else now_ms
        response = self._respond_to(call.invite.request, 180, call, self._dialog_headers(call))
        call.ringing_refresh_ms = now + RING_REFRESH_MS
        return [call.invite.respond(response, now)]

    def accept(
        self, call_id: str, answer_sdp: str, *, now_ms: float | None = None
    ) -> list[SipAction]:
        """200 OK with our SDP to the pending INVITE or re-INVITE, resent until ACKed.
        A call with nothing pending (or gone) gets nothing: [] ."""
        call = self._calls.get(call_id)
        if call is None or call.invite is None or call.state is CallState.ENDING:
            return []
        now = self._now if now_ms is None else now_ms
        invite, call.invite = call.invite, None
        headers = [*self._dialog_headers(call), ("Allow", ALLOW), ("Content-Type", SDP)]
        response = self._respond_to(invite.request, 200, call, headers, answer_sdp.encode())
        send = invite.respond(response, now)
        call.unacked = Retransmission.start(send.data, send.destination, now)
        call.unacked_cseq = invite.request.cseq.number
        call.offered_by_us = not invite.request.body
        if call.state is CallState.OFFERED:
            call.state = CallState.ACCEPTED
            call.ringing_refresh_ms = None
        return [send]

    def reject(
        self, call_id: str, status: int, reason: str, *, now_ms: float | None = None
    ) -> list[SipAction]:
        """A final `status` (300-699) to the pending INVITE, which ends the call; to a
        pending re-INVITE (e.g. 488 for an unusable offer), which leaves the call up."""
        if not 300 <= status <= 699 or "\r" in reason or "\n" in reason:
            raise ValueError(f"reject() needs a 3xx-6xx status and a one-line reason: {status}")
        call = self._calls.get(call_id)
        if call is None or call.invite is None:
            return []
        now = self._now if now_ms is None else now_ms
        invite, call.invite = call.invite, None
        response = self._respond_to(invite.request, status, call, reason=reason)
        actions: list[SipAction] = [invite.respond(response, now)]
        if call.state is CallState.OFFERED:
            actions += self._end(call, END_REJECTED)
        return actions

    def hang_up(self, call_id: str, *, now_ms: float | None = None) -> list[SipAction]:
        """End a call: BYE (resent until answered; CallEnded follows the answer or the
        give-up), 603 Decline if not answered yet, after the ACK if that is awaited."""
        call = self._calls.get(call_id)
        if call is None or call.state is CallState.ENDING:
            return []
        if call.state is CallState.OFFERED:
            return self.reject(call_id, 603, "Decline", now_ms=now_ms)
        now = self._now if now_ms is None else now_ms
        actions: list[SipAction] = []
        if call.invite is not None:  # a re-INVITE still unanswered
            actions.append(
                call.invite.respond(self._respond_to(call.invite.request, 487, call), now)
            )
            call.invite = None
        if call.unacked is not None:
            call.bye_after_ack = True
            call.state = CallState.ENDING
            return actions
        return actions + self._send_bye(call, now)

    def refer(self, call_id: str, target: str, *, now_ms: float | None = None) -> list[SipAction]:
        """Ask the caller to call `target` (a SIP URI) instead (RFC 3515 REFER, a blind
        transfer): TransferAnswered follows the answer, TransferEnded the caller's
        report of the new call. Only for a connected call; ValueError for a target that
        is not a one-line sip:, sips: or tel: URI."""
        if target.partition(":")[0].lower() not in SCHEMES or any(c in target for c in "\r\n<>"):
            raise ValueError(f"transfer target must be a sip:, sips: or tel: URI: {target!r}")
        call = self._calls.get(call_id)
        if call is None or call.state is not CallState.CONFIRMED:
            return []
        now = self._now if now_ms is None else now_ms
        headers = [
            ("Contact", contact(self.config)),
            ("Refer-To", f"<{target}>"),
            ("Referred-By", call.local_party),
        ]
        return [self._send_request(call, "REFER", now, headers)]

    # -- requests --------------------------------------------------------------------

    def _on_request(self, request: SipRequest, source: Address, now: float) -> list[SipAction]:
        key = transaction_key(request)
        existing = self._server.get(key)
        if request.method == "ACK":
            return self._on_ack(request, existing, source, now)
        if existing is not None:
            return list(existing.absorb())
        transaction = ServerTransaction(key, request, source)
        self._server.add(transaction)
        refused = refusal(request)
        if refused is not None:
            status, headers = refused
            return [self._reply(transaction, status, now, headers=headers)]
        if request.method == "CANCEL":
            return self._on_cancel(transaction, now)
        if request.to_tag is not None:
            return self._in_dialog(request, transaction, source, now)
        if request.method == "INVITE":
            return self._on_invite(transaction, now)
        if request.method == "OPTIONS":
            return [self._options(transaction, now)]
        return [self._reply(transaction, 481, now)]  # BYE outside any dialog

    def _on_invite(self, transaction: ServerTransaction, now: float) -> list[SipAction]:
        request = transaction.request
        if request.call_id in self._calls:
            return [self._reply(transaction, 482, now)]  # a merged copy (RFC 3261 8.2.2.2)
        if self._auth is not None:
            verdict = self._auth.check(request, now)
            if verdict is not AuthResult.OK:
                stale = verdict is AuthResult.STALE
                challenge = self._auth.challenge(now, stale=stale)
                return [
                    self._reply(transaction, 401, now, headers=[("WWW-Authenticate", challenge)])
                ]
        if self.active_calls >= self.config.max_calls:
            return [self._reply(transaction, 486, now)]
        call = Call.from_invite(request, self._token(), transaction.source)
        call.invite = transaction
        self._calls[call.call_id] = call
        trying = transaction.respond(self._respond_to(request, 100, None), now)
        offer = request.body.decode("utf-8", "replace")
        caller, callee = request.from_address.uri.text, request.to_address.uri.text
        return [trying, IncomingCall(call.call_id, offer, transaction.source, caller, callee)]

    def _in_dialog(
        self, request: SipRequest, transaction: ServerTransaction, source: Address, now: float
    ) -> list[SipAction]:
        call = self._calls.get(request.call_id)
        if call is None or not call.matches(request):
            return [self._reply(transaction, 481, now)]
        if request.cseq.number <= call.remote_cseq:
            return [self._reply(transaction, 500, now, reason="CSeq Out of Order")]
        call.remote_cseq = request.cseq.number
        call.peer = source
        if request.method == "BYE":
            actions: list[SipAction] = [self._reply(transaction, 200, now)]
            if call.invite is not None:  # RFC 3261 15.1.2: pending requests get 487
                actions.append(self._reply(call.invite, 487, now, call=call))
                call.invite = None
            ended = END_CANCELLED if call.state is CallState.OFFERED else END_HANGUP
            return actions + self._end(call, ended)
        if request.method == "OPTIONS":
            return [self._options(transaction, now)]
        if request.method == "NOTIFY":
            return self._on_notify(call, transaction, now)
        if call.state is CallState.ENDING:
            return [self._reply(transaction, 481, now)]
        if call.invite is not None or call.unacked is not None:
            # RFC 3261 14.2: an INVITE while one is in progress; retry in 0-10 s.
            retry = [("Retry-After", str(secrets.randbelow(11)))]
            return [self._reply(transaction, 500, now, headers=retry)]
        call.refresh_target(request)
        call.invite = transaction
        trying = transaction.respond(self._respond_to(request, 100, None), now)
        return [trying, CallUpdated(call.call_id, request.body.decode("utf-8", "replace"))]

    def _on_notify(self, call: Call, transaction: ServerTransaction, now: float) -> list[SipAction]:
        """The caller's report on the transfer we asked for: the status line of its call
        to the target, in a message/sipfrag body (RFC 3515 2.4.5)."""
        request = transaction.request
        event = (request.headers.get("Event") or "").partition(";")
        if event[0].strip().lower() != "refer":
            return [self._reply(transaction, 489, now)]  # we subscribe to nothing else
        actions: list[SipAction] = [self._reply(transaction, 200, now)]
        status = _SIPFRAG_STATUS.match(request.body)
        if status is not None and int(status[1]) >= 200:
            actions.append(TransferEnded(call.call_id, int(status[1])))
        return actions

    def _on_cancel(self, transaction: ServerTransaction, now: float) -> list[SipAction]:
        request = transaction.request
        invite = self._server.get(transaction_key(request, "INVITE"))
        if invite is None:
            return [self._reply(transaction, 481, now)]
        call = self._calls.get(request.call_id)
        if call is not None and call.invite is not invite:
            call = None
        actions: list[SipAction] = [self._reply(transaction, 200, now, call=call)]
        if invite.final_status is None:  # too late once answered: the CANCEL does nothing
            actions.append(self._reply(invite, 487, now, call=call))
            if call is not None:
                call.invite = None
                if call.state is CallState.OFFERED:
                    actions += self._end(call, END_CANCELLED)
        return actions

    def _on_ack(
        self, ack: SipRequest, invite: ServerTransaction | None, source: Address, now: float
    ) -> list[SipAction]:
        """ACKs are never answered. One for a non-2xx final belongs to its INVITE's
        transaction; one for a 2xx belongs to the dialog and stops our 2xx."""
        if invite is not None and (invite.final_status or 0) >= 300:
            invite.acknowledge(now)
            return []
        call = self._calls.get(ack.call_id)
        if call is None or not call.matches(ack) or call.unacked is None:
            return []  # a copy of an ACK already taken, or one for a call now over
        if ack.cseq.number != call.unacked_cseq:
            return []
        call.unacked = None
        call.peer = source
        if call.bye_after_ack:
            return self._send_bye(call, now)
        answer = ack.body.decode("utf-8", "replace") if call.offered_by_us else ""
        if call.state is CallState.ACCEPTED or answer:
            call.state = CallState.CONFIRMED
            return [CallConnected(call.call_id, answer)]
        return []

    def _options(self, transaction: ServerTransaction, now: float) -> Send:
        headers = [("Allow", ALLOW), ("Accept", SDP), ("Contact", contact(self.config))]
        return self._reply(transaction, 200, now, headers=headers)

    # -- responses to our BYE --------------------------------------------------------

    def _on_response(self, response: SipResponse, source: Address, now: float) -> list[SipAction]:
        client = self._clients.get(response.branch or "") if "Via" in response.headers else None
        if (
            client is None
            or "CSeq" not in response.headers
            or response.cseq.method != client.method
        ):
            return [Dropped("response to no request of ours", source)]
        if not client.on_response(response.status, now):
            return []
        call = self._calls.get(client.call_id)
        if call is None:
            return []
        if client.method == "REFER":
            return [TransferAnswered(call.call_id, response.status)]
        if call.state is not CallState.ENDING:
            return []
        return self._end(call, END_LOCAL_HANGUP)

    # -- helpers ---------------------------------------------------------------------

    @property
    def _name(self) -> str:
        return self.config.user_agent

    def _allowed(self, source: Address) -> bool:
        return source_allowed(source[0], self.config.allowed_networks)

    def _malformed(self, error: SipParseError, source: Address) -> list[SipAction]:
        partial = error.partial
        if isinstance(partial, SipRequest) and answerable(partial) and self._allowed(source):
            response = make_response(
                partial, error.status, to_tag=self._token(), server=self._name, reason=error.reason
            )
            return [Send(response.to_bytes(), source)]
        return [Dropped(error.reason, source)]

    def _dialog_headers(self, call: Call) -> list[tuple[str, str]]:
        """Contact, and the Record-Route copy a dialog-creating response carries."""
        headers = [("Contact", contact(self.config))]
        if call.state is CallState.OFFERED:
            headers += [("Record-Route", route) for route in call.route_set]
        return headers

    def _respond_to(
        self,
        request: SipRequest,
        status: int,
        call: Call | None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        reason: str | None = None,
    ) -> SipResponse:
        # 100 Trying may go without a To tag; everything else carries the dialog's.
        tag = call.local_tag if call is not None else (None if status == 100 else self._token())
        return make_response(
            request,
            status,
            to_tag=tag,
            server=self._name,
            reason=reason,
            headers=headers,
            body=body,
        )

    def _reply(
        self,
        transaction: ServerTransaction,
        status: int,
        now: float,
        *,
        call: Call | None = None,
        headers: Iterable[tuple[str, str]] = (),
        reason: str | None = None,
    ) -> Send:
        response = self._respond_to(transaction.request, status, call, headers, reason=reason)
        return transaction.respond(response, now)

    def _send_bye(self, call: Call, now: float) -> list[SipAction]:
        bye = self._send_request(call, "BYE", now)
        call.state = CallState.ENDING
        return [bye]

    def _send_request(
        self, call: Call, method: str, now: float, headers: Iterable[tuple[str, str]] = ()
    ) -> Send:
        """An in-dialog request of ours, resent until answered (a client transaction)."""
        branch = BRANCH_COOKIE + self._token()
        data = call.request(method, self.config, branch, headers).to_bytes()
        retransmission = Retransmission.start(data, call.peer, now)
        self._clients[branch] = ClientTransaction(branch, call.call_id, method, retransmission)
        return Send(data, call.peer)

    def _end(self, call: Call, reason: str) -> list[SipAction]:
        self._calls.pop(call.call_id, None)
        return [CallEnded(call.call_id, reason)]
