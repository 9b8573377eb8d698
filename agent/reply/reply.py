"""One answer: Thinker stream -> sentence chunks -> Talker stream -> bounded playout queue.

A Reply owns every task of its answer, so `cancel()` stops all of it at once: the
Thinker's stream is closed (an HTTP backend drops the connection), synthesis stops, and
the playout queue is cleared so the transport gets no further agent audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from omnivox.agent.events import Emitter, EventSink, EventType
from omnivox.agent.interventions.chain import Blocked, InterventionChain, ToolsIntervention
from omnivox.agent.reply.playout import PlayoutQueue
from omnivox.agent.reply.sentences import SentenceChunker
from omnivox.agent.reply.tool_loop import ToolLoop, ToolLoopLimits
from omnivox.media.audio_files import wav_bytes
from omnivox.media.clock import Clock
from omnivox.media.frames import SAMPLE_RATE
from omnivox.models.blocking import SPEECH_AHEAD
from omnivox.models.talker.base import SpeechChunk, Talker
from omnivox.models.thinker.base import Message, Thinker, ToolCall, ToolSpec

log = logging.getLogger(__name__)

SETTLE_MS = 150.0
"""A Thinker quiet this long after a closing mark has ended that sentence: its chunk goes
on without the next word (which a model streaming tokens sends within tens of ms, but a
speaking model's sentence-sized transcript may not for seconds)."""

LOOKAHEAD = 2
"""Talker output (chunk texts and speech windows) made ahead of the playout queue: enough
for the next chunk's first window to be ready while the last window of the one before
plays. Cancelling the reply drops it with the rest."""

_Spoken = str | SpeechChunk | Exception | None
"""What the Talker task hands the player: a chunk's text (its speech follows), a piece
of that speech, the Talker's error, or None after the last chunk."""


class ToolRunner(Protocol):
    def specs(self) -> list[ToolSpec]: ...

    async def call(self, call: ToolCall) -> str: ...


@dataclass
class ReplyDeps:
    """What every reply of a session shares."""

    thinker: Thinker
    talker: Talker
    clock: Clock
    emit: EventSink
    tools: ToolRunner | None = None
    system_prompt: str = ""
    first_token_timeout_s: float = 8.0
    fallback_text: str = "Sorry, I lost my train of thought."
    max_tool_rounds: int = 3
    playout_max_ahead: int = 3
    language: str = "en"
    interventions: InterventionChain | None = None
    """None: a chain that only runs `tools`."""
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Release what the session's replies held (a per-session Thinker connection)."""


@dataclass(frozen=True, slots=True)
class UserMedia:
    """What the Thinker gets besides the transcript, if it takes it."""

    images: list[bytes] = field(default_factory=list)
    """JPEG camera snapshots."""
    audio_wav: bytes | None = None
    """The user's turn."""


@dataclass
class ReplyTimings:
    """Media-clock instants of one reply's stages (None until reached)."""

    speech_end_ms: float | None = None
    turn_end_ms: float | None = None
    final_ms: float | None = None
    first_token_ms: float | None = None
    first_text_ms: float | None = None
    first_audio_ms: float | None = None
    playout_start_ms: float | None = None
    interventions_ms: dict[str, float] = field(default_factory=dict)

    def metrics(self) -> dict[str, object]:
        def gap(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round(b - a, 1)

        return {
            "interventions": {k: round(v, 1) for k, v in self.interventions_ms.items()},
            "endpoint_ms": gap(self.speech_end_ms, self.turn_end_ms),
            "recognizer_final_ms": gap(self.turn_end_ms, self.final_ms),
            "thinker_first_token_ms": gap(self.final_ms, self.first_token_ms),
            "talker_first_audio_ms": gap(self.first_text_ms, self.first_audio_ms),
            "voice_to_voice_ms": gap(self.speech_end_ms, self.playout_start_ms),
        }


class Reply:
    def __init__(
        self,
        reply_id: str,
        deps: ReplyDeps,
        history: list[Message],
        *,
        transcript: Awaitable[str] | None = None,
        text: str | None = None,
        timings: ReplyTimings | None = None,
        media: Awaitable[UserMedia] | None = None,
    ) -> None:
        """Either `transcript` (the user's words, awaited: the recognizer may still be
        finishing) and the Thinker answers, or a fixed `text` (a greeting) is spoken.
        `media` (snapshots, the turn's audio) goes with the transcript to the Thinker."""
        self.id = reply_id
        self.deps = deps
        self._history = history
        self._transcript = transcript
        self._text = text
        self._media_source = media
        self._media = UserMedia()
        self.timings = timings or ReplyTimings()
        self.playout = PlayoutQueue(deps.playout_max_ahead)
        self.user_text: str | None = None
        self.error: str | None = None
        self.underrun_frames = 0
        """Frames the transport asked for mid-reply while none was ready: a gap heard."""
        self._synthesized_samples = 0
        self._producing = True
        self._cancelled = False
        self._task: asyncio.Task[None] | None = None
        self._emit = Emitter(deps.emit, deps.clock, reply_id=reply_id)
        self._chain: InterventionChain = deps.interventions or InterventionChain(
            [ToolsIntervention([deps.tools])] if deps.tools else [],
            deps.clock,
            lambda message: self._emit.error(message, source="intervention"),
        )

    # ---- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"reply-{self.id}")

    @property
    def finished(self) -> bool:
        """All audio produced and played (or there was none)."""
        return not self._producing and len(self.playout) == 0

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    def cancel(self) -> None:
        """Stop everything now. Synchronous so the caller can rely on it within a frame:
        after this returns, `pop_frame()` yields nothing more."""
        self._cancelled = True
        self.playout.clear()
        self._producing = False
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def pop_frame(self) -> np.ndarray | None:
        frame = self.playout.pop()
        if frame is not None and self.timings.playout_start_ms is None:
            self.timings.playout_start_ms = self.deps.clock.now_ms()
        elif frame is None and self._producing and self.timings.playout_start_ms is not None:
            self.underrun_frames += 1
        return frame

    # ---- the pipeline ----------------------------------------------------------------

    async def _run(self) -> None:
        chunks: asyncio.Queue[str | None] = asyncio.Queue()
        speech: asyncio.Queue[_Spoken] = asyncio.Queue(maxsize=LOOKAHEAD)
        producer: asyncio.Task[None] | None = None
        talker: asyncio.Task[None] | None = None
        try:
            if self._transcript is not None:
                self.user_text = (await self._transcript).strip()
                self.timings.final_ms = self.deps.clock.now_ms()
                if not self.user_text:
                    return  # noise, not words: nothing to answer
            if self._media_source is not None:
                self._media = await self._gather_media(self._media_source)
            producer = asyncio.create_task(self._produce_text(chunks), name=f"think-{self.id}")
            talker = asyncio.create_task(self._synthesize(chunks, speech), name=f"talk-{self.id}")
            await self._play(speech)
            await talker  # its error, if it failed
        finally:
            for task in (producer, talker):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            _discard(self._media_source)
            if not self._cancelled:
                self.playout.finish()
            self._producing = False

    async def _produce_text(self, out: asyncio.Queue[str | None]) -> None:
        chunker = SentenceChunker(language=self.deps.language)
        try:
            if self._text is not None:
                self.timings.first_token_ms = self.deps.clock.now_ms()
                for chunk in [*chunker.push(self._text), *chunker.flush()]:
                    out.put_nowait(chunk)
                return
            # aclosing: a blocked reply closes the Thinker's stream at once.
            async with (
                contextlib.aclosing(self._think()) as deltas,
                contextlib.aclosing(self._with_pauses(deltas)) as paced,
            ):
                async for settled, delta in paced:
                    chunks = chunker.settle() if settled else chunker.push(delta)
                    for chunk in chunks:
                        if not await self._vet(chunk, out):
                            return
            for chunk in chunker.flush():
                if not await self._vet(chunk, out):
                    return
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a broken backend must not end the conversation
            self.error = _describe_error(err)
            log.warning("reply %s: thinker failed: %s", self.id, self.error)
            self._emit.error(
                f"Thinker failed: {self.error}",
                source="thinker",
                timeout=isinstance(err, TimeoutError),
            )
            # Speak what was already chunked, then the fallback line.
            for chunk in [*chunker.flush(), self.deps.fallback_text]:
                out.put_nowait(chunk)
        finally:
            out.put_nowait(None)

    async def _with_pauses(
        self, deltas: AsyncGenerator[str, None]
    ) -> AsyncGenerator[tuple[bool, str], None]:
        """The deltas as (False, delta), and (True, "") once when the Thinker has been
        quiet for SETTLE_MS after one (on the session's clock)."""
        clock = self.deps.clock
        ahead = asyncio.ensure_future(anext(deltas))
        try:
            while True:
                alarm = clock.alarm(clock.now_ms() + SETTLE_MS)
                waiters: set[asyncio.Future[Any]] = {ahead, alarm}
                try:
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    alarm.cancel()
                if not ahead.done():
                    yield True, ""
                    await asyncio.wait({ahead})
                try:
                    delta = ahead.result()
                except StopAsyncIteration:
                    return
                yield False, delta
                ahead = asyncio.ensure_future(anext(deltas))
        finally:
            if not ahead.done():
                ahead.cancel()
                await asyncio.wait({ahead})

    async def _gather_media(self, source: Awaitable[UserMedia]) -> UserMedia:
        """A snapshot that cannot be made costs the Thinker its picture, not the answer."""
        try:
            return await source
        except Exception as err:
            log.warning("reply %s: user media failed: %s", self.id, err)
            self._emit.error(f"camera snapshot failed: {err}", source="camera")
            return UserMedia()

    async def _vet(self, chunk: str, out: asyncio.Queue[str | None]) -> bool:
        """Pass a chunk through the intervention chain; False once the reply is blocked
        (the blocked line is queued instead, and the Thinker is not read any further)."""
        verdict = await self._chain.on_text(chunk, self.timings.interventions_ms)
        if isinstance(verdict, Blocked):
            self._emit(EventType.REPLY_BLOCKED, by=verdict.by)
            out.put_nowait(verdict.reply)
            return False
        if verdict.strip():
            out.put_nowait(verdict)
        return True

    def _think(self) -> AsyncGenerator[str, None]:
        deps = self.deps
        loop = ToolLoop(
            self.id,
            deps.thinker,
            self._chain,
            deps.clock,
            self._emit,
            ToolLoopLimits(deps.first_token_timeout_s, deps.max_tool_rounds),
            on_first_event=self._first_event,
        )
        messages = list(self._history)
        if self.user_text:
            messages.append(Message("user", self.user_text))
        media = self._media
        return loop.text(messages, self.timings.interventions_ms, media.images, media.audio_wav)

    def _first_event(self) -> None:
        if self.timings.first_token_ms is None:
            self.timings.first_token_ms = self.deps.clock.now_ms()

    async def _synthesize(
        self, chunks: asyncio.Queue[str | None], out: asyncio.Queue[_Spoken]
    ) -> None:
        """Each chunk's speech, in order, into `out`: the next chunk is synthesized while
        the one before still plays (the bounded `out` is the look-ahead), so no chunk
        waits for its first window after the one before has ended. The Talker's blocking
        work is due when the audio made so far will have played (`SPEECH_AHEAD`)."""
        SPEECH_AHEAD.set(self._speech_ahead_s)  # this task's own context
        try:
            while (chunk := await chunks.get()) is not None:
                if self.timings.first_text_ms is None:
                    self.timings.first_text_ms = self.deps.clock.now_ms()
                await out.put(chunk)
                async with contextlib.aclosing(self.deps.talker.synthesize(chunk)) as speech:
                    async for piece in speech:
                        if self.timings.first_audio_ms is None:
                            self.timings.first_audio_ms = self.deps.clock.now_ms()
                        self._synthesized_samples += len(piece.pcm)
                        await out.put(piece)
            await out.put(None)
        except Exception as err:
            await out.put(err)  # the player is still draining `out`: this put returns

    def _speech_ahead_s(self) -> float:
        """Seconds of this reply's speech made and not yet handed to the transport."""
        return max(0, self._synthesized_samples - self.playout.played_samples) / SAMPLE_RATE

    async def _play(self, speech: asyncio.Queue[_Spoken]) -> None:
        """Feed the playout queue from `speech`, marking where each chunk's words start."""
        q = self.playout
        chunk: str | None = None
        start_char = base = offset = 0
        while True:
            item = await speech.get()
            if isinstance(item, Exception):
                raise item
            if not isinstance(item, SpeechChunk):  # a new chunk (or the end) after `chunk`
                if chunk is not None:
                    q.mark(base + offset, start_char + len(chunk))
                if item is None:
                    return
                chunk, start_char, base, offset = item, q.add_text(item), q.produced_samples, 0
                self._emit(EventType.REPLY_TEXT, text=chunk)
                continue
            for sample, char in item.word_starts:
                q.mark(base + offset + sample, start_char + char)
            offset += len(item.pcm)
            await q.put(item.pcm)


def gather_user_media(
    thinker: Thinker,
    turn_audio: Callable[[], np.ndarray | None],
    snapshot: Callable[[], Awaitable[bytes | None]],
) -> asyncio.Future[UserMedia] | None:
    """Start gathering what this Thinker takes besides words, while the recognizer
    finishes: the turn's audio now (it is about to be reset), the snapshot later."""
    if not (thinker.takes_images or thinker.takes_audio):
        return None
    audio = turn_audio() if thinker.takes_audio else None

    async def gather() -> UserMedia:
        images = []
        if thinker.takes_images:
            jpeg = await snapshot()
            images = [jpeg] if jpeg else []
        return UserMedia(images, wav_bytes(audio) if audio is not None else None)

    return asyncio.ensure_future(gather())


def _discard(source: Awaitable[UserMedia] | None) -> None:
    """Stop media work nobody will use, and mark a failure of it as seen."""
    if isinstance(source, asyncio.Future):
        if not source.done():
            source.cancel()
        elif not source.cancelled():
            source.exception()


def _describe_error(err: BaseException) -> str:
    """A short, user-safe description (exceptions may carry a user-safe `message`)."""
    message = getattr(err, "message", None)
    if isinstance(message, str) and message:
        return message
    return str(err) or type(err).__name__
