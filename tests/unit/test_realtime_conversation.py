"""The upstream realtime conversation as a pure state machine: what omnivox sends for a
turn in each dialect, what it makes of the server's events, and how the upstream copy of
the conversation is brought in line with what the user heard."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from omnivox.models.thinker.base import (
    Message,
    SpeechAudio,
    TextDelta,
    ThinkRequest,
    ToolCall,
    ToolCallsRequested,
    ToolSpec,
)
from omnivox.models.thinker.realtime.conversation import (
    Failed,
    Finished,
    NeedsNewConversation,
    UpstreamConversation,
)
from omnivox.models.thinker.realtime.dialects import DIALECTS

AUDIO = np.arange(24_000, dtype=np.int16)  # 1 s at 24 kHz


def conv(dialect: str = "openai") -> UpstreamConversation:
    return UpstreamConversation(DIALECTS[dialect], model="m", voice="v")  # type: ignore[index]


def request(*messages: Message, tools: list[ToolSpec] | None = None) -> ThinkRequest:
    return ThinkRequest([Message("system", "Be brief."), *messages], tools=tools or [])


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def answer(c: UpstreamConversation, item: str, words: list[str], samples: int) -> list:
    """The server's events for a spoken answer in `item`: each word's transcript, then
    its share of `samples` of audio, then the end."""
    out = c.receive({"type": "response.output_item.added", "item": {"id": item, "type": "message"}})
    per = samples // len(words)
    for word in words:
        out += c.receive(
            {"type": "response.output_audio_transcript.delta", "item_id": item, "delta": word}
        )
        pcm = base64.b64encode(np.zeros(per, np.int16).tobytes()).decode()
        out += c.receive({"type": "response.output_audio.delta", "item_id": item, "delta": pcm})
    return out + c.receive({"type": "response.done", "response": {"status": "completed"}})


def test_a_turn_sends_the_session_the_audio_the_commit_and_asks_for_an_answer() -> None:
    c = conv()
    tool = ToolSpec("lookup", "Look it up.", {"type": "object"})
    events = c.start(request(Message("user", "hello"), tools=[tool]), AUDIO)
    assert types(events)[0] == "session.update"
    session = events[0]["session"]
    assert session["audio"]["input"] == {
        "format": {"type": "audio/pcm", "rate": 24_000},
        "turn_detection": None,
    }
    assert session["instructions"] == "Be brief."
    assert session["tools"] == [
        {
            "type": "function",
            "name": "lookup",
            "description": "Look it up.",
            "parameters": {"type": "object"},
        }
    ]
    appends = [e for e in events if e["type"] == "input_audio_buffer.append"]
    sent = b"".join(base64.b64decode(e["audio"]) for e in appends)
    assert np.array_equal(np.frombuffer(sent, "<i2"), AUDIO)
    assert len(appends) == 4  # a quarter second each
    assert types(events)[-2:] == ["input_audio_buffer.commit", "response.create"]
    assert c.responding


def test_the_answer_streams_as_transcript_and_audio_then_ends() -> None:
    c = conv()
    c.start(request(Message("user", "hi")), AUDIO)
    out = answer(c, "it1", ["Hello ", "there."], 4800)
    assert [o.text for o in out if isinstance(o, TextDelta)] == ["Hello ", "there."]
    audio = [o for o in out if isinstance(o, SpeechAudio)]
    assert sum(len(a.pcm) for a in audio) == 4800 * 2 and {a.rate for a in audio} == {24_000}
    assert out[-1] == Finished() and not c.responding


def test_the_session_update_is_sent_again_only_when_it_changes() -> None:
    c = conv()
    c.start(request(Message("user", "a")), AUDIO)
    answer(c, "i1", ["Yes."], 2400)
    prior = [Message("user", "a"), Message("assistant", "Yes.")]
    again = c.start(request(*prior, Message("user", "b")), AUDIO)
    assert "session.update" not in types(again)
    answer(c, "i2", ["No."], 2400)
    prior += [Message("user", "b"), Message("assistant", "No.")]
    changed = c.start(
        ThinkRequest([Message("system", "Be kind."), *prior, Message("user", "c")]), AUDIO
    )
    assert types(changed)[0] == "session.update"


def test_a_reply_cut_short_is_truncated_where_the_user_stopped_hearing_it() -> None:
    c = conv()
    c.start(request(Message("user", "hours?")), AUDIO)
    answer(c, "it1", ["We are open ", "until ten ", "tonight."], 24_000 * 3)
    heard = Message("assistant", "We are open …")  # the history marks the cut
    events = c.start(request(Message("user", "hours?"), heard, Message("user", "wait")), AUDIO)
    cut = [e for e in events if e["type"] == "conversation.item.truncate"]
    assert len(cut) == 1 and cut[0]["item_id"] == "it1" and cut[0]["content_index"] == 0
    # "weareopen" is 9 of the 24 letters said over 3 s
    assert cut[0]["audio_end_ms"] == round(3000 * 9 / 24)


def test_later_items_of_a_cut_reply_are_deleted() -> None:
    c = conv()
    c.start(request(Message("user", "q")), AUDIO)
    for item, text in (("a1", "First part."), ("a2", "More.")):
        c.receive({"type": "response.output_item.added", "item": {"id": item, "type": "message"}})
        c.receive(
            {"type": "response.output_audio_transcript.delta", "item_id": item, "delta": text}
        )
    c.receive({"type": "response.done", "response": {"status": "completed"}})
    events = c.start(
        request(Message("user", "q"), Message("assistant", "First part. …"), Message("user", "n")),
        AUDIO,
    )
    assert [e for e in events if e["type"].startswith("conversation.item.")][:1] == [
        {"type": "conversation.item.delete", "item_id": "a2"}
    ]
    assert "conversation.item.truncate" not in types(events)


def test_a_reply_heard_whole_needs_no_change_and_nothing_heard_deletes_it() -> None:
    c = conv()
    c.start(request(Message("user", "q")), AUDIO)
    answer(c, "a1", ["Fine, thanks!"], 2400)
    whole = c.start(
        request(Message("user", "q"), Message("assistant", "Fine, thanks!"), Message("user", "r")),
        AUDIO,
    )
    assert not [t for t in types(whole) if t.startswith("conversation.item.")]
    answer(c, "a2", ["Sure."], 2400)
    none_heard = c.start(
        request(
            Message("user", "q"),
            Message("assistant", "Fine, thanks!"),
            Message("user", "r"),
            Message("user", "s"),
        ),
        AUDIO,
    )
    assert {"type": "conversation.item.delete", "item_id": "a2"} in none_heard


def test_a_rewritten_reply_replaces_what_the_model_said() -> None:
    c = conv()
    c.start(request(Message("user", "q")), AUDIO)
    answer(c, "a1", ["Something unsafe."], 2400)
    events = c.start(
        request(
            Message("user", "q"),
            Message("assistant", "I can't help with that."),
            Message("user", "ok"),
        ),
        AUDIO,
    )
    sync = [e for e in events if e["type"].startswith("conversation.item.")]
    assert sync[0] == {"type": "conversation.item.delete", "item_id": "a1"}
    assert sync[1]["item"]["role"] == "assistant"
    assert sync[1]["item"]["content"] == [
        {"type": "output_text", "text": "I can't help with that."}
    ]


def test_the_first_turn_seeds_the_history_and_a_reset_one_needs_a_new_conversation() -> None:
    c = conv()
    greeting = Message("assistant", "Hi, how can I help?")
    events = c.start(request(greeting, Message("user", "hours")), AUDIO)
    seeded = [e for e in events if e["type"] == "conversation.item.create"]
    assert seeded[0]["item"]["content"][0]["text"] == "Hi, how can I help?"
    answer(c, "a1", ["Nine to five."], 2400)
    with pytest.raises(NeedsNewConversation):
        c.start(request(Message("user", "hello again")), AUDIO)  # a new visitor's history
    c.restart()
    assert types(c.start(request(Message("user", "hello again")), AUDIO))[0] == "session.update"


def test_a_typed_turn_is_a_text_item() -> None:
    c = conv()
    events = c.start(request(Message("user", "What time is it?")), None)
    assert events[-2]["item"]["content"] == [{"type": "input_text", "text": "What time is it?"}]
    assert events[-1] == {"type": "response.create"}


def test_tool_calls_come_back_at_the_end_and_their_results_go_up() -> None:
    c = conv()
    c.start(request(Message("user", "weather?")), AUDIO)
    done = c.receive(
        {
            "type": "response.function_call_arguments.done",
            "call_id": "c1",
            "name": "weather",
            "arguments": json.dumps({"city": "Oslo"}),
        }
    )
    assert done == []
    out = c.receive({"type": "response.done", "response": {"status": "completed"}})
    assert out == [ToolCallsRequested([ToolCall("c1", "weather", {"city": "Oslo"})]), Finished()]
    results = c.start(
        request(
            Message("user", "weather?"),
            Message("assistant", tool_calls=[ToolCall("c1", "weather", {"city": "Oslo"})]),
            Message("tool", "sunny", tool_call_id="c1", name="weather"),
        ),
        None,
    )
    assert results == [
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        },
        {"type": "response.create"},
    ]


def test_malformed_tool_arguments_and_errors_fail_the_answer() -> None:
    c = conv()
    c.start(request(Message("user", "x")), AUDIO)
    bad = c.receive(
        {"type": "response.function_call_arguments.done", "name": "f", "arguments": "{oops"}
    )
    assert isinstance(bad[0], Failed)
    c.restart()
    c.start(request(Message("user", "x")), AUDIO)
    err = c.receive({"type": "error", "error": {"code": "rate_limit", "message": "slow down"}})
    assert err == [Failed("the realtime model reported an error (rate_limit: slow down)")]
    assert not c.responding
    assert c.receive({"type": "error", "error": {"message": "late"}}) == []  # no answer under way
    assert c.receive({}) == []


def test_a_cancelled_answer_says_nothing_more_until_it_ends() -> None:
    c = conv()
    c.start(request(Message("user", "x")), AUDIO)
    c.receive({"type": "response.output_audio_transcript.delta", "delta": "Well "})
    assert c.cancel() == [{"type": "response.cancel"}]
    assert c.cancel() == []
    pcm = base64.b64encode(b"\0\0" * 100).decode()
    assert c.receive({"type": "response.output_audio.delta", "delta": pcm}) == []
    assert c.receive({"type": "response.output_audio_transcript.delta", "delta": "then"}) == []
    assert c.responding  # until the server ends it
    with pytest.raises(RuntimeError):  # one answer at a time
        c.start(request(Message("user", "x"), Message("user", "y")), AUDIO)
    assert c.receive({"type": "response.done", "response": {"status": "cancelled"}}) == [Finished()]
    assert not c.responding


def test_qwen_dialect() -> None:
    c = conv("qwen")
    audio = np.zeros(16_000, np.int16)
    events = c.start(
        ThinkRequest([Message("system", "S"), Message("user", "what is this")], images=[b"JPEG"]),
        audio,
    )
    assert events[0]["session"] == {
        "modalities": ["text", "audio"],
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm24",
        "instructions": "S",
        "turn_detection": None,
        "voice": "v",
    }
    assert types(events)[-3:] == [
        "input_image_buffer.append",
        "input_audio_buffer.commit",
        "response.create",
    ]
    assert base64.b64decode(events[-3]["image"]) == b"JPEG"
    pcm = base64.b64encode(b"\1\0" * 480).decode()
    out = c.receive({"type": "response.audio.delta", "delta": pcm})
    out += c.receive({"type": "response.audio_transcript.delta", "delta": "A cup."})
    out += c.receive({"type": "response.done", "response": {"status": "completed"}})
    assert out == [SpeechAudio(b"\1\0" * 480, 24_000), TextDelta("A cup."), Finished()]


def test_vllm_dialect() -> None:
    c = conv("vllm")
    events = c.start(request(Message("user", "hi")), np.zeros(16_000, np.int16))
    assert events[0]["model"] == "m"
    assert events[0]["session"]["audio"]["input"]["format"]["rate"] == 16_000
    assert types(events)[-1] == "input_audio_buffer.commit"  # the commit starts the answer
    pcm = base64.b64encode(b"\0\0" * 100).decode()
    out = c.receive({"type": "transcription.delta", "delta": "Hello."})
    out += c.receive({"type": "response.audio.delta", "audio": pcm, "sample_rate_hz": 22_050})
    out += c.receive({"type": "transcription.done", "text": "Hello."})
    assert c.responding
    out += c.receive({"type": "response.output_audio.done"})
    assert out == [TextDelta("Hello."), SpeechAudio(b"\0\0" * 100, 22_050), Finished()]


def test_audio_that_is_not_base64_fails_the_answer() -> None:
    c = conv()
    c.start(request(Message("user", "x")), AUDIO)
    out = c.receive({"type": "response.output_audio.delta", "delta": "***"})
    assert out == [Failed("the upstream sent audio that is not base64")]


def test_openai_dialect_sends_a_snapshot_as_an_input_image_part() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\0" * 16
    events = conv().start(ThinkRequest([Message("user", "what is this")], images=[jpeg]), AUDIO)
    [image] = [e for e in events if e["type"] == "conversation.item.create"]
    part = image["item"]["content"][0]
    assert part["type"] == "input_image"
    assert part["image_url"] == "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
