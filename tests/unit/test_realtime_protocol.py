"""The Realtime protocol state machine, without sockets or a Session: client events and
session events in, server events and commands out."""

from __future__ import annotations

import base64
import json
from typing import Any

from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from omnivox.agent.api.realtime import commands as c
from omnivox.agent.api.realtime import protocol as p
from omnivox.agent.api.realtime.events import ErrorEvent, ServerEvent

SDK_EVENT = TypeAdapter(RealtimeServerEvent)
FRAME = b"\x01\x00" * 480  # 20 ms of 24 kHz PCM16


def events(outputs: list[c.Output]) -> list[dict[str, Any]]:
    """The server events among `outputs`, as the client gets them (checked against the
    SDK's models of the GA events)."""
    out = []
    for o in outputs:
        if isinstance(o, ServerEvent | ErrorEvent):
            data = json.loads(o.to_json())
            if not data["type"].startswith("omnivox."):
                SDK_EVENT.validate_python(data)
            out.append(data)
    return out


def types(outputs: list[c.Output]) -> list[str]:
    return [e["type"] for e in events(outputs)]


def commands(outputs: list[c.Output]) -> list[c.Command]:
    return [o for o in outputs if not isinstance(o, ServerEvent | ErrorEvent)]


def send(proto: p.RealtimeProtocol, event_type: str, **fields: Any) -> list[c.Output]:
    return proto.receive(json.dumps({"type": event_type, **fields}))


def error_code(outputs: list[c.Output]) -> str:
    (error,) = events(outputs)
    assert error["type"] == "error", error
    return str(error["error"]["code"])


def opened(**session: Any) -> p.RealtimeProtocol:
    proto = p.RealtimeProtocol("sess_1")
    out = proto.opened()
    assert types(out) == ["session.created"] and isinstance(commands(out)[0], c.Configure)
    if session:
        assert "session.updated" in types(send(proto, "session.update", session=session))
    return proto


def session(proto: p.RealtimeProtocol, event_type: str, **data: Any) -> list[c.Output]:
    return proto.on_session_event(event_type, {"type": event_type, "t_ms": 0.0, **data})


def speak_reply(proto: p.RealtimeProtocol, reply_id: str, *texts: str) -> list[c.Output]:
    out = session(proto, "reply_start", reply_id=reply_id)
    for text in texts:
        out += session(proto, "reply_text", reply_id=reply_id, text=text)
    out += session(proto, "reply_audio_start", reply_id=reply_id)
    return out + proto.agent_audio(FRAME, 20)


def test_session_update_merges_and_a_bad_one_changes_nothing() -> None:
    proto = opened()
    out = send(
        proto,
        "session.update",
        session={
            "instructions": "Be brief.",
            "audio": {"output": {"format": {"type": "audio/pcmu"}}},
        },
    )
    (configure,) = commands(out)
    assert isinstance(configure, c.Configure)
    assert configure.session.audio.input.format.type == "audio/pcm"  # kept
    assert configure.session.audio.output.format.type == "audio/pcmu"
    assert events(out)[0]["session"]["instructions"] == "Be brief."
    bad = send(
        proto,
        "session.update",
        event_id="e9",
        session={"audio": {"input": {"turn_detection": {"type": "psychic"}}}},
    )
    assert error_code(bad) == "invalid_value"
    assert events(bad)[0]["error"]["event_id"] == "e9"
    assert events(bad)[0]["error"]["param"] == "session.audio.input.turn_detection"
    assert error_code(send(proto, "session.update", session={"id": "other"})) == "invalid_value"
    assert proto.session.instructions == "Be brief." and proto.session.id == "sess_1"
    assert (
        error_code(
            send(
                proto,
                "session.update",
                session={
                    "audio": {
                        "input": {
                            "turn_detection": {"type": "server_vad", "create_response": False}
                        }
                    }
                },
            )
        )
        == "invalid_value"
    )


