"""The OpenAI chat-completions wire format, sans-I/O: request messages out, stream in.

Pure functions and classes, used by the HTTP shell in `openai_compat`:

- `wire_messages` / `wire_tools`: Message and ToolSpec in the chat format, with image
  and audio parts on the user's turn.
- `SSEParser`: bytes -> server-sent events (WHATWG rules: `data:` lines, multi-line data,
  `:` comments, CR/LF/CRLF line ends, blank-line dispatch).
- `ChunkAssembler`: `chat.completion.chunk` JSON objects -> text pieces, and tool calls
  reassembled from fragments split across chunks by `index`.
- `ThinkTagFilter`: drops `<think>...</think>` spans some servers leave in `content`.

Server quirks handled here (as documented or reported for each server):
- vLLM / SGLang: a first chunk with only `role`; `reasoning_content` deltas (reasoning
  parser on); usage in a last chunk with `choices: []`.
- llama.cpp server: `"content": null` next to tool calls; `finish_reason` in a separate
  chunk with an empty delta.
- DashScope compatible mode: later tool-call fragments carry `"id": ""` and
  `"name": ""` instead of omitting them; `reasoning_content` for Qwen3.
- Ollama `/v1`: whole tool calls in one fragment, each with `index: 0` (ollama#15457);
  before 0.4.7 no `index` at all (ollama#7881); `finish_reason: "stop"` after tool calls.
- Any server: `arguments` as an already-parsed object instead of a JSON string; an
  `{"error": {...}}` object inside a 200 stream; a stream that ends without a final blank
  line.
"""

from __future__ import annotations

import base64
import codecs
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from omnivox.models.thinker.base import (
    Message,
    ThinkRequest,
    ToolCall,
    ToolCallsRequested,
    ToolSpec,
)
from omnivox.models.thinker.errors import ThinkerProtocolError, ThinkerServerError

UserInput = Literal["text", "audio", "both"]
"""What carries the user's turn: the transcript, the recorded audio, or both."""
DONE = "[DONE]"
_EOL = re.compile(r"\r\n|\r|\n")


# ---- the request -------------------------------------------------------------------------


def wire_messages(
    request: ThinkRequest, *, user_input: UserInput = "text", audio_data_uri: bool = False
) -> list[dict[str, Any]]:
    """The request's messages in the chat format. `context` passages join the first
    system message; images (and audio, unless `user_input` is "text") become content
    parts of the last user message. `audio_data_uri` wraps the audio as
    `data:;base64,...` (DashScope) instead of bare base64 (OpenAI, vLLM)."""
    out = [_wire_message(m) for m in request.messages]
    if request.context:
        # Several chat templates (Qwen among them) reject a system message but first.
        passages = "Context:\n" + "\n".join(f"- {p}" for p in request.context)
        if out and out[0]["role"] == "system":
            out[0]["content"] = f"{out[0]['content']}\n\n{passages}".lstrip()
        else:
            out.insert(0, {"role": "system", "content": passages})
    audio = request.audio_wav if user_input != "text" else None
    if request.images or audio:
        users = [m for m in out if m["role"] == "user"]
        if not users:
            raise ValueError("ThinkRequest has images or audio but no user message")
        text = users[-1]["content"] if audio is None or user_input == "both" else ""
        users[-1]["content"] = _user_parts(text, request.images, audio, audio_data_uri)
    return out


def wire_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def _wire_message(m: Message) -> dict[str, Any]:
    if m.role == "tool":
        if not m.tool_call_id:
            raise ValueError("a tool message needs tool_call_id (the id of the call it answers)")
        # `name` is not part of the tool message schema; strict servers reject it.
        return {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content}
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.role == "assistant" and m.tool_calls:
        out["content"] = m.content or None
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for c in m.tool_calls
        ]
    if m.name:
        out["name"] = m.name
    return out


def _user_parts(
    text: str, images: list[bytes], audio: bytes | None, audio_data_uri: bool
) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if text:
        parts.append({"type": "text", "text": text})
    for i, image in enumerate(images):
        url = image_data_url(image, f"ThinkRequest.images[{i}]")
        parts.append({"type": "image_url", "image_url": {"url": url}})
    if audio is not None:
        if audio[:4] != b"RIFF" or audio[8:12] != b"WAVE":
            raise ValueError("ThinkRequest.audio_wav is not a WAV (RIFF/WAVE) file")
        data = base64.b64encode(audio).decode("ascii")
        if audio_data_uri:
            data = "data:;base64," + data
        parts.append({"type": "input_audio", "input_audio": {"data": data, "format": "wav"}})
    return parts


def image_data_url(image: bytes, what: str = "the image") -> str:
    """`image` as a `data:` URL of its own type; ValueError naming `what` when it is not
    a JPEG, PNG, GIF or WebP image."""
    mime = _image_mime(image)
    if mime is None:
        raise ValueError(f"{what} is not a JPEG, PNG, GIF or WebP image")
    return f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"


