"""Sans-I/O SSE parsing, chunk assembly (tool-call fragments) and <think> filtering."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnivox.models.thinker.base import ToolCall
from omnivox.models.thinker.errors import ThinkerProtocolError, ThinkerServerError
from omnivox.models.thinker.sse import (
    ChunkAssembler,
    SSEEvent,
    SSEParser,
    ThinkTagFilter,
    parse_chunk,
)


def parse_all(pieces: list[bytes]) -> list[SSEEvent]:
    p = SSEParser()
    events: list[SSEEvent] = []
    for piece in pieces:
        events += p.feed(piece)
    return events + p.close()


# ---- SSEParser -----------------------------------------------------------------------------


def test_data_lines_blank_line_dispatch() -> None:
    assert parse_all([b'data: {"a":1}\n\ndata: [DONE]\n\n']) == [
        SSEEvent('{"a":1}'),
        SSEEvent("[DONE]"),
    ]


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert parse_all([b"data: one\ndata: two\ndata:\n\n"]) == [SSEEvent("one\ntwo\n")]


def test_comments_and_unknown_fields_are_ignored() -> None:
    raw = b": keep-alive\n\nid: 7\nretry: 100\nfoo: bar\ndata: x\n\n:another\n\n"
    assert parse_all([raw]) == [SSEEvent("x")]


def test_event_field_names_the_event() -> None:
    assert parse_all([b"event: error\ndata: boom\n\ndata: ok\n\n"]) == [
        SSEEvent("boom", "error"),
        SSEEvent("ok"),
    ]


def test_only_one_leading_space_is_stripped_and_none_is_required() -> None:
    assert parse_all([b"data:x\n\ndata:  y\n\n"]) == [SSEEvent("x"), SSEEvent(" y")]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_all_line_endings(eol: bytes) -> None:
    raw = b"data: a" + eol + b"data: b" + eol + eol + b"data: c" + eol + eol
    assert parse_all([raw]) == [SSEEvent("a\nb"), SSEEvent("c")]
    # split after every byte: a CR at a chunk boundary may be half of a CRLF
    assert parse_all([raw[i : i + 1] for i in range(len(raw))]) == [SSEEvent("a\nb"), SSEEvent("c")]


def test_utf8_split_inside_a_character() -> None:
    raw = "data: héllo 你好\n\n".encode()
    assert parse_all([raw[:8], raw[8:15], raw[15:]]) == [SSEEvent("héllo 你好")]


def test_bom_at_start_is_dropped() -> None:
    assert parse_all([b"\xef\xbb\xbfdata: x\n\n"]) == [SSEEvent("x")]


def test_stream_ending_without_final_blank_line_still_dispatches() -> None:
    assert parse_all([b"data: 1\n\ndata: [DONE]\n"]) == [SSEEvent("1"), SSEEvent("[DONE]")]
    assert parse_all([b"data: [DONE]"]) == [SSEEvent("[DONE]")]


def test_blank_lines_without_data_dispatch_nothing() -> None:
    assert parse_all([b"\n\n\nevent: x\n\n"]) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=200), max_size=10))
def test_any_byte_split_gives_the_same_events(cuts: list[int]) -> None:
    raw = (
        b': ping\r\n\r\ndata: {"x": "\xc3\xa9"}\r\n\r\ndata: a\rdata: b\r\r'
        b"event: error\ndata: e\n\ndata: [DONE]\n\n"
    )
    bounds = sorted({min(c, len(raw)) for c in cuts} | {0, len(raw)})
    pieces = [raw[a:b] for a, b in itertools.pairwise(bounds)]
    assert parse_all(pieces) == parse_all([raw])
    assert parse_all([raw]) == [
        SSEEvent('{"x": "é"}'),
        SSEEvent("a\nb"),
        SSEEvent("e", "error"),
        SSEEvent("[DONE]"),
    ]


# ---- parse_chunk ----------------------------------------------------------------------------


def test_parse_chunk_rejects_malformed_json_and_non_objects() -> None:
    assert parse_chunk('{"a": 1}') == {"a": 1}
    with pytest.raises(ThinkerProtocolError, match="not valid JSON") as err:
        parse_chunk('{"choices": [')
    assert err.value.kind == "protocol"
    with pytest.raises(ThinkerProtocolError, match="list chunk"):
        parse_chunk("[1]")


# ---- ChunkAssembler -------------------------------------------------------------------------


def delta(d: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": d, "finish_reason": finish}],
    }


def test_text_and_role_only_chunks() -> None:
    a = ChunkAssembler()
    assert a.feed(delta({"role": "assistant", "content": ""})) == []
    assert not a.started  # a role-only chunk is no token yet
    assert a.feed(delta({"content": "Hi"})) == ["Hi"]
    assert a.started
    assert a.feed(delta({"content": None})) == []  # llama.cpp
    assert a.feed(delta({}, "stop")) == []
    assert a.finish_reason == "stop"
    assert a.take_calls() is None


def test_usage_chunk_with_empty_choices() -> None:
    a = ChunkAssembler()
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert a.feed({"choices": [], "usage": usage}) == []
    assert a.usage == usage


def test_reasoning_is_progress_but_never_text() -> None:
    a = ChunkAssembler()
    assert a.feed(delta({"reasoning_content": "let me think"})) == []
    assert a.started
    b = ChunkAssembler()
    assert b.feed(delta({"reasoning": "hmm", "content": None})) == []
    assert b.started


def test_other_choices_are_ignored() -> None:
    a = ChunkAssembler()
    assert a.feed({"choices": [{"index": 1, "delta": {"content": "alt"}}]}) == []


def test_error_object_in_stream() -> None:
    with pytest.raises(ThinkerServerError, match="out of memory") as err:
        ChunkAssembler().feed(
            {"error": {"message": "CUDA out of memory", "type": "InternalServerError"}}
        )
    assert err.value.kind == "server_error"


def _openai_fragments() -> list[dict[str, Any]]:
    # Two parallel calls, interleaved, the way OpenAI streams them.
    return [
        delta({"role": "assistant", "content": None}),
        delta(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        delta(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": ""},
                    }
                ]
            }
        ),
        delta({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Pa'}}]}),
        delta({"tool_calls": [{"index": 1, "function": {"arguments": '{"tz": '}}]}),
        delta({"tool_calls": [{"index": 0, "function": {"arguments": 'ris"}'}}]}),
        delta({"tool_calls": [{"index": 1, "function": {"arguments": '"UTC"}'}}]}),
        delta({}, "tool_calls"),
    ]


EXPECTED_CALLS = [
    ToolCall("call_a", "get_weather", {"city": "Paris"}),
    ToolCall("call_b", "get_time", {"tz": "UTC"}),
]


def test_parallel_tool_calls_interleaved_by_index() -> None:
    a = ChunkAssembler()
    for chunk in _openai_fragments():
        assert a.feed(chunk) == []
    requested = a.take_calls()
    assert requested is not None
    assert requested.calls == EXPECTED_CALLS
    assert a.take_calls() is None  # only once


def test_dashscope_empty_id_and_name_in_later_fragments() -> None:
    a = ChunkAssembler()
    a.feed(
        delta(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"a"'},
                    }
                ]
            }
        )
    )
    a.feed(
        delta(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "",
                        "type": "function",
                        "function": {"name": "", "arguments": ": 1}"},
                    }
                ]
            }
        )
    )
    requested = a.take_calls()
    assert requested is not None and requested.calls == [ToolCall("call_1", "f", {"a": 1})]


def test_fragments_without_index_ollama_style() -> None:
    a = ChunkAssembler()
    a.feed(
        delta({"tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": '{"x": 1}'}}]})
    )
    a.feed(delta({"tool_calls": [{"id": "c2", "function": {"name": "g", "arguments": "{}"}}]}))
    a.feed(delta({}, "stop"))  # older Ollama says "stop" even after tool calls
    requested = a.take_calls()
    assert requested is not None
    assert requested.calls == [ToolCall("c1", "f", {"x": 1}), ToolCall("c2", "g", {})]


def test_reused_index_with_new_id_starts_a_new_call_ollama_style() -> None:
    a = ChunkAssembler()
    a.feed(
        delta(
            {
                "tool_calls": [
                    {"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"x"'}}
                ]
            }
        )
    )
    a.feed(delta({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}))
    a.feed(
        delta(
            {
                "tool_calls": [
                    {"index": 0, "id": "c2", "function": {"name": "g", "arguments": '{"y"'}}
                ]
            }
        )
    )
    a.feed(delta({"tool_calls": [{"index": 0, "id": "", "function": {"arguments": ": 2}"}}]}))
    requested = a.take_calls()
    assert requested is not None
    assert requested.calls == [ToolCall("c1", "f", {"x": 1}), ToolCall("c2", "g", {"y": 2})]


def test_fragments_without_index_continue_the_last_call() -> None:
    a = ChunkAssembler()
    a.feed(delta({"tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": '{"x"'}}]}))
    a.feed(delta({"tool_calls": [{"function": {"arguments": ": 2}"}}]}))
    requested = a.take_calls()
    assert requested is not None and requested.calls == [ToolCall("c1", "f", {"x": 2})]


def test_arguments_as_object_and_empty_arguments() -> None:
    a = ChunkAssembler()
    a.feed(
        delta(
            {
                "tool_calls": [
                    {"index": 0, "id": "c", "function": {"name": "f", "arguments": {"k": "v"}}}
                ]
            }
        )
    )
    a.feed(
        delta({"tool_calls": [{"index": 1, "id": "d", "function": {"name": "g", "arguments": ""}}]})
    )
    requested = a.take_calls()
    assert requested is not None
    assert requested.calls == [ToolCall("c", "f", {"k": "v"}), ToolCall("d", "g", {})]


def test_missing_id_gets_a_unique_one() -> None:
    a = ChunkAssembler()
    a.feed(delta({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "{}"}}]}))
    a.feed(delta({"tool_calls": [{"index": 1, "function": {"name": "f", "arguments": "{}"}}]}))
    requested = a.take_calls()
    assert requested is not None
    ids = [c.id for c in requested.calls]
    assert all(i.startswith("call_") for i in ids) and len(set(ids)) == 2


@pytest.mark.parametrize(
    ("arguments", "finish", "match"),
    [
        ('{"city": "Par', "tool_calls", "not valid JSON"),
        ('{"city": "Par', "length", "hit max_tokens"),
        ("[1, 2]", "tool_calls", "JSON list, not an object"),
    ],
)
def test_bad_arguments_are_a_protocol_error(arguments: str, finish: str, match: str) -> None:
    a = ChunkAssembler()
    a.feed(
        delta(
            {
                "tool_calls": [
                    {"index": 0, "id": "c", "function": {"name": "f", "arguments": arguments}}
                ]
            },
            finish,
        )
    )
    with pytest.raises(ThinkerProtocolError, match=match):
        a.take_calls()


def test_call_without_name_is_a_protocol_error() -> None:
    a = ChunkAssembler()
    a.feed(delta({"tool_calls": [{"index": 0, "id": "c", "function": {"arguments": "{}"}}]}))
    with pytest.raises(ThinkerProtocolError, match="no function name"):
        a.take_calls()


def test_llama_cpp_finish_in_separate_chunk_with_null_content() -> None:
    a = ChunkAssembler()
    frag = {
        "index": 0,
        "id": "x",
        "type": "function",
        "function": {"name": "f", "arguments": json.dumps({"n": 1})},
    }
    a.feed(delta({"content": None, "tool_calls": [frag]}))
    assert a.finish_reason is None
    a.feed(delta({}, "tool_calls"))
    requested = a.take_calls()
    assert requested is not None and requested.calls == [ToolCall("x", "f", {"n": 1})]


# ---- ThinkTagFilter -------------------------------------------------------------------------


def think(pieces: list[str]) -> str:
    f = ThinkTagFilter()
    return "".join(f.feed(p) for p in pieces) + f.flush()


def test_think_span_is_removed() -> None:
    assert think(["<think>plan it</think>Hello."]) == "Hello."


def test_think_tags_split_across_deltas() -> None:
    text = "<think>a < b</think>Sure. <thin"
    for cut in range(len(text) + 1):
        assert think([text[:cut], text[cut:]]) == "Sure. <thin"


def test_text_that_only_looks_like_a_tag_is_kept() -> None:
    assert think(["1 <", " 2 and <b>bold</b>"]) == "1 < 2 and <b>bold</b>"


def test_unclosed_think_drops_the_rest() -> None:
    assert think(["Hi <think>never closed"]) == "Hi "
