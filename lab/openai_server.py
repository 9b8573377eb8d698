"""A scripted OpenAI-compatible chat endpoint, wire-exact (tests and benchmarks).

A stand-in for a model server (vLLM, Ollama, OpenAI) that answers from a script. It
speaks the streaming format the way OpenAI sends it (`content-type: text/event-stream`,
`data: {json}\\n\\n` chunks of `chat.completion.chunk` objects, a usage chunk with
`choices: []`, `data: [DONE]\\n\\n`) and the non-streaming format, records every request,
and follows a script: one reply per incoming request, in order.

    script = [error_reply(429, "slow down", retry_after="0"), text_stream(["Hel", "lo."])]
    async with FakeOpenAIServer(script) as server:
        thinker = OpenAIThinker(OpenAIThinkerConfig(base_url=server.base_url, model="m"))
        ...
        assert server.requests[1].body["stream"] is True

A reply is a list of steps: `Chunk` (a delta), `Usage`, `Done`, `Raw` (verbatim bytes:
keep-alive comments, malformed JSON), `Sleep` (a slow model) and `Cut` (the server drops
the connection); `StreamReply.headers_delay_s` holds the response headers back.
`server.received` is set when a request arrives. `server.disconnected` is set, and
`server.disconnect_times` records `time.perf_counter()`, whenever a client closes the
connection while a reply is still streaming (cancellation tests, cancel-latency benchmark).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

MODEL = "fake-model"


@dataclass(frozen=True)
class Chunk:
    """One `chat.completion.chunk` with this delta (and finish_reason)."""

    delta: dict[str, Any]
    finish_reason: str | None = None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 11
    completion_tokens: int = 7


@dataclass(frozen=True)
class Done:
    """`data: [DONE]`."""


@dataclass(frozen=True)
class Raw:
    """Bytes written as they are (a keep-alive comment, a malformed chunk...)."""

    text: str


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Cut:
    """The server closes the TCP connection here, in the middle of the stream."""


Step = Chunk | Usage | Done | Raw | Sleep | Cut


@dataclass(frozen=True)
class StreamReply:
    steps: list[Step]
    headers: dict[str, str] = field(default_factory=dict)
    headers_delay_s: float = 0.0
    """Wait before sending the response headers (a server queueing the request)."""


@dataclass(frozen=True)
class JSONReply:
    """A plain JSON answer: an error status, or a non-streaming completion."""

    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Reply = StreamReply | JSONReply


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: Any
    peer: tuple[str, int] | None
    """The client's address: the same port twice means a reused connection."""


# ---- script builders -------------------------------------------------------------------


def text_stream(
    pieces: list[str],
    finish_reason: str = "stop",
    *,
    usage: bool = True,
    first: list[Step] | None = None,
) -> StreamReply:
    """The steps of a plain text answer: role chunk, one chunk per piece, finish, usage, done.
    `first` steps go before the first content piece (a Sleep, a keep-alive...)."""
    steps: list[Step] = [Chunk({"role": "assistant", "content": ""})]
    steps += first or []
    steps += [Chunk({"content": p}) for p in pieces]
    steps.append(Chunk({}, finish_reason))
    if usage:
        steps.append(Usage())
    steps.append(Done())
    return StreamReply(steps)


def speech_stream(pieces: list[str], pcm: bytes, piece_bytes: int = 4800) -> StreamReply:
    """A spoken answer as OpenAI streams one with `modalities: ["text", "audio"]`: the
    transcript in `delta.audio.transcript`, the speech (`pcm`: 16-bit PCM, as asked for
    with `audio.format`) base64 in `delta.audio.data`, each transcript piece followed by
    its share of the audio, then the audio's id and expiry, finish, usage, done."""
    audio_id = "audio_fake"
    head = {"id": audio_id, "transcript": ""}
    steps: list[Step] = [
        Chunk({"role": "assistant", "content": None, "refusal": None, "audio": head})
    ]
    share = len(pcm) // max(1, len(pieces)) // 2 * 2
    for i, piece in enumerate(pieces):
        steps.append(Chunk({"audio": {"transcript": piece}}))
        part = pcm[i * share : len(pcm) if i == len(pieces) - 1 else (i + 1) * share]
        for at in range(0, len(part), piece_bytes):
            data = base64.b64encode(part[at : at + piece_bytes]).decode()
            steps.append(Chunk({"audio": {"data": data}}))
    steps.append(Chunk({"audio": {"id": audio_id, "expires_at": 1_900_000_000}}))
    steps += [Chunk({}, "stop"), Usage(), Done()]
    return StreamReply(steps)


