"""The Realtime API's events (GA names), sans I/O: client events parsed from JSON text,
server events made into JSON text.

`parse` never raises: anything that is not a valid client event (not JSON, not an
object, an unknown `type`, a missing, unknown or mistyped field) becomes the documented
`error` server event, naming the parameter and echoing the client's `event_id`, and the
socket stays open.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from omnivox.agent.api.realtime.session_config import FunctionTool, WireModel

MAX_EVENT_CHARS = 4 * 1024 * 1024
"""A client event this long is refused (15 s of 24 kHz PCM16 in base64 is 1 MB)."""

# ---- conversation items (what conversation.item.create carries) ----------------------


class InputText(WireModel):
    type: Literal["input_text"]
    text: str


class InputAudio(WireModel):
    type: Literal["input_audio"]
    audio: str | None = None
    transcript: str | None = None


class InputImage(WireModel):
    type: Literal["input_image"]
    image_url: str
    detail: Literal["auto", "low", "high"] = "auto"


class OutputText(WireModel):
    type: Literal["output_text"]
    text: str


class OutputAudio(WireModel):
    type: Literal["output_audio"]
    audio: str | None = None
    transcript: str | None = None


Content = Annotated[
    InputText | InputAudio | InputImage | OutputText | OutputAudio, Field(discriminator="type")
]


class _ItemBase(WireModel):
    id: str | None = Field(None, min_length=1, max_length=64)
    object: Literal["realtime.item"] | None = None
    status: Literal["completed", "incomplete", "in_progress"] | None = None


class MessageItem(_ItemBase):
    type: Literal["message"]
    role: Literal["user", "assistant", "system"]
    content: list[Content] = Field(min_length=1)


class FunctionCallItem(_ItemBase):
    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str


class FunctionCallOutputItem(_ItemBase):
    type: Literal["function_call_output"]
    call_id: str
    output: str


Item = Annotated[
    MessageItem | FunctionCallItem | FunctionCallOutputItem, Field(discriminator="type")
]

# ---- client events ---------------------------------------------------------------------


class _ClientEvent(WireModel):
    event_id: str | None = Field(None, max_length=512)


class SessionUpdate(_ClientEvent):
    type: Literal["session.update"]
    session: dict[str, Any]
    """Validated against the merged session (session_config.updated), so an error
    names the field at its full path."""


class InputAudioBufferAppend(_ClientEvent):
    type: Literal["input_audio_buffer.append"]
    audio: str
    """Base64 audio in the session's input format."""


class InputAudioBufferCommit(_ClientEvent):
    type: Literal["input_audio_buffer.commit"]


class InputAudioBufferClear(_ClientEvent):
    type: Literal["input_audio_buffer.clear"]


class ConversationItemCreate(_ClientEvent):
    type: Literal["conversation.item.create"]
    previous_item_id: str | None = None
    item: Item


class ConversationItemRetrieve(_ClientEvent):
    type: Literal["conversation.item.retrieve"]
    item_id: str


class ConversationItemTruncate(_ClientEvent):
    type: Literal["conversation.item.truncate"]
    item_id: str
    content_index: int = Field(ge=0)
    audio_end_ms: int = Field(ge=0)


class ConversationItemDelete(_ClientEvent):
    type: Literal["conversation.item.delete"]
    item_id: str


class ResponseOptions(WireModel):
    """`response.create`'s optional `response` (out-of-band responses are not supported:
    `conversation` may only be "auto")."""

    conversation: Literal["auto"] | None = None
    instructions: str | None = None
    output_modalities: list[Literal["audio", "text"]] | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    metadata: dict[str, str] | None = None
    audio: dict[str, Any] | None = None
    input: list[Any] | None = None
    prompt: dict[str, Any] | None = None


class ResponseCreate(_ClientEvent):
    type: Literal["response.create"]
    response: ResponseOptions | None = None


class ResponseCancel(_ClientEvent):
    type: Literal["response.cancel"]
    response_id: str | None = None


