"""OpenAIThinker against the wire-exact fake server (127.0.0.1, no network)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest

from omnivox.lab.openai_server import (
    Chunk,
    Cut,
    Done,
    FakeOpenAIServer,
    JSONReply,
    Raw,
    Reply,
    Sleep,
    StreamReply,
    Usage,
    completion_reply,
    error_reply,
    speech_stream,
    text_stream,
    tool_call_steps,
)
from omnivox.models.thinker.base import (
    Message,
    SpeechAudio,
    TextDelta,
    ThinkerEvent,
    ThinkRequest,
    ToolCall,
    ToolCallsRequested,
    ToolSpec,
)
from omnivox.models.thinker.errors import (
    ThinkerConnectError,
    ThinkerError,
    ThinkerHTTPError,
    ThinkerTimeoutError,
)
from omnivox.models.thinker.openai_compat import OpenAIThinker

KEY = "sk-test-0123456789abcdef-SECRET"
HELLO = ThinkRequest([Message("system", "Be brief."), Message("user", "Hi there")])


@contextlib.asynccontextmanager
async def served(
    script: list[Reply], **options: Any
) -> AsyncIterator[tuple[FakeOpenAIServer, OpenAIThinker]]:
    async with FakeOpenAIServer(script) as server:
        thinker = OpenAIThinker.from_config({"base_url": server.base_url, "model": "m", **options})
        try:
            yield server, thinker
        finally:
            await thinker.close()


async def collect(thinker: OpenAIThinker, request: ThinkRequest = HELLO) -> list[ThinkerEvent]:
    return [event async for event in thinker.stream(request)]


async def collect_until_error(
    thinker: OpenAIThinker, request: ThinkRequest = HELLO
) -> tuple[list[ThinkerEvent], ThinkerError]:
    events: list[ThinkerEvent] = []
    with pytest.raises(ThinkerError) as err:
        async for event in thinker.stream(request):
            events.append(event)
    return events, err.value


def wav_bytes() -> bytes:
    pcm = b"\x00\x00" * 160
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(pcm))
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", len(pcm))
        + pcm
    )


JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


# ---- text, tool calls, wire format -------------------------------------------------------------


async def test_streams_text_and_sends_the_openai_body() -> None:
    async with served([text_stream(["Hel", "lo", " world."])], temperature=0.2, max_tokens=64) as (
        server,
        thinker,
    ):
        assert await collect(thinker) == [TextDelta("Hel"), TextDelta("lo"), TextDelta(" world.")]
    [req] = server.requests
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["accept"] == "text/event-stream"
    assert req.headers["content-type"] == "application/json"
    assert "authorization" not in req.headers  # no api_key_env: no key
    assert req.body == {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi there"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.2,
        "max_tokens": 64,
    }


async def test_parallel_tool_calls_split_across_chunks() -> None:
    steps = tool_call_steps(
        [
            ("call_a", "get_weather", '{"city": "Paris", "unit": "C"}'),
            ("call_b", "get_time", '{"tz": "Europe/Paris"}'),
        ],
        pieces=4,
    )
    async with served([StreamReply([*steps, Usage(), Done()])]) as (_, thinker):
        events = await collect(thinker)
    assert events == [
        ToolCallsRequested(
            [
                ToolCall("call_a", "get_weather", {"city": "Paris", "unit": "C"}),
                ToolCall("call_b", "get_time", {"tz": "Europe/Paris"}),
            ]
        )
    ]


async def test_tools_and_tool_round_trip_messages_on_the_wire() -> None:
    spec = ToolSpec(
        "get_time", "Current time", {"type": "object", "properties": {"tz": {"type": "string"}}}
    )
    request = ThinkRequest(
        [
            Message("user", "What time is it?"),
            Message("assistant", tool_calls=[ToolCall("call_1", "get_time", {"tz": "UTC"})]),
            Message("tool", "12:00", tool_call_id="call_1", name="get_time"),
        ],
        tools=[spec],
    )
    async with served([text_stream(["Noon."])]) as (server, thinker):
        assert await collect(thinker, request) == [TextDelta("Noon.")]
    body = server.requests[0].body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_time",
                "description": "Current time",
                "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
            },
        }
    ]
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": '{"tz": "UTC"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "12:00"},
    ]


async def test_usage_chunk_is_consumed_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="omnivox.models.thinker.openai_compat")
    async with served([text_stream(["Ok."], usage=True)]) as (_, thinker):
        assert await collect(thinker) == [TextDelta("Ok.")]
    assert "'total_tokens': 18" in caplog.text


async def test_include_usage_off_omits_stream_options() -> None:
    async with served([text_stream(["Ok."], usage=False)], include_usage=False) as (
        server,
        thinker,
    ):
        assert await collect(thinker) == [TextDelta("Ok.")]
    assert "stream_options" not in server.requests[0].body


async def test_keep_alive_comments_are_ignored() -> None:
    reply = text_stream(["A", "B"], first=[Raw(": keep-alive\n\n"), Raw(":\n\n")])
    async with served([reply]) as (_, thinker):
        assert await collect(thinker) == [TextDelta("A"), TextDelta("B")]


async def test_reasoning_is_not_spoken_and_think_tags_are_stripped() -> None:
    reply = StreamReply(
        [
            Chunk({"role": "assistant", "reasoning_content": "The user greets me."}),
            Chunk({"content": "<thi"}),
            Chunk({"content": "nk>plan</think>Hi"}),
            Chunk({"content": "!"}, "stop"),
            Done(),
        ]
    )
    async with served([reply]) as (_, thinker):
        events = await collect(thinker)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hi!"


async def test_finish_in_separate_chunk_and_no_done_llama_cpp_style() -> None:
    reply = StreamReply([Chunk({"content": None}), Chunk({"content": "Yes."}), Chunk({}, "stop")])
    async with served([reply]) as (_, thinker):
        assert await collect(thinker) == [TextDelta("Yes.")]


async def test_non_streaming_json_answer_is_accepted() -> None:
    calls = [{"id": "c9", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]
    async with served([completion_reply("Sure."), completion_reply(None, calls)]) as (_, thinker):
        assert await collect(thinker) == [TextDelta("Sure.")]
        assert await collect(thinker) == [ToolCallsRequested([ToolCall("c9", "f", {"a": 1})])]


async def test_context_goes_into_the_first_system_message() -> None:
    request = ThinkRequest(
        [Message("system", "Be brief."), Message("user", "Hours?")], context=["Open 9-5."]
    )
    async with served([text_stream(["9 to 5."])]) as (server, thinker):
        await collect(thinker, request)
    assert server.requests[0].body["messages"][0] == {
        "role": "system",
        "content": "Be brief.\n\nContext:\n- Open 9-5.",
    }


async def test_connection_is_reused_between_turns() -> None:
    async with served([text_stream(["One."]), text_stream(["Two."])]) as (server, thinker):
        await collect(thinker)
        await collect(thinker)
    assert server.requests[0].peer == server.requests[1].peer


# ---- images and audio ---------------------------------------------------------------------------


async def test_image_and_audio_parts_in_openai_format() -> None:
    wav = wav_bytes()
    request = ThinkRequest([Message("user", "What is this?")], images=[JPEG, PNG], audio_wav=wav)
    async with served([text_stream(["A cat."])], user_input="both") as (server, thinker):
        await collect(thinker, request)
    assert server.requests[0].body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {
                    "type": "image_url",
                    "image_url": {
                        "url": "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
                    },
                },
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
                },
                {
                    "type": "input_audio",
                    "input_audio": {"data": base64.b64encode(wav).decode(), "format": "wav"},
                },
            ],
        }
    ]


@pytest.mark.parametrize(
    ("user_input", "options", "expected_types", "data_prefix"),
    [
        ("text", {}, None, ""),  # transcript only: plain string content
        ("audio", {}, ["input_audio"], ""),
        ("audio", {"audio_data_uri": True}, ["input_audio"], "data:;base64,"),  # DashScope
    ],
)
async def test_user_input_switch(
    user_input: str, options: dict[str, Any], expected_types: list[str] | None, data_prefix: str
) -> None:
    wav = wav_bytes()
    request = ThinkRequest(
        [Message("assistant", "Hello."), Message("user", "transcript")], audio_wav=wav
    )
    async with served([text_stream(["Ok."])], user_input=user_input, **options) as (
        server,
        thinker,
    ):
        await collect(thinker, request)
    messages = server.requests[0].body["messages"]
    assert messages[0] == {"role": "assistant", "content": "Hello."}
    if expected_types is None:
        assert messages[1] == {"role": "user", "content": "transcript"}
    else:
        parts = messages[1]["content"]
        assert [p["type"] for p in parts] == expected_types
        assert parts[0]["input_audio"]["data"] == data_prefix + base64.b64encode(wav).decode()


async def test_bad_media_is_a_clear_error_before_any_request() -> None:
    async with served([]) as (server, thinker):
        with pytest.raises(ValueError, match=r"images\[0\] is not a JPEG"):
            await collect(thinker, ThinkRequest([Message("user", "x")], images=[b"GIF?"]))
        with pytest.raises(ValueError, match="not a WAV"):
            thinker_audio = OpenAIThinker.from_config(
                {"base_url": server.base_url, "model": "m", "user_input": "audio"}
            )
            await collect(thinker_audio, ThinkRequest([Message("user", "x")], audio_wav=b"ID3junk"))
        with pytest.raises(ValueError, match="no user message"):
            await collect(thinker, ThinkRequest([Message("system", "x")], images=[JPEG]))
    assert server.requests == []


# ---- failures -----------------------------------------------------------------------------------


async def test_slow_first_token_times_out() -> None:
    async with served([text_stream(["late"], first=[Sleep(30)])], first_token_timeout_s=0.3) as (
        _,
        thinker,
    ):
        events, err = await collect_until_error(thinker)
    assert events == []
    assert isinstance(err, ThinkerTimeoutError) and err.kind == "timeout_first_token"
    assert err.timeout_s == 0.3


async def test_keep_alives_do_not_satisfy_the_first_token_budget() -> None:
    pings: list[Any] = [step for _ in range(100) for step in (Raw(": ping\n\n"), Sleep(0.05))]
    async with served([text_stream(["late"], first=pings)], first_token_timeout_s=0.3) as (
        _,
        thinker,
    ):
        _, err = await collect_until_error(thinker)
    assert err.kind == "timeout_first_token"


async def test_stall_after_first_token_is_an_idle_timeout() -> None:
    reply = StreamReply([Chunk({"content": "Let me "}), Sleep(30), Chunk({"content": "see."})])
    async with served([reply], idle_timeout_s=0.3) as (_, thinker):
        events, err = await collect_until_error(thinker)
    assert events == [TextDelta("Let me ")]
    assert err.kind == "timeout_idle"


async def test_http_500_is_not_retried() -> None:
    async with served([error_reply(500, "model crashed"), text_stream(["never"])]) as (
        server,
        thinker,
    ):
        _, err = await collect_until_error(thinker)
    assert isinstance(err, ThinkerHTTPError) and err.status == 500 and err.kind == "http_status"
    assert "model crashed" in err.message
    assert len(server.requests) == 1


async def test_429_with_retry_after_is_retried_once_then_succeeds() -> None:
    script: list[Reply] = [error_reply(429, "slow down", retry_after="0"), text_stream(["Ok."])]
    async with served(script) as (server, thinker):
        assert await collect(thinker) == [TextDelta("Ok.")]
    assert len(server.requests) == 2
    assert server.requests[0].body == server.requests[1].body


async def test_503_without_retry_after_is_retried_once() -> None:
    async with served([error_reply(503, "loading"), text_stream(["Ok."])]) as (server, thinker):
        assert await collect(thinker) == [TextDelta("Ok.")]
    assert len(server.requests) == 2


async def test_429_twice_fails_with_retry_after() -> None:
    script: list[Reply] = [
        error_reply(429, "slow down", retry_after="0"),
        error_reply(429, "still", retry_after="0"),
    ]
    async with served(script) as (server, thinker):
        _, err = await collect_until_error(thinker)
    assert isinstance(err, ThinkerHTTPError) and err.status == 429 and err.retry_after_s == 0.0
    assert "still" in err.message
    assert len(server.requests) == 2


async def test_429_whose_retry_after_exceeds_the_budget_is_not_retried() -> None:
    script: list[Reply] = [error_reply(429, "later", retry_after="30"), text_stream(["never"])]
    async with served(script, first_token_timeout_s=2) as (server, thinker):
        _, err = await collect_until_error(thinker)
    assert isinstance(err, ThinkerHTTPError) and err.retry_after_s == 30.0
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),  # OpenAI's finer header wins
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past
        ({"Retry-After": "soon"}, None),
    ],
)
async def test_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    reply = JSONReply(error_reply(429, "wait").body, 429, headers)
    async with served([reply, reply], first_token_timeout_s=0.5) as (_, thinker):
        _, err = await collect_until_error(thinker)
    assert isinstance(err, ThinkerHTTPError) and err.retry_after_s == expected


async def test_wrong_content_type_is_a_protocol_error() -> None:
    reply = StreamReply([Raw("<html>login</html>")], headers={"Content-Type": "text/html"})
    async with served([reply]) as (_, thinker):
        _, err = await collect_until_error(thinker)
    assert err.kind == "protocol" and "text/html" in err.message


async def test_connect_failure() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    thinker = OpenAIThinker.from_config(
        {"base_url": f"http://user:pw@127.0.0.1:{port}/v1?key=q", "model": "m"}
    )
    try:
        _, err = await collect_until_error(thinker)
    finally:
        await thinker.close()
    assert isinstance(err, ThinkerConnectError) and err.kind == "connect"
    assert f"http://127.0.0.1:{port}/v1/chat/completions" in err.message
    assert "pw" not in err.message and "key=q" not in err.message


async def test_cut_mid_stream_is_disconnected_after_partial_text() -> None:
    reply = StreamReply([Chunk({"content": "The answer "}), Chunk({"content": "is "}), Cut()])
    async with served([reply, text_stream(["never"])]) as (server, thinker):
        events, err = await collect_until_error(thinker)
    assert events == [TextDelta("The answer "), TextDelta("is ")]
    assert err.kind == "disconnected"
    assert len(server.requests) == 1  # never retried once text was yielded


async def test_malformed_json_chunk_fails_the_stream() -> None:
    reply = StreamReply(
        [
            Chunk({"content": "Fine "}),
            Raw('data: {"choices": [{"delta": \n\n'),
            Chunk({"content": "x"}),
        ]
    )
    async with served([reply]) as (_, thinker):
        events, err = await collect_until_error(thinker)
    assert events == [TextDelta("Fine ")]
    assert err.kind == "protocol" and "not valid JSON" in err.message


async def test_error_object_inside_the_stream() -> None:
    reply = StreamReply(
        [Chunk({"content": "Hm"}), Raw('data: {"error": {"message": "CUDA out of memory"}}\n\n')]
    )
    async with served([reply]) as (_, thinker):
        _, err = await collect_until_error(thinker)
    assert err.kind == "server_error" and "CUDA out of memory" in err.message


# ---- the API key ----------------------------------------------------------------------


async def test_api_key_is_sent_as_bearer_and_never_leaks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_THINKER_KEY", KEY)
    script: list[Reply] = [
        text_stream(["Ok."]),
        error_reply(401, f"Incorrect API key provided: {KEY}."),
    ]
    async with served(script, api_key_env="TEST_THINKER_KEY", extra_headers={"X-Org": "o1"}) as (
        server,
        thinker,
    ):
        await collect(thinker)
        _, err = await collect_until_error(thinker)
        texts = [str(err), repr(err), err.message, repr(thinker), repr(thinker.config)]
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert server.requests[0].headers["x-org"] == "o1"
    assert isinstance(err, ThinkerHTTPError) and err.status == 401
    assert "Incorrect API key provided: ***" in err.message
    for text in texts:
        assert KEY not in text and "Bearer" not in text
    assert err.__cause__ is None and err.__suppress_context__


def test_missing_key_variable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(
        ValueError, match=r"thinker\.api_key_env: environment variable NO_SUCH_KEY_VAR is not set"
    ):
        OpenAIThinker.from_config(
            {"base_url": "http://127.0.0.1:1/v1", "model": "m", "api_key_env": "NO_SUCH_KEY_VAR"}
        )


# ---- cancellation ------------------------------------------------------------------------------


def endless() -> StreamReply:
    return StreamReply(
        [
            Chunk({"content": "word "}),
            *[s for _ in range(200) for s in (Sleep(0.05), Chunk({"content": "more "}))],
        ]
    )


async def test_aclose_mid_stream_closes_the_connection() -> None:
    async with served([endless()]) as (server, thinker):
        stream = thinker.stream(HELLO)
        assert await anext(stream) == TextDelta("word ")
        await stream.aclose()
        await asyncio.wait_for(server.disconnected.wait(), 10)  # hang guard, not a timing check
        assert len(server.disconnect_times) == 1


async def test_cancelling_the_consumer_closes_the_connection() -> None:
    async with served([endless()]) as (server, thinker):
        got_text = asyncio.Event()

        async def consume() -> None:
            async for _ in thinker.stream(HELLO):
                got_text.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(got_text.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(server.disconnected.wait(), 10)


async def test_cancel_while_waiting_for_headers_closes_the_connection() -> None:
    async with served([StreamReply([Done()], headers_delay_s=30)]) as (server, thinker):
        task = asyncio.create_task(collect(thinker))
        await asyncio.wait_for(server.received.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(server.disconnected.wait(), 10)


async def test_no_headers_within_the_budget_is_a_first_token_timeout() -> None:
    reply = StreamReply(text_stream(["late"]).steps, headers_delay_s=30)
    async with served([reply], first_token_timeout_s=0.3) as (server, thinker):
        _, err = await collect_until_error(thinker)
        assert err.kind == "timeout_first_token"
        await asyncio.wait_for(server.disconnected.wait(), 10)  # and the request is dropped


# ---- config ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"model": "m"}, r"thinker\.base_url: required"),
        ({"base_url": "ftp://x/v1", "model": "m"}, r"thinker\.base_url: must be an http"),
        ({"base_url": "http://h/v1"}, r"thinker\.model: required"),
        ({"base_url": "http://h/v1", "model": "m", "modle": "x"}, r"thinker\.modle: unknown key"),
        (
            {"base_url": "http://h/v1", "model": "m", "idle_timeout_s": 0},
            r"thinker\.idle_timeout_s",
        ),
        ({"base_url": "http://h/v1", "model": "m", "temperature": "hot"}, r"thinker\.temperature"),
        ({"base_url": "http://h/v1", "model": "m", "max_tokens": 1.5}, r"thinker\.max_tokens"),
        ({"base_url": "http://h/v1", "model": "m", "user_input": "video"}, r"thinker\.user_input"),
        (
            {"base_url": "http://h/v1", "model": "m", "extra_body": {"stream": False}},
            r"thinker\.extra_body\.stream",
        ),
        (
            {"base_url": "http://h/v1", "model": "m", "extra_headers": {"X": 1}},
            r"thinker\.extra_headers",
        ),
        ({"base_url": "http://h/v1", "model": "m", "strip_think": "yes"}, r"thinker\.strip_think"),
    ],
)
def test_bad_config_names_the_key(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        OpenAIThinker.from_config(options)


async def test_generic_thinker_keys_are_accepted_and_extra_body_is_merged() -> None:
    options = {
        "knowledge_base": None,
        "timeout_s": 8.0,
        "fallback_text": "Sorry.",
        "extra_body": {"chat_template_kwargs": {"enable_thinking": False}, "top_p": 0.9},
    }
    async with served([text_stream(["Ok."])], **options) as (server, thinker):
        await collect(thinker)
    body = server.requests[0].body
    assert body["chat_template_kwargs"] == {"enable_thinking": False} and body["top_p"] == 0.9
    assert "temperature" not in body and "max_tokens" not in body  # unset: server defaults


async def test_a_model_that_speaks_streams_its_transcript_and_its_audio() -> None:
    pcm = bytes(range(256)) * 60  # 15360 bytes of 16-bit PCM
    script: list[Reply] = [speech_stream(["Hello ", "there."], pcm)]
    async with served(script, speak=True, voice="verse", audio_format="wav") as (server, t):
        events = await collect(t)
    body = server.requests[0].body
    assert body["modalities"] == ["text", "audio"]
    assert body["audio"] == {"voice": "verse", "format": "wav"}
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello there."
    audio = [e for e in events if isinstance(e, SpeechAudio)]
    assert b"".join(a.pcm for a in audio) == pcm and {a.rate for a in audio} == {24_000}
    assert t.speaks


async def test_audio_that_is_not_base64_is_a_protocol_error() -> None:
    steps = [Chunk({"audio": {"data": "not base64!"}}), Chunk({}, "stop"), Done()]
    async with served([StreamReply(steps)], speak=True) as (_, t):
        _, err = await collect_until_error(t)
    assert "base64" in str(err)


@pytest.mark.parametrize(
    ("options", "key"),
    [({"audio_format": "mp3"}, "audio_format"), ({"audio_rate": 100}, "audio_rate")],
)
def test_speech_options_are_checked(options: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=f"thinker.{key}"):
        OpenAIThinker.from_config({"base_url": "http://x", "model": "m", **options})
