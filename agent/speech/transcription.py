"""Per-session transcription worker: feeds the recognizer off the event loop, in order.

The recognizer blocks, so audio, stream changes and final requests go through one queue
to one task that calls the recognizer on the shared executor. Ordering is what makes a
final "everything accepted so far": it is answered only after the audio queued before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from omnivox.agent.speech.partial_budget import STREAMING_PARTIALS, PartialBudget
from omnivox.models.blocking import Priority, run_blocking_at
from omnivox.models.recognizer.base import Recognizer, RecognizerStream

T = TypeVar("T")

log = logging.getLogger(__name__)

_OPEN = "open"
_PREPARE = "prepare"
MIN_CHUNK_SAMPLES = 1600
"""100 ms at 16 kHz: audio is handed to the recognizer in batches this size (a final
request flushes what is left), not frame by frame: a fifth of the thread hops, which
is what eight sessions on two cores feel."""
MAX_CHUNK_SAMPLES = 4800
"""300 ms: the most one recognizer call gets when the worker is behind (bounded,
because some recognizers hold the GIL for the whole call)."""


class TranscriptionWorker:
    def __init__(
        self,
        recognizer: Recognizer,
        on_partial: Callable[[str], None],
        on_error: Callable[[str], None],
        budget: PartialBudget = STREAMING_PARTIALS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._recognizer = recognizer
        self._budget = budget
        self._monotonic = monotonic
        self._on_partial = on_partial
        self._on_error = on_error
        self._items: deque[np.ndarray | asyncio.Future[str] | str] = deque()
        self._decisive: set[asyncio.Future[str]] = set()
        """Final requests that decide a turn (see `request_final`)."""
        self._wake = asyncio.Event()
        self._stream: RecognizerStream | None = None
        self._in_flight = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the worker, and have the first stream take what it needs (a pooled
        decoder, loaded if none is idle) now, not when the user first speaks."""
        self._items.appendleft(_PREPARE)  # before anything queued already
        self._wake.set()
        self._task = asyncio.create_task(self._run(), name="transcription")

    @property
    def busy(self) -> bool:
        """Recognizer work in flight or ready to go (audio waiting for its batch is not)."""
        return self._in_flight or self._runnable()

    def _runnable(self) -> bool:
        """A stream change or a final request is queued, or a batch of audio is."""
        audio = 0
        for item in self._items:
            if not isinstance(item, np.ndarray):
                return True
            audio += len(item)
            if audio >= MIN_CHUNK_SAMPLES:
                return True
        return False

    def _queued_audio(self) -> int:
        return sum(len(item) for item in self._items if isinstance(item, np.ndarray))

    def _final_waiting(self) -> Priority | None:
        """The priority of the most urgent final request queued, if any."""
        finals = [item for item in self._items if isinstance(item, asyncio.Future)]
        if not finals:
            return None
        return Priority.DECISION if self._decisive.intersection(finals) else Priority.URGENT

    def _put(self, item: np.ndarray | asyncio.Future[str] | str) -> None:
        self._items.append(item)
        self._wake.set()

    def open_stream(self) -> None:
        """Start a new utterance; audio fed after this goes to a fresh stream."""
        self._put(_OPEN)

    def feed(self, pcm: np.ndarray) -> None:
        self._put(pcm)

    def request_final(self, decides: bool = False) -> asyncio.Future[str]:
        """The text of everything fed so far. `decides`: the turn's end waits on it (a
        pause's final, most often the early final's answer again, at no cost): it goes
        ahead of other sessions' finals on the executor, as the query reading it does."""
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        if decides:
            self._decisive.add(fut)
            fut.add_done_callback(self._decisive.discard)
        self._put(fut)
        return fut

    async def close(self) -> None:
        # A recognizer call cut off here still runs in its thread on the stream: then
        # the stream is left to the garbage collector instead of being closed under it.
        in_call = self._in_flight
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._items:
            item = self._items.popleft()
            if isinstance(item, asyncio.Future) and not item.done():
                item.cancel()
        if in_call:
            self._stream = None
        else:
            self._replace_stream(None)

    async def _run(self) -> None:
        while True:
            if not self._runnable():
                self._wake.clear()
                await self._wake.wait()
                continue
            item = self._items.popleft()
            self._in_flight = True
            try:
                await self._handle(item)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # keep the session alive; report, don't crash
                log.exception("recognizer failed")
                self._on_error(f"recognizer failed: {err}")
                if isinstance(item, asyncio.Future) and not item.done():
                    item.set_result("")
            finally:
                self._in_flight = False

    def _replace_stream(self, stream: RecognizerStream | None) -> None:
        """Close the old stream at once: a pooled decoder left to the garbage collector
        makes the next stream load a new one (pocketsphinx: ~0.3 s holding the GIL, a
        stall for every session)."""
        if self._stream is not None:
            self._stream.close()
        self._stream = stream

    async def _handle(self, item: np.ndarray | asyncio.Future[str] | str) -> None:
        if isinstance(item, str) and item == _PREPARE:
            if self._stream is None:
                self._stream = self._recognizer.new_stream()
            await run_blocking_at(Priority.BACKGROUND, self._stream.prepare)
        elif isinstance(item, str):
            # The old stream's decoder goes back to the pool first: the new one takes it.
            self._replace_stream(self._recognizer.new_stream())
        elif isinstance(item, np.ndarray):
            parts = [item]
            size = len(item)
            while self._items and isinstance(self._items[0], np.ndarray):
                if size + len(self._items[0]) > MAX_CHUNK_SAMPLES:
                    break
                size += len(self._items[0])
                parts.append(self._items.popleft())  # type: ignore[arg-type]
            if self._stream is None:
                self._stream = self._recognizer.new_stream()
            pcm = np.concatenate(parts) if len(parts) > 1 else item
            # A final waits behind this audio: it is as urgent as the final itself. One
            # that ends a turn makes a partial now pointless (it would come after the
            # final's words); an interim final's keeps them (the hybrid's catch_up
            # restarts its partials, which the words over the agent are read from).
            final = self._final_waiting()
            priority = Priority.BACKGROUND if final is None else final
            behind = self._queued_audio() >= MIN_CHUNK_SAMPLES
            ends_turn = final is Priority.DECISION
            if behind or ends_turn or not self._budget.allows(self._monotonic()):
                # Behind real time, or the sessions' partials have had their share of
                # the process: partials are the first thing to thin, so that the
                # finals (and the event loop) stay on time.
                await run_blocking_at(priority, self._stream.catch_up, pcm)
                return
            partial, seconds = await run_blocking_at(priority, _timed, self._stream.accept, pcm)
            self._budget.spend(self._monotonic(), seconds)
            if partial:
                self._on_partial(partial)
        else:
            stream = self._stream
            priority = Priority.DECISION if item in self._decisive else Priority.URGENT
            text = await run_blocking_at(priority, stream.final) if stream else ""
            if not item.done():
                item.set_result(text)


def _timed(accept: Callable[[np.ndarray], T], pcm: np.ndarray) -> tuple[T, float]:
    """`accept(pcm)` and the seconds it took, measured in the thread that ran it."""
    began = time.perf_counter()
    return accept(pcm), time.perf_counter() - began
