"""The embedded neural Talker: a Piper VITS voice on onnxruntime, streamed as it is made.

Each sentence chunk is cut into pieces at clause and phrase boundaries (piper_text.py),
so the voice reads each clause with its own prosody. A piece is made in two steps
(piper_voice.py): its prior (phonemes to a latent sequence, ~0.3 ms an id) and then the
vocoder over windows of that sequence, each yielded as soon as it is ready. The first
window of a chunk is short (FIRST_WINDOW frames, ~0.19 s of audio), so the first sound
takes the prior of the first piece plus one short window, whatever the sentence's length;
later windows grow (each is made while the one before plays) and later pieces start with
a long one, as the audio already queued covers their time. Closing the generator stops at
the next window, and the run in flight is told to terminate.

Audio: every voice gets one gain, measured once when it loads, so pieces are equally
loud; the silence around each piece's speech is trimmed and replaced by a pause that fits
where it was cut (a phrase cut, a comma, a sentence end); a soft limiter keeps peaks under
full scale; 16 kHz int16 out (piper_stream.py).

Word positions (`word_starts`, as in espeak.py: the sample in the chunk where a word
begins, with the word's character index in the text): each word's first phoneme is found
in the piece's phonemes by aligning the word phonemized alone (piper_text.align_words),
and its sample is where the voice's own predicted durations put the boundary before it
(the space after the previous word; piper_voice.py reads the durations out of the
model). Against pocketsphinx's forced alignment of the same audio (`omnivox bench
talker`) that is 12 ms off at the median and 46 ms at the 95th percentile, about what
eSpeak's own word events score (7 / 42 ms); the durations come in 256-sample frames
(11.6 ms), and numbers or symbols that eSpeak reads as several words in context can be
off by part of a word. A voice whose durations cannot be read places words by their
share of the piece's phoneme ids instead: off by up to a few hundred milliseconds on a
long piece.

Phonemes come from eSpeak NG (GPL-3.0), loaded at run time from espeakng-loader like the
eSpeak Talker; omnivox does not use the piper-tts package.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Generator
from pathlib import Path

import numpy as np
import onnxruntime as ort

from omnivox.models.blocking import run_blocking
from omnivox.models.talker.base import SpeechChunk
from omnivox.models.talker.piper_stream import PieceStream
from omnivox.models.talker.piper_text import (
    Boundary,
    Piece,
    align_words,
    piece_phonemes,
    split_pieces,
    word_tokens,
)
from omnivox.models.talker.piper_voice import HOP, Latent, PiperVoice, load_voice

SPEED_RANGE = (0.5, 2.0)
NOISE_RANGE = (0.0, 1.5)
PAUSE_MS: dict[Boundary, int] = {"phrase": 60, "clause": 160, "sentence": 180}
"""Silence after a piece's speech, by what ended it. After a sentence the next chunk's
first piece takes its synthesis time on top, so the pause heard there is longer."""
FIRST_WINDOW = 16
"""Latent frames (of 256 samples, ~11.6 ms) in a chunk's first window: ~0.19 s of audio,
made in about a fifth of a full piece's time."""
LATER_WINDOW = 128  # a later piece's first window: the audio queued before it covers it
GROWTH = 3
"""Each window up to this many times the one before: the next is made in well under the
time the last one plays (~1 ms a frame with context, against 11.6 ms of audio)."""
MIN_LAST_WINDOW = 48  # a shorter remainder joins the window before it (context is not free)


def windows(length: int, first: int) -> list[tuple[int, int]]:
    """[start, end) latent frames of each window over a sequence of `length` frames."""
    spans: list[tuple[int, int]] = []
    start, size = 0, first
    while start < length:
        end = min(length, start + size)
        if length - end < MIN_LAST_WINDOW:
            end = length
        spans.append((start, end))
        start, size = end, size * GROWTH
    return spans


