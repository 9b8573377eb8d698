"""Session events: what the page, the JSONL log and the simulator all see.

Every event has a `type` and `t_ms` on the session's media clock; the rest is flat JSON.
The types are one enum, so a typo is a lint error rather than an event nobody receives.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from omnivox.media.clock import Clock

log = logging.getLogger(__name__)


class EventType(StrEnum):
    SESSION_STARTED = "session_started"
    SESSION_ENDED = "session_ended"
    ERROR = "error"
    # the user
    VAD_START = "vad_start"
    VAD_STOP = "vad_stop"
    ECHO_GATE = "echo_gate"
    ECHO_PATH = "echo_path"
    TRANSCRIPT_PARTIAL = "transcript_partial"
    TRANSCRIPT_FINAL = "transcript_final"
    # turn taking
    TURN_STATE = "turn_state"
    TURN_DECISION = "turn_decision"
    BACKCHANNEL = "backchannel"
    INTERRUPTION = "interruption"
    FALSE_INTERRUPTION_RESUMED = "false_interruption_resumed"
    USER_TURN_END = "user_turn_end"
    # the agent's reply
    REPLY_START = "reply_start"
    REPLY_TEXT = "reply_text"
    REPLY_BLOCKED = "reply_blocked"
    REPLY_AUDIO_START = "reply_audio_start"
    REPLY_AUDIO_END = "reply_audio_end"
    REPLY_DONE = "reply_done"
    REPLY_CANCELLED = "reply_cancelled"
    TURN_METRICS = "turn_metrics"
    MOUTH_TO_EAR = "mouth_to_ear"
    SOURCES = "sources"
    TOOL_CALL = "tool_call"
    # the camera
    PRESENCE = "presence"
    CONVERSATION_RESET = "conversation_reset"
    # the phone
    DTMF = "dtmf"

    @property
    def log_level(self) -> int:
        """What an operator wants in the server log at INFO: outcomes, not the stream."""
        return logging.INFO if self in _WORTH_LOGGING else logging.DEBUG


_WORTH_LOGGING = frozenset(
    {
        EventType.TURN_METRICS,
        EventType.MOUTH_TO_EAR,
        EventType.REPLY_CANCELLED,
        EventType.ERROR,
        EventType.SESSION_ENDED,
    }
)


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    t_ms: float
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": str(self.type), "t_ms": round(self.t_ms, 1), **self.data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


EventSink = Callable[[Event], None]


class Emitter:
    """Stamps events with the clock and hands them to a sink that may fail: a broken
    listener must not break the conversation."""

    def __init__(self, sink: EventSink, clock: Clock, **common: object) -> None:
        self._sink = sink
        self._clock = clock
        self._common = common
        """Fields every event of this emitter carries (a reply's `reply_id`)."""

    def __call__(self, type_: EventType, **data: object) -> None:
        self.event(Event(type_, self._clock.now_ms(), {**self._common, **data}))

    def event(self, event: Event) -> None:
        try:
            self._sink(event)
        except Exception:
            log.exception("event sink failed for %s", event.type)

    def error(self, message: str, source: str, **data: object) -> None:
        self(EventType.ERROR, message=message, source=source, **data)

    def child(self, **common: object) -> Emitter:
        return Emitter(self._sink, self._clock, **self._common, **common)
