"""The call tools on a media stream, and the TwiML the provider gets when it ends."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from omnivox.media.call_control import CallControlError
from omnivox.media.media_streams.after_stream import REMEMBERED, AfterStream, StreamCallControl

TARGETS = {"front desk": "tel:+15551230000", "sales": "sip:sales@pbx.example;transport=tcp"}


def test_a_transferred_call_dials_its_target_and_any_other_hangs_up() -> None:
    after = AfterStream()
    after.transfer("CA1", "tel:+15551230000")
    after.transfer("CA2", "sip:sales@pbx.example;a=<b>&c")
    assert after.twiml("CA1") == "<Response><Dial><Number>+15551230000</Number></Dial></Response>"
    assert after.twiml("CA2") == (
        "<Response><Dial><Sip>sip:sales@pbx.example;a=&lt;b&gt;&amp;c</Sip></Dial></Response>"
    )
    assert after.twiml("CA1") == "<Response><Hangup/></Response>"  # asked once: done
    assert after.twiml("nobody") == "<Response><Hangup/></Response>"


def test_transfers_waiting_for_their_twiml_are_bounded() -> None:
    after = AfterStream()
    for n in range(REMEMBERED + 5):
        after.transfer(f"CA{n}", "tel:+1555")
    assert "Hangup" in after.twiml("CA0")  # the oldest went
    assert "Dial" in after.twiml(f"CA{REMEMBERED + 4}")


async def test_the_provider_asks_for_the_next_step_by_post() -> None:
    after = AfterStream()
    after.transfer("CA9", "tel:+15551230000")
    app = web.Application()
    app.router.add_post("/v1/media-stream/next", after.handle)
    async with TestClient(TestServer(app)) as client:
        resp = await client.post("/v1/media-stream/next", data={"CallSid": "CA9"})
        assert resp.status == 200 and resp.content_type == "application/xml"
        assert "<Number>+15551230000</Number>" in await resp.text()
        again = await client.post("/v1/media-stream/next", data={})
        assert await again.text() == "<Response><Hangup/></Response>"


async def test_the_control_ends_the_stream_for_a_hang_up_or_a_transfer() -> None:
    ended: list[str] = []
    after = AfterStream()
    control = StreamCallControl(ended.append, "CA1", TARGETS, after)
    assert control.transfer_targets == TARGETS
    control.hang_up()
    assert await control.transfer(TARGETS["sales"]) == "accepted"
    assert ended == ["agent_hangup", "transferred"]
    assert "<Sip>sip:sales@pbx.example;transport=tcp</Sip>" in after.twiml("CA1")
    with pytest.raises(CallControlError):
        control.send_dtmf("1")
    anonymous = StreamCallControl(ended.append, None, TARGETS, after)
    assert anonymous.transfer_targets == {}  # nothing to ask the provider with
    with pytest.raises(CallControlError):
        await anonymous.transfer("tel:+1555")
