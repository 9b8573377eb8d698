"""SIP transactions over UDP (RFC 3261 17) and the retransmission timer they share.

UDP loses datagrams, so whoever sends a final response to INVITE, or a request, sends
it again (T1 doubling up to T2) until the other side shows it arrived, and gives up
after 64*T1. A server transaction remembers its last response to answer retransmitted
requests with, and is forgotten 64*T1 (Timers H, J, L) or T4 (Timer I) after its final
response, so memory stays bounded by the request rate, not by uptime.
"""

from __future__ import annotations

from dataclasses import dataclass

from omnivox.media.sip.actions import Address, Send
from omnivox.media.sip.message import SipRequest, SipResponse

T1_MS = 500.0
"""RTT estimate: the first retransmission interval."""
T2_MS = 4000.0
"""The longest retransmission interval."""
T4_MS = 5000.0
"""How long a message may linger in the network (Timers I and K)."""
TIMEOUT_MS = 64 * T1_MS
"""32 s: Timers F, H, J, L and the 2xx give-up."""

TransactionKey = tuple[str, ...]


@dataclass(slots=True)
class Retransmission:
    """One message sent again at T1, 2*T1, 4*T1... (capped at T2) until stopped."""

    data: bytes
    destination: Address
    due_ms: float
    interval_ms: float
    deadline_ms: float

    @classmethod
    def start(cls, data: bytes, destination: Address, now_ms: float) -> Retransmission:
        """After the first send at `now_ms`."""
        return cls(data, destination, now_ms + T1_MS, T1_MS, now_ms + TIMEOUT_MS)

    def expired(self, now_ms: float) -> bool:
        return now_ms >= self.deadline_ms

    def fire(self, now_ms: float) -> list[Send]:
        if now_ms < self.due_ms:
            return []
        self.interval_ms = min(2 * self.interval_ms, T2_MS)
        self.due_ms = now_ms + self.interval_ms
        return [Send(self.data, self.destination)]

    @property
    def next_ms(self) -> float:
        return min(self.due_ms, self.deadline_ms)


def transaction_key(request: SipRequest, method: str | None = None) -> TransactionKey:
    """What ties a request to its server transaction (RFC 3261 17.2.3).

    An RFC 3261 branch with its sent-by and method suffices; an ACK matches the INVITE
    it acknowledges, and `method` lets a CANCEL look up the INVITE it cancels. Older
    clients (RFC 2543, no magic cookie) are matched on Call-ID, From tag, CSeq number
    and the top Via. The request must have been parsed (its fields are well formed).
    """
    if method is None:
        method = "INVITE" if request.method == "ACK" else request.method
    via = request.top_via
    if via.has_rfc3261_branch:
        return ("3261", via.branch or "", via.host, str(via.port or ""), method)
    top = request.headers.values("Via")[0]
    cseq = str(request.cseq.number)
    return ("2543", request.call_id, request.from_tag or "", cseq, top, method)


@dataclass(slots=True)
class ServerTransaction:
    key: TransactionKey
    request: SipRequest
    source: Address
    last_response: bytes | None = None
    final_status: int | None = None
    acknowledged: bool = False
    """An ACK came for our non-2xx final response."""
    retransmission: Retransmission | None = None
    """Timers G and H: a non-2xx final response to INVITE, until its ACK."""
    forget_ms: float | None = None

    @property
    def is_invite(self) -> bool:
        return self.request.method == "INVITE"

    def respond(self, response: SipResponse, now_ms: float) -> Send:
        data = response.to_bytes()
        self.last_response = data
        if response.status >= 200 and self.final_status is None:
            self.final_status = response.status
            self.forget_ms = now_ms + TIMEOUT_MS  # J, H or L (RFC 6026)
            if self.is_invite and response.status >= 300:
                self.retransmission = Retransmission.start(data, self.source, now_ms)
        return Send(data, self.source)

    def absorb(self) -> list[Send]:
        """A retransmitted request: the last response again (it may have been lost)."""
        if self.last_response is None or self.acknowledged:
            return []
        return [Send(self.last_response, self.source)]

    def acknowledge(self, now_ms: float) -> None:
        """The ACK for our non-2xx final: no more retransmissions; Timer I absorbs
        the ACK's own retransmissions for T4."""
        if not self.acknowledged:
            self.acknowledged = True
            self.retransmission = None
            self.forget_ms = now_ms + T4_MS

    def tick(self, now_ms: float) -> list[Send]:
        if self.retransmission is None:
            return []
        if self.retransmission.expired(now_ms):  # Timer H: the ACK never came
            self.retransmission = None
            return []
        return self.retransmission.fire(now_ms)

    @property
    def next_ms(self) -> float | None:
        times = [self.forget_ms]
        if self.retransmission is not None:
            times.append(self.retransmission.next_ms)
        return min((t for t in times if t is not None), default=None)


class ServerTransactions:
    """The server transactions in flight, oldest first, at most `limit` finished ones.

    Past `limit` the oldest finished transaction is forgotten early (a retransmission
    of its request would then be handled as new, which every handler tolerates);
    unfinished ones are never dropped: they are bounded by the calls in progress.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: dict[TransactionKey, ServerTransaction] = {}

    def get(self, key: TransactionKey) -> ServerTransaction | None:
        return self._items.get(key)

    def add(self, transaction: ServerTransaction) -> None:
        if len(self._items) >= self._limit:
            for key, old in self._items.items():
                if old.final_status is not None:
                    del self._items[key]
                    break
        self._items[transaction.key] = transaction

    def tick(self, now_ms: float) -> list[Send]:
        sends: list[Send] = []
        for key, transaction in list(self._items.items()):
            if transaction.forget_ms is not None and now_ms >= transaction.forget_ms:
                del self._items[key]
            else:
                sends += transaction.tick(now_ms)
        return sends

    def next_ms(self) -> float | None:
        times = [t.next_ms for t in self._items.values()]
        return min((t for t in times if t is not None), default=None)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(slots=True)
class ClientTransaction:
    """A request we sent (BYE, REFER): Timer E retransmits it, Timer F gives up, a final
    response completes it and Timer K keeps it T4 to absorb that response's copies."""

    branch: str
    call_id: str
    method: str
    retransmission: Retransmission | None
    final_status: int | None = None
    forget_ms: float | None = None

    def on_response(self, status: int, now_ms: float) -> bool:
        """True for the first final response."""
        if self.final_status is not None:
            return False
        if status < 200:
            if self.retransmission is not None:  # Proceeding: every T2 from now on
                self.retransmission.interval_ms = T2_MS
            return False
        self.final_status = status
        self.retransmission = None
        self.forget_ms = now_ms + T4_MS
        return True

    def tick(self, now_ms: float) -> tuple[list[Send], bool]:
        """(retransmissions, whether Timer F fired just now)."""
        if self.retransmission is None:
            return [], False
        if self.retransmission.expired(now_ms):
            self.retransmission = None
            self.forget_ms = now_ms
            return [], True
        return self.retransmission.fire(now_ms), False

    @property
    def next_ms(self) -> float | None:
        if self.retransmission is not None:
            return self.retransmission.next_ms
        return self.forget_ms
