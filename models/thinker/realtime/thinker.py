"""A realtime speech-to-speech model as the Thinker (and voice) of each session.

    thinker:
      backend: realtime
      url: wss://api.openai.com/v1/realtime     # or DashScope's, vLLM-Omni's, omnivox's
      model: gpt-realtime                       # qwen3-omni-flash-realtime, Qwen/Qwen3-Omni-...
      dialect: openai                           # openai | qwen | vllm (dialects.py)
      api_key_env: OPENAI_API_KEY               # the variable holding the key; omit for none
      voice: marin                              # the model's own voice name; omit for its default

Each session holds one WebSocket to the model, opened at its first turn and kept for the
call. The model hears the user's turn (its audio) and answers in speech and transcript;
omnivox stays in front: its transports, turn policy and interventions are unchanged
(the transcript passes the interventions sentence by sentence before its audio plays,
through models/talker/model_speech.py). A take-over cancels the response; the next turn
first truncates the model's reply where the user stopped hearing it (conversation.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import wave
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from yarl import URL

from omnivox.kernels.resample import resample
from omnivox.models.thinker.base import ThinkerEvent, ThinkRequest
from omnivox.models.thinker.credentials import api_key_from_env, safe_url
from omnivox.models.thinker.errors import (
    ThinkerConnectError,
    ThinkerDisconnectedError,
    ThinkerProtocolError,
    ThinkerServerError,
    ThinkerTimeoutError,
)
from omnivox.models.thinker.realtime.conversation import (
    Failed,
    Finished,
    NeedsNewConversation,
    Output,
    UpstreamConversation,
)
from omnivox.models.thinker.realtime.dialects import DIALECTS, DialectName

log = logging.getLogger(__name__)

_GENERIC_KEYS = frozenset({"knowledge_base", "timeout_s", "fallback_text"})
MAX_EVENT_BYTES = 16 * 1024 * 1024  # OpenAI's own limit on one event is 15 MiB


class RealtimeThinkerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    model: str = ""
    dialect: DialectName = "openai"
    api_key_env: str | None = None
    voice: str | None = None
    qwen_output_format: str = "pcm24"
    """qwen: "pcm24" (Qwen3-Omni-Flash-Realtime) or "pcm16" (Qwen-Omni-Turbo-Realtime)."""
    connect_timeout_s: float = Field(5.0, gt=0)
    idle_timeout_s: float = Field(10.0, gt=0)
    """An answer under way that sends nothing for this long has failed (a stalled model
    must not hold the conversation)."""
    end_timeout_s: float = Field(2.0, gt=0)
    """How long a cancelled answer may take to end upstream before the next turn gives
    up on the connection and opens a new one."""
    extra_headers: dict[str, str] = Field(default_factory=dict, repr=False)

    @field_validator("url")
    @classmethod
    def _websocket_url(cls, url: str) -> str:
        parsed = URL(url)
        if parsed.scheme not in ("ws", "wss") or not parsed.host:
            raise ValueError("must be a ws:// or wss:// URL with a host")
        return url

    @field_validator("qwen_output_format")
    @classmethod
    def _qwen_format(cls, value: str) -> str:
        if value not in ("pcm24", "pcm16"):
            raise ValueError("must be pcm24 or pcm16")
        return value


class RealtimeThinker:
    """The configured model; every session gets its own connection (`for_session`)."""

    name = "realtime"
    takes_audio = True
    speaks = True

    def __init__(self, config: RealtimeThinkerConfig, api_key: str | None = None) -> None:
        self.config = config
        self.takes_images = DIALECTS[config.dialect].images != "none"
        self._api_key = api_key

    @classmethod
    def from_config(cls, options: dict[str, Any]) -> RealtimeThinker:
        """Build from the `thinker:` config section; errors name the offending key."""
        try:
            config = RealtimeThinkerConfig.model_validate(
                {k: v for k, v in options.items() if k not in _GENERIC_KEYS and v is not None}
            )
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            message = first["msg"].removeprefix("Value error, ")  # pydantic's own prefix
            raise ValueError(f"thinker.{where}: {message}") from None
        return cls(config, api_key_from_env(config.api_key_env))

    def __repr__(self) -> str:
        key = f"${self.config.api_key_env}" if self._api_key else None
        url = safe_url(URL(self.config.url))
        return f"RealtimeThinker(url={url!r}, model={self.config.model!r}, api_key={key})"

    def for_session(self) -> UpstreamSession:
        return UpstreamSession(self.config, self._api_key, self.takes_images)

    async def stream(self, request: ThinkRequest) -> AsyncGenerator[ThinkerEvent, None]:
        """One answer on a connection of its own (a caller without a session)."""
        session = self.for_session()
        try:
            async with contextlib.aclosing(session.stream(request)) as events:
                async for event in events:
                    yield event
        finally:
            await session.aclose()


class UpstreamSession:
    """One session's connection: the asyncio shell around UpstreamConversation."""

    name = "realtime"
    takes_audio = True
    speaks = True

    def __init__(self, config: RealtimeThinkerConfig, api_key: str | None, takes_images: bool):
        self.config = config
        self.takes_images = takes_images
        self._api_key = api_key
        dialect = DIALECTS[config.dialect]
        self._conversation = UpstreamConversation(
            dialect, config.model, config.voice, config.qwen_output_format
        )
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._answer: asyncio.Queue[Output] | None = None
        self._ended = asyncio.Event()
        self._ended.set()

    async def stream(self, request: ThinkRequest) -> AsyncGenerator[ThinkerEvent, None]:
        audio = _turn_audio(request.audio_wav, self._conversation.dialect.input_rate)
        await self._wait_for_last_answer()
        ws = await self._connection()
        try:
            events = self._conversation.start(request, audio)
        except NeedsNewConversation:
            await self._disconnect()
            ws = await self._connection()
            events = self._conversation.start(request, audio)
        answer: asyncio.Queue[Output] = asyncio.Queue()
        self._answer = answer
        self._ended.clear()
        finished = False
        try:
            for event in events:
                await ws.send_str(json.dumps(event))
            while True:
                try:
                    out = await asyncio.wait_for(answer.get(), self.config.idle_timeout_s)
                except TimeoutError:
                    finished = True
                    await self._disconnect()  # what it might still send is of no use
                    timeout = self.config.idle_timeout_s
                    raise ThinkerTimeoutError(
                        f"the realtime model sent nothing for {timeout:g} s",
                        "timeout_idle",
                        timeout,
                    ) from None
                if isinstance(out, Finished):
                    finished = True
                    return
                if isinstance(out, Failed):
                    finished = True
                    raise ThinkerServerError(out.message)
                yield out
        except (aiohttp.ClientError, ConnectionResetError) as err:
            finished = True
            await self._disconnect()
            raise ThinkerDisconnectedError(f"the realtime connection failed ({err})") from None
        finally:
            self._answer = None
            if not finished:
                await self._cancel()

    async def aclose(self) -> None:
        await self._disconnect()

    # ---- the connection ----------------------------------------------------------------

    async def _connection(self) -> aiohttp.ClientWebSocketResponse:
        if self._ws is not None and not self._ws.closed:
            return self._ws
        cfg = self.config
        url = URL(cfg.url)
        if self._conversation.dialect.model_in_query and cfg.model:
            url = url.update_query(model=cfg.model)
        headers = dict(cfg.extra_headers)
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        if self._http is None:
            self._http = aiohttp.ClientSession()
        try:
            self._ws = await self._http.ws_connect(
                url,
                headers=headers,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=cfg.connect_timeout_s),
                max_msg_size=MAX_EVENT_BYTES,
                autoping=True,
                heartbeat=20.0,
            )
        except aiohttp.WSServerHandshakeError as err:
            raise ThinkerConnectError(
                f"the realtime model refused the connection (HTTP {err.status})"
            ) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            raise ThinkerConnectError(
                f"cannot reach the realtime model ({type(err).__name__})"
            ) from None
        self._conversation.restart()
        self._reader = asyncio.create_task(self._read(self._ws), name="realtime-upstream-reader")
        return self._ws

    async def _disconnect(self) -> None:
        ws, self._ws = self._ws, None
        reader, self._reader = self._reader, None
        if ws is not None:
            await ws.close()
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        if self._http is not None:
            await self._http.close()
            self._http = None
        self._conversation.restart()
        self._ended.set()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        conversation = self._conversation
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                event = json.loads(msg.data)
            except json.JSONDecodeError:
                event = None
            if not isinstance(event, dict):
                self._deliver(Failed("the realtime model sent something that is not a JSON event"))
                continue
            if event.get("type") == "error":
                log.warning("realtime model error event: %s", str(event)[:500])
            for out in conversation.receive(event):
                self._deliver(out)
            if not conversation.responding:
                self._ended.set()
        # The connection is gone: an answer under way cannot finish.
        if conversation.responding:
            self._deliver(Failed("the realtime model closed the connection mid-answer"))
        conversation.restart()
        self._ended.set()

    def _deliver(self, out: Output) -> None:
        if self._answer is not None:
            self._answer.put_nowait(out)

    async def _cancel(self) -> None:
        """The reply was cut: stop the model's answer (its item is truncated at the next
        turn, when the history says how much the user heard)."""
        ws = self._ws
        events = self._conversation.cancel()
        if ws is None or ws.closed or not events:
            return
        try:
            for event in events:
                await ws.send_str(json.dumps(event))
        except (aiohttp.ClientError, ConnectionResetError):
            await self._disconnect()

    async def _wait_for_last_answer(self) -> None:
        """A cancelled answer must end upstream before the next begins (one answer at a
        time); a server that never ends it costs its connection, not the turn."""
        if self._ended.is_set():
            return
        try:
            await asyncio.wait_for(self._ended.wait(), self.config.end_timeout_s)
        except TimeoutError:
            log.warning("realtime model did not end a cancelled answer; reconnecting")
            await self._disconnect()


def _turn_audio(wav: bytes | None, rate: int) -> np.ndarray | None:
    """The user's turn (a mono 16-bit WAV) as PCM16 at the model's input rate."""
    if not wav:
        return None
    try:
        with wave.open(io.BytesIO(wav)) as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise ThinkerProtocolError("the turn's audio must be mono 16-bit PCM")
            pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.int16)
            source = w.getframerate()
    except (wave.Error, EOFError) as err:
        raise ThinkerProtocolError(f"the turn's audio is not a WAV file ({err})") from None
    return resample(pcm, source, rate)
