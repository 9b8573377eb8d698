"""The session's replies: at most one at a time, started, played out, cut short, and
committed to the history as far as the user heard them.

The turn policy decides; this carries it out on the audio. A transport pulls one frame
at a time through `next_frame`, so a cancel is effective from the very next frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable

import numpy as np

from omnivox.agent.events import Emitter, EventType
from omnivox.agent.reply.history import History
from omnivox.agent.reply.playout import ClientPlayout
from omnivox.agent.reply.reply import Reply, ReplyDeps, ReplyTimings, UserMedia
from omnivox.kernels.mixing import apply_gain
from omnivox.media.frames import SAMPLE_RATE


class Replies:
    def __init__(
        self,
        deps: ReplyDeps,
        emit: Emitter,
        on_audio_started: Callable[[], None],
        on_ended: Callable[[str], None],
    ) -> None:
        """`on_audio_started`: a reply's first frame went out. `on_ended(heard_text)`:
        the reply played to its end or was cancelled."""
        self._deps = deps
        self._emit = emit
        self._on_audio_started = on_audio_started
        self._on_ended = on_ended
        self._ids = itertools.count(1)
        self.current: Reply | None = None
        self._committed: tuple[Reply, bool] | None = None
        """The reply whose heard text the history ends with, and whether it was cut."""
        self.history = History()
        self.client_playout = ClientPlayout()

    @property
    def busy(self) -> bool:
        """Producing audio that the playout queue has room for."""
        r = self.current
        return r is not None and not r.finished and len(r.playout) < r.playout.max_ahead

    def start(
        self,
        *,
        text: str | None = None,
        transcript: asyncio.Future[str] | None = None,
        timings: ReplyTimings | None = None,
        media: asyncio.Future[UserMedia] | None = None,
    ) -> None:
        """Speak `text`, or answer `transcript`; a reply still running is dropped."""
        if self.current is not None:
            self.current.cancel()
        reply = Reply(
            f"r{next(self._ids)}",
            self._deps,
            self.history.for_thinker(self._deps.system_prompt),
            transcript=self._announced(transcript) if transcript is not None else None,
            text=text,
            timings=timings,
            media=media,
        )
        self.current = reply
        self._emit(EventType.REPLY_START, reply_id=reply.id)
        reply.start()

    def next_frame(self, silence: np.ndarray, duck_db: float | None) -> np.ndarray:
        """The next 20 ms of agent audio (`silence` when there is none), lowered by
        `duck_db` when given."""
        reply = self.current
        if reply is None:
            return silence
        frame = reply.pop_frame()
        if frame is not None and reply.playout.played_samples == len(frame):
            self._emit(EventType.REPLY_AUDIO_START, reply_id=reply.id)
            if reply.user_text is not None:
                self._emit(EventType.TURN_METRICS, reply_id=reply.id, **reply.timings.metrics())
            self._on_audio_started()
        if frame is not None and duck_db is not None:
            frame = apply_gain(frame, duck_db)
        if reply.finished:
            self._finished(reply)
        return frame if frame is not None else silence

    def cancel(self, reason: str, onset_ms: float, t_ms: float) -> None:
        """Cut the current reply now and keep what the user heard of it."""
        reply = self.current
        if reply is None:
            return
        self.current = None
        reply.cancel()
        played_ms = reply.playout.played_ms
        # What the far end had not played yet is dropped there on this event (the page
        # does), so it was never heard.
        heard_ms = max(0.0, played_ms - self.client_playout.lag_ms)
        heard = reply.playout.heard_text(round(heard_ms * SAMPLE_RATE / 1000))
        self._emit(
            EventType.REPLY_CANCELLED,
            reply_id=reply.id,
            reason=reason,
            played_ms=played_ms,
            underrun_frames=reply.underrun_frames,
            heard_ms=round(heard_ms, 1),
            heard_text=heard,
            onset_ms=round(onset_ms, 1),
            stop_ms=round(t_ms - onset_ms, 1),
        )
        if reason != "user_resumed":
            self._commit(reply, interrupted=bool(played_ms), heard=heard)
        self._on_ended(heard)

    async def close(self) -> None:
        reply, self.current = self.current, None
        if reply is not None:
            reply.cancel()
            if reply.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await reply.task
        for close in self._deps.closers:
            await close()

    def forget(self) -> None:
        """A new visitor: the conversation starts over."""
        self.history = History()
        self._committed = None

    def _finished(self, reply: Reply) -> None:
        self.current = None
        if reply.playout.played_samples:
            self._emit(
                EventType.REPLY_AUDIO_END,
                reply_id=reply.id,
                played_ms=reply.playout.played_ms,
                underrun_frames=reply.underrun_frames,
            )
        heard = reply.playout.heard_text()
        self._emit(EventType.REPLY_DONE, reply_id=reply.id, heard_text=heard)
        self._commit(reply, interrupted=False, heard=heard)
        self._on_ended(reply.playout.text)

    def truncate(self, reply_id: str, heard_ms: float) -> str | None:
        """The far end heard only `heard_ms` of reply `reply_id` (it reports what it
        played): the history keeps the words heard by then, which are returned. None when
        that reply is no longer the history's last."""
        if self._committed is None or self._committed[0].id != reply_id:
            return None
        reply, interrupted = self._committed
        heard_samples = round(heard_ms * SAMPLE_RATE / 1000)
        heard = reply.playout.heard_text(heard_samples)
        cut = interrupted or heard_samples < reply.playout.played_samples
        self.history.revise_last_assistant(heard, interrupted=cut)
        return heard

    def _commit(self, reply: Reply, *, interrupted: bool, heard: str) -> None:
        if reply.user_text:
            self.history.add_user(reply.user_text)
        self.history.add_assistant(heard, interrupted=interrupted)
        self._committed = (reply, interrupted)

    async def _announced(self, transcript: asyncio.Future[str]) -> str:
        """Await the final transcript and announce it as an event."""
        text = await asyncio.shield(transcript)
        self._emit(EventType.TRANSCRIPT_FINAL, text=text)
        return text
