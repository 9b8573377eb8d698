"""omnivox as the client of a realtime speech-to-speech model, with its own turn taking
in front: the model here is a second omnivox (`omnivox serve`, its own process) through
its OpenAI-Realtime-compatible `/v1/realtime`, a real peer rather than a double."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from omnivox.agent.config import parse_config
from omnivox.lab.bench.idle_cpu import serve
from omnivox.lab.realtime_double import FakeRealtimeServer
from omnivox.lab.simulate import simulate
from omnivox.lab.user_track import silence, speech
from omnivox.media.frames import FRAME_MS, FRAME_SAMPLES

from .conftest import TEST_CONFIG, with_thinker

pytestmark = pytest.mark.slow


def client_config(url: str) -> dict:
    # Timing-rule barge-in: the test is about the upstream's cancel and truncate.
    thinker = {"backend": "realtime", "url": url, "model": "omnivox", "timeout_s": 20}
    return {**TEST_CONFIG, "turns": {"classifier": "none"}, "thinker": thinker}


async def test_a_spoken_turn_and_a_barge_in_through_a_realtime_upstream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = np.concatenate([silence(0.5), speech("What are your opening hours?"), silence(6.0)])
    stop = speech("Wait, stop.", voice="en-gb+f2")
    caplog.set_level(logging.WARNING, logger="omnivox.models.thinker.realtime")
    with serve("greeting: ''\n") as upstream:
        url = upstream.url.replace("http://", "ws://") + "/v1/realtime"
        config = parse_config(client_config(url))
        res = await simulate(user, with_thinker(config), config, cut_in=(1500.0, stop))

    assert not res.of_type("error"), res.of_type("error")
    assert not [r for r in caplog.records if "error event" in r.getMessage()]
    [cut] = [e for e in res.of_type("reply_cancelled") if e["reason"] == "barge_in"]
    said = " ".join(
        e["text"] for e in res.of_type("reply_text") if e["reply_id"] == cut["reply_id"]
    )
    assert "open" in said.lower()  # the upstream omnivox's knowledge base answered
    assert cut["heard_text"] and said.startswith(cut["heard_text"]) and cut["heard_text"] != said
    # The upstream's own voice was played, and nothing of it after the cancel decision.
    start = next(e for e in res.of_type("reply_audio_start") if e["reply_id"] == cut["reply_id"])
    begin = round(start["t_ms"] / FRAME_MS) * FRAME_SAMPLES
    decision = round(cut["t_ms"] / FRAME_MS) * FRAME_SAMPLES
    assert np.abs(res.agent[begin:decision]).max() > 1000
    assert not np.any(res.agent[decision : decision + 20 * FRAME_SAMPLES])
    # "Wait, stop." was answered on the same upstream conversation, after its copy of the
    # cut reply was truncated to what was heard (an error there would have failed above).
    later = [e for e in res.of_type("reply_done") if e["t_ms"] > cut["t_ms"]]
    assert later and later[-1]["heard_text"]


async def test_an_upstream_that_cannot_be_reached_gets_the_fallback_line() -> None:
    user = np.concatenate([silence(0.5), speech("Hello there."), silence(4.0)])
    config = parse_config(client_config("ws://127.0.0.1:9/v1/realtime"))
    res = await simulate(user, with_thinker(config), config)
    [error] = [e for e in res.of_type("error") if e.get("source") == "thinker"]
    assert "cannot reach the realtime model" in error["message"]
    spoken = " ".join(e["text"] for e in res.of_type("reply_text"))
    assert spoken == config.thinker.fallback_text


# Two sentences: the model's audio plays once a sentence's transcript has passed the
# interventions, and the second is still streaming (in real time) at the barge-in.
ANSWER = "We are open from nine to five. We close at noon on Saturdays and all day on Sundays."


@pytest.mark.parametrize("dialect", ["qwen", "vllm"])
async def test_the_dialects_of_qwen_omni_realtime_and_vllm_omni(dialect: str) -> None:
    user = np.concatenate([silence(0.5), speech("What are your opening hours?"), silence(6.0)])
    async with FakeRealtimeServer(dialect, ANSWER) as service:  # type: ignore[arg-type]
        config = parse_config(
            {
                **client_config(service.url),
                "thinker": {
                    "backend": "realtime",
                    "url": service.url,
                    "model": "qwen3-omni-flash-realtime",
                    "dialect": dialect,
                    "voice": "Cherry",
                },
            }
        )
        stop = speech("Wait, stop.", voice="en-gb+f2")
        res = await simulate(user, with_thinker(config), config, cut_in=(1000.0, stop))
    assert not service.errors, service.errors
    sent = service.types()
    # The answer streams in real time here, so the barge-in lands while it is under way.
    assert sent[0] == "session.update" and sent.count("response.cancel") == 1
    # The question went up as 16 kHz audio (the two turns: the question, "Wait, stop.").
    question_s = service.appended_samples() / 16_000
    assert 2.0 < question_s < 6.0
    [cut] = [e for e in res.of_type("reply_cancelled") if e["reason"] == "barge_in"]
    assert ANSWER.startswith(cut["heard_text"]) and len(cut["heard_text"]) < len(ANSWER)
    start = next(e for e in res.of_type("reply_audio_start") if e["reply_id"] == cut["reply_id"])
    begin = round(start["t_ms"] / FRAME_MS) * FRAME_SAMPLES
    decision = round(cut["t_ms"] / FRAME_MS) * FRAME_SAMPLES
    heard = res.agent[begin:decision]
    spectrum = np.abs(np.fft.rfft(heard.astype(np.float64)))
    assert abs(np.fft.rfftfreq(len(heard), 1 / 16_000)[int(np.argmax(spectrum))] - 440) < 5
    assert not np.any(res.agent[decision : decision + 20 * FRAME_SAMPLES])
    if dialect == "qwen":  # its items have ids: the cut one is truncated at the next turn
        [truncate] = [e for e in service.received if e["type"] == "conversation.item.truncate"]
        assert 0 < truncate["audio_end_ms"] < len(ANSWER.split()) * 250
