"""The SIP user agent server, whole calls in virtual time: datagrams in, actions out."""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnivox.media.sip import (
    CallConnected,
    CallEnded,
    CallUpdated,
    DigestCredentials,
    Dropped,
    IncomingCall,
    Send,
    SipAction,
    SipConfig,
    SipRequest,
    SipResponse,
    SipUserAgent,
    TransferAnswered,
    TransferEnded,
    parse_message,
)
from omnivox.media.sip.digest import parse_credentials
from omnivox.media.sip.transactions import T1_MS, T2_MS, T4_MS, TIMEOUT_MS

CALLER = ("192.0.2.10", 5062)
OFFER = "v=0\r\no=caller 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
ANSWER = "v=0\r\no=omnivox 1 1 IN IP4 198.51.100.1\r\ns=-\r\nt=0 0\r\n"


def make_agent(**overrides: Any) -> SipUserAgent:
    counter = itertools.count(1)
    config = SipConfig(local_host="198.51.100.1", local_port=5060, **overrides)
    return SipUserAgent(config, token=lambda: f"t{next(counter)}")


def request(
    method: str,
    *,
    call_id: str = "call-1@192.0.2.10",
    branch: str = "z9hG4bK-1",
    cseq: int = 1,
    cseq_method: str | None = None,
    to_tag: str | None = None,
    body: str = "",
    uri: str = "sip:agent@198.51.100.1",
    headers: tuple[str, ...] = (),
) -> bytes:
    to = "<sip:agent@198.51.100.1>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP 192.0.2.10:5062;branch={branch};rport",
        "Max-Forwards: 70",
        'From: "Alice" <sip:alice@192.0.2.10>;tag=alice-tag',
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        "Contact: <sip:alice@192.0.2.10:5062>",
        *headers,
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def invite(**kwargs: Any) -> bytes:
    return request("INVITE", body=OFFER, **kwargs)


def sent(actions: list[SipAction]) -> list[SipRequest | SipResponse]:
    return [parse_message(action.data) for action in actions if isinstance(action, Send)]


def statuses(actions: list[SipAction]) -> list[int]:
    return [m.status for m in sent(actions) if isinstance(m, SipResponse)]


def events(actions: list[SipAction]) -> list[SipAction]:
    return [action for action in actions if not isinstance(action, Send)]


def only_response(actions: list[SipAction]) -> SipResponse:
    (message,) = sent(actions)
    assert isinstance(message, SipResponse)
    return message


def answered_call(agent: SipUserAgent) -> str:
    """INVITE, accept, ACK: a confirmed call at t=0..1; returns our To tag."""
    agent.receive(invite(), CALLER, 0)
    ok = only_response(agent.accept("call-1@192.0.2.10", ANSWER))
    assert ok.to_tag is not None
    actions = agent.receive(request("ACK", branch="z9hG4bK-ack", to_tag=ok.to_tag), CALLER, 1)
    assert events(actions) == [CallConnected("call-1@192.0.2.10")]
    return ok.to_tag


