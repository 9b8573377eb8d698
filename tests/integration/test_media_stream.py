"""A phone provider's media stream against the real server with the embedded models: a
real aiohttp WebSocket client speaking Twilio's protocol, as Twilio behaves (caller audio
and playout in real time, marks echoed once played, `clear` drops what is queued)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnivox.agent.api.app import session_factory
from omnivox.agent.config import parse_config
from omnivox.kernels.g711 import ulaw_decode, ulaw_encode
from omnivox.kernels.resample import resample
from omnivox.lab.local_server import RunningServer, serving
from omnivox.lab.user_track import speech
from omnivox.media.media_streams.stream import MediaStreamEndpoint, MediaStreamLimits
from omnivox.media.pacing import FrameSchedule
from omnivox.media.sessions import SessionRegistry
from tests.integration.conftest import TEST_CONFIG, agent_config, shared_stack

SID = "MZ00000000000000000000000000000001"
CHUNK = 160  # 20 ms of 8 kHz mu-law
MULAW_SILENCE = b"\xff" * CHUNK

Message = dict[str, Any]


def start_message(sid: str = SID, **media_format: object) -> Message:
    return {
        "event": "start",
        "sequenceNumber": "1",
        "start": {
            "accountSid": "AC0001",
            "streamSid": sid,
            "callSid": "CA0001",
            "tracks": ["inbound"],
            "customParameters": {"caller": "+15550100"},
            "mediaFormat": {
                "encoding": "audio/x-mulaw",
                "sampleRate": 8000,
                "channels": 1,
                **media_format,
            },
        },
        "streamSid": sid,
    }


def phone_audio(pcm16k: np.ndarray) -> bytes:
    return ulaw_encode(resample(pcm16k, 16000, 8000)).tobytes()


class Provider:
    """Twilio's side of one stream. Every 20 ms it sends the caller's next chunk (mu-law
    silence when the caller says nothing) and plays 20 ms of the agent audio it holds;
    it echoes a mark once the audio before it was played, and on `clear` drops the audio
    it holds and echoes the marks that went with it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.mic = bytearray()
        self.queued = bytearray()  # agent audio received, not played yet
        self.received = 0
        self.played = 0
        self.marks: list[tuple[int, str]] = []  # (agent audio received before it, name)
        self.heard = bytearray()
        self.messages: list[tuple[float, Message]] = []  # (arrival, message)
        self.echoed: list[str] = []
        self._seq = 1
        self._chunk = 0

    async def send(self, message: Message) -> None:
        self._seq += 1
        await self.ws.send_str(json.dumps({"sequenceNumber": str(self._seq), **message}))

    def say(self, pcm16k: np.ndarray) -> float:
        """Queue speech for the caller's microphone; when it will have been sent (s)."""
        self.mic += phone_audio(pcm16k)
        return time.monotonic() + len(self.mic) / 8000

    def of(self, event: str) -> list[tuple[float, Message]]:
        return [(t, m) for t, m in self.messages if m["event"] == event]

    async def run(self) -> None:
        await asyncio.gather(self._receive(), self._tick())

    async def _receive(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            message = json.loads(msg.data)
            self.messages.append((time.monotonic(), message))
            assert message["streamSid"] == SID
            if message["event"] == "media":
                audio = base64.b64decode(message["media"]["payload"])
                self.queued += audio
                self.received += len(audio)
            elif message["event"] == "mark":
                self.marks.append((self.received, message["mark"]["name"]))
            elif message["event"] == "clear":
                self.queued.clear()
                self.played = self.received
                await self._echo_played()

    async def _tick(self) -> None:
        schedule = FrameSchedule(0.02)
        while not self.ws.closed:
            await schedule.wait()
            chunk, self.mic = bytes(self.mic[:CHUNK]), self.mic[CHUNK:]
            self._chunk += 1
            media = {
                "track": "inbound",
                "chunk": str(self._chunk),
                "timestamp": str(20 * (self._chunk - 1)),
                "payload": base64.b64encode(chunk.ljust(CHUNK, b"\xff")).decode(),
            }
            with contextlib.suppress(ConnectionError):
                await self.send({"event": "media", "streamSid": SID, "media": media})
            playing, self.queued = self.queued[:CHUNK], self.queued[CHUNK:]
            self.heard += playing
            self.played += len(playing)
            await self._echo_played()

    async def _echo_played(self) -> None:
        while self.marks and self.marks[0][0] <= self.played:
            _, name = self.marks.pop(0)
            self.echoed.append(name)
            with contextlib.suppress(ConnectionError):
                await self.send({"event": "mark", "streamSid": SID, "mark": {"name": name}})


def session_events(caplog: pytest.LogCaptureFixture) -> list[Message]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "omnivox.events"]


async def until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {what} within {timeout_s} s")


