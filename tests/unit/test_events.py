"""Typed session events and the emitter that stamps them."""

from __future__ import annotations

import json
import logging

import pytest

from omnivox.agent.events import Emitter, Event, EventType
from omnivox.media.clock import VirtualClock


def test_events_serialise_flat_with_their_type_name() -> None:
    event = Event(EventType.REPLY_TEXT, 12.345, {"reply_id": "r1", "text": "Hi"})
    assert json.loads(event.to_json()) == {
        "type": "reply_text",
        "t_ms": 12.3,
        "reply_id": "r1",
        "text": "Hi",
    }


def test_outcomes_are_logged_at_info_and_the_stream_at_debug() -> None:
    assert EventType.TURN_METRICS.log_level == logging.INFO
    assert EventType.ERROR.log_level == logging.INFO
    assert EventType.TRANSCRIPT_PARTIAL.log_level == logging.DEBUG


def test_the_emitter_stamps_time_and_common_fields() -> None:
    got: list[Event] = []
    clock = VirtualClock(40.0)
    emit = Emitter(got.append, clock).child(reply_id="r2")
    emit(EventType.REPLY_DONE)
    emit.error("no voice", source="talker")
    assert got == [
        Event(EventType.REPLY_DONE, 40.0, {"reply_id": "r2"}),
        Event(EventType.ERROR, 40.0, {"reply_id": "r2", "message": "no voice", "source": "talker"}),
    ]


def test_a_broken_listener_does_not_break_the_emitter(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_event: Event) -> None:
        raise RuntimeError("listener bug")

    Emitter(broken, VirtualClock())(EventType.VAD_START)
    assert "event sink failed" in caplog.text