def _image_mime(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


# ---- the stream --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str = "message"


class SSEParser:
    """Incremental server-sent-events parser: `feed(bytes)` returns completed events."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._data: list[str] = []
        self._event = ""
        self._started = False
        self._skip_lf = False  # the last chunk ended in CR: a leading LF belongs to it

    def feed(self, raw: bytes) -> list[SSEEvent]:
        return self._consume(self._decoder.decode(raw))

    def close(self) -> list[SSEEvent]:
        """End of stream. Unlike the browser spec, an event missing only its final blank
        line is still dispatched: several servers close right after `data: [DONE]\\n`."""
        events = self._consume(self._decoder.decode(b"", final=True))
        for line in (self._buf, ""):
            event = self._line(line)
            if event is not None:
                events.append(event)
        self._buf = ""
        return events

    def _consume(self, text: str) -> list[SSEEvent]:
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")  # the spec allows one BOM at the start
        if self._skip_lf and text:
            text = text.removeprefix("\n")
            self._skip_lf = False
        self._buf += text
        events: list[SSEEvent] = []
        while (cut := _line_end(self._buf)) is not None:
            line, self._buf = self._buf[: cut[0]], self._buf[cut[1] :]
            event = self._line(line)
            if event is not None:
                events.append(event)
        if self._buf.endswith("\r"):
            # A CR at the end ends the line now; an LF arriving next belongs to it.
            line, self._buf, self._skip_lf = self._buf[:-1], "", True
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: keep-alive
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        # `id` and `retry` only matter for reconnecting EventSource clients.
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = SSEEvent("\n".join(self._data), self._event or "message")
        self._data, self._event = [], ""
        return event


def _line_end(buf: str) -> tuple[int, int] | None:
    """(end of the first complete line, start of the next), or None. A CR at the very end
    is left for `_consume` to decide (it may be the first half of CRLF)."""
    m = _EOL.search(buf)
    if m is None or (m.group() == "\r" and m.end() == len(buf)):
        return None
    return m.start(), m.end()


def parse_chunk(data: str) -> dict[str, Any]:
    """Parse one `data:` payload. A malformed chunk fails the stream: its content (a word
    or a tool-call fragment) is unknown, and speaking a sentence with a hole or running a
    tool with corrupted arguments is worse than a clear error and the fallback line."""
    try:
        chunk = json.loads(data)
    except json.JSONDecodeError as err:
        raise ThinkerProtocolError(
            f"the server sent a chunk that is not valid JSON ({err.msg} at char {err.pos})"
        ) from None
    if not isinstance(chunk, dict):
        raise ThinkerProtocolError(f"the server sent a {type(chunk).__name__} chunk, not an object")
    return chunk


def server_error_message(error: Any) -> str:
    """The message of an OpenAI-style error object (`{"message": ..., "type": ...}`)."""
    if isinstance(error, dict):
        text = error.get("message") or error.get("type") or json.dumps(error)[:200]
    else:
        text = str(error)
    return str(text)[:300]


@dataclass(slots=True)
class _PartialCall:
    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""
    parsed: dict[str, Any] | None = None


@dataclass(slots=True)
class ChunkAssembler:
    """Folds stream chunks into text pieces and, at the end, the requested tool calls."""

    started: bool = False
    """True once any generated token arrived (content, reasoning or a tool-call
    fragment): the first-token budget is met and the idle budget applies from then on."""
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    _audio: list[bytes] = field(default_factory=list)
    _calls: list[_PartialCall] = field(default_factory=list)
    _slots: dict[int, int] = field(default_factory=dict)
    """Wire `index` -> position in _calls (they differ when a server reuses an index)."""
    _last: int | None = None
    _calls_taken: bool = False

    def feed(self, chunk: dict[str, Any]) -> list[str]:
        """One parsed chunk in; the text pieces to speak out."""
        if chunk.get("error") is not None:
            raise ThinkerServerError(f"the server reported: {server_error_message(chunk['error'])}")
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        texts: list[str] = []
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # n > 1 is never requested; ignore stray alternatives
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if isinstance(content, str) and content:
                texts.append(content)
                self.started = True
            if delta.get("reasoning_content") or delta.get("reasoning"):
                self.started = True  # thinking out loud is progress, never speech
            for fragment in delta.get("tool_calls") or []:
                self._merge(fragment)
                self.started = True
            texts += self._speech(delta.get("audio"))
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
        return texts

    def take_audio(self) -> list[bytes]:
        """The speech (raw PCM) that came with the chunks fed since the last call."""
        audio, self._audio = self._audio, []
        return audio

    def _speech(self, audio: Any) -> list[str]:
        """`delta.audio` of a model that speaks (OpenAI, DashScope's Qwen-Omni): its
        `transcript` is the text spoken, its `data` base64 PCM (`id`, `expires_at` and
        anything else are ignored)."""
        if not isinstance(audio, dict):
            return []
        data = audio.get("data")
        if isinstance(data, str) and data:
            try:
                self._audio.append(base64.b64decode(data, validate=True))
            except ValueError:
                raise ThinkerProtocolError("delta.audio.data is not base64") from None
            self.started = True
        transcript = audio.get("transcript")
        if isinstance(transcript, str) and transcript:
            self.started = True
            return [transcript]
        return []

    def take_calls(self) -> ToolCallsRequested | None:
        """The assembled tool calls, once (None when there are none or already taken).

        Arguments that are not a JSON object raise ThinkerProtocolError instead of being
        passed on as `{"_raw": ...}`: a half-written call must never run, and a magic key
        would be one more thing every tool runner has to know. It usually means the
        answer hit max_tokens (the message then says so)."""
        if not self._calls or self._calls_taken:
            return None
        self._calls_taken = True
        calls = [self._finish_call(p) for p in self._calls]
        return ToolCallsRequested(calls)

    def _merge(self, fragment: Any) -> None:
        if not isinstance(fragment, dict):
            raise ThinkerProtocolError("a tool-call fragment is not an object")
        index = fragment.get("index")
        frag_id = str(fragment.get("id") or "")
        # A fragment continues the call at its index, or the last call when it has no
        # index (Ollama before 0.4.7). A different id starts a new call even at a used
        # index: Ollama sends index 0 for every one of several parallel calls.
        slot = self._slots.get(index) if isinstance(index, int) else self._last
        if slot is None or (frag_id and self._calls[slot].id and frag_id != self._calls[slot].id):
            slot = len(self._calls)
            self._calls.append(_PartialCall(slot))
        if isinstance(index, int):
            self._slots[index] = slot
        self._last = slot
        call = self._calls[slot]
        if frag_id and not call.id:
            call.id = str(frag_id)
        function = fragment.get("function") or {}
        name = function.get("name")
        if name and not call.name:
            call.name = str(name)
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            call.arguments += arguments
        elif isinstance(arguments, dict):
            call.parsed = arguments

    def _finish_call(self, p: _PartialCall) -> ToolCall:
        if not p.name:
            raise ThinkerProtocolError(f"tool call #{p.index} has no function name")
        truncated = self.finish_reason == "length"
        if p.parsed is not None:
            arguments: Any = p.parsed
        elif not p.arguments.strip():
            arguments = {}
        else:
            try:
                arguments = json.loads(p.arguments)
            except json.JSONDecodeError:
                why = " (the answer hit max_tokens)" if truncated else ""
                raise ThinkerProtocolError(
                    f"tool call {p.name!r} has arguments that are not valid JSON{why}"
                ) from None
        if not isinstance(arguments, dict):
            raise ThinkerProtocolError(
                f"tool call {p.name!r} has arguments that are a JSON {type(arguments).__name__},"
                " not an object"
            )
        # Servers that omit ids still need one: the tool result must refer to its call.
        call_id = p.id or f"call_{secrets.token_hex(8)}"
        return ToolCall(id=call_id, name=p.name, arguments=arguments)


class ThinkTagFilter:
    """Removes `<think>...</think>` spans from streamed text.

    Reasoning models served without a reasoning parser (vLLM without
    `--reasoning-parser`, older Ollama) put their thoughts in `content`; they must never
    be spoken. Tags may be split across deltas, so a possible tag prefix is held back.
    """

    OPEN, CLOSE = "<think>", "</think>"

    def __init__(self) -> None:
        self._inside = False
        self._held = ""

    def feed(self, text: str) -> str:
        buf, out = self._held + text, []
        self._held = ""
        while buf:
            tag = self.CLOSE if self._inside else self.OPEN
            at = buf.find(tag)
            if at >= 0:
                if not self._inside:
                    out.append(buf[:at])
                buf = buf[at + len(tag) :]
                self._inside = not self._inside
                continue
            keep = _partial_suffix(buf, tag)
            if not self._inside:
                out.append(buf[: len(buf) - keep])
            self._held = buf[len(buf) - keep :]
            break
        return "".join(out)

    def flush(self) -> str:
        """End of text: a held partial tag was just text after all (unless thinking)."""
        held, self._held = self._held, ""
        return "" if self._inside else held


def _partial_suffix(buf: str, tag: str) -> int:
    """Length of the longest suffix of buf that is a proper prefix of tag."""
    for n in range(min(len(tag) - 1, len(buf)), 0, -1):
        if buf.endswith(tag[:n]):
            return n
    return 0