def test_a_whole_call_invite_ringing_answer_ack_bye() -> None:
    agent = make_agent()
    actions = agent.receive(invite(), CALLER, 0)
    trying = only_response(actions[:1])
    assert trying.status == 100 and trying.to_tag is None
    assert events(actions) == [
        IncomingCall(
            "call-1@192.0.2.10",
            OFFER,
            CALLER,
            "sip:alice@192.0.2.10",
            "sip:agent@198.51.100.1",
        )
    ]
    assert all(a.destination == CALLER for a in actions if isinstance(a, Send))

    ringing = only_response(agent.ring("call-1@192.0.2.10", now_ms=100))
    assert ringing.status == 180 and ringing.to_tag
    assert ringing.headers.get("Contact") == "<sip:198.51.100.1:5060>"

    ok = only_response(agent.accept("call-1@192.0.2.10", ANSWER, now_ms=2000))
    assert (ok.status, ok.to_tag, ok.body) == (200, ringing.to_tag, ANSWER.encode())
    assert ok.content_type == "application/sdp"
    assert ok.headers.get("Contact") == "<sip:198.51.100.1:5060>"
    assert "INVITE" in (ok.headers.get("Allow") or "")
    assert ok.cseq.number == 1 and ok.call_id == "call-1@192.0.2.10"

    # Timer G-like 2xx retransmission: T1, then doubling.
    assert agent.tick(2000 + T1_MS - 1) == []
    assert statuses(agent.tick(2000 + T1_MS)) == [200]
    assert statuses(agent.tick(2000 + 3 * T1_MS)) == [200]
    ack = request("ACK", branch="z9hG4bK-ack", to_tag=ok.to_tag)
    assert events(agent.receive(ack, CALLER, 4000)) == [CallConnected("call-1@192.0.2.10")]
    assert agent.tick(10_000) == []
    assert agent.receive(ack, CALLER, 10_001) == []  # a copy of the ACK

    bye = request("BYE", branch="z9hG4bK-bye", cseq=2, to_tag=ok.to_tag)
    actions = agent.receive(bye, CALLER, 20_000)
    assert statuses(actions) == [200]
    assert events(actions) == [CallEnded("call-1@192.0.2.10", "hangup")]
    assert agent.active_calls == 0
    # The BYE retransmitted: answered again from the transaction, no second event.
    assert statuses(agent.receive(bye, CALLER, 20_500)) == [200]


def test_request_retransmissions_are_absorbed_with_the_last_response() -> None:
    agent = make_agent()
    agent.receive(invite(), CALLER, 0)
    again = agent.receive(invite(), CALLER, 500)
    assert statuses(again) == [100] and events(again) == []
    agent.ring("call-1@192.0.2.10")
    assert statuses(agent.receive(invite(), CALLER, 1000)) == [180]
    agent.accept("call-1@192.0.2.10", ANSWER)
    assert statuses(agent.receive(invite(), CALLER, 1500)) == [200]


def test_ringing_is_repeated_every_minute_while_unanswered() -> None:
    agent = make_agent()
    agent.receive(invite(), CALLER, 0)
    agent.ring("call-1@192.0.2.10", now_ms=0)
    assert agent.tick(59_999) == []
    assert statuses(agent.tick(60_000)) == [180]


def test_cancel_ends_a_pending_call_with_487_until_its_ack() -> None:
    agent = make_agent()
    agent.receive(invite(), CALLER, 0)
    ringing = only_response(agent.ring("call-1@192.0.2.10"))
    actions = agent.receive(request("CANCEL"), CALLER, 1000)
    assert statuses(actions) == [200, 487]
    assert all(r.to_tag == ringing.to_tag for r in sent(actions) if isinstance(r, SipResponse))
    assert events(actions) == [CallEnded("call-1@192.0.2.10", "cancelled")]
    assert agent.accept("call-1@192.0.2.10", ANSWER) == []  # too late
    assert statuses(agent.tick(1000 + T1_MS)) == [487]  # Timer G
    ack = request("ACK", to_tag=ringing.to_tag)  # same branch as the INVITE
    assert agent.receive(ack, CALLER, 2000) == []
    assert agent.tick(5000) == []


def test_cancel_for_nothing_gets_481_and_after_the_answer_changes_nothing() -> None:
    agent = make_agent()
    nothing = request("CANCEL", call_id="nothing", branch="z9hG4bK-none")
    assert statuses(agent.receive(nothing, CALLER, 0)) == [481]
    answered_call(agent)
    actions = agent.receive(request("CANCEL", branch="z9hG4bK-1"), CALLER, 2)
    assert statuses(actions) == [200] and events(actions) == []
    assert agent.active_calls == 1


