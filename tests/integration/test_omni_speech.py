"""A Thinker that speaks itself (chat completions with audio out): the session plays the
model's own voice, not the Talker's, after the transcript passed the interventions.

The model is the wire-exact fake OpenAI server (an external service); its "voice" is a
440 Hz tone, so what the caller hears can be told from the Piper Talker's speech."""

from __future__ import annotations

import numpy as np

from omnivox.agent.config import parse_config
from omnivox.agent.stack import ModelStack, build_thinker
from omnivox.lab.openai_server import FakeOpenAIServer, speech_stream
from omnivox.lab.simulate import simulate
from omnivox.lab.user_track import silence, speech

from .conftest import shared_stack

ANSWER = ["We are open ", "until ten tonight."]


def tone(seconds: float, rate: int = 24_000, hz: float = 440.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * 8000).astype("<i2").tobytes()


def peak_hz(pcm: np.ndarray, rate: int = 16_000) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    return float(np.fft.rfftfreq(len(pcm), 1 / rate)[int(np.argmax(spectrum))])


async def test_the_model_voice_is_what_the_caller_hears() -> None:
    user = np.concatenate([silence(0.5), speech("What are your opening hours?"), silence(5.0)])
    async with FakeOpenAIServer([speech_stream(ANSWER, tone(2.0))]) as server:
        config = parse_config(
            {
                "greeting": "",
                "thinker": {
                    "backend": "openai",
                    "base_url": server.base_url,
                    "model": "m",
                    "speak": True,
                },
            }
        )
        thinker, tools = build_thinker(config)
        base = shared_stack()
        stack = ModelStack(config, base.recognizer, thinker, base.talker, tools)
        try:
            result = await simulate(user, stack, config)
        finally:
            await thinker.close()  # type: ignore[attr-defined]
    assert server.requests[0].body["modalities"] == ["text", "audio"]
    texts = [e["text"] for e in result.events if e["type"] == "reply_text"]
    assert " ".join(texts) == "We are open until ten tonight."
    assert any(e["type"] == "turn_metrics" for e in result.events)
    loud = np.flatnonzero(np.abs(result.agent) > 1000)
    heard = result.agent[loud[0] : loud[-1] + 1]
    assert abs(len(heard) / 16_000 - 2.0) < 0.05  # the model's 2 s, all of it, once
    assert abs(peak_hz(heard) - 440) < 5  # its voice, not the Talker's
    done = [e for e in result.events if e["type"] == "reply_done"]
    assert done and done[0]["heard_text"] == "We are open until ten tonight."
