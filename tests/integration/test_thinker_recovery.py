"""A remote Thinker that fails must cost one spoken fallback line, never the session.

The remote LLM is the wire-exact fake OpenAI server (the only test double the project
allows: an external service); everything else is the real embedded stack.
"""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.agent.config import parse_config
from omnivox.agent.stack import ModelStack
from omnivox.lab.openai_server import (
    Chunk,
    Cut,
    FakeOpenAIServer,
    Raw,
    Sleep,
    StreamReply,
    error_reply,
    text_stream,
)
from omnivox.lab.simulate import simulate
from omnivox.lab.user_track import silence, speech

from .conftest import shared_stack

FALLBACK = "Sorry, my brain is offline for a moment."
GOOD = ["We are open ", "until ten tonight."]

FAILURES = {
    "http_500": error_reply(500, "internal error"),
    "slow_first_token": text_stream(["Too late."], first=[Sleep(3.0)]),
    "cut_mid_stream": StreamReply(
        [Chunk({"role": "assistant", "content": ""}), Chunk({"content": "We are "}), Cut()]
    ),
    "malformed_chunk": StreamReply(
        [Chunk({"role": "assistant", "content": ""}), Raw("data: {not json\n\n")]
    ),
}


def user_track() -> np.ndarray:
    return np.concatenate(
        [
            silence(0.5),
            speech("What are your opening hours?"),
            silence(4.0),
            speech("And on Sundays?"),
            silence(0.5),
        ]
    )


async def run(script: list, monkeypatch: pytest.MonkeyPatch) -> tuple[list[dict], FakeOpenAIServer]:  # type: ignore[type-arg]
    monkeypatch.setenv("OMNIVOX_TEST_KEY", "sk-test-secret")
    async with FakeOpenAIServer(script) as server:
        from omnivox.agent.stack import build_thinker

        config = parse_config(
            {
                "greeting": "",
                "thinker": {
                    "backend": "openai",
                    "base_url": server.base_url,
                    "model": "m",
                    "api_key_env": "OMNIVOX_TEST_KEY",
                    "first_token_timeout_s": 0.5,
                    "fallback_text": FALLBACK,
                },
            }
        )
        thinker, tools = build_thinker(config)
        base = shared_stack()
        stack = ModelStack(config, base.recognizer, thinker, base.talker, tools)
        try:
            result = await simulate(user_track(), stack, config)
        finally:
            await thinker.close()  # type: ignore[attr-defined]
    return result.events, server


@pytest.mark.parametrize("failure", list(FAILURES))
async def test_failure_speaks_fallback_and_the_next_turn_works(
    failure: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    events, server = await run([FAILURES[failure], text_stream(GOOD)], monkeypatch)
    replies: dict[str, list[str]] = {}
    for e in events:
        if e["type"] == "reply_text":
            replies.setdefault(e["reply_id"], []).append(e["text"])
    texts = [" ".join(v) for v in replies.values()]
    assert len(texts) == 2, events
    assert texts[0].endswith(FALLBACK)
    assert texts[1] == "We are open until ten tonight."
    errors = [e for e in events if e["type"] == "error"]
    assert errors and all("sk-test-secret" not in e["message"] for e in errors)
    assert len(server.requests) == 2


async def test_429_with_retry_after_is_retried_once(monkeypatch: pytest.MonkeyPatch) -> None:
    script = [error_reply(429, "slow down", retry_after="0"), text_stream(GOOD), text_stream(GOOD)]
    events, server = await run(script, monkeypatch)
    spoken = [e["text"] for e in events if e["type"] == "reply_text"]
    assert FALLBACK not in spoken
    assert not [e for e in events if e["type"] == "error"]
    assert len(server.requests) == 3