def test_a_re_invite_is_offered_to_the_application_and_answered_again() -> None:
    agent = make_agent()
    tag = answered_call(agent)
    reinvite = request(
        "INVITE", branch="z9hG4bK-re", cseq=2, to_tag=tag, body=OFFER + "a=sendonly\r\n"
    )
    actions = agent.receive(reinvite, CALLER, 5000)
    assert statuses(actions) == [100]
    assert events(actions) == [CallUpdated("call-1@192.0.2.10", OFFER + "a=sendonly\r\n")]
    # Another one before the first is answered: 500 with Retry-After.
    clash = request("INVITE", branch="z9hG4bK-re2", cseq=3, to_tag=tag, body=OFFER)
    busy = only_response(agent.receive(clash, CALLER, 5001))
    assert busy.status == 500 and 0 <= int(busy.headers.get("Retry-After") or "") <= 10
    busy_ack = request("ACK", branch="z9hG4bK-re2", cseq=3, to_tag=tag)
    assert agent.receive(busy_ack, CALLER, 5002) == []  # stops the 500's retransmission
    ok = only_response(agent.accept("call-1@192.0.2.10", ANSWER + "a=recvonly\r\n", now_ms=5100))
    assert (ok.status, ok.cseq.number, ok.to_tag) == (200, 2, tag)
    assert statuses(agent.tick(5100 + T1_MS)) == [200]
    ack = request("ACK", branch="z9hG4bK-ack2", cseq=2, to_tag=tag)
    assert agent.receive(ack, CALLER, 6000) == []  # no second CallConnected
    assert agent.tick(10_000) == []


def test_a_refused_re_invite_leaves_the_call_up() -> None:
    agent = make_agent()
    tag = answered_call(agent)
    agent.receive(
        request("INVITE", branch="z9hG4bK-re", cseq=2, to_tag=tag, body=OFFER), CALLER, 10
    )
    actions = agent.reject("call-1@192.0.2.10", 488, "Not Acceptable Here")
    assert statuses(actions) == [488] and events(actions) == []
    assert agent.active_calls == 1


def test_options_unknown_methods_and_unknown_dialogs() -> None:
    agent = make_agent()
    ok = only_response(agent.receive(request("OPTIONS"), CALLER, 0))
    assert ok.status == 200 and ok.to_tag
    assert ok.headers.get("Allow") == "INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY"
    assert ok.headers.get("Accept") == "application/sdp"
    refused = only_response(agent.receive(request("SUBSCRIBE", branch="z9hG4bK-2"), CALLER, 0))
    assert refused.status == 405 and refused.headers.get("Allow")
    assert statuses(agent.receive(request("BYE", branch="z9hG4bK-3"), CALLER, 0)) == [481]
    tag = answered_call(agent)
    wrong_tag = request("BYE", branch="z9hG4bK-4", cseq=2, to_tag=tag + "x")
    assert statuses(agent.receive(wrong_tag, CALLER, 10)) == [481]
    wrong_call = request("BYE", branch="z9hG4bK-5", cseq=2, to_tag=tag, call_id="other")
    assert statuses(agent.receive(wrong_call, CALLER, 10)) == [481]
    stale = request("BYE", branch="z9hG4bK-6", cseq=1, to_tag=tag)
    assert statuses(agent.receive(stale, CALLER, 10)) == [500]  # CSeq went backwards
    assert agent.active_calls == 1


def test_unsupported_scheme_extension_body_and_merged_requests() -> None:
    agent = make_agent()
    assert statuses(agent.receive(request("OPTIONS", uri="mailto:a@b"), CALLER, 0)) == [416]
    extension = request("OPTIONS", branch="z9hG4bK-2", headers=("Require: 100rel, timer",))
    unsupported = only_response(agent.receive(extension, CALLER, 0))
    assert (unsupported.status, unsupported.headers.get("Unsupported")) == (420, "100rel, timer")
    xml = request("INVITE", branch="z9hG4bK-3", body="<audio/>").replace(
        b"application/sdp", b"application/unknownformat"
    )
    assert statuses(agent.receive(xml, CALLER, 0)) == [415]
    no_sdp = invite(branch="z9hG4bK-6", headers=("Accept: text/nobodyKnowsThis",))
    assert statuses(agent.receive(no_sdp, CALLER, 0)) == [406]  # RFC 4475 sdp01
    garbled = request("OPTIONS", branch="z9hG4bK-7", headers=('Require: "unterminated',))
    assert statuses(agent.receive(garbled, CALLER, 0)) == [400]
    agent.receive(invite(branch="z9hG4bK-4"), CALLER, 0)
    merged = invite(branch="z9hG4bK-5")  # the same INVITE forked to us along another path
    assert statuses(agent.receive(merged, CALLER, 0)) == [482]