def first_event(caplog: pytest.LogCaptureFixture, kind: str, **fields: object) -> Callable[[], Any]:
    def check() -> Message | None:
        return next(
            (
                e
                for e in session_events(caplog)
                if e["type"] == kind and all(e.get(k) == v for k, v in fields.items())
            ),
            None,
        )

    return check


@contextlib.asynccontextmanager
async def call(url: str) -> AsyncIterator[tuple[aiohttp.ClientWebSocketResponse, Provider]]:
    async with aiohttp.ClientSession() as http, http.ws_connect(url + "/v1/media-stream") as ws:
        provider = Provider(ws)
        await ws.send_str('{"event": "connected", "protocol": "Call", "version": "1.0.0"}')
        await ws.send_str(json.dumps(start_message()))
        task = asyncio.create_task(provider.run())
        try:
            yield ws, provider
        finally:
            await ws.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@pytest.mark.slow
async def test_a_phone_call_question_answer_barge_in_dtmf_and_hang_up(
    rules_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="omnivox.events")
    registry = rules_server.registry
    async with call(rules_server.url) as (ws, provider):
        await until(first_event(caplog, "session_started"), 10, "session")
        assert list(registry.sessions) == [SID]
        session = registry.sessions[SID].conversation  # type: ignore[attr-defined]
        # Garbage of every kind: each reported once, the call goes on.
        not_base64 = json.dumps({"event": "media", "streamSid": SID, "media": {"payload": "@@"}})
        for bad in ("not json", '{"event": "hangup_now"}', not_base64, not_base64):
            await ws.send_str(bad)
        await ws.send_bytes(b"\x00\x01")
        await provider.send({"event": "dtmf", "streamSid": SID, "dtmf": {"digit": "7"}})
        assert (await until(first_event(caplog, "dtmf"), 5, "dtmf event"))["digit"] == "7"

        provider.say(np.zeros(8000, np.int16))
        provider.say(speech("What are your opening hours?"))
        turn = await until(first_event(caplog, "turn_metrics"), 30, "answer")
        # Let the caller hear a second of the answer, with its marks echoed.
        await until(lambda: len(provider.heard) >= 8000, 10, "a second of answer heard")
        assert provider.echoed, "marks come back once played"
        lag_ms = session.replies.client_playout.lag_ms
        assert 0 < lag_ms < 1000, lag_ms  # under ClientPlayout's cap (wall clock: load adds)

        speaking_until = provider.say(
            speech(
                "wait stop I do not want the hours I want to know where I can park my car "
                "and how much the parking costs for a whole day",
                voice="en-gb+f2",
            )
        )
        clear_at, _ = (await until(lambda: provider.of("clear"), 10, "clear"))[0]
        cancel = await until(first_event(caplog, "reply_cancelled"), 2, "cancel event")
        assert cancel["reason"] == "barge_in"
        assert 0 <= cancel["heard_ms"] <= cancel["played_ms"]
        assert clear_at < speaking_until - 1.0, "the clear came while the caller still spoke"
        await asyncio.sleep(0.6)
        after = [t for t, _ in provider.of("media") if t > clear_at]
        assert not after or after[0] > clear_at + 0.5, "media went on after the clear"
        assert provider.queued == b""

        # What the caller heard of the answer is speech, not silence or noise.
        heard = ulaw_decode(bytes(provider.heard)).astype(np.float64)
        assert len(heard) >= 8000 and np.sqrt(np.mean(heard**2)) > 500
        vad = shared_stack().new_vad()
        voiced = vad.process(resample(heard.astype(np.int16), 8000, 16000), 0.0)
        assert any(e.kind == "start" for e in voiced), "no speech in the agent's audio"

        errors = [e for e in session_events(caplog) if e["type"] == "error"]
        assert sorted(e["message"].split("(")[1].split(")")[0] for e in errors) == [
            "bad_field",
            "not_json",
            "not_text",
            "unknown_event",
        ]
        assert all(e["source"] == "media_stream" for e in errors)

        await provider.send({"event": "stop", "streamSid": SID, "stop": {"callSid": "CA0001"}})
        await until(lambda: ws.closed, 5, "the server closing the socket")
        assert ws.close_code == 1000
    ended = await until(first_event(caplog, "session_ended"), 5, "session end")
    assert ended["reason"] == "hangup"
    await until(lambda: len(registry) == 0, 5, "freed session")
    assert registry.running_tasks() == 0
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith(SID)]
    v2v = turn["voice_to_voice_ms"]
    print(f"\nmedia stream: voice-to-voice {v2v} ms, caller playout lag {lag_ms:.0f} ms")
    assert 0 < v2v < 5000


