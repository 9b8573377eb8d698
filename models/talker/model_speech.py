"""An omni model's own voice, played through the same reply stage as the Talker's.

A Thinker that speaks (`speaks = True`: chat completions with audio out from OpenAI,
DashScope's Qwen-Omni or vLLM-Omni serving Qwen3-Omni) streams its transcript as text and
its speech as `SpeechAudio`. The reply stage stays as it is: the transcript is chunked
into sentences and passes the interventions, and each chunk that comes through is handed
to "the Talker". Here the Talker is `ModelSpeechTalker`, which plays the model's own
audio for a chunk instead of synthesizing it, so the interventions see every sentence
before it is heard, and cancellation, playout position and truncation work as for the
Talker's speech.

Per session, `SpeakingThinker` (around the shared Thinker) records the transcript and the
audio (16 kHz) of the reply being made in a `SpeechLedger`; `ModelSpeechTalker` takes them
out chunk by chunk. The model's audio carries no word times, so a chunk's share of it is
estimated from its share of the transcript (exact in proportion once the answer is
complete, a speaking-rate estimate before); the chunks take consecutive stretches, so all
of the model's audio is played in order whatever the estimate, and only the cut between
two sentences (and the word positions in the history) is approximate. A chunk the
interventions rewrote, a blocked reply's line, a greeting or a fallback line is not what
the model said: it is spoken by the fallback Talker, and the model's sentence it replaced
is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncGenerator

import numpy as np

from omnivox.kernels.resample import StreamResampler
from omnivox.models.talker.base import SpeechChunk, Talker
from omnivox.models.thinker.base import (
    SpeechAudio,
    TextDelta,
    Thinker,
    ThinkerEvent,
    ThinkRequest,
    ToolCallsRequested,
)

SAMPLE_RATE = 16_000
SAMPLES_PER_CHAR = 1_150
"""Before an answer is complete: ~14 characters a second, a conversational rate."""
PIECE_SAMPLES = 3_200  # model audio is handed on in pieces of up to 0.2 s
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")


class SpeechLedger:
    """What a speaking Thinker said in the reply being made, and how much is used."""

    def __init__(self) -> None:
        self.begin()

    def begin(self) -> None:
        """A new answer: what was left of the last one is dropped."""
        self.transcript = ""
        self._audio: list[np.ndarray] = []
        self.audio_samples = 0
        self.ended = False
        self.text_used = 0
        self.audio_used = 0
        self._changed = asyncio.Event()

    def add_text(self, text: str) -> None:
        self.transcript += text
        self._changed.set()

    def add_audio(self, pcm: np.ndarray) -> None:
        if len(pcm):
            self._audio.append(pcm)
            self.audio_samples += len(pcm)
            self._changed.set()

    def end(self) -> None:
        self.ended = True
        self._changed.set()

    async def changed(self) -> None:
        await self._changed.wait()
        self._changed.clear()

    def audio_at(self, char: int) -> int:
        """Where the model's speech reaches transcript character `char` (an estimate)."""
        said = len(self.transcript)
        if self.ended and said:
            return round(self.audio_samples * min(char, said) / said)
        return char * SAMPLES_PER_CHAR

    def audio(self, start: int, end: int) -> np.ndarray:
        """Samples [start, end) of what has arrived."""
        if not self._audio:
            return np.zeros(0, np.int16)
        if len(self._audio) > 1:
            self._audio = [np.concatenate(self._audio)]
        return self._audio[0][start:end]


