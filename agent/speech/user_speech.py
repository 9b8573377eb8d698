"""The user's speech on its way to the recognizer, and when the recognizer is asked for
its final transcript.

Finals are what the turn classifier and the Thinker read; the streaming partials are
rough. A final is asked for at three moments:

- *early*, `early_final_ms` into a silence, before the VAD calls it a pause: silence
  does not change the text, so the pause's own final is then ready at once;
- *speculative*, when the turn policy sees a pause: the turn's transcript if the turn
  ends there;
- *interim*, every `INTERIM_FINAL_MS` while the user talks over the agent: the words
  the overlap classifier reads.

Early and interim finals need a recognizer whose finals are cheap mid-turn and do not
end its stream (`Recognizer.interim_finals`). Audio of a pause is held back: if the
user goes on, the stream gets it; if a new turn starts, it goes with the old stream.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

import numpy as np

from omnivox.agent.speech.transcription import TranscriptionWorker
from omnivox.media.frames import FRAME_MS, AudioFrame
from omnivox.models.recognizer.base import Recognizer

INTERIM_FINAL_MS = 100
"""While the user talks over the agent, ask the final recognizer for their words this
often (where that is cheap; one at a time, so a busy executor asks less): "uh-huh" or
"wait" read right is half the decision. Every 100 ms rather than 200, a simulated "Wait,
stop." over the agent was stopped 193 ms after its onset instead of ~500 (the
classifier waits for a word, and the streaming partial read "you", "where", "way")."""

PREROLL_MS = 300
"""Audio kept from before the VAD fires, so the recognizer hears the first syllable."""

ONSET_LATE_MS = 1500
"""How late an onset may be reported: the VAD decides 64-100 ms after speech begins, and
the echo gate holds an onset over the agent while its speech may be our own echo
(usually under 200 ms, a second or more through a leak). The audio back to half the
pre-roll before it is kept for that long."""


class UserSpeech:
    def __init__(
        self,
        recognizer: Recognizer,
        *,
        early_final_ms: int,
        on_partial: Callable[[str], None],
        on_error: Callable[[str], None],
    ) -> None:
        self._on_partial = on_partial
        self._asr = TranscriptionWorker(recognizer, self._partial_arrived, on_error)
        self.interim_finals = recognizer.interim_finals
        self._early_final_ms = early_final_ms if self.interim_finals else 0
        self._preroll: deque[AudioFrame] = deque(
            maxlen=(PREROLL_MS // 2 + ONSET_LATE_MS) // FRAME_MS
        )
        self._has_stream = False
        self.feeding = False
        """Between the VAD's start and stop: frames go to the recognizer as they come."""
        self._held: list[np.ndarray] = []
        self.partial = ""
        """The latest streaming partial of the current stream."""
        self.speculative: asyncio.Future[str] | None = None
        self._interim: asyncio.Future[str] | None = None
        self._interim_at_ms = 0.0
        self._early_final_asked = False

    def start(self) -> None:
        self._asr.start()

    async def close(self) -> None:
        await self._asr.close()

    @property
    def busy(self) -> bool:
        return self._asr.busy

    def push(self, frame: AudioFrame) -> None:
        """Every input frame, before the VAD's verdict on it is acted on."""
        self._preroll.append(frame)
        if self.feeding:
            self._asr.feed(frame.pcm)
        elif self._has_stream:
            self._held.append(frame.pcm)

    def speech_started(
        self, onset_ms: float, now_ms: float, *, new_turn: bool
    ) -> list[np.ndarray] | None:
        """The VAD heard speech begin at `onset_ms`. A new turn opens a fresh stream,
        primed with the audio from half the pre-roll before the onset, and returns that
        audio; None when the stream goes on after a pause."""
        self._interim_at_ms = now_ms  # the first interim after INTERIM_FINAL_MS of speech
        primed = None
        if new_turn or not self._has_stream:
            self._asr.open_stream()
            self._has_stream = True
            self.partial = ""
            start = onset_ms - PREROLL_MS / 2
            primed = [f.pcm for f in self._preroll if f.t_ms + f.duration_ms > start]
            for pcm in primed:
                self._asr.feed(pcm)
        else:
            for pcm in self._held:  # the pause was part of the turn after all
                self._asr.feed(pcm)
        self._held.clear()
        self.speculative = None
        self.feeding = True
        return primed

    def speech_stopped(self) -> None:
        self.feeding = False

    def paused(self) -> asyncio.Future[str]:
        """The policy sees a pause: ask for the final the turn ends with if it ends here."""
        self.speculative = self._asr.request_final(decides=True)
        return self.speculative

    def overlap_words(self) -> asyncio.Future[str]:
        """Speech over the agent stopped undecided: its words so far, from the final
        recognizer where its finals are cheap mid-turn, else the streaming partial."""
        if self.interim_finals:
            return self._asr.request_final()
        words: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        words.set_result(self.partial)
        return words

    def take_final(self) -> asyncio.Future[str]:
        """The turn ends: its transcript (the speculative final, when there is one)."""
        final, self.speculative = self.speculative or self._asr.request_final(decides=True), None
        return final

    def maybe_early_final(self, silence_ms: float, *, user_speaking: bool) -> None:
        """Once per silence, `early_final_ms` in. The recognizer keeps the answer; the
        pause's final reuses it while only silence follows."""
        if silence_ms == 0.0:
            self._early_final_asked = False
            return
        if (
            self._early_final_ms > 0
            and silence_ms >= self._early_final_ms
            and not self._early_final_asked
            and self.feeding
            and user_speaking
        ):
            self._early_final_asked = True
            self._asr.request_final()

    def interim_final(self, now_ms: float) -> asyncio.Future[str] | None:
        """While the user talks over the agent: a new interim final when one is due
        (none in flight and `INTERIM_FINAL_MS` since the last), else None."""
        if not (self.interim_finals and self.feeding):
            return None
        if (self._interim is not None and not self._interim.done()) or (
            now_ms - self._interim_at_ms < INTERIM_FINAL_MS
        ):
            return None
        self._interim_at_ms = now_ms
        self._interim = self._asr.request_final()
        return self._interim

    def _partial_arrived(self, text: str) -> None:
        self.partial = text
        self._on_partial(text)