class OutputAudioBufferClear(_ClientEvent):
    type: Literal["output_audio_buffer.clear"]


ClientEvent = Annotated[
    SessionUpdate
    | InputAudioBufferAppend
    | InputAudioBufferCommit
    | InputAudioBufferClear
    | ConversationItemCreate
    | ConversationItemRetrieve
    | ConversationItemTruncate
    | ConversationItemDelete
    | ResponseCreate
    | ResponseCancel
    | OutputAudioBufferClear,
    Field(discriminator="type"),
]
_CLIENT_EVENT: TypeAdapter[ClientEvent] = TypeAdapter(ClientEvent)
CLIENT_EVENT_TYPES: tuple[str, ...] = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
    "output_audio_buffer.clear",
)

# ---- errors ----------------------------------------------------------------------------

ErrorKind = Literal["invalid_request_error", "server_error"]


class ErrorDetail(BaseModel):
    type: ErrorKind
    code: str | None
    message: str
    param: str | None = None
    event_id: str | None = None


class ErrorEvent(BaseModel):
    """The documented `error` server event."""

    type: Literal["error"] = "error"
    event_id: str = ""
    error: ErrorDetail

    def to_json(self) -> str:
        return self.model_dump_json()


def error_event(
    code: str,
    message: str,
    *,
    param: str | None = None,
    event_id: str | None = None,
    kind: ErrorKind = "invalid_request_error",
) -> ErrorEvent:
    """An error about the client event `event_id` (its `event_id`, if it had one)."""
    return ErrorEvent(
        error=ErrorDetail(type=kind, code=code, message=message, param=param, event_id=event_id)
    )


def validation_error(err: ValidationError, event_id: str | None, prefix: str = "") -> ErrorEvent:
    """The first problem pydantic found, as OpenAI words it: the code says what kind of
    problem, `param` the full path of the field."""
    first = err.errors(include_url=False)[0]
    # Union members appear in the location as their tag ("message", "audio/pcm"): the
    # path a client wrote has only field names and list indices.
    parts = [str(p) for p in first["loc"] if isinstance(p, int) or not _is_tag(str(p))]
    param = ".".join(filter(None, [prefix, *parts])) or None
    kind = first["type"]
    if kind == "missing":
        return error_event(
            "missing_required_parameter",
            f"Missing required parameter: '{param}'.",
            param=param,
            event_id=event_id,
        )
    if kind == "extra_forbidden":
        return error_event(
            "unknown_parameter", f"Unknown parameter: '{param}'.", param=param, event_id=event_id
        )
    code = "invalid_type" if kind.endswith("_type") else "invalid_value"
    return error_event(
        code, f"Invalid value for '{param}': {first['msg']}.", param=param, event_id=event_id
    )


def _is_tag(part: str) -> bool:
    return "/" in part or part in CLIENT_EVENT_TYPES or part in _ITEM_TAGS


_ITEM_TAGS = frozenset(
    {
        "message",
        "function_call",
        "function_call_output",
        "function",
        "server_vad",
        "semantic_vad",
        "input_text",
        "input_audio",
        "input_image",
        "output_text",
        "output_audio",
    }
)


def parse(raw: str | bytes) -> ClientEvent | ErrorEvent:
    """One WebSocket message -> a client event, or the error event answering it."""
    if isinstance(raw, bytes):
        return error_event("invalid_event", "Binary messages are not supported: send JSON text.")
    if len(raw) > MAX_EVENT_CHARS:
        return error_event(
            "invalid_event", f"Event too large ({len(raw)} characters; at most {MAX_EVENT_CHARS})."
        )
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return error_event("invalid_json", "The event is not valid JSON.")
    if not isinstance(data, dict):
        return error_event("invalid_event", "An event must be a JSON object with a 'type'.")
    event_id = data.get("event_id") if isinstance(data.get("event_id"), str) else None
    kind = data.get("type")
    if not isinstance(kind, str):
        return error_event(
            "missing_required_parameter",
            "Missing required parameter: 'type'.",
            param="type",
            event_id=event_id,
        )
    if kind not in CLIENT_EVENT_TYPES:
        return error_event(
            "invalid_value",
            f"Invalid value: '{kind[:100]}'. Supported values are: "
            + ", ".join(f"'{t}'" for t in CLIENT_EVENT_TYPES)
            + ".",
            param="type",
            event_id=event_id,
        )
    try:
        return _CLIENT_EVENT.validate_python(data)
    except ValidationError as err:
        return validation_error(err, event_id)
    except RecursionError:  # absurdly deep nesting inside a free-form field
        return error_event("invalid_event", "The event is nested too deeply.", event_id=event_id)


