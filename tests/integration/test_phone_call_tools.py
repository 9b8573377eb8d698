"""The call tools over a real SIP call: the Thinker hangs up, transfers and presses keys.

sipp is the caller's phone (it answers our REFER and NOTIFYs like a real one, RFC 3515 /
5589); the Thinker is the wire-exact fake OpenAI server (the one allowed test double: a
remote LLM) scripted to call the tools; everything else is the embedded stack.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from omnivox.agent.config import parse_config
from omnivox.agent.stack import ModelStack, build_thinker
from omnivox.lab.openai_server import (
    FakeOpenAIServer,
    Reply,
    StreamReply,
    text_stream,
    tool_call_steps,
)
from omnivox.lab.user_track import silence, speech
from omnivox.media.rtp.dtmf import parse_event
from tests.integration.conftest import TEST_CONFIG, shared_stack
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

TARGETS = {"front desk": "sip:desk@pbx.example"}


@pytest.fixture(autouse=True)
def llm_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIVOX_TEST_KEY", "sk-test")


async def thinker_stack(server: FakeOpenAIServer) -> ModelStack:
    config = parse_config(
        {
            **TEST_CONFIG,
            "thinker": {
                "backend": "openai",
                "base_url": server.base_url,
                "model": "m",
                "api_key_env": "OMNIVOX_TEST_KEY",
            },
        }
    )
    thinker, tools = build_thinker(config)
    base = shared_stack()
    return ModelStack(config, base.recognizer, thinker, base.talker, tools)


def tools_then(calls: list[tuple[str, str, str]], text: str) -> list[Reply]:
    return [StreamReply(tool_call_steps(calls)), text_stream([text])]


async def test_the_thinker_presses_a_key_and_transfers_the_call() -> None:
    script = [
        *tools_then([("c1", "send_dtmf", '{"digits": "1"}')], "Done, I pressed one."),
        *tools_then([("c2", "transfer", '{"to": "front desk"}')], "Transferring you now."),
    ]
    with capture_events() as events:
        async with FakeOpenAIServer(script) as llm:
            stack = await thinker_stack(llm)
            async with (
                phone_server(stack, telephony={"transfer_targets": TARGETS}) as (
                    server,
                    endpoint,
                    sip_port,
                ),
                phone_socket() as (phone, media_port),
            ):
                sipp = await start_sipp("uac_transfer.xml", sip_port, media_port, "-m", "1")
                await phone.wait_for_agent()
                first = speech("Please press one for me.")
                await phone.say(np.concatenate([first, silence(3.0)]))
                await phone.say(np.concatenate([speech("Can I talk to a person?"), silence(1.0)]))
                await sipp_finished(sipp, 30)  # REFER 202, NOTIFY 200, then our BYE
                await wait_until_closed(server, endpoint)
            await stack.thinker.close()  # type: ignore[attr-defined]

    offered = {t["function"]["name"] for t in llm.requests[0].body["tools"]}
    assert {"hang_up", "send_dtmf", "transfer"} <= offered
    results = {e["name"]: e["result"] for e in events.of("tool_call")}
    assert '"pressed": "1"' in results["send_dtmf"]
    assert '"transfer": "accepted"' in results["transfer"], results
    assert {parse_event(p).event for p in phone.events} == {1}  # RFC 4733 out
    assert any(parse_event(p).end for p in phone.events)
    assert events.of("session_ended")[-1]["reason"] == "transferred"
    assert not [e for e in events.of("error") if e["source"] == "thinker"]  # cut, not failed


async def test_the_thinker_hangs_up_after_saying_goodbye() -> None:
    goodbye = "Goodbye, and thanks for calling."
    script = tools_then([("c1", "hang_up", "{}")], goodbye)
    with capture_events() as events:
        async with FakeOpenAIServer(script) as llm:
            stack = await thinker_stack(llm)
            async with (
                phone_server(stack) as (server, endpoint, sip_port),
                phone_socket() as (
                    phone,
                    media_port,
                ),
            ):
                sipp = await start_sipp("uac_hung_up.xml", sip_port, media_port, "-m", "1")
                await phone.wait_for_agent()
                await phone.say(np.concatenate([speech("That is all, thank you."), silence(0.5)]))
                await sipp_finished(sipp, 30)  # omnivox's BYE ends sipp's call
                await wait_until_closed(server, endpoint)
            await stack.thinker.close()  # type: ignore[attr-defined]

    assert "transfer" not in {t["function"]["name"] for t in llm.requests[0].body["tools"]}
    (done,) = events.of("reply_done")  # the goodbye played to its end, then the BYE
    ended = events.of("session_ended")[-1]
    assert ended["reason"] == "agent_hangup" and ended["t_ms"] > done["t_ms"]
    spoken = phone.heard()
    assert np.sqrt(np.mean(spoken.astype(np.float64) ** 2)) > 300  # the goodbye was heard