def test_malformed_requests_get_400_with_the_reason_or_are_dropped() -> None:
    agent = make_agent()
    bad = invite().replace(
        b"INVITE sip:agent@198.51.100.1 SIP/2.0", b"INVITE  sip:agent@x  SIP/2.0"
    )
    answer = only_response(agent.receive(bad, CALLER, 0))
    assert (answer.status, answer.reason) == (400, "malformed request line")
    assert answer.call_id == "call-1@192.0.2.10" and answer.to_tag
    clerr = invite().replace(b"Content-Length: ", b"Content-Length: 9")
    assert (
        only_response(agent.receive(clerr, CALLER, 0)).reason == "Content-Length exceeds the body"
    )
    version = invite().replace(b" SIP/2.0\r\n", b" SIP/3.0\r\n", 1)
    assert only_response(agent.receive(version, CALLER, 0)).status == 505
    (dropped,) = agent.receive(b"\x00\x01garbage", CALLER, 0)
    assert isinstance(dropped, Dropped) and dropped.source == CALLER
    no_call_id = b"\r\n".join(line for line in invite().split(b"\r\n") if b"Call-ID" not in line)
    assert [type(a) for a in agent.receive(no_call_id, CALLER, 0)] == [Dropped]
    bad_ack = request("ACK").replace(b"SIP/2.0\r\n", b"SIP/2.0 \r\n", 1)
    assert [type(a) for a in agent.receive(bad_ack, CALLER, 0)] == [Dropped]  # never answered
    assert agent.receive(b"\r\n\r\n", CALLER, 0) == []  # a keep-alive
    assert agent.active_calls == 0


def test_an_unacknowledged_answer_is_retransmitted_then_abandoned_with_a_bye() -> None:
    agent = make_agent()
    agent.receive(invite(), CALLER, 0)
    agent.accept("call-1@192.0.2.10", ANSWER, now_ms=0)
    resent_at = [now for now in range(100, int(TIMEOUT_MS), 100) if statuses(agent.tick(now))]
    # T1, doubling, capped at T2 (the first ones land exactly on the 100 ms grid).
    assert resent_at[:5] == [500, 1500, 3500, 7500, 11500]
    assert all(b - a == T2_MS for a, b in itertools.pairwise(resent_at[3:]))
    last = agent.tick(TIMEOUT_MS)
    (bye,) = sent(last)
    assert isinstance(bye, SipRequest) and bye.method == "BYE"
    assert events(last) == [CallEnded("call-1@192.0.2.10", "ack_timeout")]
    assert agent.tick(TIMEOUT_MS + 10_000) != []  # the BYE goes on being resent
    assert agent.receive(parse_bye_ok(bye), CALLER, TIMEOUT_MS + 10_001) == []  # no 2nd end


def parsed_request(data: bytes) -> SipRequest:
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    return message


def parse_bye_ok(bye: SipRequest) -> bytes:
    """The caller's 200 OK to our BYE."""
    return response_to(bye, "200 OK")


def response_to(ours: SipRequest, status: str) -> bytes:
    """The caller's response to a request of ours, e.g. "202 Accepted"."""
    lines = [f"SIP/2.0 {status}"]
    lines += [f"{name}: {value}" for name, value in ours.headers if name != "Content-Length"]
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


def notify(tag: str, cseq: int, sipfrag: str, event: str = "refer") -> bytes:
    """The caller's report on our REFER (RFC 3515 2.4.5); compact Event ("o")."""
    data = request(
        "NOTIFY",
        branch=f"z9hG4bK-n{cseq}",
        cseq=cseq,
        to_tag=tag,
        headers=(f"o: {event}", "Subscription-State: active;expires=60"),
    )
    body = f"{sipfrag}\r\n".encode()
    head = data.replace(
        b"Content-Length: 0", b"Content-Type: message/sipfrag\r\nContent-Length: %d" % len(body)
    )
    return head + body


