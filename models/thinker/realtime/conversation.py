"""One session's conversation with a realtime speech-to-speech model, as a pure state
machine: omnivox's requests and the upstream's server events in, client events to send
and Thinker events out. It never touches a socket (thinker.py does).

The upstream holds its own copy of the conversation (the user's audio, its spoken
answers). omnivox's history is the record of what the user actually heard, so before
each new turn the upstream copy is brought in line with it:
- a reply the user cut short is truncated where the user stopped hearing it
  (`conversation.item.truncate` at that point of the item's audio, later items of the
  reply deleted);
- a reply the interventions rewrote or blocked, or lines the Talker spoke that the
  model never said (a greeting), replace what the model said, as text items;
- history the upstream copy cannot be matched with (a new visitor's reset) starts a
  new upstream conversation, seeded with the history as text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from omnivox.models.thinker.base import (
    Message,
    SpeechAudio,
    TextDelta,
    ThinkRequest,
    ToolCall,
    ToolCallsRequested,
)
from omnivox.models.thinker.realtime import dialects as d
from omnivox.models.thinker.sse import image_data_url

APPEND_SECONDS = 0.25
"""User audio per `input_audio_buffer.append` (servers cap one event's size)."""
_INTERRUPTED = " …"  # how the history marks a reply the user cut (history.py)


class NeedsNewConversation(Exception):
    """The history no longer contains the last turn sent up (the conversation was
    reset): start a new upstream conversation and send the turn again."""


@dataclass(frozen=True, slots=True)
class Finished:
    """The answer is complete."""


@dataclass(frozen=True, slots=True)
class Failed:
    message: str


Output = TextDelta | SpeechAudio | ToolCallsRequested | Finished | Failed


@dataclass
class SpokenItem:
    """One assistant message item of the reply being made: what the model said in it."""

    id: str | None
    transcript: str = ""
    samples: int = 0
    rate: int = 24_000

    @property
    def audio_ms(self) -> float:
        return self.samples * 1000 / self.rate


@dataclass
class UpstreamConversation:
    dialect: d.Dialect
    model: str = ""
    voice: str | None = None
    qwen_output_format: str = "pcm24"
    responding: bool = False
    """An answer is under way upstream (until its done event, also after a cancel)."""
    _fresh: bool = True
    _configured: str | None = None
    _anchor: str | None = None
    """Our transcript of the last user turn sent up."""
    _items: list[SpokenItem] = field(default_factory=list)
    _calls: list[ToolCall] = field(default_factory=list)
    _cancelled: bool = False

    def restart(self) -> None:
        """A new upstream connection: it knows nothing of this conversation yet."""
        self._fresh, self._configured, self._anchor = True, None, None
        self._items, self._calls = [], []
        self.responding = self._cancelled = False

    # ---- requests ----------------------------------------------------------------------

    def start(self, request: ThinkRequest, audio: np.ndarray | None) -> list[dict[str, Any]]:
        """The client events that answer `request`: its last message (the user's turn,
        whose audio at the dialect's input rate is `audio`, or tool results) after
        the history before it. Raises NeedsNewConversation (see above)."""
        if self.responding:
            raise RuntimeError("an answer is still under way upstream")
        messages = [m for m in request.messages if m.role != "system"]
        out = self._configure(request)
        if messages and messages[-1].role == "tool":
            out += self._tool_results(messages)
        else:
            prior, turn = messages[:-1], messages[-1] if messages else None
            out += self._reconcile(prior)
            self._items = []
            if turn is not None:
                out += self._user_turn(turn, audio, request.images)
                self._anchor = turn.content
        self._fresh = False
        self._calls, self._cancelled, self.responding = [], False, True
        committed = bool(out) and out[-1]["type"] == "input_audio_buffer.commit"
        if not (self.dialect.commit_starts_response and committed):
            out.append({"type": "response.create"})
        return out

    def cancel(self) -> list[dict[str, Any]]:
        """Stop the answer under way (a take-over): what it still sends is dropped."""
        if not self.responding or self._cancelled:
            return []
        self._cancelled = True
        return [{"type": "response.cancel"}]

    def _configure(self, request: ThinkRequest) -> list[dict[str, Any]]:
        system = next((m.content for m in request.messages if m.role == "system"), "")
        instructions = "\n\n".join([system, *request.context]).strip()
        tools = [d.wire_tool(t.name, t.description, t.parameters) for t in request.tools]
        event = d.session_update(
            self.dialect,
            model=self.model,
            instructions=instructions,
            voice=self.voice,
            tools=tools,
            qwen_output_format=self.qwen_output_format,
        )
        key = json.dumps(event, sort_keys=True)
        if key == self._configured:
            return []
        self._configured = key
        return [event]

    def _reconcile(self, prior: list[Message]) -> list[dict[str, Any]]:
        if self._fresh:
            return [_text_item(m.role, m.content) for m in prior if _spoken(m)]
        anchor = next(
            (
                i
                for i in range(len(prior) - 1, -1, -1)
                if prior[i].role == "user" and prior[i].content == self._anchor
            ),
            None,
        )
        if anchor is None:
            raise NeedsNewConversation
        after = [m for m in prior[anchor + 1 :] if _spoken(m)]
        heard = [m for m in after if m.role == "assistant"]
        out = self._match_reply(" ".join(m.content.removesuffix(_INTERRUPTED) for m in heard))
        if out is None:  # not what the model said: the history's words replace it
            out = [_delete(item) for item in self._items if item.id]
            out += [_text_item("assistant", m.content) for m in heard]
        return out + [_text_item(m.role, m.content) for m in after if m.role != "assistant"]

    def _match_reply(self, heard: str) -> list[dict[str, Any]] | None:
        """Events that cut the model's last reply to `heard` if it is a prefix of what
        the model said (none if all was heard); None if it is not."""
        said = [_norm(item.transcript) for item in self._items]
        want = _norm(heard)
        if want == " ".join(s for s in said if s):
            return []
        if not "".join(said).replace(" ", "").startswith(want.replace(" ", "")):
            return None
        out: list[dict[str, Any]] = []
        left = len(want.replace(" ", ""))
        for item, text in zip(self._items, said, strict=True):
            size = len(text.replace(" ", ""))
            if item.id is None:
                left -= size
                continue
            if left >= size:
                left -= size
            elif left > 0:
                end_ms = round(item.audio_ms * left / size)
                out.append(_truncate(item.id, end_ms))
                left = 0
            else:
                out.append(_delete(item))
        return out

    def _user_turn(
        self, turn: Message, audio: np.ndarray | None, images: list[bytes]
    ) -> list[dict[str, Any]]:
        if audio is None or not len(audio):
            return [_text_item("user", turn.content, images if self._image_content else [])]
        out: list[dict[str, Any]] = []
        if images and self._image_content:
            out.append(_image_item(images))
        step = int(self.dialect.input_rate * APPEND_SECONDS)
        pcm = np.asarray(audio, dtype="<i2")
        for start in range(0, len(pcm), step):
            chunk = base64.b64encode(pcm[start : start + step].tobytes()).decode("ascii")
            out.append({"type": "input_audio_buffer.append", "audio": chunk})
        if images and self.dialect.images == "buffer":
            for jpeg in images:
                image = base64.b64encode(jpeg).decode("ascii")
                out.append({"type": "input_image_buffer.append", "image": image})
        out.append({"type": "input_audio_buffer.commit"})
        return out

    @property
    def _image_content(self) -> bool:
        return self.dialect.images == "content"

    def _tool_results(self, messages: list[Message]) -> list[dict[str, Any]]:
        results: list[Message] = []
        for m in reversed(messages):
            if m.role != "tool":
                break
            results.insert(0, m)
        out = [
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": m.tool_call_id,
                    "output": m.content,
                },
            }
            for m in results
        ]
        if self.dialect.commit_starts_response:
            out.append({"type": "input_audio_buffer.commit"})
        return out

    # ---- server events -----------------------------------------------------------------

    def receive(self, event: dict[str, Any]) -> list[Output]:
        """What a server event means for the answer under way."""
        kind = event.get("type")
        if not isinstance(kind, str):
            return [Failed("the upstream sent an event without a type")] if self.responding else []
        if kind == d.ERROR:
            return self._error(d.error_message(event))
        if not self.responding:
            return []  # events of an answer already ended (a session update's echo...)
        if kind in d.ITEM_ADDED:
            self._item_added(event.get("item"))
        elif kind in d.AUDIO_DELTA:
            return self._audio(event)
        elif kind in d.TRANSCRIPT_DELTA:
            delta = event.get("delta")
            if isinstance(delta, str) and delta:
                self._item(event).transcript += delta
                return [] if self._cancelled else [TextDelta(delta)]
        elif kind == d.FUNCTION_CALL_DONE:
            return self._call(event)
        elif kind == d.RESPONSE_DONE or (kind in d.AUDIO_DONE and self.dialect.ends_on_audio_done):
            return self._done(event)
        return []

    def _item_added(self, item: object) -> None:
        if isinstance(item, dict) and item.get("type") == "message":
            item_id = item.get("id")
            if isinstance(item_id, str) and all(i.id != item_id for i in self._items):
                self._items.append(SpokenItem(item_id, rate=self.dialect.output_rate))

    def _item(self, event: dict[str, Any]) -> SpokenItem:
        """The item a delta belongs to (by its `item_id`, else the latest)."""
        item_id = event.get("item_id")
        for item in reversed(self._items):
            if item.id == item_id or not isinstance(item_id, str):
                return item
        item = SpokenItem(
            item_id if isinstance(item_id, str) else None, rate=self.dialect.output_rate
        )
        self._items.append(item)
        return item

    def _audio(self, event: dict[str, Any]) -> list[Output]:
        try:
            pcm = base64.b64decode(d.audio_payload(event), validate=True)
        except (binascii.Error, ValueError):
            return [Failed("the upstream sent audio that is not base64")]
        rate = event.get("sample_rate_hz")
        item = self._item(event)
        if isinstance(rate, int) and 8_000 <= rate <= 48_000:
            item.rate = rate
        item.samples += len(pcm) // 2
        if self._cancelled or not pcm:
            return []
        return [SpeechAudio(pcm, item.rate)]

    def _call(self, event: dict[str, Any]) -> list[Output]:
        name, call_id = event.get("name"), event.get("call_id")
        try:
            arguments = json.loads(event.get("arguments") or "{}")
        except (TypeError, json.JSONDecodeError):
            arguments = None
        if not isinstance(name, str) or not isinstance(arguments, dict):
            return [Failed("the upstream asked for a tool with malformed arguments")]
        call_id = call_id if isinstance(call_id, str) and call_id else f"call_{len(self._calls)}"
        self._calls.append(ToolCall(call_id, name, arguments))
        return []

    def _done(self, event: dict[str, Any]) -> list[Output]:
        self.responding = False
        if self._cancelled:
            return [Finished()]
        response = event.get("response")
        if isinstance(response, dict) and response.get("status") == "failed":
            details = response.get("status_details") or {}
            error = details.get("error") if isinstance(details, dict) else None
            return [Failed(d.error_message({"error": error}) if error else "the answer failed")]
        calls, self._calls = self._calls, []
        return [ToolCallsRequested(calls), Finished()] if calls else [Finished()]

    def _error(self, message: str) -> list[Output]:
        if not self.responding or self._cancelled:
            return []  # e.g. a truncate of an item the server already dropped
        self.responding = False
        return [Failed(f"the realtime model reported an error ({message})")]


def _spoken(m: Message) -> bool:
    return m.role in ("user", "assistant") and bool(m.content.strip())


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _text_item(role: str, text: str, images: list[bytes] | None = None) -> dict[str, Any]:
    kind = "input_text" if role == "user" else "output_text"
    content: list[dict[str, Any]] = [{"type": kind, "text": text}]
    content += [_image_content(jpeg) for jpeg in images or []]
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": role, "content": content},
    }


def _image_item(images: list[bytes]) -> dict[str, Any]:
    content = [_image_content(jpeg) for jpeg in images]
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": content},
    }


def _image_content(image: bytes) -> dict[str, Any]:
    return {"type": "input_image", "image_url": image_data_url(image, "a camera snapshot")}


def _truncate(item_id: str, end_ms: int) -> dict[str, Any]:
    return {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": 0,
        "audio_end_ms": end_ms,
    }


def _delete(item: SpokenItem) -> dict[str, Any]:
    return {"type": "conversation.item.delete", "item_id": item.id}
