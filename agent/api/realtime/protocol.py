"""The Realtime conversation as a pure state machine: client events and the session's
events in, server events and commands for the shell out.

It holds the session config, the conversation items, what was appended to the input
buffer and the response under way. It never touches a socket, a clock or the Session:
the shell (endpoint.py) sends the server events it returns and carries out the commands
(audio in, start or cancel a reply, hand tool outputs back...), in order.

How omnivox's turn taking maps onto the protocol:
- `input_audio_buffer.speech_started` goes out when the user takes the floor: at once
  when the agent is silent, but while the agent speaks only once the turn policy calls
  it an interruption. A backchannel ("uh-huh") over the agent is not one, so a standard
  client that stops its playback on `speech_started` does not cut the agent off.
- a turn ends (`speech_stopped`, `committed`, the user item) when the policy says so;
  its transcript completes the item when the recognizer's final arrives.
- a cut reply ends its response `cancelled` (reason `turn_detected`); what the user
  heard of it follows as `omnivox.reply_cut`, and the client's own
  `conversation.item.truncate` corrects the history to what it played.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from omnivox.agent.api.realtime import events as ev
from omnivox.agent.api.realtime.audio import AudioDataError, decode_base64
from omnivox.agent.api.realtime.commands import (
    AppendAudio,
    CancelReply,
    ClearAudio,
    CommitAudio,
    Configure,
    Output,
    Respond,
    ToolOutputs,
    Truncate,
)
from omnivox.agent.api.realtime.conversation import Conversation, user_audio_item
from omnivox.agent.api.realtime.response import Response
from omnivox.agent.api.realtime.session_config import RealtimeSession, updated

MIN_COMMIT_MS = 100
"""A manual commit needs this much audio (as OpenAI requires)."""


class RealtimeProtocol:
    def __init__(self, session_id: str, session: RealtimeSession | None = None) -> None:
        self.session = (session or RealtimeSession()).model_copy(update={"id": session_id})
        self.conversation = Conversation()
        self._buffered_bytes = 0
        """Appended since the last commit or clear (manual turn detection)."""
        self._texts: list[str] = []
        """User text items not answered yet."""
        self._user_item: str | None = None
        """The user item whose `speech_started` went out (server VAD)."""
        self._deferred_onset: float | None = None
        """Speech heard over the agent, not (yet) an interruption."""
        self._transcribing: list[str] = []
        """User items the turn policy committed, waiting for their transcript, oldest first."""
        self.response: Response | None = None
        self._requested = False
        """`response.create` sent a Respond; the reply it starts takes the response."""
        self._calls: dict[str, str] = {}
        """call_id -> function_call item the waiting reply asked for."""
        self._outputs: dict[str, str] = {}
        self._waiting_reply: str | None = None
        """The reply whose client calls are out."""
        self._replies: dict[str, tuple[str, float]] = {}
        """assistant item id -> (reply id, audio ms sent), for truncation."""

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        return self.conversation.items

    @property
    def audio_open(self) -> bool:
        """A reply's audio is playing: the shell encodes what it pulls."""
        return self.response is not None and self.response.audio_open

    def _event(self, kind: str, **fields: Any) -> ev.ServerEvent:
        return self.conversation.event(kind, **fields)

    # ---- the client's events -------------------------------------------------------------

    def opened(self) -> list[Output]:
        return [
            self._event("session.created", session=self.session.to_wire()),
            Configure(self.session),
        ]

    def receive(self, raw: str | bytes) -> list[Output]:
        parsed = ev.parse(raw)
        if isinstance(parsed, ev.ErrorEvent):
            return [self.conversation.error(parsed)]
        handler = getattr(self, "_on_" + parsed.type.replace(".", "_"))
        out: list[Output] = handler(parsed)
        return out

    def _invalid(self, event: Any, message: str, param: str | None = None) -> list[Output]:
        return self._refuse(event, "invalid_value", message, param)

    def _refuse(
        self, event: Any, code: str, message: str, param: str | None = None
    ) -> list[Output]:
        error = ev.error_event(code, message, param=param, event_id=event.event_id)
        return [self.conversation.error(error)]

    def _on_session_update(self, e: ev.SessionUpdate) -> list[Output]:
        try:
            session = updated(self.session, e.session)
        except ValidationError as err:
            return [self.conversation.error(ev.validation_error(err, e.event_id, prefix="session"))]
        if session.id != self.session.id:
            return self._invalid(e, "The session id cannot change.", "session.id")
        formats_changed = session.audio.input.format != self.session.audio.input.format
        if formats_changed and self._buffered_bytes:
            return self._invalid(
                e,
                "The input format cannot change while the "
                "input audio buffer holds audio; clear or commit it first.",
                "session.audio.input.format",
            )
        self.session = session
        if session.turn_detection is not None:
            self._buffered_bytes = 0  # the shell drops a manual buffer on leaving manual mode
        return [Configure(session), self._event("session.updated", session=session.to_wire())]

    def _on_input_audio_buffer_append(self, e: ev.InputAudioBufferAppend) -> list[Output]:
        try:
            data = decode_base64(e.audio)
        except AudioDataError as err:
            return self._invalid(e, f"Invalid 'audio': {err}.", "audio")
        if self.session.turn_detection is None:
            self._buffered_bytes += len(data)
        return [AppendAudio(data)]

    def _buffered_ms(self) -> float:
        fmt = self.session.audio.input.format
        per_ms = 48 if fmt.type == "audio/pcm" else 8  # bytes per ms
        return self._buffered_bytes / per_ms

    def _on_input_audio_buffer_commit(self, e: ev.InputAudioBufferCommit) -> list[Output]:
        if self.session.turn_detection is not None:
            return self._invalid(
                e,
                "With turn detection on, the server commits "
                "the buffer itself; set turn_detection to null to commit.",
                "type",
            )
        if self._buffered_ms() < MIN_COMMIT_MS:
            return self._refuse(
                e,
                "input_audio_buffer_commit_empty",
                f"Error committing input audio buffer: buffer too small. "
                f"Expected at least {MIN_COMMIT_MS}ms of audio, but buffer only "
                f"has {self._buffered_ms():.2f}ms of audio.",
            )
        self._buffered_bytes = 0
        item_id = self.conversation.new_id("item")
        previous = self.conversation.last_item
        return [
            CommitAudio(item_id),  # the shell reports its transcript (`transcribed`)
            self._event("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id),
            self.conversation.add(user_audio_item(item_id), previous),
        ]

    def _on_input_audio_buffer_clear(self, _e: ev.InputAudioBufferClear) -> list[Output]:
        self._buffered_bytes = 0
        return [ClearAudio(), self._event("input_audio_buffer.cleared")]

    def _on_conversation_item_create(self, e: ev.ConversationItemCreate) -> list[Output]:
        item = e.item
        if item.id is not None and item.id in self.items:
            return self._refuse(
                e, "item_already_exists", f"Item '{item.id}' already exists.", "item.id"
            )
        if e.previous_item_id not in (None, "root", self.conversation.last_item):
            return self._invalid(
                e,
                "Items are added at the end of the "
                "conversation only: previous_item_id must be the last item.",
                "previous_item_id",
            )
        item_id = item.id or self.conversation.new_id("item")
        wire = {
            **item.model_dump(mode="json", exclude_none=True),
            "id": item_id,
            "object": "realtime.item",
            "status": "completed",
        }
        if isinstance(item, ev.FunctionCallOutputItem):
            if item.call_id not in self._calls or item.call_id in self._outputs:
                return self._invalid(
                    e,
                    f"No function call awaits an output for call_id '{item.call_id}'.",
                    "item.call_id",
                )
            self._outputs[item.call_id] = item.output
        elif isinstance(item, ev.MessageItem):
            if item.role != "user" or not all(isinstance(c, ev.InputText) for c in item.content):
                return self._invalid(
                    e,
                    "Only user messages with input_text "
                    "content can be added (audio goes through the input audio "
                    "buffer).",
                    "item.content",
                )
            self._texts.append(
                "\n".join(c.text for c in item.content if isinstance(c, ev.InputText))
            )
        else:
            return self._invalid(
                e,
                "function_call items come from the model; send a function_call_output for them.",
                "item.type",
            )
        return [self.conversation.add(wire), self.conversation.done(wire)]

    def _on_conversation_item_retrieve(self, e: ev.ConversationItemRetrieve) -> list[Output]:
        item = self.items.get(e.item_id)
        if item is None:
            return self._no_item(e, e.item_id)
        return [self._event("conversation.item.retrieved", item=item)]

    def _no_item(self, e: Any, item_id: str) -> list[Output]:
        return self._refuse(
            e, "item_not_found", f"Item '{item_id[:100]}' does not exist.", "item_id"
        )

    def _on_conversation_item_truncate(self, e: ev.ConversationItemTruncate) -> list[Output]:
        item = self.items.get(e.item_id)
        if item is None:
            return self._no_item(e, e.item_id)
        if item.get("role") != "assistant" or e.item_id not in self._replies:
            return self._invalid(e, "Only assistant audio items can be truncated.", "item_id")
        if e.content_index != 0:
            return self._invalid(e, "The item has one content part.", "content_index")
        reply_id, sent_ms = self._replies[e.item_id]
        if e.audio_end_ms > sent_ms:
            return self._invalid(
                e,
                f"audio_end_ms {e.audio_end_ms} is longer "
                f"than the item's audio ({sent_ms:.0f} ms).",
                "audio_end_ms",
            )
        return [
            Truncate(e.item_id, reply_id, e.audio_end_ms, sent_ms),
            self._event(
                "conversation.item.truncated",
                item_id=e.item_id,
                content_index=0,
                audio_end_ms=e.audio_end_ms,
            ),
        ]

    def truncated(self, item_id: str, heard_text: str) -> None:
        """The shell learnt what was heard of a truncated item: its transcript is that."""
        item = self.items.get(item_id)
        if item is not None and item.get("content"):
            item["content"][0]["transcript"] = heard_text

    def _on_conversation_item_delete(self, e: ev.ConversationItemDelete) -> list[Output]:
        if e.item_id not in self.items:
            return self._no_item(e, e.item_id)
        del self.items[e.item_id]
        return [self._event("conversation.item.deleted", item_id=e.item_id)]

    def _on_response_create(self, e: ev.ResponseCreate) -> list[Output]:
        if self._calls:
            missing = [c for c in self._calls if c not in self._outputs]
            if missing:
                return self._invalid(
                    e,
                    "The model waits for the output of "
                    f"call_id '{missing[0]}' (a function_call_output item).",
                )
            outputs, self._outputs, self._calls = self._outputs, {}, {}
            out = self._open_response()
            self._response().reply_id = self._waiting_reply
            return [*out, ToolOutputs(outputs)]
        if self.response is not None or self._requested:
            return self._refuse(
                e,
                "conversation_already_has_active_response",
                "Conversation already has an active response in progress.",
            )
        text = "\n".join(self._texts) or None
        self._texts.clear()
        self._requested = True
        return [Respond(text)]

    def _on_response_cancel(self, e: ev.ResponseCancel) -> list[Output]:
        r = self.response
        if r is None and not self._requested and not self._calls:
            return self._refuse(
                e, "response_cancel_not_active", "Cancellation failed: no active response found."
            )
        if r is not None and e.response_id not in (None, r.id):
            return self._invalid(
                e,
                f"Response '{e.response_id}' is not the active response.",
                "response_id",
            )
        return [CancelReply()]

    def _on_output_audio_buffer_clear(self, e: ev.OutputAudioBufferClear) -> list[Output]:
        return self._invalid(
            e,
            "output_audio_buffer.clear is for WebRTC and "
            "SIP connections; over a WebSocket send response.cancel and "
            "conversation.item.truncate.",
            "type",
        )

    # ---- the session's events ------------------------------------------------------------

    def on_session_event(self, kind: str, data: dict[str, Any]) -> list[Output]:
        handler = getattr(self, "_session_" + kind, None)
        out: list[Output] = handler(data) if handler is not None else []
        return out

    def _session_vad_start(self, data: dict[str, Any]) -> list[Output]:
        if self.session.turn_detection is None or self._user_item is not None:
            return []
        if self.audio_open:
            self._deferred_onset = data["onset_ms"]
            return []
        return self._speech_started(data["onset_ms"])

    def _speech_started(self, onset_ms: float) -> list[Output]:
        self._user_item = self.conversation.new_id("item")
        self._deferred_onset = None
        return [
            self._event(
                "input_audio_buffer.speech_started",
                audio_start_ms=round(onset_ms),
                item_id=self._user_item,
            )
        ]

    def _session_turn_decision(self, data: dict[str, Any]) -> list[Output]:
        if data["kind"] in ("backchannel", "false_interruption_resumed"):
            self._deferred_onset = None  # that speech was not a turn
        decision = {k: v for k, v in data.items() if k != "type"}
        return [self._event("omnivox.turn_decision", decision=decision)]

    def _session_user_turn_end(self, data: dict[str, Any]) -> list[Output]:
        out: list[Output] = []
        if self._user_item is None:
            out += self._speech_started(self._deferred_onset or data["speech_end_ms"])
        item_id, self._user_item = self._user_item, None
        assert item_id is not None
        previous = self.conversation.last_item
        self._transcribing.append(item_id)
        out += [
            self._event(
                "input_audio_buffer.speech_stopped",
                audio_end_ms=round(data["speech_end_ms"]),
                item_id=item_id,
            ),
            self._event("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id),
            self.conversation.add(user_audio_item(item_id), previous),
        ]
        return out

    def _session_transcript_final(self, data: dict[str, Any]) -> list[Output]:
        if not self._transcribing:
            return []  # a typed turn's text: its item is complete already
        return self.transcribed(self._transcribing.pop(0), data["text"])

    def transcribed(self, item_id: str, text: str) -> list[Output]:
        """A user audio item's transcript (the session's, or a manual commit's)."""
        item = self.items.get(item_id)
        if item is None:
            return []  # deleted meanwhile
        item["content"][0]["transcript"] = text
        return [
            self._event(
                "conversation.item.input_audio_transcription.completed",
                item_id=item_id,
                content_index=0,
                transcript=text,
                usage={"type": "duration", "seconds": 0},
            ),
            self.conversation.done(item),
        ]

    def _response(self) -> Response:
        assert self.response is not None
        return self.response

    def _open_response(self) -> list[Output]:
        self.response = Response(self.conversation, self.session)
        return self.response.created()

    def _close_response(self, status: str, details: dict[str, Any] | None = None) -> list[Output]:
        out = self._response().close(status, details)
        self.response = None
        return out

    def _ours(self, data: dict[str, Any]) -> Response | None:
        """The response of the reply this event is about, if it is the current one."""
        r = self.response
        return r if r is not None and r.reply_id == data.get("reply_id") else None

    def _session_reply_start(self, data: dict[str, Any]) -> list[Output]:
        self._requested = False
        out: list[Output] = []
        if self.response is not None and self.response.reply_id is not None:
            # A new reply replaced one still running (dropped, not cut by the user).
            details = {"type": "cancelled", "reason": "turn_detected"}
            out += self._close_response("cancelled", details)
        if self.response is None:
            out += self._open_response()
        self._response().reply_id = data["reply_id"]
        return out

    def _session_reply_text(self, data: dict[str, Any]) -> list[Output]:
        r = self._ours(data)
        return r.words(data["text"]) if r is not None else []

    def _session_reply_audio_start(self, data: dict[str, Any]) -> list[Output]:
        r = self._ours(data)
        if r is None or r.text_only:
            return []
        r.audio_open = True
        out = r.open_message()
        assert r.item is not None
        self._replies[r.item["id"]] = (data["reply_id"], 0.0)
        return out

    def _session_reply_done(self, data: dict[str, Any]) -> list[Output]:
        r = self._ours(data)
        if r is not None:
            r.finishing = True
        return []

    def agent_audio(self, payload: bytes | None, duration_ms: float) -> list[Output]:
        """After each 20 ms frame was pulled: its encoded audio (None: not playing) goes
        out as a delta, then a reply that ended in that frame closes its response."""
        out: list[Output] = []
        r = self.response
        if r is not None and r.audio_open and payload and r.item is not None:
            out += r.audio(payload, duration_ms)
            self._replies[r.item["id"]] = (r.reply_id or "", r.sent_ms)
        if r is not None and r.finishing:
            out += self._close_response("completed")
        return out

    def _session_reply_cancelled(self, data: dict[str, Any]) -> list[Output]:
        r = self._ours(data)
        if r is None:
            self._calls.clear()  # a reply waiting for client calls is gone
            return []
        out: list[Output] = []
        barge_in = data["reason"] == "barge_in"
        if barge_in and self._user_item is None and self.session.turn_detection is not None:
            # The user took the floor (speech over the agent only now counts as a turn).
            onset = self._deferred_onset if self._deferred_onset is not None else data["onset_ms"]
            out += self._speech_started(onset)
        reason = "client_cancelled" if data["reason"] == "client_cancelled" else "turn_detected"
        item_id = r.item["id"] if r.item else None
        out += self._close_response("cancelled", {"type": "cancelled", "reason": reason})
        out.append(
            self._event(
                "omnivox.reply_cut",
                response_id=r.id,
                item_id=item_id,
                reason=data.get("reason"),
                played_ms=data.get("played_ms"),
                heard_ms=data.get("heard_ms"),
                heard_text=data.get("heard_text"),
            )
        )
        self._calls.clear()
        self._outputs.clear()
        return out

    def _session_turn_metrics(self, data: dict[str, Any]) -> list[Output]:
        r = self.response
        item = r.item["id"] if r is not None and r.item is not None else None
        metrics = {k: v for k, v in data.items() if k not in ("type", "t_ms", "reply_id")}
        response_id = r.id if r is not None else None
        return [
            self._event("omnivox.latency", item_id=item, response_id=response_id, metrics=metrics)
        ]

    def _session_tool_call(self, data: dict[str, Any]) -> list[Output]:
        r = self.response
        return [
            self._event(
                "omnivox.tool_call",
                response_id=r.id if r else None,
                name=data.get("name"),
                arguments=data.get("arguments"),
                result=data.get("result"),
            )
        ]

    def _session_error(self, data: dict[str, Any]) -> list[Output]:
        error = ev.error_event(
            str(data.get("source", "session")), str(data.get("message", "")), kind="server_error"
        )
        return [self.conversation.error(error)]

    # ---- client-side tools ---------------------------------------------------------------

    def function_call(self, call_id: str, name: str, arguments: str) -> list[Output]:
        """The reply asks the client to run a tool: the call goes out as a function_call
        item and its response ends; the reply waits for the output and response.create."""
        out: list[Output] = [] if self.response is not None else self._open_response()
        r = self._response()
        out += r.function_call(call_id, name, arguments)
        self._calls[call_id] = r.output[-1]["id"]
        self._waiting_reply = r.reply_id
        return out

    def calls_sent(self) -> list[Output]:
        """Every call of the round is out: the response that asked for them is done (the
        reply goes on in the response the client creates with their outputs)."""
        return self._close_response("completed") if self.response is not None else []