class SpeakingThinker:
    """One session's view of a speaking Thinker: the events pass on, the speech and its
    transcript are also written to the session's ledger."""

    def __init__(self, inner: Thinker, ledger: SpeechLedger) -> None:
        self._inner = inner
        self._ledger = ledger
        self.name = inner.name
        self.takes_images = inner.takes_images
        self.takes_audio = inner.takes_audio
        self.speaks = True

    async def stream(self, request: ThinkRequest) -> AsyncGenerator[ThinkerEvent, None]:
        ledger = self._ledger
        if not request.messages or request.messages[-1].role != "tool":
            ledger.begin()  # a tool round goes on with the same answer
        resampler: StreamResampler | None = None
        more = False
        try:
            async with contextlib.aclosing(self._inner.stream(request)) as events:
                async for event in events:
                    if isinstance(event, SpeechAudio):
                        if resampler is None:
                            resampler = StreamResampler(event.rate, SAMPLE_RATE)
                        usable = len(event.pcm) // 2 * 2
                        pcm = np.frombuffer(event.pcm[:usable], "<i2").astype(np.int16)
                        ledger.add_audio(resampler.process(pcm))
                        continue
                    if isinstance(event, TextDelta):
                        ledger.add_text(event.text)
                    elif isinstance(event, ToolCallsRequested):
                        more = True
                    yield event
        finally:
            if resampler is not None:
                ledger.add_audio(resampler.flush())
            if not more:
                ledger.end()


class ModelSpeechTalker:
    """The Talker of a session whose Thinker speaks: the model's audio for each chunk."""

    name = "model"

    def __init__(self, ledger: SpeechLedger, fallback: Talker) -> None:
        self._ledger = ledger
        self._fallback = fallback

    async def synthesize(self, text: str) -> AsyncGenerator[SpeechChunk, None]:
        ledger = self._ledger
        end = await self._match(text)
        if end is None:
            self._skip_sentence()
            async with contextlib.aclosing(self._fallback.synthesize(text)) as speech:
                async for chunk in speech:
                    yield chunk
            return
        ledger.text_used = end
        begin = at = ledger.audio_used
        words = [m.start() for m in re.finditer(r"\S+", text)]
        while True:
            stop = self._stop(end)
            if at >= stop:
                return
            available = min(stop, ledger.audio_samples)
            if available > at:
                piece = ledger.audio(at, min(available, at + PIECE_SAMPLES))
                last = at + len(piece) >= stop
                starts = _word_starts(words, len(text), (begin, stop), at, len(piece), last)
                at += len(piece)
                ledger.audio_used = at
                yield SpeechChunk(piece, starts)
                continue
            if ledger.ended:
                return  # the model said no more
            await ledger.changed()

    def _stop(self, end: int) -> int:
        """Where this chunk's audio ends: all the rest, for the answer's last chunk."""
        ledger = self._ledger
        if ledger.ended and not ledger.transcript[end:].strip():
            return ledger.audio_samples
        return ledger.audio_at(end)

    async def _match(self, text: str) -> int | None:
        """The transcript position after `text` if the model said it next (waiting for the
        transcript to catch up), else None."""
        ledger = self._ledger
        while True:
            end = _consume(ledger.transcript, ledger.text_used, text)
            if end is not None and end >= 0:
                return end
            if end is None or ledger.ended:
                return None
            await ledger.changed()

    def _skip_sentence(self) -> None:
        """Drop the model's next sentence (the one an intervention replaced)."""
        ledger = self._ledger
        rest = ledger.transcript[ledger.text_used :]
        if not rest.strip():
            return
        found = _SENTENCE_END.search(rest)
        ledger.text_used += found.end() if found else len(rest)
        ledger.audio_used = max(ledger.audio_used, ledger.audio_at(ledger.text_used))


def _consume(transcript: str, at: int, text: str) -> int | None:
    """Match `text` against `transcript` from `at`, ignoring whitespace: the position
    after it; -1 if the transcript ends before `text` does (so far it matches); None if
    they differ."""
    i = at
    for char in text:
        if char.isspace():
            continue
        while i < len(transcript) and transcript[i].isspace():
            i += 1
        if i >= len(transcript):
            return -1
        if transcript[i] != char:
            return None
        i += 1
    return i


def _word_starts(
    words: list[int], length: int, span: tuple[int, int], at: int, size: int, last: bool
) -> list[tuple[int, int]]:
    """The starts (sample in this piece, character in the chunk) of the `words` (their
    characters, in order; those placed are removed) that fall in the piece [at, at+size)
    of the chunk's audio `span`, placed by their share of the chunk's text."""
    begin, stop = span
    out = []
    while words:
        sample = begin + (stop - begin) * words[0] / max(1, length)
        if sample >= at + size and not last:
            break
        out.append((min(max(round(sample) - at, 0), size - 1), words.pop(0)))
    return out