def test_a_spoken_turn_maps_onto_the_protocol() -> None:
    proto = opened()
    assert types(session(proto, "vad_start", onset_ms=512.0)) == [
        "input_audio_buffer.speech_started"
    ]
    assert session(proto, "vad_stop", speech_end_ms=900.0) == []  # a pause, maybe not the end
    out = session(proto, "user_turn_end", speech_end_ms=1900.0)
    assert types(out) == [
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
    ]
    stopped, committed, added = events(out)
    assert stopped["audio_end_ms"] == 1900 and committed["item_id"] == added["item"]["id"]
    out = session(proto, "transcript_final", text="What are your hours?")
    assert types(out) == [
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.done",
    ]
    assert events(out)[1]["item"]["content"][0]["transcript"] == "What are your hours?"

    out = speak_reply(proto, "r1", "We open at six.", "We close at ten.")
    assert types(out) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_audio_transcript.delta",
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
    ]
    assert base64.b64decode(events(out)[-1]["delta"]) == FRAME
    assert events(out)[2]["previous_item_id"] == committed["item_id"]
    assert session(proto, "turn_metrics", reply_id="r1", voice_to_voice_ms=420.0)[0]
    assert session(proto, "reply_done", reply_id="r1") == []  # the last frame is still out
    out = proto.agent_audio(FRAME, 20)
    assert types(out) == [
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    done = events(out)[-1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["transcript"] == "We open at six. We close at ten."
    assert proto.agent_audio(FRAME, 20) == []  # nothing plays: nothing is sent


def test_a_backchannel_over_the_agent_is_no_turn() -> None:
    proto = opened()
    speak_reply(proto, "r1", "Our gym opens at six.")
    assert session(proto, "vad_start", onset_ms=3000.0) == []
    out = session(proto, "turn_decision", kind="backchannel", probability=0.05, decision_ms=180.0)
    assert types(out) == ["omnivox.turn_decision"]
    assert events(out)[0]["decision"]["kind"] == "backchannel"
    assert types(proto.agent_audio(FRAME, 20)) == ["response.output_audio.delta"]


def test_barge_in_starts_the_user_turn_and_cancels_the_response_at_once() -> None:
    proto = opened()
    speak_reply(proto, "r1", "Our gym opens at six and closes at ten.")
    assert session(proto, "vad_start", onset_ms=3000.0) == []
    out = session(
        proto,
        "reply_cancelled",
        reply_id="r1",
        reason="barge_in",
        played_ms=900.0,
        heard_ms=900.0,
        heard_text="Our gym",
        onset_ms=3000.0,
        stop_ms=200.0,
    )
    kinds = types(out)
    assert kinds[0] == "input_audio_buffer.speech_started"
    assert events(out)[0]["audio_start_ms"] == 3000
    done = events(out)[kinds.index("response.done")]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    assert done["output"][0]["status"] == "incomplete"
    assert kinds[-1] == "omnivox.reply_cut" and events(out)[-1]["heard_text"] == "Our gym"
    assert proto.agent_audio(FRAME, 20) == [], "no audio after the cut"
    item_id = done["output"][0]["id"]

    out = send(
        proto, "conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=15
    )
    (cut,) = commands(out)
    assert cut == c.Truncate(item_id, "r1", 15, 20.0)
    assert types(out) == ["conversation.item.truncated"]
    proto.truncated(item_id, "")
    assert proto.items[item_id]["content"][0]["transcript"] == ""
    too_long = send(
        proto, "conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=5000
    )
    assert error_code(too_long) == "invalid_value"
    assert (
        error_code(
            send(
                proto, "conversation.item.truncate", item_id="nope", content_index=0, audio_end_ms=0
            )
        )
        == "item_not_found"
    )


def test_manual_turns_commit_then_respond() -> None:
    proto = opened(audio={"input": {"turn_detection": None}})
    assert error_code(send(proto, "input_audio_buffer.commit")) == "input_audio_buffer_commit_empty"
    audio = base64.b64encode(FRAME * 10).decode()
    out = send(proto, "input_audio_buffer.append", audio=audio)
    assert commands(out) == [c.AppendAudio(FRAME * 10)] and events(out) == []
    out = send(proto, "input_audio_buffer.commit")
    commit = commands(out)[0]
    assert isinstance(commit, c.CommitAudio)
    assert types(out) == ["input_audio_buffer.committed", "conversation.item.added"]
    assert session(proto, "vad_start", onset_ms=10.0) == []  # no VAD events in manual mode
    out = proto.transcribed(commit.item_id, "Hello there")
    assert types(out) == [
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.done",
    ]
    assert commands(send(proto, "response.create")) == [c.Respond(None)]
    out = send(proto, "input_audio_buffer.clear")
    assert commands(out) == [c.ClearAudio()] and types(out) == ["input_audio_buffer.cleared"]


def test_commit_with_turn_detection_on_and_bad_audio_are_errors() -> None:
    proto = opened()
    assert error_code(send(proto, "input_audio_buffer.commit")) == "invalid_value"
    assert error_code(send(proto, "input_audio_buffer.append", audio="@@@")) == "invalid_value"
    assert error_code(send(proto, "output_audio_buffer.clear")) == "invalid_value"


def test_text_items_answered_by_response_create_once() -> None:
    proto = opened()
    for text in ("Hi.", "What are your hours?"):
        out = send(
            proto,
            "conversation.item.create",
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        )
        assert types(out) == ["conversation.item.added", "conversation.item.done"]
    assert commands(send(proto, "response.create")) == [c.Respond("Hi.\nWhat are your hours?")]
    busy = send(proto, "response.create")
    assert error_code(busy) == "conversation_already_has_active_response"
    speak_reply(proto, "r1", "Six to ten.")
    assert error_code(send(proto, "response.cancel", response_id="resp_x")) == "invalid_value"
    assert commands(send(proto, "response.cancel")) == [c.CancelReply()]
    out = session(
        proto,
        "reply_cancelled",
        reply_id="r1",
        reason="client_cancelled",
        played_ms=20.0,
        heard_ms=20.0,
        heard_text="",
        onset_ms=0.0,
        stop_ms=0.0,
    )
    assert "input_audio_buffer.speech_started" not in types(out)
    assert (
        events(out)[types(out).index("response.done")]["response"]["status_details"]["reason"]
        == "client_cancelled"
    )
    assert error_code(send(proto, "response.cancel")) == "response_cancel_not_active"


def test_items_that_cannot_be_added_are_refused() -> None:
    proto = opened()
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}
    assert types(send(proto, "conversation.item.create", item={**user, "id": "mine"}))
    assert (
        error_code(send(proto, "conversation.item.create", item={**user, "id": "mine"}))
        == "item_already_exists"
    )
    assert (
        error_code(send(proto, "conversation.item.create", previous_item_id="elsewhere", item=user))
        == "invalid_value"
    )
    assert (
        error_code(
            send(
                proto,
                "conversation.item.create",
                item={
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "x"}],
                },
            )
        )
        == "invalid_value"
    )
    assert (
        error_code(
            send(
                proto,
                "conversation.item.create",
                item={"type": "function_call_output", "call_id": "c9", "output": "{}"},
            )
        )
        == "invalid_value"
    )
    assert types(send(proto, "conversation.item.retrieve", item_id="mine")) == [
        "conversation.item.retrieved"
    ]
    assert types(send(proto, "conversation.item.delete", item_id="mine")) == [
        "conversation.item.deleted"
    ]
    assert error_code(send(proto, "conversation.item.delete", item_id="mine")) == "item_not_found"