def test_refer_transfers_the_caller_and_notify_reports_the_outcome() -> None:
    agent = make_agent()
    tag = answered_call(agent)
    (refer_send,) = agent.refer("call-1@192.0.2.10", "sip:desk@example.com", now_ms=1000)
    assert isinstance(refer_send, Send) and refer_send.destination == CALLER
    refer = parsed_request(refer_send.data)
    assert (refer.method, refer.uri) == ("REFER", "sip:alice@192.0.2.10:5062")
    assert (refer.from_tag, refer.to_tag) == (tag, "alice-tag")
    assert refer.headers.get("Refer-To") == "<sip:desk@example.com>"
    assert refer.headers.get("Referred-By") == "<sip:agent@198.51.100.1>"
    assert refer.headers.get("Contact") and refer.cseq.method == "REFER"
    resent = sent(agent.tick(1000 + T1_MS))  # unanswered: Timer E
    assert [m.method for m in resent if isinstance(m, SipRequest)] == ["REFER"]
    accepted = agent.receive(response_to(refer, "202 Accepted"), CALLER, 1600)
    assert events(accepted) == [TransferAnswered("call-1@192.0.2.10", 202)]
    trying = agent.receive(notify(tag, 2, "SIP/2.0 100 Trying"), CALLER, 1700)
    assert statuses(trying) == [200] and events(trying) == []
    done = agent.receive(notify(tag, 3, "SIP/2.0 200 OK"), CALLER, 3000)
    assert statuses(done) == [200]
    assert events(done) == [TransferEnded("call-1@192.0.2.10", 200)]
    (bye,) = sent(agent.hang_up("call-1@192.0.2.10", now_ms=3001))
    assert isinstance(bye, SipRequest) and bye.method == "BYE"
    assert bye.cseq.number == refer.cseq.number + 1


def test_a_refused_or_unanswered_refer_leaves_the_call_up() -> None:
    agent = make_agent()
    assert agent.refer("call-1@192.0.2.10", "sip:desk@example.com") == []  # no call yet
    tag = answered_call(agent)
    with pytest.raises(ValueError):
        agent.refer("call-1@192.0.2.10", "http://example.com")
    with pytest.raises(ValueError):
        agent.refer("call-1@192.0.2.10", "sip:a@b>\r\nX: y")
    (first,) = sent(agent.refer("call-1@192.0.2.10", "tel:+15551234", now_ms=10))
    assert isinstance(first, SipRequest)
    refused = agent.receive(response_to(first, "603 Decline"), CALLER, 20)
    assert events(refused) == [TransferAnswered("call-1@192.0.2.10", 603)]
    failed = agent.receive(notify(tag, 2, "SIP/2.0 486 Busy Here"), CALLER, 30)
    assert events(failed) == [TransferEnded("call-1@192.0.2.10", 486)]
    agent.refer("call-1@192.0.2.10", "sip:desk@example.com", now_ms=100)
    timed_out: list[SipAction] = []
    for now in range(200, int(TIMEOUT_MS) + 300, 100):
        timed_out += events(agent.tick(now))
    assert timed_out == [TransferAnswered("call-1@192.0.2.10", 408)]
    other = agent.receive(notify(tag, 3, "SIP/2.0 200 OK", event="presence"), CALLER, 40_000)
    assert statuses(other) == [489] and events(other) == []
    assert statuses(agent.receive(notify("nope", 4, "SIP/2.0 200 OK"), CALLER, 40_001)) == [481]
    assert agent.active_calls == 1


def test_hang_up_sends_bye_resent_until_answered() -> None:
    agent = make_agent()
    tag = answered_call(agent)
    (bye_send,) = agent.hang_up("call-1@192.0.2.10", now_ms=1000)
    assert isinstance(bye_send, Send) and bye_send.destination == CALLER
    bye = parse_message(bye_send.data)
    assert isinstance(bye, SipRequest)
    assert (bye.method, bye.uri) == ("BYE", "sip:alice@192.0.2.10:5062")
    assert (bye.from_tag, bye.to_tag) == (tag, "alice-tag")
    assert bye.call_id == "call-1@192.0.2.10" and bye.cseq.method == "BYE"
    assert bye.branch and bye.branch.startswith("z9hG4bK")
    assert bye.headers.get("User-Agent") == "omnivox"
    assert agent.hang_up("call-1@192.0.2.10") == []  # already ending
    assert [m.method for m in sent(agent.tick(1000 + T1_MS)) if isinstance(m, SipRequest)] == [
        "BYE"
    ]
    actions = agent.receive(parse_bye_ok(bye), CALLER, 2000)
    assert events(actions) == [CallEnded("call-1@192.0.2.10", "local_hangup")]
    assert agent.tick(3000) == []
    assert agent.receive(parse_bye_ok(bye), CALLER, 3001) == []  # its copy: absorbed
    agent.tick(2000 + T4_MS)  # Timer K: the transaction is forgotten
    assert [type(a) for a in agent.receive(parse_bye_ok(bye), CALLER, 20_000)] == [Dropped]


