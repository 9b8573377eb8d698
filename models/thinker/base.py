"""The Thinker role: a conversation in, a stream of text deltas and tool calls out."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(slots=True)
class Message:
    """One chat message, shaped like the OpenAI chat format so backends map it 1:1."""

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(slots=True)
class ToolSpec:
    """A tool the Thinker may call: name, description and JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(slots=True)
class ThinkRequest:
    messages: list[Message]
    tools: list[ToolSpec] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    """Passages added by before_think interventions (RAG, memory, presence)."""
    images: list[bytes] = field(default_factory=list)
    """JPEG/PNG camera snapshots for this turn, attached to the last user message."""
    audio_wav: bytes | None = None
    """The user's turn as a WAV file, for Thinkers that take audio (omni models)."""


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallsRequested:
    """The Thinker stops and asks for these tools; the Reply runs them and asks again."""

    calls: list[ToolCall]


@dataclass(frozen=True, slots=True)
class SpeechAudio:
    """Speech the Thinker says itself (an omni model with audio out): mono int16 PCM at
    `rate`, in order; its transcript comes as TextDelta. Such a Thinker has `speaks =
    True`; the session then plays this audio instead of the Talker's (models/talker/
    model_speech.py)."""

    pcm: bytes
    rate: int


ThinkerEvent = TextDelta | ToolCallsRequested | SpeechAudio


class Thinker(Protocol):
    name: str
    takes_images: bool
    """Attach camera snapshots to the user's turn (vision models)."""
    takes_audio: bool
    """Attach the user's turn as WAV (omni models that listen themselves)."""

    def stream(self, request: ThinkRequest) -> AsyncGenerator[ThinkerEvent, None]:
        """Stream the answer. Closing the iterator early (aclose) must stop all work."""
        ...


class SessionThinker(Thinker, Protocol):
    """A Thinker that holds resources for one session (a realtime model's connection)."""

    async def aclose(self) -> None:
        """The session ended: release them."""
        ...


@runtime_checkable
class PerSessionThinker(Protocol):
    """A Thinker whose sessions each get their own instance (`for_session`), because it
    keeps state per conversation upstream; the session closes it when it ends."""

    def for_session(self) -> SessionThinker: ...
