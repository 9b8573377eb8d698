"""The realtime Thinker's configuration and its per-session shell, without a network:
bad config is named, the key is never shown, an unreachable model is a connect error."""

from __future__ import annotations

import contextlib

import pytest
from aiohttp import web

from omnivox.models.thinker.base import Message, PerSessionThinker, ThinkRequest
from omnivox.models.thinker.errors import (
    ThinkerConnectError,
    ThinkerProtocolError,
    ThinkerTimeoutError,
)
from omnivox.models.thinker.realtime import RealtimeThinker


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ValueError, match=r"^thinker\.url: must be a ws:// or wss:// URL"):
        RealtimeThinker.from_config({"url": "http://example.com"})
    with pytest.raises(ValueError, match=r"thinker\.dialect"):
        RealtimeThinker.from_config({"url": "ws://h/v1/realtime", "dialect": "gemini"})
    with pytest.raises(ValueError, match=r"thinker\.base_url"):
        RealtimeThinker.from_config({"url": "ws://h/v1/realtime", "base_url": "x"})
    with pytest.raises(ValueError, match="NO_SUCH_KEY_VAR is not set"):
        RealtimeThinker.from_config({"url": "ws://h/v1/realtime", "api_key_env": "NO_SUCH_KEY_VAR"})


def test_the_generic_keys_are_accepted_and_the_key_is_not_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RT_KEY", "sk-secret")
    thinker = RealtimeThinker.from_config(
        {
            "url": "wss://u:p@api.example.com/v1/realtime?key=1",
            "model": "gpt-realtime",
            "api_key_env": "RT_KEY",
            "timeout_s": 8,
            "fallback_text": "Sorry.",
        }
    )
    shown = repr(thinker)
    assert "sk-secret" not in shown and ":p@" not in shown and "key=1" not in shown
    assert "$RT_KEY" in shown
    assert isinstance(thinker, PerSessionThinker) and thinker.speaks and thinker.takes_audio
    assert thinker.takes_images  # openai: camera snapshots as input_image parts
    vllm = RealtimeThinker.from_config({"url": "ws://h/v1/realtime", "dialect": "vllm"})
    assert not vllm.takes_images


async def test_an_unreachable_model_is_a_connect_error() -> None:
    thinker = RealtimeThinker.from_config({"url": "ws://127.0.0.1:9/v1/realtime"})
    session = thinker.for_session()
    request = ThinkRequest([Message("user", "hi")])
    with pytest.raises(ThinkerConnectError, match="cannot reach the realtime model"):
        async with contextlib.aclosing(session.stream(request)) as events:
            async for _ in events:
                pass
    await session.aclose()


async def test_turn_audio_that_is_not_a_wav_file_is_a_protocol_error() -> None:
    thinker = RealtimeThinker.from_config({"url": "ws://127.0.0.1:9/v1/realtime"})
    request = ThinkRequest([Message("user", "hi")], audio_wav=b"not a wav")
    with pytest.raises(ThinkerProtocolError, match="not a WAV file"):
        async with contextlib.aclosing(thinker.stream(request)) as events:
            async for _ in events:
                pass


async def test_a_model_that_goes_quiet_mid_answer_fails_the_answer() -> None:
    received: list[str] = []

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:  # reads every event, answers none
            received.append(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/v1/realtime", socket)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        thinker = RealtimeThinker.from_config(
            {"url": f"ws://127.0.0.1:{port}/v1/realtime", "idle_timeout_s": 0.3}
        )
        with pytest.raises(ThinkerTimeoutError, match=r"sent nothing for 0\.3 s"):
            async with contextlib.aclosing(
                thinker.stream(ThinkRequest([Message("user", "hi")]))
            ) as events:
                async for _ in events:
                    pass
    finally:
        await runner.cleanup()
    assert '"response.create"' in received[-1]
