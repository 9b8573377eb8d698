"""One Realtime response: its output items and the server events that build them, from
`response.created` to `response.done`."""

from __future__ import annotations

import base64
from typing import Any

from omnivox.agent.api.realtime.commands import Output
from omnivox.agent.api.realtime.conversation import Conversation
from omnivox.agent.api.realtime.session_config import RealtimeSession


class Response:
    def __init__(self, conversation: Conversation, session: RealtimeSession) -> None:
        self._conv = conversation
        self._session = session
        self.text_only = session.text_only
        self.id = conversation.new_id("resp")
        self.reply_id: str | None = None
        """The session's reply whose words and audio this response carries."""
        self.output: list[dict[str, Any]] = []
        self.item: dict[str, Any] | None = None
        """The assistant message being spoken."""
        self.text = ""
        self.audio_open = False
        self.sent_ms = 0.0
        """Audio sent in the assistant message."""
        self.finishing = False
        """The reply ended; the response ends after the frame being pulled."""

    def created(self) -> list[Output]:
        return [self._conv.event("response.created", response=self.wire("in_progress"))]

    def wire(self, status: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
        s = self._session
        return {
            "id": self.id,
            "object": "realtime.response",
            "status": status,
            "status_details": details,
            "output": self.output,
            "conversation_id": s.id,
            "output_modalities": s.output_modalities,
            "max_output_tokens": s.max_output_tokens,
            "audio": {
                "output": {
                    "format": s.audio.output.format.model_dump(),
                    "voice": s.audio.output.voice,
                }
            },
            "usage": None,
            "metadata": None,
        }

    def _where(self) -> dict[str, Any]:
        assert self.item is not None
        return {
            "response_id": self.id,
            "item_id": self.item["id"],
            "output_index": self.output.index(self.item),
            "content_index": 0,
        }

    def open_message(self) -> list[Output]:
        """The assistant message, once (on its first words or audio)."""
        if self.item is not None:
            return []
        content = (
            {"type": "output_text", "text": ""}
            if self.text_only
            else {"type": "output_audio", "transcript": ""}
        )
        self.item = {
            "id": self._conv.new_id("item"),
            "type": "message",
            "object": "realtime.item",
            "status": "in_progress",
            "role": "assistant",
            "content": [content],
        }
        self.output.append(self.item)
        empty = {"type": "text", "text": ""}
        part = empty if self.text_only else {"type": "audio", "transcript": ""}
        where = self._where()
        return [
            self._conv.event(
                "response.output_item.added",
                response_id=self.id,
                output_index=where["output_index"],
                item=self.item,
            ),
            self._conv.add(self.item),
            self._conv.event("response.content_part.added", **where, part=part),
        ]

    def words(self, chunk: str) -> list[Output]:
        """A chunk of the reply's text (a sentence or so), as a transcript or text delta."""
        out = self.open_message()
        delta = f" {chunk}" if self.text else chunk
        self.text += delta
        kind = (
            "response.output_text.delta"
            if self.text_only
            else "response.output_audio_transcript.delta"
        )
        return [*out, self._conv.event(kind, **self._where(), delta=delta)]

    def audio(self, payload: bytes, duration_ms: float) -> list[Output]:
        self.sent_ms += duration_ms
        delta = base64.b64encode(payload).decode("ascii")
        return [self._conv.event("response.output_audio.delta", **self._where(), delta=delta)]

    def function_call(self, call_id: str, name: str, arguments: str) -> list[Output]:
        item = {
            "id": self._conv.new_id("item"),
            "type": "function_call",
            "object": "realtime.item",
            "status": "in_progress",
            "call_id": call_id,
            "name": name,
            "arguments": "",
        }
        self.output.append(item)
        index = len(self.output) - 1
        where = {"response_id": self.id, "item_id": item["id"], "output_index": index}
        out: list[Output] = [
            self._conv.event(
                "response.output_item.added", response_id=self.id, output_index=index, item=item
            ),
            self._conv.add(item),
            self._conv.event(
                "response.function_call_arguments.delta", **where, call_id=call_id, delta=arguments
            ),
            self._conv.event(
                "response.function_call_arguments.done",
                **where,
                call_id=call_id,
                name=name,
                arguments=arguments,
            ),
        ]
        item.update(arguments=arguments, status="completed")
        out.append(
            self._conv.event(
                "response.output_item.done", response_id=self.id, output_index=index, item=item
            )
        )
        out.append(self._conv.done(item))
        return out

    def close(self, status: str, details: dict[str, Any] | None = None) -> list[Output]:
        """The done events of the message under way, then `response.done`."""
        out: list[Output] = []
        if self.item is not None:
            where = self._where()
            content = self.item["content"][0]
            if self.text_only:
                content["text"] = self.text
                out.append(self._conv.event("response.output_text.done", **where, text=self.text))
                part = {"type": "text", "text": self.text}
            else:
                content["transcript"] = self.text
                out.append(self._conv.event("response.output_audio.done", **where))
                out.append(
                    self._conv.event(
                        "response.output_audio_transcript.done", **where, transcript=self.text
                    )
                )
                part = {"type": "audio", "transcript": self.text}
            out.append(self._conv.event("response.content_part.done", **where, part=part))
            self.item["status"] = "completed" if status == "completed" else "incomplete"
            out.append(
                self._conv.event(
                    "response.output_item.done",
                    response_id=self.id,
                    output_index=where["output_index"],
                    item=self.item,
                )
            )
            out.append(self._conv.done(self.item))
        out.append(self._conv.event("response.done", response=self.wire(status, details)))
        return out
