"""One media stream call's shell without a network: a scripted conversation, a socket that
records what is sent, and a clock that moves 20 ms per frame pulled."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from omnivox.kernels.g711 import ulaw_decode, ulaw_encode
from omnivox.media.call_control import CallControl
from omnivox.media.clock import Clock
from omnivox.media.frames import FRAME_SAMPLES, AudioFrame
from omnivox.media.media_streams.after_stream import AfterStream
from omnivox.media.media_streams.protocol import (
    BadMessage,
    Dtmf,
    Mark,
    Media,
    MediaStreamProtocol,
    Start,
)
from omnivox.media.media_streams.stream import MediaStreamCall
from omnivox.media.pacing import FrameSchedule

SID = "MZ1"
TONE = (8000 * np.sin(2 * np.pi * 440 * np.arange(FRAME_SAMPLES) / 16000)).astype(np.int16)
SILENCE = np.zeros(FRAME_SAMPLES, np.int16)


class Socket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, bytes] | None = None

    async def send_str(self, data: str) -> None:
        self.sent.append(json.loads(data))

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        self.closed = (code, message)
        return True

    def events(self) -> list[str]:
        return [m["event"] for m in self.sent]


class Scripted:
    """A conversation that plays `script`: each step is a frame, or an event line for the
    transport (then the next frame). Every pull moves the clock one frame."""

    def __init__(self, script: list[np.ndarray | str], now: list[float]) -> None:
        self.script = list(script)
        self.now = now
        self.send: Callable[[str], None] = lambda _line: None
        self.frames: list[AudioFrame] = []
        self.dtmf: list[str] = []
        self.errors: list[str] = []
        self.delays: list[float] = []
        self.done = asyncio.Event()
        self.closed_with: str | None = None
        self.call: CallControl | None = None

    def open(
        self,
        session_id: str,
        clock: Clock,
        send: Callable[[str], None],
        /,
        call: CallControl | None = None,
    ) -> Scripted:
        self.clock, self.send, self.call = clock, send, call
        return self

    async def start(self) -> None:
        pass

    def pull_audio(self) -> np.ndarray:
        self.now[0] += 0.02
        while self.script and isinstance(self.script[0], str):
            self.send(json.dumps({"type": self.script.pop(0), "t_ms": 0}))
        if not self.script:
            self.done.set()
            return SILENCE
        frame = self.script.pop(0)
        assert isinstance(frame, np.ndarray)
        return frame

    def push_audio(self, frame: AudioFrame) -> None:
        self.frames.append(frame)

    def push_video(self, rgb: np.ndarray) -> None:
        pass

    def push_dtmf(self, digit: str) -> None:
        self.dtmf.append(digit)

    def report_playout_delay(self, delay_ms: float) -> None:
        self.delays.append(delay_ms)

    def report_mouth_to_ear(self, reply_id: str, ms: float) -> None:
        pass

    def cancel_echo(self) -> None:
        pass

    def report_error(self, message: str, source: str) -> None:
        self.errors.append(f"{source}: {message}")

    async def close(self, reason: str) -> None:
        self.closed_with = reason


async def played(script: list[np.ndarray | str]) -> tuple[MediaStreamCall, Scripted, Socket]:
    """A started call that played `script` to its end (and a few silent frames)."""
    now = [0.0]
    conversation = Scripted([*script, SILENCE, SILENCE, SILENCE], now)
    socket = Socket()
    protocol = MediaStreamProtocol(mark_every_ms=100)
    protocol.receive(json.dumps({"event": "start", "start": {"streamSid": SID}}), 0.0)
    call = MediaStreamCall("s1", socket, protocol, conversation.open, lambda: now[0])
    await call.start()
    await asyncio.wait_for(conversation.done.wait(), 5)
    return call, conversation, socket


def media_bytes(socket: Socket) -> list[bytes]:
    return [base64.b64decode(m["media"]["payload"]) for m in socket.sent if m["event"] == "media"]


async def test_quiet_is_not_sent_a_reply_is_with_its_gaps_and_marks() -> None:
    reply = [TONE] * 10 + [SILENCE] * 3 + [TONE] * 10
    quiet: list[np.ndarray | str] = [SILENCE] * 5
    call, _conv, socket = await played(
        [*quiet, "reply_audio_start", *reply, "reply_audio_end", "reply_done", *quiet, *quiet]
    )
    await call.close("hangup")
    events = socket.events()
    assert events[0] == "media" and events[-1] == "mark"  # the tail of the reply is marked
    chunks = media_bytes(socket)
    # 23 frames of the reply, and one more that carries the resampler's last millisecond
    # (the quiet before the reply was not even resampled).
    assert [len(c) for c in chunks] == [144] + [160] * 23
    assert events.count("mark") == 5  # every 100 ms and the tail
    assert all(m["streamSid"] == SID for m in socket.sent)
    pcm = ulaw_decode(b"".join(chunks)).astype(np.float64)
    assert np.sqrt(np.mean(pcm[:1000] ** 2)) > 3000  # the tone, at 8 kHz
    assert np.abs(pcm[1760:1800]).max() < 200  # the gap inside the reply went out as quiet
    assert socket.closed == (1000, b"hangup") and call.running_tasks == 0


async def test_a_cancelled_reply_sends_clear_at_once_and_nothing_after_it() -> None:
    call, conv, socket = await played(
        ["reply_audio_start", *[TONE] * 8, "reply_cancelled", *[SILENCE] * 10]
    )
    await call.close("hangup")
    events = socket.events()
    assert "clear" in events
    assert "media" not in events[events.index("clear") :]
    assert socket.sent[events.index("clear")] == {"event": "clear", "streamSid": SID}
    assert call.protocol.marks.backlog_ms == 0
    # Twilio echoes the cleared marks: they are not taken as played.
    mark = next(m["mark"]["name"] for m in socket.sent if m["event"] == "mark")
    call.protocol.receive(json.dumps({"event": "mark", "mark": {"name": mark}}), 1e6)
    call.handle(Mark(mark))
    assert conv.delays == []


async def test_caller_audio_becomes_16k_frames_on_the_media_clock() -> None:
    call, conv, _socket = await played([])
    t = np.arange(8000) / 8000  # one second of 440 Hz at 8 kHz, in uneven chunks
    mulaw = ulaw_encode((8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)).tobytes()
    for a, b in ((0, 160), (160, 1000), (1000, 1001), (1001, 4000), (4000, 8000)):
        call.handle(Media(mulaw[a:b]))
    call.handle(Media(b"\x00" * 160, track="outbound"))  # what the caller hears: not theirs
    await call.close("hangup")
    frames = conv.frames
    assert len(frames) in (49, 50)  # the resampler holds about a millisecond back
    assert [f.timestamp for f in frames[:3]] == [0, FRAME_SAMPLES, 2 * FRAME_SAMPLES]
    assert all(len(f.pcm) == FRAME_SAMPLES and f.sample_rate == 16000 for f in frames)
    assert call.clock.now_ms() >= frames[-1].t_ms + 20
    pcm = np.concatenate([f.pcm for f in frames])[1600:]
    peak_hz = np.argmax(np.abs(np.fft.rfft(pcm))) * 16000 / len(pcm)
    assert abs(peak_hz - 440) < 5


async def test_dtmf_marks_and_bad_messages_reach_the_conversation() -> None:
    call, conv, socket = await played(["reply_audio_start", *[TONE] * 10, "reply_audio_end"])
    call.handle(Dtmf("5"))
    call.handle(Dtmf("#"))
    assert conv.dtmf == ["5", "#"]
    mark = next(m["mark"]["name"] for m in socket.sent if m["event"] == "mark")
    sent_at = 1000.0 * 0.12  # the fifth frame went out after six pulls of 20 ms
    call.protocol.receive(json.dumps({"event": "mark", "mark": {"name": mark}}), 1000.0 * 0.2)
    call.handle(Mark(mark))
    assert conv.delays == [pytest.approx(200 - sent_at)]
    for _ in range(3):
        call.handle(BadMessage("not_json", "not JSON"))
    call.handle(BadMessage("bad_field", "no payload"))
    call.handle(Start("MZ2"))
    assert len(conv.errors) == 3  # once a kind
    assert all(e.startswith("media_stream: ") for e in conv.errors)
    await call.close("server_shutdown")
    assert socket.closed == (1001, b"server_shutdown") and conv.closed_with == "server_shutdown"


async def test_the_schedule_is_drift_free_and_resynchronises_after_a_stall() -> None:
    now = [0.0]
    schedule = FrameSchedule(0.02, lambda: now[0])
    assert await schedule.wait() == 0
    now[0] = 0.035  # woke late for frame 1: frame 2 is still due at 0.040, not 0.055
    await schedule.wait()
    now[0] = 0.040
    assert await schedule.wait() == 2
    now[0] = 1.0  # a stalled loop: resynchronise, do not burst 48 frames
    await schedule.wait()
    now[0] = 1.02
    assert await schedule.wait() == 4
    assert schedule._start == pytest.approx(1.0 - 3 * 0.02)


async def test_a_call_tool_hang_up_closes_the_stream() -> None:
    now = [0.0]
    conversation = Scripted([SILENCE] * 3, now)
    socket = Socket()
    protocol = MediaStreamProtocol(mark_every_ms=100)
    start = {"streamSid": SID, "callSid": "CA1"}
    protocol.receive(json.dumps({"event": "start", "start": start}), 0.0)
    call = MediaStreamCall(
        "s1", socket, protocol, conversation.open, lambda: now[0], AfterStream(), {"desk": "tel:+1"}
    )
    await call.start()
    assert conversation.call is not None and conversation.call.transfer_targets == {
        "desk": "tel:+1"
    }
    conversation.call.hang_up()
    for _ in range(50):
        if socket.closed is not None:
            break
        await asyncio.sleep(0.01)
    assert socket.closed is not None and call.closed
    assert conversation.closed_with == "agent_hangup"
