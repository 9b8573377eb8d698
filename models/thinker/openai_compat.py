"""A Thinker backed by any OpenAI-compatible streaming chat-completions endpoint.

Works with vLLM and SGLang (Qwen3-Omni), Ollama (`/v1`), llama.cpp server, DashScope
compatible mode and OpenAI. Config (the `thinker:` section of agent.yaml):

    thinker:
      backend: openai
      base_url: http://127.0.0.1:8000/v1
      model: Qwen/Qwen3-Omni-30B-A3B-Instruct
      api_key_env: OPENAI_API_KEY   # name of the variable holding the key; omit for none
      temperature: 0.7
      max_tokens: 512               # servers that want max_completion_tokens: extra_body
      connect_timeout_s: 3
      first_token_timeout_s: 8
      idle_timeout_s: 5
      extra_headers: {}
      extra_body: {}                # DashScope Omni: {modalities: [text]}; vLLM Qwen3:
                                    # {chat_template_kwargs: {enable_thinking: false}}
      user_input: text              # text (transcript) | audio | both
      send_images: false            # true for vision models: the camera snapshot per turn
      include_usage: true           # false for servers that reject stream_options
      audio_data_uri: false         # true for DashScope (input_audio data as a data: URI)
      strip_think: true             # drop <think>...</think> left in content

Reasoning (`reasoning_content`) is never spoken; use the server's reasoning parser
(vLLM `--reasoning-parser`) so thoughts do not land in `content`. Wire-level quirks of
each server, and the message format, are in `omnivox.models.thinker.sse`.

Timeouts: the first-token budget runs from the call to the first generated token of any
kind (text, reasoning, tool-call fragment) and includes connecting and one retry; after
that, `idle_timeout_s` bounds the gap between data chunks (`:` keep-alive comments do not
count: they prove the server is up, not that the model is generating).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from yarl import URL

from omnivox.models.thinker.base import SpeechAudio, TextDelta, ThinkerEvent, ThinkRequest
from omnivox.models.thinker.credentials import api_key_from_env, safe_url
from omnivox.models.thinker.errors import (
    ThinkerConnectError,
    ThinkerDisconnectedError,
    ThinkerError,
    ThinkerHTTPError,
    ThinkerProtocolError,
    ThinkerServerError,
    ThinkerTimeoutError,
)
from omnivox.models.thinker.sse import (
    DONE,
    ChunkAssembler,
    SSEParser,
    ThinkTagFilter,
    UserInput,
    parse_chunk,
    server_error_message,
    wire_messages,
    wire_tools,
)

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 503})
RETRY_DELAY_S = 0.25
"""Pause before the one retry when the server gives no Retry-After."""
MAX_ERROR_BODY = 64 * 1024
ERROR_BODY_TIMEOUT_S = 1.0
"""Bound on reading an error body: the status alone already says what happened."""
_CUT = "the connection closed in the middle of the answer"

# Keys of the generic `thinker:` config section that belong to other parts of the agent.
_GENERIC_KEYS = frozenset({"knowledge_base", "timeout_s", "fallback_text"})
# Body keys the backend itself must own: overriding them would break streaming or tools.
_RESERVED_BODY_KEYS = frozenset({"model", "messages", "stream", "tools"})


@dataclass(frozen=True, slots=True)
class OpenAIThinkerConfig:
    base_url: str
    model: str
    api_key_env: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    connect_timeout_s: float = 3.0
    first_token_timeout_s: float = 8.0
    idle_timeout_s: float = 5.0
    extra_headers: dict[str, str] = field(default_factory=dict, repr=False)
    extra_body: dict[str, Any] = field(default_factory=dict)
    user_input: UserInput = "text"
    send_images: bool = False
    include_usage: bool = True
    audio_data_uri: bool = False
    strip_think: bool = True
    speak: bool = False
    """Ask for speech too (`modalities: ["text", "audio"]`): a model that speaks itself."""
    voice: str = "alloy"
    audio_format: str = "pcm16"
    """What `audio.format` asks for: "pcm16" (OpenAI), "wav" (DashScope's Qwen-Omni, which
    still streams raw PCM)."""
    audio_rate: int = 24_000


class OpenAIThinker:
    """Streams chat completions over SSE; one aiohttp session per instance."""

    name = "openai"

    def __init__(self, config: OpenAIThinkerConfig, api_key: str | None = None) -> None:
        self.config = config
        self.takes_images = config.send_images
        self.takes_audio = config.user_input != "text"
        self.speaks = config.speak
        self._api_key = api_key or None
        base = URL(config.base_url)
        # Join as a path so a query (Azure's ?api-version=...) stays a query.
        self._url = base.with_path(base.path.rstrip("/") + "/chat/completions").with_query(
            base.query
        )
        self._safe_url = safe_url(self._url)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_config(cls, options: dict[str, Any]) -> OpenAIThinker:
        """Build from the `thinker:` config section; errors name the offending key."""
        config = _parse_options(options)
        return cls(config, api_key_from_env(config.api_key_env))

    def __repr__(self) -> str:
        key = f"${self.config.api_key_env}" if self._api_key else None
        return f"OpenAIThinker(url={self._safe_url!r}, model={self.config.model!r}, api_key={key})"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- the request -------------------------------------------------------------------

    def build_body(self, request: ThinkRequest) -> dict[str, Any]:
        """The JSON body for `request` (public so callers can log or inspect it)."""
        cfg = self.config
        messages = wire_messages(
            request, user_input=cfg.user_input, audio_data_uri=cfg.audio_data_uri
        )
        body: dict[str, Any] = {"model": cfg.model, "messages": messages, "stream": True}
        if cfg.include_usage:
            body["stream_options"] = {"include_usage": True}
        if cfg.temperature is not None:
            body["temperature"] = cfg.temperature
        if cfg.max_tokens is not None:
            body["max_tokens"] = cfg.max_tokens
        if request.tools:
            body["tools"] = wire_tools(request.tools)
        if cfg.speak:
            body["modalities"] = ["text", "audio"]
            body["audio"] = {"voice": cfg.voice, "format": cfg.audio_format}
        body.update(cfg.extra_body)
        return body

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        headers.update(self.config.extra_headers)
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    # ---- the stream --------------------------------------------------------------------

    async def stream(self, request: ThinkRequest) -> AsyncGenerator[ThinkerEvent, None]:
        """Stream the answer. Closing the iterator (or cancelling its consumer) closes
        the HTTP connection at once; nothing is drained."""
        body = self.build_body(request)  # bad input fails before any I/O
        loop = asyncio.get_running_loop()
        first_deadline = loop.time() + self.config.first_token_timeout_s
        try:
            resp = await self._open(body, first_deadline)
            completed = False
            try:
                async with contextlib.aclosing(self._answer(resp, first_deadline)) as events:
                    async for event in events:
                        yield event
                completed = True
            finally:
                # Completed: the connection goes back to the pool for the next turn.
                # Otherwise (aclose, cancel, error) it is closed now, without draining.
                if completed:
                    resp.release()
                else:
                    resp.close()
        except ThinkerError as err:
            raise self._redacted(err) from None

    def _answer(
        self, resp: aiohttp.ClientResponse, first_deadline: float
    ) -> AsyncGenerator[ThinkerEvent, None]:
        ctype = resp.content_type
        if ctype == "application/json":
            return self._whole(resp, first_deadline)
        # No Content-Type at all reads as application/octet-stream: accept it as SSE.
        if ctype not in ("text/event-stream", "application/octet-stream"):
            raise ThinkerProtocolError(
                f"{self._safe_url} answered with {ctype}, not an event stream (wrong base_url?)"
            )
        return self._events(resp, first_deadline)

    async def _open(self, body: dict[str, Any], first_deadline: float) -> aiohttp.ClientResponse:
        """POST, with at most one quick retry on connect failure, 429 or 503 when it fits
        in the first-token budget. Nothing has been yielded yet, so a retry is invisible."""
        loop = asyncio.get_running_loop()
        try:
            return await self._post(body, first_deadline)
        except (ThinkerConnectError, ThinkerHTTPError) as err:
            if isinstance(err, ThinkerHTTPError) and err.status not in RETRY_STATUSES:
                raise
            retry_after = err.retry_after_s if isinstance(err, ThinkerHTTPError) else None
            delay = RETRY_DELAY_S if retry_after is None else retry_after
            if loop.time() + delay >= first_deadline:
                raise
            log.info("thinker: %s; retrying in %.2f s", self._redacted(err).message, delay)
            await asyncio.sleep(delay)
        return await self._post(body, first_deadline)

    async def _post(self, body: dict[str, Any], first_deadline: float) -> aiohttp.ClientResponse:
        try:
            async with asyncio.timeout_at(first_deadline):
                resp = await self._client().post(self._url, json=body, headers=self._headers())
        except aiohttp.ServerTimeoutError:
            raise ThinkerConnectError(
                f"no connection to {self._safe_url} within {self.config.connect_timeout_s:g} s"
            ) from None
        except TimeoutError:
            raise self._first_token_timeout() from None
        except aiohttp.ClientConnectorError as err:
            why = _connect_reason(err)
            raise ThinkerConnectError(f"cannot connect to {self._safe_url} ({why})") from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            # Typically a pooled keep-alive connection the server had just closed.
            raise ThinkerConnectError(
                f"{self._safe_url} closed the connection before answering"
            ) from None
        except aiohttp.ClientError as err:
            raise ThinkerProtocolError(
                f"{self._safe_url} did not answer with valid HTTP ({type(err).__name__})"
            ) from None
        if resp.status >= 300:
            try:
                raise await self._http_error(resp)
            finally:
                resp.close()
        return resp

    async def _http_error(self, resp: aiohttp.ClientResponse) -> ThinkerHTTPError:
        detail = ""
        try:
            async with asyncio.timeout(ERROR_BODY_TIMEOUT_S):
                raw = await resp.content.read(MAX_ERROR_BODY)
            text = raw.decode("utf-8", "replace")
            try:
                detail = server_error_message(json.loads(text).get("error") or text)
            except (ValueError, AttributeError):
                detail = text.strip()[:300]
        except (TimeoutError, aiohttp.ClientError):
            pass  # the status alone still says what happened
        reason = resp.reason or ""
        message = f"the server answered HTTP {resp.status} {reason}".rstrip()
        if detail:
            message += f": {detail}"
        return ThinkerHTTPError(message, resp.status, _retry_after(resp.headers))

    async def _events(
        self, resp: aiohttp.ClientResponse, first_deadline: float
    ) -> AsyncGenerator[ThinkerEvent, None]:
        loop = asyncio.get_running_loop()
        idle = self.config.idle_timeout_s
        parser, asm = SSEParser(), ChunkAssembler()
        think = ThinkTagFilter() if self.config.strip_think else None
        deadline = first_deadline
        done = False
        while not done:
            raw = await self._read(resp, deadline, asm.started)
            for sse in parser.feed(raw) if raw else parser.close():
                if sse.data.strip() == DONE:
                    done = True
                    break
                if sse.event == "error":
                    raise ThinkerServerError(f"the server reported: {_event_error(sse.data)}")
                texts = asm.feed(parse_chunk(sse.data))
                for text in texts:
                    if think is not None:
                        text = think.feed(text)
                    if text:
                        yield TextDelta(text)
                for pcm in asm.take_audio():
                    yield SpeechAudio(pcm, self.config.audio_rate)
                if asm.finish_reason and (calls := asm.take_calls()):
                    yield calls
                if asm.started:
                    # The gap is the server's: time the consumer held us does not count.
                    deadline = loop.time() + idle
            if not raw:
                if not done and asm.finish_reason is None:
                    raise ThinkerDisconnectedError(_CUT)
                break
        if think is not None and (tail := think.flush()):
            yield TextDelta(tail)
        if calls := asm.take_calls():
            yield calls
        if asm.finish_reason == "length":
            log.info("thinker: the answer was cut at max_tokens")
        log.debug("thinker usage: %s", asm.usage)

    async def _read(self, resp: aiohttp.ClientResponse, deadline: float, started: bool) -> bytes:
        try:
            async with asyncio.timeout_at(deadline):
                return await resp.content.readany()
        except TimeoutError:
            if not started:
                raise self._first_token_timeout() from None
            idle = self.config.idle_timeout_s
            raise ThinkerTimeoutError(
                f"the model stalled: no data for {idle:g} s", "timeout_idle", idle
            ) from None
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError):
            raise ThinkerDisconnectedError(_CUT) from None

    async def _whole(
        self, resp: aiohttp.ClientResponse, first_deadline: float
    ) -> AsyncGenerator[ThinkerEvent, None]:
        """A server that ignored `stream: true` and sent one JSON completion."""
        try:
            async with asyncio.timeout_at(first_deadline):
                raw = await resp.read()
        except TimeoutError:
            raise self._first_token_timeout() from None
        except aiohttp.ClientError:
            raise ThinkerDisconnectedError(_CUT) from None
        completion = parse_chunk(raw.decode("utf-8", "replace"))
        # A full message is one big delta; its tool calls get explicit indexes.
        choices = []
        for choice in completion.get("choices") or []:
            if isinstance(choice, dict):
                message = dict(choice.get("message") or {})
                calls = message.get("tool_calls") or []
                message["tool_calls"] = [{"index": i, **c} for i, c in enumerate(calls)]
                choices.append({**choice, "delta": message})
        asm = ChunkAssembler()
        text = "".join(asm.feed({"error": completion.get("error"), "choices": choices}))
        if self.config.strip_think:
            think = ThinkTagFilter()
            text = think.feed(text) + think.flush()
        if text:
            yield TextDelta(text)
        for pcm in asm.take_audio():
            yield SpeechAudio(pcm, self.config.audio_rate)
        if requested := asm.take_calls():
            yield requested

    # ---- helpers -----------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        # Created lazily so it binds to the loop that runs the agent, not the importer's.
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(
                total=None, connect=self.config.connect_timeout_s, sock_connect=None
            )
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    def _first_token_timeout(self) -> ThinkerTimeoutError:
        budget = self.config.first_token_timeout_s
        return ThinkerTimeoutError(
            f"no answer from the model within {budget:g} s", "timeout_first_token", budget
        )

    def _redacted(self, err: ThinkerError) -> ThinkerError:
        """Server-supplied text (error bodies) could echo the key: never pass it on."""
        if self._api_key and self._api_key in err.message:
            err.message = err.message.replace(self._api_key, "***")
            err.args = (err.message,)
        return err


def _event_error(data: str) -> str:
    """The message of an `event: error` SSE event (JSON error object or plain text)."""
    try:
        payload = json.loads(data)
    except ValueError:
        return data.strip()[:300]
    if isinstance(payload, dict) and "error" in payload:
        payload = payload["error"]
    return server_error_message(payload)


def _connect_reason(err: aiohttp.ClientConnectorError) -> str:
    try:
        return err.os_error.strerror or type(err.os_error).__name__
    except AttributeError:  # certificate errors carry no OSError
        return type(err).__name__


def _retry_after(headers: Any) -> float | None:
    """Seconds to wait, from `retry-after-ms` (OpenAI) or `Retry-After` (seconds or an
    HTTP date); None when absent or unreadable."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _parse_options(options: dict[str, Any]) -> OpenAIThinkerConfig:
    if not isinstance(options, dict):
        raise ValueError(f"thinker: expected a mapping of options, got {type(options).__name__}")
    known = set(OpenAIThinkerConfig.__dataclass_fields__)
    unknown = sorted(set(options) - known - _GENERIC_KEYS)
    if unknown:
        raise ValueError(f"thinker.{unknown[0]}: unknown key for the openai backend")
    o = {k: v for k, v in options.items() if k in known and v is not None}
    for key in ("base_url", "model"):
        if not isinstance(o.get(key), str) or not o[key].strip():
            raise ValueError(f"thinker.{key}: required (a non-empty string)")
    url = URL(o["base_url"])
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("thinker.base_url: must be an http:// or https:// URL with a host")
    _check_str(o, "api_key_env")
    for key in ("connect_timeout_s", "first_token_timeout_s", "idle_timeout_s"):
        if key in o and not (_is_number(o[key]) and o[key] > 0):
            raise ValueError(f"thinker.{key}: must be a positive number of seconds")
    if "temperature" in o and not (_is_number(o["temperature"]) and 0 <= o["temperature"] <= 2):
        raise ValueError("thinker.temperature: must be a number from 0 to 2")
    max_tokens = o.get("max_tokens")
    if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
        raise ValueError("thinker.max_tokens: must be a positive integer")
    headers = o.get("extra_headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ValueError("thinker.extra_headers: must map header names to string values")
    extra_body = o.get("extra_body", {})
    if not isinstance(extra_body, dict):
        raise ValueError("thinker.extra_body: must be a mapping")
    reserved = sorted(_RESERVED_BODY_KEYS & set(extra_body))
    if reserved:
        raise ValueError(
            f"thinker.extra_body.{reserved[0]}: set by the backend, cannot be overridden"
        )
    if o.get("user_input", "text") not in ("text", "audio", "both"):
        raise ValueError("thinker.user_input: must be one of text, audio, both")
    _check_str(o, "voice")
    if o.get("audio_format", "pcm16") not in ("pcm16", "wav"):
        raise ValueError("thinker.audio_format: must be pcm16 or wav")
    rate = o.get("audio_rate", 24_000)
    if type(rate) is not int or not 8000 <= rate <= 48_000:
        raise ValueError("thinker.audio_rate: must be a sample rate from 8000 to 48000")
    for key in ("include_usage", "audio_data_uri", "strip_think", "send_images", "speak"):
        if key in o and not isinstance(o[key], bool):
            raise ValueError(f"thinker.{key}: must be true or false")
    return OpenAIThinkerConfig(**o)


def _check_str(o: dict[str, Any], key: str) -> None:
    if key in o and (not isinstance(o[key], str) or not o[key].strip()):
        raise ValueError(f"thinker.{key}: must be a non-empty string")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)
