"""`/v1/realtime` with a client nobody here wrote: the official `openai` Python SDK's
Realtime connection, against the real server and embedded models, with recorded human
speech (Debian's asterisk-core-sounds-en-wav) streamed as a microphone does (20 ms of
24 kHz PCM16 every 20 ms, silence when nobody speaks).

Every standard server event received is validated against the SDK's own models of the
GA events, and no test may see an `error` event: what the SDK sends, omnivox accepts.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from openai import AsyncOpenAI
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from omnivox.agent.config import AgentConfig, parse_config
from omnivox.kernels.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from omnivox.kernels.resample import resample
from omnivox.lab.local_server import RunningServer, serving
from omnivox.lab.openai_server import FakeOpenAIServer, StreamReply, text_stream, tool_call_steps
from omnivox.media.audio_files import read_audio
from tests.integration.conftest import TEST_CONFIG, agent_config, shared_stack, with_thinker

SOUNDS = "/usr/share/asterisk/sounds/en/"
QUESTION = "vm-savefolder"  # "Which folder should I save the message to?"
INTERRUPTION = "dir-intro"  # "Welcome to the directory. Please enter the first three..."
RATE = 24000
CHUNK = RATE // 50  # 20 ms
SERVER_EVENT = TypeAdapter(RealtimeServerEvent)

Event = dict[str, Any]


def recorded(name: str) -> np.ndarray:
    """A recorded prompt at 24 kHz (the Realtime API's PCM rate)."""
    return resample(read_audio(SOUNDS + name + ".wav"), 16000, RATE)


@dataclass(frozen=True)
class Wire:
    """An audio format as the client sends and plays it."""

    format: dict[str, Any]
    rate: int
    encode: Callable[[np.ndarray], bytes]
    decode: Callable[[bytes], np.ndarray]


PCM = Wire(
    {"type": "audio/pcm", "rate": RATE},
    RATE,
    lambda pcm: pcm.astype("<i2").tobytes(),
    lambda data: np.frombuffer(data, dtype="<i2").astype(np.int16),
)
PCMU = Wire({"type": "audio/pcmu"}, 8000, lambda pcm: ulaw_encode(pcm).tobytes(), ulaw_decode)
PCMA = Wire({"type": "audio/pcma"}, 8000, lambda pcm: alaw_encode(pcm).tobytes(), alaw_decode)


class Client:
    """The application's side: a microphone streaming in real time (`mic_format`), and
    every event received, with its arrival time."""

    def __init__(self, conn: Any, mic_format: Wire = PCM) -> None:
        self.conn = conn
        self.wire = mic_format
        self.mic = np.zeros(0, np.int16)
        self.events: list[tuple[float, Event]] = []

    def say(self, pcm: np.ndarray) -> None:
        """Queue 24 kHz audio for the microphone."""
        self.mic = np.concatenate([self.mic, resample(pcm, RATE, self.wire.rate)])

    def of(self, kind: str, **fields: object) -> list[Event]:
        return [
            e
            for _, e in self.events
            if e["type"] == kind and all(e.get(k) == v for k, v in fields.items())
        ]

    def audio(self, response_id: str, wire: Wire = PCM) -> np.ndarray:
        """The response's audio, decoded (at `wire.rate`)."""
        chunks = [
            base64.b64decode(e["delta"])
            for e in self.of("response.output_audio.delta", response_id=response_id)
        ]
        return wire.decode(b"".join(chunks))

    async def run(self) -> None:
        await asyncio.gather(self._receive(), self._speak())

    async def _receive(self) -> None:
        while True:
            raw = await self.conn.recv_bytes()
            event = json.loads(raw)
            self.events.append((time.monotonic(), event))
            if not event["type"].startswith("omnivox."):
                SERVER_EVENT.validate_python(event)  # the SDK's own model of the event

    async def _speak(self) -> None:
        start = time.monotonic()
        sent = 0
        chunk_samples = self.wire.rate // 50  # 20 ms
        while True:
            chunk, self.mic = self.mic[:chunk_samples], self.mic[chunk_samples:]
            chunk = np.pad(chunk, (0, chunk_samples - len(chunk)))
            audio = base64.b64encode(self.wire.encode(chunk)).decode()
            await self.conn.input_audio_buffer.append(audio=audio)
            sent += 1
            await asyncio.sleep(max(0.0, start + sent * 0.02 - time.monotonic()))


async def until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {what} within {timeout_s} s")


@contextlib.asynccontextmanager
async def connected(
    server: RunningServer, mic: Wire = PCM, **session: Any
) -> AsyncIterator[Client]:
    sdk = AsyncOpenAI(base_url=server.url + "/v1", api_key="sk-not-checked")
    async with sdk.realtime.connect(model="omnivox") as conn:
        client = Client(conn, mic)
        task = asyncio.create_task(client.run())
        try:
            await until(lambda: client.of("session.created"), 10, "session.created")
            await conn.session.update(session={"type": "realtime", **session})
            await until(lambda: client.of("session.updated"), 5, "session.updated")
            yield client
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert client.of("error") == [], "omnivox rejected an event of the SDK's"


@contextlib.asynccontextmanager
async def omnivox(
    config: AgentConfig | None = None, stack: Any = None
) -> AsyncIterator[RunningServer]:
    async with serving(config or agent_config(), stack or shared_stack()) as server:
        yield server
        await until(lambda: len(server.registry) == 0, 5, "the session to close")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mic", "speaker", "detection"),
    [(PCM, PCM, "semantic_vad"), (PCMU, PCMA, "server_vad")],
    ids=["pcm24k-semantic_vad", "pcmu-in-pcma-out-server_vad"],
)
async def test_a_spoken_turn_gets_a_transcript_and_a_spoken_answer(
    mic: Wire, speaker: Wire, detection: str
) -> None:
    async with (
        omnivox() as server,
        connected(
            server,
            mic,
            instructions="You are the front desk.",
            audio={
                "input": {"format": mic.format, "turn_detection": {"type": detection}},
                "output": {"format": speaker.format, "voice": "marin"},
            },
        ) as client,
    ):
        client.say(np.zeros(RATE // 2, np.int16))
        client.say(recorded(QUESTION))
        done = await until(lambda: client.of("response.done"), 30, "response.done")
        response = done[0]["response"]
        assert response["status"] == "completed"
        started = client.of("input_audio_buffer.speech_started")[0]
        stopped = client.of("input_audio_buffer.speech_stopped")[0]
        committed = client.of("input_audio_buffer.committed")[0]
        assert started["item_id"] == stopped["item_id"] == committed["item_id"]
        assert 300 < started["audio_start_ms"] < stopped["audio_end_ms"] < 3500
        heard = client.of("conversation.item.input_audio_transcription.completed")[0]
        assert heard["item_id"] == committed["item_id"]
        assert "folder" in heard["transcript"].lower()
        user_item = client.of("conversation.item.done", previous_item_id=None)[0]["item"]
        assert user_item["content"][0]["transcript"] == heard["transcript"]

        answer = response["output"][0]
        assert answer["role"] == "assistant" and answer["status"] == "completed"
        spoken = client.of("response.output_audio_transcript.done")[0]["transcript"]
        deltas = "".join(e["delta"] for e in client.of("response.output_audio_transcript.delta"))
        assert spoken and spoken == deltas == answer["content"][0]["transcript"]
        audio = client.audio(response["id"], speaker)
        level = np.sqrt(np.mean(audio.astype(np.float64) ** 2))
        assert len(audio) > speaker.rate // 2 and level > 300
        vad = shared_stack().new_vad()
        voiced = vad.process(resample(audio, speaker.rate, 16000), 0.0)
        assert any(e.kind == "start" for e in voiced), "no speech in the answer's audio"
        latency = client.of("omnivox.latency")[0]["metrics"]
        assert latency["voice_to_voice_ms"] > 0
        order = [e["type"] for _, e in client.events]
        assert order.index("response.created") < order.index("response.output_audio.delta")
        assert order.index("response.output_audio.done") < order.index("response.done")
        print(f"\nrealtime: voice-to-voice {latency['voice_to_voice_ms']} ms")


@pytest.mark.slow
async def test_barge_in_cancels_the_response_and_truncate_keeps_what_was_heard() -> None:
    async with (
        omnivox() as server,
        connected(server, audio={"input": {"turn_detection": {"type": "server_vad"}}}) as client,
    ):
        conn = client.conn
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "What are your opening hours?"}],
            }
        )
        await conn.response.create()
        await until(lambda: client.of("response.output_audio.delta"), 30, "the answer's audio")
        first_audio = time.monotonic()
        response_id = client.of("response.created")[0]["response"]["id"]
        item_id = client.of("response.output_item.added")[0]["item"]["id"]
        await asyncio.sleep(1.0)  # the user hears a second of it, then talks over it
        client.say(recorded(INTERRUPTION))
        await until(lambda: client.of("input_audio_buffer.speech_started"), 5, "speech_started")
        # As a player does: stop, and say how much was played (received, in real time).
        received_ms = len(client.audio(response_id)) * 1000 // RATE
        played_ms = min(received_ms, int(1000 * (time.monotonic() - first_audio)))
        await conn.conversation.item.truncate(
            item_id=item_id, content_index=0, audio_end_ms=played_ms
        )
        done = await until(lambda: client.of("response.done"), 5, "response.done")
        assert done[0]["response"]["status"] == "cancelled"
        assert done[0]["response"]["status_details"]["reason"] == "turn_detected"
        truncated = await until(lambda: client.of("conversation.item.truncated"), 5, "truncated")
        assert truncated[0] == {**truncated[0], "item_id": item_id, "audio_end_ms": played_ms}
        await asyncio.sleep(0.5)
        cut_at = next(i for i, (_, e) in enumerate(client.events) if e["type"] == "response.done")
        late = [
            e
            for _, e in client.events[cut_at:]
            if e["type"] == "response.output_audio.delta" and e["response_id"] == response_id
        ]
        assert late == [], "audio went on after the response was cancelled"

        full = client.of("response.output_audio_transcript.done")[0]["transcript"]
        conversation = server.registry.sessions
        (conn_state,) = conversation.values()
        history = conn_state.session.replies.history.messages  # type: ignore[attr-defined]
        said = [m.content for m in history if m.role == "assistant"][-1]
        heard = said.removesuffix(" …").removesuffix("…")
        assert said.endswith("…") and full.startswith(heard) and len(heard) < len(full)