def test_an_unanswered_bye_times_out() -> None:
    agent = make_agent()
    answered_call(agent)
    agent.hang_up("call-1@192.0.2.10", now_ms=0)
    ended: list[SipAction] = []
    for now in range(100, int(TIMEOUT_MS) + 100, 100):
        ended += events(agent.tick(now))
    assert ended == [CallEnded("call-1@192.0.2.10", "bye_timeout")]


def test_hang_up_before_the_ack_waits_for_it() -> None:
    agent = make_agent()
    agent.receive(invite(), CALLER, 0)
    ok = only_response(agent.accept("call-1@192.0.2.10", ANSWER))
    assert agent.hang_up("call-1@192.0.2.10") == []
    ack = request("ACK", branch="z9hG4bK-ack", to_tag=ok.to_tag)
    (bye,) = sent(agent.receive(ack, CALLER, 100))
    assert isinstance(bye, SipRequest) and bye.method == "BYE"


def test_hang_up_or_reject_before_the_answer() -> None:
    agent = make_agent()
    agent.receive(invite(), CALLER, 0)
    actions = agent.hang_up("call-1@192.0.2.10")
    assert statuses(actions) == [603]
    assert events(actions) == [CallEnded("call-1@192.0.2.10", "rejected")]
    agent.receive(invite(call_id="call-2", branch="z9hG4bK-2"), CALLER, 0)
    actions = agent.reject("call-2", 486, "Busy Here")
    assert statuses(actions) == [486] and events(actions) == [CallEnded("call-2", "rejected")]
    with pytest.raises(ValueError):
        agent.reject("call-2", 200, "OK")


def test_a_bye_on_an_unanswered_call_terminates_the_invite() -> None:
    agent = make_agent()
    agent.receive(invite(), CALLER, 0)
    tag = only_response(agent.ring("call-1@192.0.2.10")).to_tag
    actions = agent.receive(request("BYE", branch="z9hG4bK-b", cseq=2, to_tag=tag), CALLER, 10)
    assert statuses(actions) == [200, 487]
    assert events(actions) == [CallEnded("call-1@192.0.2.10", "cancelled")]


def test_an_invite_without_sdp_gets_the_answer_in_the_ack() -> None:
    agent = make_agent()
    actions = agent.receive(request("INVITE"), CALLER, 0)
    assert [e.offer_sdp for e in events(actions) if isinstance(e, IncomingCall)] == [""]
    ok = only_response(agent.accept("call-1@192.0.2.10", OFFER))
    ack = request("ACK", branch="z9hG4bK-ack", to_tag=ok.to_tag, body=ANSWER)
    assert events(agent.receive(ack, CALLER, 10)) == [CallConnected("call-1@192.0.2.10", ANSWER)]


def test_calls_beyond_max_calls_are_busy() -> None:
    agent = make_agent(max_calls=1)
    agent.receive(invite(), CALLER, 0)
    busy = agent.receive(invite(call_id="call-2", branch="z9hG4bK-2"), CALLER, 0)
    assert statuses(busy) == [486] and events(busy) == []
    ack = request("ACK", call_id="call-2", branch="z9hG4bK-2", to_tag=only_response(busy).to_tag)
    assert agent.receive(ack, CALLER, 10) == []  # stops the 486's retransmission
    assert agent.tick(10_000) == []


