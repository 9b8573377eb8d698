"""The benchmarks' phone (lab/phone_caller.py) against the real SIP endpoint: it calls,
hears the agent's RTP, talks back, and hangs up; and a refused call is an error."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from omnivox.lab.phone_caller import RtpLine, SipCaller, mulaw_frames
from omnivox.lab.user_track import silence, speech
from tests.integration.phone import capture_events, phone_server, wait_until, wait_until_closed

pytestmark = pytest.mark.slow


async def test_the_bench_phone_calls_talks_and_hangs_up() -> None:
    loop = asyncio.get_running_loop()
    line, caller = RtpLine(), SipCaller()
    rtp, _ = await loop.create_datagram_endpoint(lambda: line, local_addr=("127.0.0.1", 0))
    sip, _ = await loop.create_datagram_endpoint(lambda: caller, local_addr=("127.0.0.1", 0))
    pacing = loop.create_task(line.run())
    try:
        with capture_events() as events:
            async with phone_server(telephony={"max_calls": 1}) as (server, endpoint, port):
                dialog = await caller.call(("127.0.0.1", port), line.port)
                with pytest.raises(RuntimeError, match="486"):  # max_calls: 1
                    await caller.call(("127.0.0.1", port), line.port)
                await wait_until(lambda: len(line.calls) == 1, 5, "no RTP from the agent")
                (call,) = line.calls.values()
                call.script = mulaw_frames(speech("What are your opening hours?"))
                call.script += mulaw_frames(silence(1.0))
                await events.wait_for("transcript_final", 15)
                assert call.sent_frames == len(call.sent_at) > 0
                await caller.hang_up(dialog)
                await wait_until_closed(server, endpoint)
    finally:
        pacing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pacing
        rtp.close()
        sip.close()
    assert len(call.arrivals) > 10  # 20 ms packets from the agent, silence included
    assert len(str(events.of("transcript_final")[0]["text"]).split()) >= 3  # heard as words
    assert events.of("session_ended")[-1]["reason"] == "hangup"