def test_a_client_function_call_round_trip() -> None:
    proto = opened()
    session(proto, "reply_start", reply_id="r1")
    out = proto.function_call("call_1", "save", '{"folder": "work"}')
    assert types(out) == [
        "response.output_item.added",
        "conversation.item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "conversation.item.done",
    ]
    assert events(out)[3]["arguments"] == '{"folder": "work"}'
    out = proto.calls_sent()
    done = events(out)[-1]["response"]
    assert done["status"] == "completed" and done["output"][0]["type"] == "function_call"
    assert error_code(send(proto, "response.create")) == "invalid_value"  # no output yet
    output = {"type": "function_call_output", "call_id": "call_1", "output": '{"ok": true}'}
    assert types(send(proto, "conversation.item.create", item=output)) == [
        "conversation.item.added",
        "conversation.item.done",
    ]
    out = send(proto, "response.create")
    assert types(out) == ["response.created"]
    assert commands(out) == [c.ToolOutputs({"call_1": '{"ok": true}'})]
    second = events(out)[0]["response"]["id"]
    assert second != done["id"]
    out = session(proto, "reply_text", reply_id="r1", text="Saved.")  # the same reply goes on
    assert types(out)[-1] == "response.output_audio_transcript.delta"
    assert events(out)[-1]["response_id"] == second


def test_text_modality_sends_text_not_audio() -> None:
    proto = opened(output_modalities=["text"])
    out = session(proto, "reply_start", reply_id="r1")
    out += session(proto, "reply_text", reply_id="r1", text="Six to ten.")
    out += session(proto, "reply_audio_start", reply_id="r1")
    assert types(out)[-1] == "response.output_text.delta"
    assert proto.agent_audio(None, 20) == []
    session(proto, "reply_done", reply_id="r1")
    out = proto.agent_audio(None, 20)
    assert "response.output_text.done" in types(out)
    assert "response.output_audio.delta" not in types(out)
    assert events(out)[-1]["response"]["output"][0]["content"][0] == {
        "type": "output_text",
        "text": "Six to ten.",
    }


def test_session_errors_are_server_errors() -> None:
    proto = opened()
    (error,) = events(session(proto, "error", message="Thinker failed: timeout", source="thinker"))
    assert error["error"]["type"] == "server_error" and error["error"]["code"] == "thinker"


def test_a_reply_waiting_for_a_client_tool_can_be_cancelled() -> None:
    proto = opened()
    session(proto, "reply_start", reply_id="r1")
    proto.function_call("call_1", "save", "{}")
    proto.calls_sent()
    assert commands(send(proto, "response.cancel")) == [c.CancelReply()]
    assert session(proto, "reply_cancelled", reply_id="r1", reason="client_cancelled") == []
    assert error_code(send(proto, "response.cancel")) == "response_cancel_not_active"
    output = {"type": "function_call_output", "call_id": "call_1", "output": "{}"}
    assert error_code(send(proto, "conversation.item.create", item=output)) == "invalid_value"


def test_a_reply_that_replaces_a_running_one_ends_its_response() -> None:
    proto = opened()
    speak_reply(proto, "r1", "Our gym opens at six.")
    out = session(proto, "reply_start", reply_id="r2")
    kinds = types(out)
    assert kinds[-1] == "response.created"
    done = events(out)[kinds.index("response.done")]["response"]
    assert done["status"] == "cancelled"
    assert proto.response is not None and proto.response.reply_id == "r2"