def test_only_allowed_networks_may_call() -> None:
    networks = (ipaddress.ip_network("192.0.2.0/28"), ipaddress.ip_network("2001:db8::/32"))
    agent = make_agent(allowed_networks=networks)
    assert statuses(agent.receive(request("OPTIONS"), ("203.0.113.5", 5060), 0)) == [403]
    assert statuses(agent.receive(request("OPTIONS"), ("192.0.2.10", 5060), 0)) == [200]
    mapped = request("OPTIONS", branch="z9hG4bK-m")
    assert statuses(agent.receive(mapped, ("::ffff:192.0.2.11", 5060), 0)) == [200]
    assert statuses(
        agent.receive(request("OPTIONS", branch="z9hG4bK-6"), ("2001:db8::1", 5), 0)
    ) == [200]
    assert statuses(agent.receive(request("OPTIONS", branch="z9hG4bK-7"), ("not-an-ip", 5), 0)) == [
        403
    ]
    stray = parse_bye_ok(parsed_request(request("BYE")))
    assert [type(a) for a in agent.receive(stray, ("203.0.113.5", 5060), 0)] == [Dropped]


# Digest authentication ----------------------------------------------------------------


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def authorization(challenge: str, *, password: str = "secret", nc: str = "00000001") -> str:
    params = parse_credentials(challenge)
    assert params is not None
    realm, nonce, uri = params["realm"], params["nonce"], "sip:agent@198.51.100.1"
    ha1, ha2 = _md5(f"omni:{realm}:{password}"), _md5(f"INVITE:{uri}")
    response = _md5(f"{ha1}:{nonce}:{nc}:abc:auth:{ha2}")
    return (
        f'Authorization: Digest username="omni", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm=MD5, cnonce="abc", qop=auth, nc={nc}'
    )


def challenged(agent: SipUserAgent, now: float = 0) -> str:
    refused = only_response(agent.receive(invite(), CALLER, now))
    assert refused.status == 401
    challenge = refused.headers.get("WWW-Authenticate") or ""
    assert challenge.startswith('Digest realm="omnivox"') and 'qop="auth"' in challenge
    return challenge


AUTH = DigestCredentials(realm="omnivox", username="omni", password="secret", nonce_ttl_s=60)


def test_digest_challenge_then_success() -> None:
    agent = make_agent(auth=AUTH)
    challenge = challenged(agent)
    agent.receive(request("ACK", to_tag="x"), CALLER, 10)
    retry = invite(branch="z9hG4bK-2", cseq=2, headers=(authorization(challenge),))
    actions = agent.receive(retry, CALLER, 100)
    assert statuses(actions) == [100]
    assert [type(e) for e in events(actions)] == [IncomingCall]


def test_digest_failures_are_challenged_again() -> None:
    agent = make_agent(auth=AUTH)
    challenge = challenged(agent)
    wrong = invite(
        branch="z9hG4bK-2", cseq=2, headers=(authorization(challenge, password="guess"),)
    )
    assert statuses(agent.receive(wrong, CALLER, 100)) == [401]
    other_scheme = invite(
        branch="z9hG4bK-3", cseq=3, headers=("Authorization: Basic b21uaTpzZWNyZXQ=",)
    )
    assert statuses(agent.receive(other_scheme, CALLER, 100)) == [401]
    good = invite(branch="z9hG4bK-4", cseq=4, headers=(authorization(challenge),))
    assert [type(e) for e in events(agent.receive(good, CALLER, 200))] == [IncomingCall]
    # The same nonce count again is a replay, even on a new call.
    replay = invite(call_id="call-2", branch="z9hG4bK-5", headers=(authorization(challenge),))
    assert statuses(agent.receive(replay, CALLER, 300)) == [401]


def test_an_expired_nonce_is_challenged_as_stale() -> None:
    agent = make_agent(auth=AUTH)
    challenge = challenged(agent)
    late = invite(branch="z9hG4bK-2", cseq=2, headers=(authorization(challenge),))
    refused = only_response(agent.receive(late, CALLER, 61_000))
    assert refused.status == 401 and "stale=true" in (refused.headers.get("WWW-Authenticate") or "")