@pytest.mark.slow
async def test_a_client_function_call_round_trip_with_manual_commit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    arguments = '{"folder": "work"}'
    script = [
        StreamReply(tool_call_steps([("call_1", "save_message", arguments)])),
        text_stream(["Done, it is in your work folder."]),
    ]
    async with FakeOpenAIServer(script) as llm:
        config = parse_config(
            {
                **TEST_CONFIG,
                "thinker": {"backend": "openai", "base_url": llm.base_url, "model": "m"},
            },
            "remote thinker",
        )
        stack = with_thinker(config)
        tool = {
            "type": "function",
            "name": "save_message",
            "description": "Save it.",
            "parameters": {"type": "object", "properties": {"folder": {"type": "string"}}},
        }
        try:
            async with (
                omnivox(config, stack) as server,
                connected(
                    server,
                    tools=[tool],
                    instructions="You file voice messages.",
                    audio={"input": {"turn_detection": None}},
                ) as client,
            ):
                conn = client.conn
                question = recorded(QUESTION)
                client.say(question)
                await asyncio.sleep(len(question) / RATE + 0.2)
                await conn.input_audio_buffer.commit()
                await conn.response.create()
                done = await until(lambda: client.of("response.done"), 20, "the call")
                call = done[0]["response"]["output"][0]
                assert call["type"] == "function_call" and call["name"] == "save_message"
                assert json.loads(call["arguments"]) == {"folder": "work"}
                args = client.of("response.function_call_arguments.done")[0]
                assert args["call_id"] == call["call_id"] and args["arguments"] == call["arguments"]
                heard = client.of("conversation.item.input_audio_transcription.completed")[0]
                assert "folder" in heard["transcript"].lower()

                await conn.conversation.item.create(
                    item={
                        "type": "function_call_output",
                        "call_id": call["call_id"],
                        "output": '{"saved": true}',
                    }
                )
                await conn.response.create()
                done = await until(
                    lambda: len(client.of("response.done")) == 2 and client.of("response.done"),
                    30,
                    "the answer",
                )
                answer = done[1]["response"]
                assert answer["status"] == "completed"
                assert (
                    answer["output"][0]["content"][0]["transcript"]
                    == "Done, it is in your work folder."
                )
                assert len(client.audio(answer["id"])) > RATE // 2
        finally:
            await stack.thinker.close()  # type: ignore[attr-defined]
    first, second = (r.body for r in llm.requests)
    assert [t["function"]["name"] for t in first["tools"]][-1] == "save_message"
    assert "folder" in first["messages"][-1]["content"].lower()
    assert first["messages"][0] == {"role": "system", "content": "You file voice messages."}
    result = second["messages"][-1]
    assert result["role"] == "tool" and result["content"] == '{"saved": true}'
