"""The media stream protocol core: Twilio-shaped messages in, typed events out; outbound
shapes; the mark accounting that gives the playout delay."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnivox.media.media_streams.protocol import (
    BadMessage,
    Connected,
    Dtmf,
    MarkLedger,
    Media,
    MediaFormat,
    MediaStreamProtocol,
    Start,
    Stop,
    clear_message,
    mark_message,
    media_message,
    parse_message,
)
from omnivox.media.media_streams.protocol import Mark as MarkEcho

SID = "MZ18ad3ab5a668481ce02b83e7395059f0"

# As Twilio documents them (Media Streams, "WebSocket Messages").
CONNECTED = '{"event": "connected", "protocol": "Call", "version": "1.0.0"}'
START = json.dumps(
    {
        "event": "start",
        "sequenceNumber": "1",
        "start": {
            "accountSid": "AC123",
            "streamSid": SID,
            "callSid": "CA123",
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": {"FirstName": "Jane", "LastName": "Doe"},
        },
        "streamSid": SID,
    }
)
MEDIA = json.dumps(
    {
        "event": "media",
        "sequenceNumber": "3",
        "media": {
            "track": "inbound",
            "chunk": "1",
            "timestamp": "5",
            "payload": base64.b64encode(bytes(range(160))).decode(),
        },
        "streamSid": SID,
    }
)
DTMF = json.dumps(
    {
        "event": "dtmf",
        "streamSid": SID,
        "sequenceNumber": "5",
        "dtmf": {"track": "inbound_track", "digit": "1"},
    }
)
MARK = json.dumps(
    {"event": "mark", "sequenceNumber": "4", "streamSid": SID, "mark": {"name": "my label"}}
)
STOP = json.dumps(
    {
        "event": "stop",
        "sequenceNumber": "5",
        "streamSid": SID,
        "stop": {"accountSid": "AC123", "callSid": "CA123"},
    }
)


def test_every_inbound_event_parses_from_the_providers_json() -> None:
    assert parse_message(CONNECTED) == Connected("Call", "1.0.0")
    assert parse_message(START) == Start(
        stream_sid=SID,
        call_sid="CA123",
        account_sid="AC123",
        tracks=("inbound",),
        custom_parameters={"FirstName": "Jane", "LastName": "Doe"},
        media_format=MediaFormat("audio/x-mulaw", 8000, 1),
    )
    assert parse_message(MEDIA) == Media(bytes(range(160)), "inbound", 1, 5)
    assert parse_message(DTMF) == Dtmf("1", "inbound_track")
    assert parse_message(MARK) == MarkEcho("my label")
    assert parse_message(STOP) == Stop("CA123", "AC123")


def test_extra_fields_and_numbers_as_numbers_are_fine_missing_optional_ones_default() -> None:
    media = {
        "event": "media",
        "extra": [1, 2],
        "media": {"payload": "", "timestamp": 40, "newField": True},
    }
    assert parse_message(json.dumps(media)) == Media(b"", "inbound", None, 40)
    start = {"event": "start", "streamSid": SID, "start": {"callSid": "CA1"}}
    parsed = parse_message(json.dumps(start))
    assert isinstance(parsed, Start)
    assert parsed.stream_sid == SID and parsed.media_format.supported
    assert parsed.custom_parameters == {} and parsed.tracks == ("inbound",)
    assert parse_message('{"event": "stop", "streamSid": "x"}') == Stop()
    numbers = {"event": "start", "start": {"streamSid": "s", "customParameters": {"n": 3}}}
    assert parse_message(json.dumps(numbers)).custom_parameters == {"n": "3"}  # type: ignore[union-attr]


def test_other_media_formats_parse_and_say_they_are_unsupported() -> None:
    fmt = {"encoding": "audio/l16", "sampleRate": "16000", "channels": 1}
    start = parse_message(
        json.dumps({"event": "start", "start": {"streamSid": "s", "mediaFormat": fmt}})
    )
    assert isinstance(start, Start)
    assert start.media_format == MediaFormat("audio/l16", 16000, 1)
    assert not start.media_format.supported


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("not json", "not_json"),
        ('{"event": "media", "media": {"payload": "AAA', "not_json"),
        ("[1, 2]", "not_object"),
        ('{"type": "media"}', "not_object"),
        ('{"event": 7}', "not_object"),
        ('{"event": "hangup"}', "unknown_event"),
        ('{"event": "media", "media": {"payload": "not base64!"}}', "bad_field"),
        ('{"event": "media", "media": {"payload": 12}}', "bad_field"),
        ('{"event": "media"}', "bad_field"),
        ('{"event": "media", "media": {"payload": "", "chunk": "one"}}', "bad_field"),
        ('{"event": "start", "start": {"streamSid": ""}}', "bad_field"),
        ('{"event": "start", "start": {"streamSid": "s", "tracks": "inbound"}}', "bad_field"),
        ('{"event": "dtmf", "dtmf": {"digit": "12"}}', "bad_field"),
        ('{"event": "mark", "mark": {}}', "bad_field"),
        ('{"event": "stop", "stop": "now"}', "bad_field"),
        (b"\x00\x01", "not_text"),
        ('{"event": "media", "media": {"payload": "' + "A" * 300_000 + '"}}', "too_large"),
    ],
)
def test_unusable_messages_are_typed_errors_not_exceptions(text: str | bytes, kind: str) -> None:
    bad = parse_message(text)
    assert isinstance(bad, BadMessage) and bad.kind == kind, bad
    assert kind in bad.describe() and len(bad.describe()) < 200


def test_outbound_messages_have_the_providers_shapes() -> None:
    assert json.loads(media_message(SID, b"\xff\x7f")) == {
        "event": "media",
        "streamSid": SID,
        "media": {"payload": base64.b64encode(b"\xff\x7f").decode()},
    }
    assert json.loads(mark_message(SID, "m1")) == {
        "event": "mark",
        "streamSid": SID,
        "mark": {"name": "m1"},
    }
    assert json.loads(clear_message(SID)) == {"event": "clear", "streamSid": SID}


def test_a_mark_goes_out_every_100_ms_of_audio_and_at_the_end_of_a_stretch() -> None:
    proto = MediaStreamProtocol(mark_every_ms=100)
    proto.receive(START, 0.0)
    sent = [json.loads(m) for i in range(12) for m in proto.send_audio(b"\xff" * 160, 20.0 * i)]
    assert [m["event"] for m in sent].count("media") == 12
    marks = [m["mark"]["name"] for m in sent if m["event"] == "mark"]
    assert len(marks) == 2  # after 100 and 200 ms
    assert sent[5]["event"] == "mark"  # right after the fifth 20 ms chunk
    tail = [json.loads(m) for m in proto.end_of_audio(240.0)]
    assert [m["event"] for m in tail] == ["mark"]
    assert proto.end_of_audio(260.0) == []  # nothing sent since: no second tail mark
    assert all(m["streamSid"] == SID for m in sent + tail)


def echo(proto: MediaStreamProtocol, name: str, now_ms: float) -> float | None:
    event = json.dumps({"event": "mark", "streamSid": SID, "mark": {"name": name}})
    assert isinstance(proto.receive(event, now_ms), MarkEcho)
    return proto.playout_delay_ms


def test_echoed_marks_tell_what_was_heard_and_the_playout_delay() -> None:
    proto = MediaStreamProtocol(mark_every_ms=100)
    proto.receive(START, 0.0)
    names = []
    for i in range(25):  # 500 ms, sent in real time
        for m in proto.send_audio(b"\xff" * 160, 20.0 * (i + 1)):
            if json.loads(m)["event"] == "mark":
                names.append(json.loads(m)["mark"]["name"])
    assert len(names) == 5 and len(set(names)) == 5
    assert proto.marks.sent_ms == 500 and proto.marks.heard_ms == 0
    # The provider plays 80 ms behind: the first mark (after 100 ms, sent at t=100) comes
    # back at t=180 while 180 ms had been sent.
    assert echo(proto, names[0], 180.0) == 80.0
    assert proto.marks.heard_ms == 100
    # An echo confirms the marks before it too.
    assert echo(proto, names[2], 382.0) == 82.0
    assert proto.marks.heard_ms == 300 and proto.marks.backlog_ms == 200
    assert echo(proto, names[1], 400.0) is None  # already confirmed
    assert echo(proto, "someone-elses", 400.0) is None
    # The stream went quiet after 500 ms: the last echo still measures the delay, where
    # sent - heard would say 0.
    assert echo(proto, names[4], 581.0) == 81.0
    assert proto.marks.backlog_ms == 0
    assert echo(proto, "x", 600.0) is None and proto.playout_delay_ms is None


def test_clear_drops_the_unplayed_audio_and_ignores_the_echoes_of_its_marks() -> None:
    proto = MediaStreamProtocol(mark_every_ms=100)
    proto.receive(START, 0.0)
    names = [
        json.loads(m)["mark"]["name"]
        for i in range(20)
        for m in proto.send_audio(b"\xff" * 160, 20.0 * (i + 1))
        if json.loads(m)["event"] == "mark"
    ]
    echo(proto, names[0], 180.0)
    assert json.loads(proto.clear()) == {"event": "clear", "streamSid": SID}
    assert proto.marks.backlog_ms == 0 and proto.marks.dropped_ms == 300
    # Twilio echoes the marks still queued when it clears: they were not played.
    for name in names[1:]:
        assert echo(proto, name, 420.0) is None
    assert proto.marks.heard_ms == 100
    # The next reply's accounting starts from the clear.
    later = [json.loads(m) for i in range(5) for m in proto.send_audio(b"\xff" * 160, 1000.0)]
    mark = later[-1]["mark"]["name"]
    assert mark not in names
    assert echo(proto, mark, 1090.0) == 90.0
    assert proto.marks.heard_ms == 200 and proto.marks.backlog_ms == 0


def test_pending_marks_are_bounded_when_the_provider_never_echoes() -> None:
    ledger = MarkLedger(every_ms=20, max_pending=10)
    names = [ledger.sent(20, float(i)) for i in range(100)]
    assert ledger.echoed(names[0] or "", 100.0) is None  # forgotten, not an error
    assert ledger.echoed(names[-1] or "", 100.0) == 1.0


def test_nothing_is_sent_before_the_start() -> None:
    proto = MediaStreamProtocol()
    proto.receive(CONNECTED, 0.0)
    with pytest.raises(RuntimeError, match="start"):
        proto.send_audio(b"\xff", 0.0)
    proto.receive(START, 0.0)
    other = START.replace(SID, "MZother")
    assert isinstance(proto.receive(other, 0.0), Start)
    assert proto.stream_sid == SID  # a second start does not re-target the stream


# ---- fuzzing: whatever a provider (or a stranger) sends, a typed event or a BadMessage --

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["inbound", "audio/x-mulaw", "8000", SID, "AAEC"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    ["event", "streamSid", "sequenceNumber", "start", "media", "mark", "dtmf", "stop", "name",
     "payload", "mediaFormat", "encoding", "sampleRate", "channels", "tracks", "track",
     "timestamp", "digit", "customParameters"]
)  # fmt: skip
SHAPED = st.recursive(
    JSON_VALUES,
    lambda inner: st.dictionaries(FIELDS, inner, max_size=5),
    max_leaves=20,
)
MESSAGES = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200),
    st.dictionaries(FIELDS, SHAPED, max_size=5)
    .map(lambda d: {"event": "media", **d} if "media" in d else d)
    .map(json.dumps),
    st.sampled_from([CONNECTED, START, MEDIA, DTMF]).map(lambda m: m[: len(m) // 2]),
    st.text(max_size=20).map(
        lambda p: json.dumps({"event": "media", "streamSid": SID, "media": {"payload": p}})
    ),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(MESSAGES, min_size=1, max_size=6))
def test_fuzz_every_message_is_an_event_or_a_described_bad_message(messages: list[Any]) -> None:
    protocol = MediaStreamProtocol()
    for i, message in enumerate(messages):
        event = protocol.receive(message, float(i))
        assert isinstance(event, Connected | Start | Media | Dtmf | MarkEcho | Stop | BadMessage)
        if isinstance(event, BadMessage):
            assert event.describe()
        if isinstance(event, Media):
            assert isinstance(event.payload, bytes)


def test_a_payload_with_characters_outside_ascii_is_a_bad_message() -> None:
    message = json.dumps({"event": "media", "media": {"payload": "AAé="}})
    event = parse_message(message)
    assert isinstance(event, BadMessage) and "base64" in event.describe()