class PiperTalker:
    """Talker backed by a Piper voice: streaming 16 kHz speech with word positions."""

    name = "piper"

    def __init__(
        self, voice: str | Path | None = None, speed: float = 1.0, noise: float | None = None
    ) -> None:
        """`voice`: the path of a Piper NAME.onnx (NAME.onnx.json beside it), or None for
        the bundled en_US-joe-medium. `speed` divides the voice's length scale; `noise`
        replaces its noise scale (None: the voice's own). ValueError if unusable."""
        if not SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]:
            raise ValueError(f"Piper speed must be in {SPEED_RANGE[0]}..{SPEED_RANGE[1]}")
        if noise is not None and not NOISE_RANGE[0] <= noise <= NOISE_RANGE[1]:
            raise ValueError(f"Piper noise must be in {NOISE_RANGE[0]}..{NOISE_RANGE[1]}")
        self._voice: PiperVoice = load_voice(voice)
        self.voice = str(self._voice.files.model)
        self.speed = speed
        self.noise = noise
        self._scales = self._voice.default_scales(speed, noise)

    async def synthesize(self, text: str) -> AsyncGenerator[SpeechChunk, None]:
        """Stream speech for `text`, one window at a time.

        Close the iterator (aclose, or `contextlib.aclosing`) to stop early: no further
        window is started, and the one being made is terminated.
        """
        options = ort.RunOptions()
        steps = self._steps(text, options)
        pending: asyncio.Future[tuple[SpeechChunk | None, bool]] | None = None

        def start() -> asyncio.Future[tuple[SpeechChunk | None, bool]]:
            return asyncio.ensure_future(run_blocking(_advance, steps))

        try:
            pending = start()
            while True:
                chunk, more = await pending
                # The next window is made while this one plays.
                pending = start() if more else None
                if chunk is not None:
                    yield chunk
                if pending is None:
                    return
        finally:
            if pending is not None:
                options.terminate = True  # a run in flight stops at its next operator
                pending.cancel()  # one not started yet never starts
                if pending.done() and not pending.cancelled():
                    with contextlib.suppress(Exception):
                        pending.result()
            if pending is None or pending.done():
                # Frees the piece's resampler now. A step can still be running in its
                # thread though its task is done (cancelled under it): it keeps them.
                with contextlib.suppress(ValueError):  # "generator already executing"
                    steps.close()

    def synthesize_with_words(self, text: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Blocking: the whole utterance as 16 kHz int16 and where its words start, as
        (sample index, character index in ``text``) pairs (tests, benchmarks)."""
        pcm: list[np.ndarray] = []
        starts: list[tuple[int, int]] = []
        offset = 0
        for chunk in self._steps(text, ort.RunOptions()):
            if chunk is None:
                continue
            starts += [(offset + sample, char) for sample, char in chunk.word_starts]
            offset += len(chunk.pcm)
            pcm.append(chunk.pcm)
        return (np.concatenate(pcm) if pcm else np.zeros(0, np.int16)), starts

    def _steps(
        self, text: str, options: ort.RunOptions
    ) -> Generator[SpeechChunk | None, None, None]:
        """Blocking, one model run per step: the chunks of `text` (None where a step has
        nothing to play yet)."""
        for n, piece in enumerate(split_pieces(text)):
            made = self._prior(text, piece, options)
            if made is None:
                continue
            latent, stream = made
            spans = windows(latent.length, FIRST_WINDOW if n == 0 else LATER_WINDOW)
            for i, (start, end) in enumerate(spans):
                if options.terminate:
                    return
                audio = self._voice.decode(latent, start, end, options)
                yield stream.push(audio, final=i == len(spans) - 1)

    def _prior(
        self, text: str, piece: Piece, options: ort.RunOptions
    ) -> tuple[Latent, PieceStream] | None:
        """Blocking: one piece's latent sequence and the stream that shapes its audio
        (None if it has nothing to say)."""
        voice = self._voice
        piece_text = text[piece.start : piece.end]
        words = word_tokens(piece_text)
        clauses, *alone = voice.phonemizer.clauses([piece_text, *(w for _, w in words)])
        phonemes = piece_phonemes(piece_text, clauses, piece.mark)
        if not phonemes.strip(" ,.;:!?"):
            return None
        ids, id_at = voice.ids(phonemes)
        starts = align_words(["".join(ipa for ipa, _ in w) for w in alone], phonemes)
        latent = voice.latent(ids, self._scales, options)
        samples = latent.length * HOP
        # Native sample where each id starts: from the durations, else by id count.
        if latent.frames is not None:
            edges = np.concatenate([[0.0], np.cumsum(latent.frames, dtype=np.float64)])
            edges *= samples / edges[-1]
        else:
            edges = np.linspace(0.0, samples, len(ids) + 1)
        native = [float(edges[_boundary_id(phonemes, id_at, j, len(ids))]) for j in starts]
        places = [(at, piece.start + char) for (char, _), at in zip(words, native, strict=True)]
        stream = PieceStream(voice.sample_rate, voice.gain, places, PAUSE_MS[piece.boundary])
        return latent, stream


def _advance(steps: Generator[SpeechChunk | None, None, None]) -> tuple[SpeechChunk | None, bool]:
    """Blocking: the next step's chunk, and whether another step may follow."""
    for chunk in steps:
        return chunk, True
    return None, False


def _boundary_id(phonemes: str, id_at: list[int], j: int, n_ids: int) -> int:
    """The id where the word starting at phonemes[j] takes over from the one before: the
    space between them, or (words eSpeak joined, a piece's first word) the pad before its
    first phoneme. The voice starts a word's sound within those ids; measured against
    forced alignment, taking the first phoneme itself puts words ~50 ms late."""
    if j >= len(id_at):
        return n_ids - 1
    if j > 0 and phonemes[j - 1] == " ":
        return id_at[j - 1]
    return max(0, id_at[j] - 1)
