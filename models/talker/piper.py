"""The embedded neural Talker: a Piper VITS voice on onnxruntime, streamed piece by piece.

Each sentence chunk is cut into pieces at clause and phrase boundaries (piper_text.py);
each piece is synthesized on the shared blocking executor and yielded as soon as it is
ready, so the first audio takes the time of the first few words whatever the sentence's
length (about 0.1 x its duration on one core). While a piece plays, the next one is
made; closing the generator stops at the next piece, and the run in flight is told to
terminate.

Audio: every voice gets one gain, measured once when it loads, so pieces are equally
loud; a soft limiter keeps peaks under full scale; each piece is trimmed to its speech
and followed by a pause that fits where it was cut (a phrase cut, a comma, a sentence
end); then it is resampled to the pipeline's 16 kHz int16.

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
from collections.abc import AsyncGenerator
from pathlib import Path

import numpy as np
import onnxruntime as ort

from omnivox.kernels.resample import resample
from omnivox.models.blocking import run_blocking
from omnivox.models.talker.base import SpeechChunk
from omnivox.models.talker.piper_text import (
    Boundary,
    Piece,
    align_words,
    piece_phonemes,
    split_pieces,
    word_tokens,
)
from omnivox.models.talker.piper_voice import PiperVoice, load_voice

SAMPLE_RATE = 16_000  # SpeechChunk's rate
SPEED_RANGE = (0.5, 2.0)
NOISE_RANGE = (0.0, 1.5)
PAUSE_MS: dict[Boundary, int] = {"phrase": 60, "clause": 160, "sentence": 180}
"""Silence after a piece's speech, by what ended it. After a sentence the next chunk's
first piece takes its synthesis time on top, so the pause heard there is longer."""
_LEAD_MS = 15  # kept before the first sound of a piece
_TAIL_MS = 30  # kept after the last (the decay), before the pause
_FADE_MS = 5
_FLOOR_DB = -45.0  # below the piece's loudest 10 ms: silence, for trimming
_KNEE = 0.89  # the limiter bends peaks above this (-1 dBFS) towards full scale


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
        """Stream speech for `text`, one piece at a time.

        Close the iterator (aclose, or `contextlib.aclosing`) to stop early: no further
        piece is started, and the one being made is terminated.
        """
        pieces = split_pieces(text)
        pending: tuple[asyncio.Future[SpeechChunk | None], ort.RunOptions] | None = None

        def start(piece: Piece) -> tuple[asyncio.Future[SpeechChunk | None], ort.RunOptions]:
            options = ort.RunOptions()
            job = asyncio.ensure_future(run_blocking(self._render, text, piece, options))
            return job, options

        try:
            if pieces:
                pending = start(pieces[0])
            for i in range(len(pieces)):
                assert pending is not None
                chunk = await pending[0]
                # The next piece is made while this one plays.
                pending = start(pieces[i + 1]) if i + 1 < len(pieces) else None
                if chunk is not None:
                    yield chunk
        finally:
            if pending is not None:
                job, options = pending
                options.terminate = True  # a run in flight stops at its next operator
                job.cancel()  # one not started yet never starts
                if job.done() and not job.cancelled():
                    with contextlib.suppress(Exception):
                        job.result()

    def synthesize_with_words(self, text: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Blocking: the whole utterance as 16 kHz int16 and where its words start, as
        (sample index, character index in ``text``) pairs (tests, benchmarks)."""
        pcm: list[np.ndarray] = []
        starts: list[tuple[int, int]] = []
        offset = 0
        for piece in split_pieces(text):
            chunk = self._render(text, piece, ort.RunOptions())
            if chunk is None:
                continue
            starts += [(offset + sample, char) for sample, char in chunk.word_starts]
            offset += len(chunk.pcm)
            pcm.append(chunk.pcm)
        return (np.concatenate(pcm) if pcm else np.zeros(0, np.int16)), starts

    def _render(self, text: str, piece: Piece, options: ort.RunOptions) -> SpeechChunk | None:
        """Blocking: one piece as a chunk (None if it has nothing to say)."""
        if options.terminate:
            return None
        voice = self._voice
        piece_text = text[piece.start : piece.end]
        words = word_tokens(piece_text)
        clauses, *alone = voice.phonemizer.clauses([piece_text, *(w for _, w in words)])
        phonemes = piece_phonemes(piece_text, clauses, piece.mark)
        if not phonemes.strip(" ,.;:!?"):
            return None
        ids, id_at = voice.ids(phonemes)
        starts = align_words(["".join(ipa for ipa, _ in w) for w in alone], phonemes)
        audio, frames = voice.run(ids, self._scales, options)
        if not len(audio):
            return None
        # Native sample where each id starts: from the durations, else by id count.
        if frames is not None:
            edges = np.concatenate([[0.0], np.cumsum(frames, dtype=np.float64)])
            edges *= len(audio) / edges[-1]
        else:
            edges = np.linspace(0.0, len(audio), len(ids) + 1)
        native = [float(edges[_boundary_id(phonemes, id_at, j, len(ids))]) for j in starts]

        first, last = _speech_span(audio, voice.sample_rate)
        begin = max(0, first - voice.sample_rate * _LEAD_MS // 1000)
        end = min(len(audio), last + voice.sample_rate * _TAIL_MS // 1000)
        body = audio[begin:end] * np.float32(voice.gain)
        _fade(body, voice.sample_rate * _FADE_MS // 1000)
        speech = resample(body, voice.sample_rate, SAMPLE_RATE)
        pcm = np.concatenate(
            [_to_int16(speech), np.zeros(SAMPLE_RATE * PAUSE_MS[piece.boundary] // 1000, np.int16)]
        )
        ratio = SAMPLE_RATE / voice.sample_rate
        word_starts: list[tuple[int, int]] = []
        for (char, _), sample in zip(words, native, strict=True):
            at = min(max(round((sample - begin) * ratio), 0), max(len(speech) - 1, 0))
            if word_starts and at <= word_starts[-1][0]:
                at = word_starts[-1][0] + 1  # strictly increasing, as eSpeak's
            word_starts.append((min(at, len(pcm) - 1), piece.start + char))
        return SpeechChunk(pcm, word_starts)


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


def _speech_span(audio: np.ndarray, rate: int) -> tuple[int, int]:
    """First and last sample of the 10 ms frames within _FLOOR_DB of the loudest."""
    window = max(1, rate // 100)
    frames = len(audio) // window
    if frames == 0:
        return 0, len(audio)
    power = np.mean(audio[: frames * window].reshape(frames, window) ** 2, axis=1)
    loud = np.flatnonzero(power >= power.max() * 10 ** (_FLOOR_DB / 10))
    if not loud.size:
        return 0, len(audio)
    return int(loud[0]) * window, min(len(audio), (int(loud[-1]) + 1) * window)


def _fade(x: np.ndarray, n: int) -> None:
    """Short linear fades in and out, in place (the cuts are in near silence)."""
    n = min(n, len(x) // 2)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]


def _to_int16(x: np.ndarray) -> np.ndarray:
    """float -> int16 through a soft limiter: peaks above _KNEE bend towards full scale
    and never reach it, so loud syllables are not clipped and quiet ones untouched."""
    y = x.astype(np.float32, copy=True)
    over = np.abs(y) > _KNEE
    if over.any():
        room = 1.0 - _KNEE
        y[over] = np.sign(y[over]) * (_KNEE + room * np.tanh((np.abs(y[over]) - _KNEE) / room))
    return np.round(y * 32767.0).astype(np.int16)
