"""The Realtime session's configuration as the wire carries it (GA shape), and how a
`session.update` changes it.

Every documented GA field is accepted; the ones omnivox cannot honour are accepted and
ignored where that changes nothing a client relies on (voice, speed, noise reduction,
tracing...), and named in an error where it would (a transcription session, turning off
`create_response`). Unknown fields are errors that name them, as OpenAI's server does.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class WireModel(BaseModel):
    """A wire object: unknown fields are errors (they name the field)."""

    model_config = ConfigDict(extra="forbid")


class PcmFormat(WireModel):
    type: Literal["audio/pcm"] = "audio/pcm"
    rate: Literal[24000] = 24000


class PcmuFormat(WireModel):
    type: Literal["audio/pcmu"] = "audio/pcmu"


class PcmaFormat(WireModel):
    type: Literal["audio/pcma"] = "audio/pcma"


AudioFormat = Annotated[PcmFormat | PcmuFormat | PcmaFormat, Field(discriminator="type")]


class ServerVad(WireModel):
    """Plain voice activity timing: our turn policy without its classifier."""

    type: Literal["server_vad"] = "server_vad"
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    prefix_padding_ms: int | None = Field(None, ge=0)
    silence_duration_ms: int | None = Field(None, ge=0)
    idle_timeout_ms: int | None = Field(None, ge=0)
    create_response: Literal[True] | None = None
    """Only true: omnivox always answers a finished turn (use `null` turn detection
    and `response.create` to decide yourself)."""
    interrupt_response: Literal[True] | None = None


class SemanticVad(WireModel):
    """Our turn classifier (backchannel vs take-over, finished vs holding): the default."""

    type: Literal["semantic_vad"] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    create_response: Literal[True] | None = None
    interrupt_response: Literal[True] | None = None


TurnDetection = Annotated[ServerVad | SemanticVad, Field(discriminator="type")]


class NoiseReduction(WireModel):
    type: Literal["near_field", "far_field"] | None = None
    strength: float | None = None


class Transcription(WireModel):
    model: str | None = None
    language: str | None = None
    prompt: str | None = None


class AudioInput(WireModel):
    format: AudioFormat = Field(default_factory=PcmFormat)
    noise_reduction: NoiseReduction | None = None
    transcription: Transcription | None = None
    turn_detection: TurnDetection | None = Field(default_factory=SemanticVad)


class AudioOutput(WireModel):
    format: AudioFormat = Field(default_factory=PcmFormat)
    voice: str | dict[str, Any] = "omnivox"
    """Ignored: the configured Talker speaks (see the README)."""
    speed: float | None = Field(None, ge=0.25, le=1.5)


class Audio(WireModel):
    input: AudioInput = Field(default_factory=AudioInput)
    output: AudioOutput = Field(default_factory=AudioOutput)


class FunctionTool(WireModel):
    """A client-side tool: the client runs it and sends its output back."""

    type: Literal["function"] = "function"
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})


Modality = Literal["audio", "text"]


def _audio_only() -> list[Modality]:
    return ["audio"]


class RealtimeSession(WireModel):
    """The `session` object of `session.created` / `session.updated` (and of an update,
    where every field is optional: what is left out keeps its value)."""

    type: Literal["realtime"] = "realtime"
    object: Literal["realtime.session"] = "realtime.session"
    id: str = ""
    model: str = "omnivox"
    output_modalities: list[Modality] = Field(
        default_factory=_audio_only, min_length=1, max_length=1
    )
    instructions: str = ""
    audio: Audio = Field(default_factory=Audio)
    tools: list[FunctionTool] = Field(default_factory=list)
    tool_choice: Literal["auto", "none", "required"] | dict[str, Any] = "auto"
    max_output_tokens: int | Literal["inf"] = "inf"
    tracing: Literal["auto"] | dict[str, Any] | None = None
    prompt: dict[str, Any] | None = None
    truncation: Literal["auto", "disabled"] | dict[str, Any] = "auto"
    include: list[str] | None = None
    expires_at: int = 0

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def turn_detection(self) -> ServerVad | SemanticVad | None:
        return self.audio.input.turn_detection

    @property
    def text_only(self) -> bool:
        return self.output_modalities == ["text"]


def updated(session: RealtimeSession, changes: dict[str, Any]) -> RealtimeSession:
    """`session` with a validated update applied: nested objects merge (an update that
    names only `audio.output.format` keeps the input side), a value given replaces,
    `null` turn detection turns it off. Raises pydantic's ValidationError."""
    merged = _merge(session.to_wire(), changes)
    return RealtimeSession.model_validate(merged)


_MERGED = frozenset({"audio", "input", "output"})
"""Objects an update merges into; any other value (a format, turn detection, the
tools) is replaced whole, as OpenAI does."""


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if key in _MERGED and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