def tool_call_steps(calls: list[tuple[str, str, str]], pieces: int = 3) -> list[Step]:
    """Delta chunks for parallel tool calls (id, name, arguments JSON text), the way OpenAI
    streams them: a first fragment with id and name per call, then each call's arguments
    split into `pieces` fragments, the calls' fragments interleaved; finish "tool_calls"."""
    steps: list[Step] = [Chunk({"role": "assistant", "content": None})]
    fragments: list[list[dict[str, Any]]] = []
    for index, (call_id, name, arguments) in enumerate(calls):
        head = {"index": index, "id": call_id, "type": "function"}
        frags = [{**head, "function": {"name": name, "arguments": ""}}]
        size = max(1, -(-len(arguments) // pieces))
        for i in range(0, len(arguments), size):
            frags.append({"index": index, "function": {"arguments": arguments[i : i + size]}})
        fragments.append(frags)
    for group in itertools.zip_longest(*fragments):
        for frag in group:
            if frag is not None:
                steps.append(Chunk({"tool_calls": [frag]}))
    steps.append(Chunk({}, "tool_calls"))
    return steps


def error_reply(status: int, message: str, *, retry_after: str | None = None) -> JSONReply:
    """An OpenAI-style error body with this status (and Retry-After header)."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
    return JSONReply(body, status, headers)


def completion_reply(
    content: str | None, tool_calls: list[dict[str, Any]] | None = None
) -> JSONReply:
    """A non-streaming `chat.completion`."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return JSONReply(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if tool_calls else "stop",
                }
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        }
    )


# ---- the server -------------------------------------------------------------------------


class FakeOpenAIServer:
    """`async with FakeOpenAIServer(script) as server:` -> server.base_url (ends in /v1)."""

    def __init__(self, script: list[Reply]) -> None:
        self.script = list(script)
        self.requests: list[RecordedRequest] = []
        self.received = asyncio.Event()
        """Set when a request has arrived (and is recorded)."""
        self.disconnected = asyncio.Event()
        self.disconnect_times: list[float] = []
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> FakeOpenAIServer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        # handler_cancellation: a client hang-up cancels the handler at once, which is
        # how the disconnect is observed (and how a real server stops generating).
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}/v1"
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in request.headers.items()}
        peer = request.transport.get_extra_info("peername") if request.transport else None
        peer = tuple(peer[:2]) if peer else None
        self.requests.append(RecordedRequest(request.method, request.path, headers, body, peer))
        self.received.set()
        n = len(self.requests) - 1
        if n >= len(self.script):
            return _json(error_reply(500, f"fake server: no scripted reply for request #{n}"))
        reply = self.script[n]
        if isinstance(reply, JSONReply):
            return _json(reply)
        if isinstance(body, dict) and body.get("stream") is not True:
            return _json(error_reply(400, "fake server: the script streams, the request did not"))
        with_usage = isinstance(body, dict) and bool(
            (body.get("stream_options") or {}).get("include_usage")
        )
        return await self._stream(request, reply, with_usage)

    async def _stream(
        self, request: web.Request, reply: StreamReply, with_usage: bool
    ) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                **reply.headers,
            }
        )
        cid, created = f"chatcmpl-{id(reply):x}", int(time.time())
        cut = False
        try:
            await asyncio.sleep(reply.headers_delay_s)
            await resp.prepare(request)
            for step in reply.steps:
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                elif isinstance(step, Cut):
                    cut = True
                    assert request.transport is not None
                    request.transport.close()
                    return resp
                else:
                    await resp.write(_encode(step, cid, created, with_usage).encode("utf-8"))
            await resp.write_eof()
        except (asyncio.CancelledError, ConnectionResetError):
            if not cut:
                self.disconnect_times.append(time.perf_counter())
                self.disconnected.set()
            raise
        return resp


def _encode(step: Step, cid: str, created: int, with_usage: bool) -> str:
    if isinstance(step, Raw):
        return step.text
    if isinstance(step, Done):
        return "data: [DONE]\n\n"
    obj: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL,
    }
    obj["system_fingerprint"] = "fp_fake"
    if isinstance(step, Usage):
        total = step.prompt_tokens + step.completion_tokens
        obj["choices"] = []
        obj["usage"] = {
            "prompt_tokens": step.prompt_tokens,
            "completion_tokens": step.completion_tokens,
            "total_tokens": total,
        }
    else:
        assert isinstance(step, Chunk)
        choice = {
            "index": 0,
            "delta": step.delta,
            "logprobs": None,
            "finish_reason": step.finish_reason,
        }
        obj["choices"] = [choice]
        if with_usage:
            obj["usage"] = None  # OpenAI sends usage: null on every chunk but the last
    return f"data: {json.dumps(obj, separators=(',', ':'))}\n\n"


def _json(reply: JSONReply) -> web.Response:
    return web.json_response(reply.body, status=reply.status, headers=reply.headers)
