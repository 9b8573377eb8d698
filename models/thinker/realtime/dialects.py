"""How each realtime speech-to-speech service spells the OpenAI Realtime protocol.

omnivox keeps the turn taking: upstream turn detection is off, our end of turn commits
the user's audio and asks for an answer, our take-over decision cancels it. The client
events that does it, and the server events it reads back, differ by service:

- `openai`: the GA protocol (OpenAI, Azure, omnivox's own `/v1/realtime`). Session in the
  GA shape (`audio.input.format` with its rate, `turn_detection: null`), 24 kHz PCM both
  ways, `response.create` after the commit, camera snapshots as `input_image` content.
- `qwen`: DashScope's Qwen-Omni-Realtime. The beta shape (`modalities`,
  `input_audio_format: "pcm16"` at 16 kHz, `output_audio_format` "pcm24" or "pcm16",
  24 kHz out), `response.audio.delta` / `response.audio_transcript.delta`, snapshots
  through `input_image_buffer.append` before the commit.
- `vllm`: vLLM-Omni's OpenAI-compatible `/v1/realtime` (Qwen3-Omni). GA session shape,
  16 kHz in; the commit itself starts the answer (no `response.create`); the answer's
  text comes as `transcription.delta` / `.done`, its audio as `response.output_audio.
  delta` (older releases `response.audio.delta`) with the audio in `audio` and its rate
  in `sample_rate_hz`; the end is `response.output_audio.done` (or `.audio.done`).

Reading is lenient across dialects (every spelling of an event is understood whichever
dialect is configured); writing follows the configured one exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

DialectName = Literal["openai", "qwen", "vllm"]


@dataclass(frozen=True, slots=True)
class Dialect:
    name: DialectName
    input_rate: int
    """PCM16 rate of the user audio sent up."""
    output_rate: int
    """PCM16 rate of the answer's audio, unless an event names its own."""
    commit_starts_response: bool = False
    """The commit itself starts the answer: no `response.create` (vLLM-Omni)."""
    ends_on_audio_done: bool = False
    """The answer ends with its audio's done event; there is no `response.done`."""
    images: Literal["content", "buffer", "none"] = "content"
    """Camera snapshots: `input_image` content of a user item, `input_image_buffer.
    append` before the commit, or not at all."""
    model_in_query: bool = True
    """The model is named in the URL's `?model=` (else in `session.update`)."""


DIALECTS: dict[DialectName, Dialect] = {
    "openai": Dialect("openai", 24_000, 24_000),
    "qwen": Dialect("qwen", 16_000, 24_000, images="buffer"),
    "vllm": Dialect(
        "vllm",
        16_000,
        24_000,
        commit_starts_response=True,
        ends_on_audio_done=True,
        images="none",
        model_in_query=False,
    ),
}


def session_update(
    dialect: Dialect,
    *,
    model: str,
    instructions: str,
    voice: str | None,
    tools: list[dict[str, Any]],
    qwen_output_format: str,
) -> dict[str, Any]:
    """The `session.update` that sets the session up for omnivox to drive."""
    if dialect.name == "qwen":
        session: dict[str, Any] = {
            "modalities": ["text", "audio"],
            "input_audio_format": "pcm16",
            "output_audio_format": qwen_output_format,
            "instructions": instructions,
            "turn_detection": None,
        }
        if voice:
            session["voice"] = voice
        if tools:
            session["tools"] = tools
        return {"type": "session.update", "session": session}
    pcm_in = {"type": "audio/pcm", "rate": dialect.input_rate}
    pcm_out = {"type": "audio/pcm", "rate": dialect.output_rate}
    output: dict[str, Any] = {"format": pcm_out}
    if voice:
        output["voice"] = voice
    session = {
        "type": "realtime",
        "instructions": instructions,
        "output_modalities": ["audio"],
        "audio": {"input": {"format": pcm_in, "turn_detection": None}, "output": output},
        "tools": tools,
    }
    event: dict[str, Any] = {"type": "session.update", "session": session}
    if not dialect.model_in_query:
        event["model"] = model  # vLLM-Omni selects the served model here
    return event


def wire_tool(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """A function tool as a Realtime session lists it (flat, unlike chat completions)."""
    return {"type": "function", "name": name, "description": description, "parameters": parameters}


# ---- reading: every dialect's spelling of the events omnivox acts on -------------------

AUDIO_DELTA = frozenset({"response.output_audio.delta", "response.audio.delta"})
TRANSCRIPT_DELTA = frozenset(
    {
        "response.output_audio_transcript.delta",
        "response.audio_transcript.delta",
        "response.output_text.delta",
        "response.text.delta",
        "transcription.delta",
    }
)
AUDIO_DONE = frozenset({"response.output_audio.done", "response.audio.done"})
RESPONSE_DONE = "response.done"
FUNCTION_CALL_DONE = "response.function_call_arguments.done"
ITEM_ADDED = frozenset({"response.output_item.added", "conversation.item.added"})
ERROR = "error"


def audio_payload(event: dict[str, Any]) -> str:
    """The base64 audio of an audio delta (`delta` in OpenAI's and DashScope's events,
    `audio` in vLLM-Omni's)."""
    data = event.get("delta", event.get("audio", ""))
    return data if isinstance(data, str) else ""


def error_message(event: dict[str, Any]) -> str:
    """A short, user-safe line for an `error` event (its `error.message`, or vLLM's
    top-level `message`)."""
    err = event.get("error")
    message = err.get("message") if isinstance(err, dict) else event.get("message")
    code = err.get("code") if isinstance(err, dict) else event.get("code")
    text = str(message or "unknown error")[:300]
    return f"{code}: {text}" if code else text
