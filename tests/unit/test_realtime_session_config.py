"""The Realtime session's wire config: its defaults, and how an update merges."""

from __future__ import annotations

import pytest
from openai.types.realtime import RealtimeSessionCreateRequest
from pydantic import ValidationError

from omnivox.agent.api.realtime.session_config import (
    RealtimeSession,
    SemanticVad,
    ServerVad,
    updated,
)


def test_defaults_are_audio_pcm_and_our_turn_classifier() -> None:
    session = RealtimeSession(id="sess_1")
    assert isinstance(session.turn_detection, SemanticVad) and not session.text_only
    wire = session.to_wire()
    assert wire["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    RealtimeSessionCreateRequest.model_validate(wire)  # the SDK's model of it


def test_an_update_merges_nested_objects_and_replaces_values() -> None:
    session = RealtimeSession(instructions="old")
    new = updated(
        session,
        {
            "audio": {
                "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 300}}
            }
        },
    )
    assert isinstance(new.turn_detection, ServerVad)
    assert new.turn_detection.silence_duration_ms == 300
    assert new.instructions == "old" and new.audio.input.format.type == "audio/pcm"
    off = updated(new, {"audio": {"input": {"turn_detection": None}}})
    assert off.turn_detection is None
    tools = updated(off, {"tools": [{"type": "function", "name": "f"}]})
    assert [t.name for t in tools.tools] == ["f"]
    assert updated(tools, {"tools": []}).tools == []


@pytest.mark.parametrize(
    "changes",
    [
        {"colour": "blue"},
        {"type": "transcription"},
        {"output_modalities": ["audio", "text"]},
        {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
        {"audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "hasty"}}}},
        {"tools": [{"type": "function", "name": "has space"}]},
    ],
)
def test_what_cannot_be_honoured_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        updated(RealtimeSession(), changes)
