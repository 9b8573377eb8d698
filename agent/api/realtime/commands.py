"""What the Realtime protocol asks its shell to do, beside sending server events."""

from __future__ import annotations

from dataclasses import dataclass

from omnivox.agent.api.realtime.events import ErrorEvent, ServerEvent
from omnivox.agent.api.realtime.session_config import RealtimeSession


@dataclass(frozen=True, slots=True)
class AppendAudio:
    data: bytes


@dataclass(frozen=True, slots=True)
class CommitAudio:
    """Manual turn detection: transcribe the buffered audio into user item `item_id`."""

    item_id: str


@dataclass(frozen=True, slots=True)
class ClearAudio:
    pass


@dataclass(frozen=True, slots=True)
class Configure:
    session: RealtimeSession


@dataclass(frozen=True, slots=True)
class Respond:
    """Answer now: the user's text (joined text items; None: the history alone)."""

    user_text: str | None


@dataclass(frozen=True, slots=True)
class ToolOutputs:
    """The client's outputs for the calls the reply waits on: it goes on."""

    outputs: dict[str, str]


@dataclass(frozen=True, slots=True)
class CancelReply:
    pass


@dataclass(frozen=True, slots=True)
class Truncate:
    """The client played only `audio_end_ms` of reply `reply_id` (item `item_id`), of
    the `sent_ms` it was sent."""

    item_id: str
    reply_id: str
    audio_end_ms: int
    sent_ms: float


Command = (
    AppendAudio
    | CommitAudio
    | ClearAudio
    | Configure
    | Respond
    | ToolOutputs
    | CancelReply
    | Truncate
)
Output = ServerEvent | ErrorEvent | Command
"""What the protocol returns, to be carried out in order."""