# ---- server events ---------------------------------------------------------------------


class ServerEvent(BaseModel):
    """A server event: `type` and the fields of that type (see SERVER_EVENT_FIELDS)."""

    model_config = ConfigDict(extra="allow")
    type: str
    event_id: str = ""

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False)


SERVER_EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "session.created": ("session",),
    "session.updated": ("session",),
    "input_audio_buffer.speech_started": ("audio_start_ms", "item_id"),
    "input_audio_buffer.speech_stopped": ("audio_end_ms", "item_id"),
    "input_audio_buffer.committed": ("previous_item_id", "item_id"),
    "input_audio_buffer.cleared": (),
    "conversation.item.added": ("previous_item_id", "item"),
    "conversation.item.done": ("previous_item_id", "item"),
    "conversation.item.retrieved": ("item",),
    "conversation.item.truncated": ("item_id", "content_index", "audio_end_ms"),
    "conversation.item.deleted": ("item_id",),
    "conversation.item.input_audio_transcription.completed": (
        "item_id",
        "content_index",
        "transcript",
        "usage",
    ),
    "response.created": ("response",),
    "response.done": ("response",),
    "response.output_item.added": ("response_id", "output_index", "item"),
    "response.output_item.done": ("response_id", "output_index", "item"),
    "response.content_part.added": (
        "response_id",
        "item_id",
        "output_index",
        "content_index",
        "part",
    ),
    "response.content_part.done": (
        "response_id",
        "item_id",
        "output_index",
        "content_index",
        "part",
    ),
    "response.output_text.delta": (
        "response_id",
        "item_id",
        "output_index",
        "content_index",
        "delta",
    ),
    "response.output_text.done": (
        "response_id",
        "item_id",
        "output_index",
        "content_index",
        "text",
    ),
    "response.output_audio.delta": (
        "response_id",
        "item_id",
        "output_index",
        "content_index",
        "delta",
    ),
    "response.output_audio.done": ("response_id", "item_id", "output_index", "content_index"),
    "response.output_audio_transcript.delta": (
        "response_id",
        "item_id",
        "output_index",
        "content_index",
        "delta",
    ),
    "response.output_audio_transcript.done": (
        "response_id",
        "item_id",
        "output_index",
        "content_index",
        "transcript",
    ),
    "response.function_call_arguments.delta": (
        "response_id",
        "item_id",
        "output_index",
        "call_id",
        "delta",
    ),
    "response.function_call_arguments.done": (
        "response_id",
        "item_id",
        "output_index",
        "call_id",
        "name",
        "arguments",
    ),
    # omnivox's own decisions: namespaced, so standard clients ignore them
    "omnivox.turn_decision": ("decision",),
    "omnivox.latency": ("item_id", "response_id", "metrics"),
    "omnivox.reply_cut": (
        "response_id",
        "item_id",
        "reason",
        "played_ms",
        "heard_ms",
        "heard_text",
    ),
    "omnivox.tool_call": ("response_id", "name", "arguments", "result"),
}


def server_event(kind: str, **fields: Any) -> ServerEvent:
    """A server event of a known type with exactly its fields (a typo is a KeyError or
    a ValueError here, not a field nobody reads)."""
    expected = SERVER_EVENT_FIELDS[kind]
    if set(fields) != set(expected):
        raise ValueError(f"{kind} takes {expected}, got {sorted(fields)}")
    return ServerEvent(type=kind, **fields)
