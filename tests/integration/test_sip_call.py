"""A phone call from a real SIP peer: sipp places it, the test is the phone's RTP side.

sipp does the signalling (INVITE, ACK, BYE) with an SDP that points the media at this
test's UDP socket; the test speaks a question to omnivox in PCMU RTP, presses a key
(RFC 4733), and records what comes back, which must be the agent's spoken answer.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from omnivox.lab.user_track import silence, speech
from omnivox.models.recognizer.factory import create_recognizer
from tests.integration.phone import (
    capture_events,
    phone_server,
    phone_socket,
    sipp_finished,
    start_sipp,
    wait_until_closed,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="needs sipp (Debian sip-tester)"),
]


async def test_a_sipp_call_is_answered_with_speech() -> None:
    with capture_events() as events:
        async with (
            phone_server() as (server, endpoint, sip_port),
            phone_socket() as (
                phone,
                media_port,
            ),
        ):
            sipp = await start_sipp("uac_call.xml", sip_port, media_port, "-m", "1", "-d", "11000")
            await phone.wait_for_agent()
            assert len(server.registry) == 1
            await phone.say(silence(0.5))
            await phone.press(5)
            asked_at = len(phone.received)
            question = speech("What are your opening hours?")
            await phone.say(np.concatenate([question, silence(5.0)]))
            await sipp_finished(sipp, 40)
            await wait_until_closed(server, endpoint)  # the BYE closes the session

    assert [e["digit"] for e in events.of("dtmf")] == ["5"]
    finals = [str(e["text"]) for e in events.of("transcript_final")]
    assert finals and finals[0].strip(), "omnivox heard no words over the phone"
    assert events.of("reply_text") and events.of("turn_metrics")
    answer = phone.heard()[asked_at * 320 :]
    assert np.sqrt(np.mean(answer.astype(np.float64) ** 2)) > 300, "the answer was silent"
    stream = create_recognizer("moonshine").new_stream()
    stream.accept(answer)
    assert len(stream.final().split()) >= 3, "the answer does not sound like words"
    assert events.of("session_ended")[-1]["reason"] == "hangup"


async def test_a_late_offer_call_gets_our_offer_and_answers_in_the_ack() -> None:
    with capture_events() as events:
        async with (
            phone_server() as (server, endpoint, sip_port),
            phone_socket() as (phone, media_port),
        ):
            scenario = ("uac_late_offer.xml", sip_port, media_port, "-m", "1", "-d", "6000")
            sipp = await start_sipp(*scenario)
            await phone.wait_for_agent()  # our RTP goes where the ACK's answer said
            await phone.say(np.concatenate([speech("What are your opening hours?"), silence(1.0)]))
            await sipp_finished(sipp, 30)
            await wait_until_closed(server, endpoint)
    finals = " ".join(str(e["text"]) for e in events.of("transcript_final")).lower()
    assert len(finals.split()) >= 3, finals  # the caller's RTP was heard, as words
    assert events.of("session_ended")[-1]["reason"] == "hangup"