def test_nonces_are_bounded() -> None:
    agent = make_agent(auth=DigestCredentials("omnivox", "omni", "secret", max_nonces=4))
    first = challenged(agent)
    for n in range(10):
        agent.receive(invite(call_id=f"c{n}", branch=f"z9hG4bK-{n}"), CALLER, 0)
    assert len(agent._auth or []) == 4
    late = invite(branch="z9hG4bK-late", cseq=2, headers=(authorization(first),))
    assert "stale=true" in (
        only_response(agent.receive(late, CALLER, 1)).headers.get("WWW-Authenticate") or ""
    )


# Routing, memory, timers, robustness ------------------------------------------------------


def test_our_bye_follows_the_record_route_set() -> None:
    agent = make_agent()
    routes = (
        "Record-Route: <sip:proxy1.example.com;lr>",
        "Record-Route: <sip:proxy2.example.com;lr>",
    )
    agent.receive(invite(headers=routes), CALLER, 0)
    ok = only_response(agent.accept("call-1@192.0.2.10", ANSWER))
    assert ok.headers.get_all("Record-Route") == [
        "<sip:proxy1.example.com;lr>",
        "<sip:proxy2.example.com;lr>",
    ]
    agent.receive(request("ACK", branch="z9hG4bK-a", to_tag=ok.to_tag), CALLER, 1)
    (bye,) = sent(agent.hang_up("call-1@192.0.2.10"))
    assert isinstance(bye, SipRequest) and bye.uri == "sip:alice@192.0.2.10:5062"
    assert bye.headers.get_all("Route") == [
        "<sip:proxy1.example.com;lr>",
        "<sip:proxy2.example.com;lr>",
    ]


def test_finished_transactions_are_forgotten_and_capped() -> None:
    agent = make_agent(max_transactions=8)
    for n in range(20):
        agent.receive(request("OPTIONS", branch=f"z9hG4bK-{n}"), CALLER, 0)
    assert len(agent._server) == 8
    assert agent.next_deadline() == TIMEOUT_MS
    agent.tick(TIMEOUT_MS)
    assert len(agent._server) == 0 and agent.next_deadline() is None


def test_next_deadline_names_the_next_retransmission() -> None:
    agent = make_agent()
    agent.receive(invite(), CALLER, 0)
    assert agent.next_deadline() is None  # nothing to time while the app decides
    agent.accept("call-1@192.0.2.10", ANSWER, now_ms=1000)
    assert agent.next_deadline() == 1000 + T1_MS


_NOISE = [b"\r\n", b" ", b";", b",", b"<", b">", b'"', b":", b"\x00", b"\xff", b"tag=", b"z9hG4bK"]
_BASES = [
    invite(),
    request("ACK", to_tag="t1"),
    request("BYE", to_tag="t1", cseq=2),
    request("CANCEL"),
    request("OPTIONS", headers=("Require: timer", 'Accept: "x, application/sdp')),
    invite(headers=("Record-Route: <sip:p.example.com;lr>", "Timestamp: 54")),
    parse_bye_ok(parsed_request(request("BYE"))),
]


@st.composite
def datagrams(draw: st.DrawFn) -> bytes:
    base = draw(st.sampled_from(_BASES))
    data = bytearray(base)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data)))
        if draw(st.booleans()):
            data[at:at] = draw(st.sampled_from(_NOISE))
        else:
            del data[at : at + draw(st.integers(1, 6))]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(datagrams(), st.sampled_from(["ring", "accept", "hang_up", "tick"])), max_size=8
    )
)
def test_fuzz_the_agent_never_raises(steps: list[tuple[bytes, str]]) -> None:
    agent = make_agent(max_calls=2)
    now = 0.0
    for data, app_call in steps:
        now += 700
        agent.receive(data, CALLER, now)
        if app_call == "ring":
            agent.ring("call-1@192.0.2.10")
        elif app_call == "accept":
            agent.accept("call-1@192.0.2.10", ANSWER)
        elif app_call == "hang_up":
            agent.hang_up("call-1@192.0.2.10")
        agent.tick(now + 350)
    for later in range(1, 4):  # the ACK timeout's BYE, its give-up, forgetting it
        agent.tick(now + later * 2 * TIMEOUT_MS)
    assert agent.next_deadline() is None or agent.active_calls > 0
