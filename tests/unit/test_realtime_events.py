"""The Realtime event codec: every client event parses, every malformed shape becomes
the documented error event, and no JSON at all makes it raise."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.realtime import RealtimeErrorEvent

from omnivox.agent.api.realtime import events as ev

VALID: dict[str, dict[str, Any]] = {
    "session.update": {"session": {"type": "realtime", "instructions": "Be brief."}},
    "input_audio_buffer.append": {"audio": "AAAA"},
    "input_audio_buffer.commit": {},
    "input_audio_buffer.clear": {},
    "conversation.item.create": {
        "previous_item_id": None,
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Hi"}],
        },
    },
    "conversation.item.retrieve": {"item_id": "item_1"},
    "conversation.item.truncate": {"item_id": "item_1", "content_index": 0, "audio_end_ms": 1500},
    "conversation.item.delete": {"item_id": "item_1"},
    "response.create": {"response": {"conversation": "auto", "metadata": {"k": "v"}}},
    "response.cancel": {"response_id": "resp_1"},
    "output_audio_buffer.clear": {},
}


def test_every_client_event_type_has_an_example() -> None:
    assert sorted(VALID) == sorted(ev.CLIENT_EVENT_TYPES)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_each_client_event_parses(kind: str) -> None:
    event = ev.parse(json.dumps({"type": kind, "event_id": "evt_1", **VALID[kind]}))
    assert not isinstance(event, ev.ErrorEvent), event
    assert event.type == kind and event.event_id == "evt_1"


@pytest.mark.parametrize(
    "item",
    [
        {"type": "function_call_output", "call_id": "c1", "output": "{}"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_audio", "transcript": "Hello"}],
        },
        {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "x"}]},
        {
            "type": "message",
            "role": "user",
            "id": "mine",
            "object": "realtime.item",
            "status": "completed",
            "content": [
                {"type": "input_audio", "audio": "AAAA"},
                {"type": "input_image", "image_url": "data:,"},
            ],
        },
    ],
)
def test_every_item_shape_parses(item: dict[str, Any]) -> None:
    event = ev.parse(json.dumps({"type": "conversation.item.create", "item": item}))
    assert isinstance(event, ev.ConversationItemCreate)


MALFORMED = [
    # (message, code, param)
    (b'{"type": "response.create"}', "invalid_event", None),
    ("", "invalid_json", None),
    ("{", "invalid_json", None),
    ("[1, 2]", "invalid_event", None),
    ('"response.create"', "invalid_event", None),
    ("{}", "missing_required_parameter", "type"),
    ('{"type": 7}', "missing_required_parameter", "type"),
    ('{"type": "response.make"}', "invalid_value", "type"),
    ('{"type": "input_audio_buffer.append"}', "missing_required_parameter", "audio"),
    ('{"type": "input_audio_buffer.append", "audio": 5}', "invalid_type", "audio"),
    ('{"type": "input_audio_buffer.commit", "extra": 1}', "unknown_parameter", "extra"),
    (
        '{"type": "conversation.item.truncate", "item_id": "i", "content_index": 0, '
        '"audio_end_ms": -5}',
        "invalid_value",
        "audio_end_ms",
    ),
    (
        '{"type": "conversation.item.create", "item": {"type": "message", "role": "robot", '
        '"content": [{"type": "input_text", "text": "x"}]}}',
        "invalid_value",
        "item.role",
    ),
    (
        '{"type": "conversation.item.create", "item": {"type": "message", "role": "user", '
        '"content": [{"type": "input_text"}]}}',
        "missing_required_parameter",
        "item.content.0.text",
    ),
    (
        '{"type": "conversation.item.create", "item": {"type": "message", "role": "user", '
        '"content": []}}',
        "invalid_value",
        "item.content",
    ),
    (
        '{"type": "conversation.item.create", "item": {"type": "telepathy"}}',
        "invalid_value",
        "item",
    ),
    (
        '{"type": "response.create", "response": {"conversation": "none"}}',
        "invalid_value",
        "response.conversation",
    ),
    ('{"type": "session.update", "session": "fast"}', "invalid_type", "session"),
    ('{"type": "response.cancel", "event_id": 5}', "invalid_type", "event_id"),
    ("[" * 100_000 + "]" * 100_000, "invalid_json", None),
]


@pytest.mark.parametrize(("raw", "code", "param"), MALFORMED)
def test_malformed_events_become_the_documented_error(
    raw: str | bytes, code: str, param: str | None
) -> None:
    error = ev.parse(raw)
    assert isinstance(error, ev.ErrorEvent), error
    assert (error.error.code, error.error.param) == (code, param), error.error.message
    assert error.error.type == "invalid_request_error" and error.error.message
    RealtimeErrorEvent.model_validate(json.loads(error.to_json()))  # the SDK's own model


def test_an_error_echoes_the_client_event_id() -> None:
    error = ev.parse('{"type": "nope", "event_id": "evt_42"}')
    assert isinstance(error, ev.ErrorEvent) and error.error.event_id == "evt_42"


def test_an_oversized_event_is_refused_without_parsing() -> None:
    error = ev.parse(
        '{"type": "input_audio_buffer.append", "audio": "' + "A" * ev.MAX_EVENT_CHARS + '"}'
    )
    assert isinstance(error, ev.ErrorEvent) and error.error.code == "invalid_event"


def test_server_events_carry_exactly_their_fields() -> None:
    event = ev.server_event("conversation.item.deleted", item_id="item_1")
    assert json.loads(event.to_json()) == {
        "type": "conversation.item.deleted",
        "event_id": "",
        "item_id": "item_1",
    }
    with pytest.raises(ValueError, match="takes"):
        ev.server_event("conversation.item.deleted", itemid="item_1")
    with pytest.raises(KeyError):
        ev.server_event("conversation.item.removed", item_id="item_1")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_any_json_gives_an_event_or_an_error(value: Any) -> None:
    outcome = ev.parse(json.dumps(value))
    assert isinstance(outcome, ev.ErrorEvent) or outcome.type in ev.CLIENT_EVENT_TYPES


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(sorted(VALID)),
    st.dictionaries(
        st.sampled_from(
            [
                "audio",
                "item",
                "session",
                "item_id",
                "content_index",
                "audio_end_ms",
                "response",
                "response_id",
                "event_id",
                "previous_item_id",
                "x",
            ]
        ),
        JSON,
        max_size=4,
    ),
)
def test_any_fields_on_a_known_type_give_that_event_or_an_error(
    kind: str, fields: dict[str, Any]
) -> None:
    outcome = ev.parse(json.dumps({**fields, "type": kind}))
    if isinstance(outcome, ev.ErrorEvent):
        json.loads(outcome.to_json())
        assert outcome.error.message
    else:
        assert outcome.type == kind


@settings(max_examples=200, deadline=None)
@given(st.text() | st.binary())
def test_any_message_at_all_gives_an_event_or_an_error(raw: str | bytes) -> None:
    outcome = ev.parse(raw)
    assert isinstance(outcome, ev.ErrorEvent) or outcome.type in ev.CLIENT_EVENT_TYPES
