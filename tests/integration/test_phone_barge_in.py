"""Barge-in over the phone: the caller talks over the agent's answer, the agent's RTP
goes silent at once, and `reply_cancelled` says what the caller heard of it.

sipp does the signalling; the test is the caller's RTP side. Turn taking by timing rules
(barge-in after 200 ms of speech), so the test does not hang on the classifier's
judgement of an eSpeak voice.
"""

from __future__ import annotations

import asyncio
import shutil

import numpy as np
import pytest

from omnivox.lab.user_track import silence, speech
from tests.integration.phone import (
    capture_events,
    phone_server,
    phone_socket,
    sipp_finished,
    start_sipp,
    wait_until,
    wait_until_closed,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="needs sipp (Debian sip-tester)"),
]


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if len(pcm) else 0.0


async def test_the_caller_cuts_the_agent_off() -> None:
    rules = {"turns": {"classifier": "none"}}
    with capture_events() as events:
        async with (
            phone_server(**rules) as (server, endpoint, sip_port),
            phone_socket() as (phone, media_port),
        ):
            sipp = await start_sipp("uac_call.xml", sip_port, media_port, "-m", "1", "-d", "16000")
            await phone.wait_for_agent()
            question = speech("How do I get there by bus?")
            await phone.say(np.concatenate([silence(0.3), question, silence(0.3)]))
            await wait_until(lambda: bool(events.of("reply_audio_start")), 15, "no answer")
            await phone.say(silence(0.8))  # the caller listens to part of the answer
            interruption = speech(
                "wait stop I do not want the bus I want to know where I can park my car",
                voice="en-gb+f2",
            )
            talking = asyncio.create_task(phone.say(np.concatenate([interruption, silence(2.0)])))
            cancel = await events.wait_for("reply_cancelled", 10)
            await talking
            await sipp_finished(sipp, 30)
            await wait_until_closed(server, endpoint)

    assert cancel["reason"] == "barge_in", cancel
    assert 0 < cancel["heard_ms"] <= cancel["played_ms"]
    spoken = " ".join(
        e["text"] for e in events.of("reply_text") if e["reply_id"] == cancel["reply_id"]
    )
    heard = str(cancel["heard_text"]).rstrip(" …")
    assert heard and spoken.startswith(heard), (heard, spoken)
    assert len(heard) < len(spoken), "the caller heard all of a reply that was cut"
    # The agent's RTP goes quiet: from shortly after the cancel (packets already on their
    # way) until the next answer starts, or while the caller is still talking.
    cut_at = cancel["_received_s"]
    following = [e["_received_s"] for e in events.of("reply_audio_start")]
    window_end = min([t for t in following if t > cut_at] + [cut_at + 1.5])
    after = phone.heard(cut_at + 0.3, window_end)
    before = phone.heard(cut_at - 1.0, cut_at)
    assert rms(before) > 300, "the agent was not talking when cut off"
    assert len(after) >= 8000, "too little RTP after the cancel to tell"  # half a second
    assert rms(after) < 50, f"agent audio went on after the cancel (rms {rms(after):.0f})"
