"""A realtime speech-to-speech service as a WebSocket double, wire-exact for the dialects
omnivox drives with its own turn taking (tests): DashScope's Qwen-Omni-Realtime and
vLLM-Omni's `/v1/realtime`. (The GA OpenAI dialect is tested against omnivox's own
`/v1/realtime`, a real peer.)

    async with FakeRealtimeServer("qwen", ANSWER) as server:
        ...  # thinker url: server.url
        assert server.types().count("response.cancel") == 1

It answers every turn with `answer` as its transcript and a 440 Hz tone as its voice
(24 kHz PCM16, a quarter second per word, sent `speed` times faster than real time),
records every client event, checks them as the service would (an `error` event for a
malformed one) and stops an answer on `response.cancel`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
from types import TracebackType
from typing import Any, Literal

import numpy as np
from aiohttp import web

RATE = 24_000
WORD_S = 0.25


def tone(seconds: float, hz: float = 440.0) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * hz * t) * 8000).astype("<i2").tobytes()


class FakeRealtimeServer:
    def __init__(self, dialect: Literal["qwen", "vllm"], answer: str, speed: float = 1.0) -> None:
        self.dialect = dialect
        self.answer = answer
        self.speed = speed
        self.received: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.url = ""
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    def types(self) -> list[str]:
        return [e.get("type", "") for e in self.received]

    def appended_samples(self) -> int:
        return sum(
            len(base64.b64decode(e["audio"])) // 2
            for e in self.received
            if e.get("type") == "input_audio_buffer.append"
        )

    async def __aenter__(self) -> FakeRealtimeServer:
        app = web.Application()
        app.router.add_get("/api-ws/v1/realtime", self._socket)
        app.router.add_get("/v1/realtime", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        path = "/api-ws/v1/realtime" if self.dialect == "qwen" else "/v1/realtime"
        self.url = f"ws://127.0.0.1:{port}{path}"
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        await ws.send_json({"type": "session.created", "event_id": self._id("event")})
        answering: asyncio.Task[None] | None = None
        try:
            async for msg in ws:
                event = json.loads(msg.data)
                self.received.append(event)
                problem = self._check(event)
                if problem:
                    self.errors.append(problem)
                    error = {"type": "invalid_request_error", "message": problem}
                    await ws.send_json({"type": "error", "error": error})
                    continue
                kind = event["type"]
                starts = (
                    "response.create" if self.dialect == "qwen" else "input_audio_buffer.commit"
                )
                if kind == starts:
                    answering = asyncio.create_task(self._answer(ws))
                elif kind == "response.cancel" and answering is not None:
                    answering.cancel()
        finally:
            if answering is not None:
                answering.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await answering
        return ws

    def _check(self, event: dict[str, Any]) -> str | None:
        kind = event.get("type")
        if kind == "session.update":
            if self.dialect == "vllm":
                return None if event.get("model") else "session.update needs the model"
            session = event.get("session", {})
            if session.get("input_audio_format") != "pcm16" or "turn_detection" not in session:
                return "session: input_audio_format pcm16 and turn_detection required"
            return None
        if kind == "input_audio_buffer.append":
            pcm = base64.b64decode(event.get("audio", ""), validate=True)
            return None if len(pcm) % 2 == 0 else "audio must be whole PCM16 samples"
        known = {
            "input_audio_buffer.commit",
            "response.create",
            "response.cancel",
            "conversation.item.create",
            "conversation.item.truncate",
            "conversation.item.delete",
        }
        if self.dialect == "qwen":
            known.add("input_image_buffer.append")
        return None if kind in known else f"unknown event type {kind}"

    async def _answer(self, ws: web.WebSocketResponse) -> None:
        item = self._id("item")
        words = [w + " " for w in self.answer.split()]
        voice = tone(WORD_S)
        try:
            if self.dialect == "qwen":
                await ws.send_json(
                    {
                        "type": "response.output_item.added",
                        "item": {"id": item, "type": "message", "role": "assistant"},
                    }
                )
            for word in words:
                audio = base64.b64encode(voice).decode("ascii")
                if self.dialect == "qwen":
                    await ws.send_json(
                        {"type": "response.audio_transcript.delta", "item_id": item, "delta": word}
                    )
                    await ws.send_json(
                        {"type": "response.audio.delta", "item_id": item, "delta": audio}
                    )
                else:
                    await ws.send_json({"type": "transcription.delta", "delta": word})
                    await ws.send_json(
                        {"type": "response.audio.delta", "audio": audio, "sample_rate_hz": RATE}
                    )
                await asyncio.sleep(WORD_S / self.speed)
            status = "completed"
        except asyncio.CancelledError:
            status = "cancelled"
        if ws.closed:
            return
        if self.dialect == "qwen":
            await ws.send_json({"type": "response.done", "response": {"status": status}})
        else:
            await ws.send_json({"type": "transcription.done", "text": "".join(words).strip()})
            await ws.send_json({"type": "response.audio.done", "has_audio": True})

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"