async def test_a_dropped_socket_ends_the_call_mid_reply(
    rules_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="omnivox.events")
    async with call(rules_server.url) as (_ws, provider):
        provider.say(speech("How much is a day pass?"))
        await until(first_event(caplog, "reply_audio_start"), 30, "answer")
    ended = await until(first_event(caplog, "session_ended"), 5, "session end")
    assert ended["reason"] == "hangup"
    await until(lambda: len(rules_server.registry) == 0, 5, "freed session")
    assert rules_server.registry.running_tasks() == 0


async def close_code(url: str, *messages: Message) -> int | None:
    async with aiohttp.ClientSession() as http, http.ws_connect(url + "/v1/media-stream") as ws:
        for message in messages:
            await ws.send_str(json.dumps(message))
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE, msg
        return ws.close_code


async def test_a_full_server_and_an_unsupported_format_are_refused_with_a_close_code() -> None:
    config = parse_config({**TEST_CONFIG, "server": {"max_sessions": 1}}, "one session")
    async with serving(config, shared_stack()) as server:
        code = await close_code(server.url, start_message(encoding="audio/l16"))
        assert code == 1003 and len(server.registry) == 0
        async with call(server.url):
            await until(lambda: len(server.registry) == 1, 5, "first call")
            assert await close_code(server.url, start_message("MZ2")) == 1013
            assert list(server.registry.sessions) == [SID]
        await until(lambda: len(server.registry) == 0, 5, "hang-up")
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url + "/v1/media-stream") as resp:
                assert resp.status == 400 and "WebSocket" in (await resp.json())["error"]
    config = parse_config({**TEST_CONFIG, "server": {"media_stream_path": None}}, "off")
    async with serving(config, shared_stack()) as server, aiohttp.ClientSession() as http:
        async with http.get(server.url + "/v1/media-stream") as resp:
            assert resp.status == 404


async def test_server_shutdown_hangs_up_its_calls() -> None:
    async with (
        aiohttp.ClientSession() as http,
        serving(parse_config(TEST_CONFIG, "test"), shared_stack()) as server,
        http.ws_connect(server.url + "/v1/media-stream") as ws,
    ):
        await ws.send_str(json.dumps(start_message()))
        await until(lambda: len(server.registry) == 1, 5, "call")
        await server.app.shutdown()
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 1001
        assert len(server.registry) == 0 and server.registry.running_tasks() == 0


async def test_a_silent_socket_times_out(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="omnivox.events")
    app = web.Application()
    registry = SessionRegistry(4)
    open_session = session_factory(agent_config(), shared_stack())
    MediaStreamEndpoint(open_session, registry, MediaStreamLimits(idle_timeout_s=0.5)).mount(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(url + "/v1/media-stream") as ws:
            await ws.send_str(json.dumps(start_message()))
            msg = await ws.receive(timeout=5)
            assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 1000
        ended = await until(first_event(caplog, "session_ended"), 5, "session end")
        assert ended["reason"] == "timeout"
        await until(lambda: len(registry) == 0, 5, "freed session")
        assert registry.running_tasks() == 0
    finally:
        await runner.cleanup()


# ---- fuzzing: whatever arrives on the socket, no crash, no hang, the session ends -------

FUZZ_CONFIG = {**TEST_CONFIG, "access": {"requests_per_s": 1000, "request_burst": 1000}}
PAYLOADS = st.binary(max_size=700).map(lambda b: base64.b64encode(b).decode()) | st.text(
    max_size=30
)
FUZZ_MESSAGES = st.one_of(
    PAYLOADS.map(
        lambda p: json.dumps({"event": "media", "streamSid": SID, "media": {"payload": p}})
    ),
    st.text(max_size=60),
    st.binary(max_size=60),
    st.sampled_from(["dtmf", "mark", "stop", "start", "media", "clear"]).map(
        lambda e: json.dumps({"event": e, "streamSid": SID, e: {}})
    ),
)


@pytest.fixture
async def fuzz_server() -> AsyncIterator[RunningServer]:
    async with serving(parse_config(FUZZ_CONFIG, "fuzz"), shared_stack()) as running:
        yield running


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(FUZZ_MESSAGES, max_size=12), st.booleans())
async def test_fuzz_any_messages_on_a_started_stream(
    fuzz_server: RunningServer,
    caplog: pytest.LogCaptureFixture,
    messages: list[str | bytes],
    started: bool,
) -> None:
    url = fuzz_server.url + "/v1/media-stream"
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url) as ws:
            if started:
                await ws.send_str(json.dumps(start_message()))
            for message in messages:
                if ws.closed:
                    break
                if isinstance(message, bytes):
                    await ws.send_bytes(message)
                else:
                    await ws.send_str(message)
            await ws.close()
        async with http.get(fuzz_server.url + "/v1/health") as resp:
            assert resp.status == 200
    for _ in range(100):
        if not fuzz_server.registry.sessions:
            break
        await asyncio.sleep(0.05)
    assert not fuzz_server.registry.sessions
    crashes = [r.getMessage() for r in caplog.records if r.exc_info is not None]
    assert crashes == []
