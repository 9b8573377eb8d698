"""Where the words of a known transcript are in a recording: pocketsphinx's forced
alignment (the en-US acoustic model and dictionary inside its wheel).

Turn data cuts real recordings at pauses to make "hold" examples. Which words precede a
pause, and so whether the cut ends a sentence, has to come from the audio: word times
spread over the speech by word length put "Your message is too short." on the wrong
side of its pause often enough to mislabel a finished sentence as a hold.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from omnivox.kernels.mixing import mix

SAMPLE_RATE = 16_000
_FRAME = SAMPLE_RATE // 100  # pocketsphinx: 100 frames a second

_ONES = "zero one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SYMBOLS = {"*": "star", "#": "pound", "&": "and", "%": "percent", "+": "plus"}


@dataclass(frozen=True, slots=True)
class AlignedWord:
    token: int
    """Index of the transcript's whitespace-separated token this word was said for."""
    start: int
    end: int
    """Samples of the recording."""


def _number(digits: str) -> list[str] | None:
    n = int(digits)
    if n < 10:
        return [_ONES[n]]
    if n < 20:
        return [_TEENS.split()[n - 10]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    return None  # years, amounts: said too many ways to guess


def spoken_words(text: str) -> list[tuple[str, int]] | None:
    """Dictionary words for ``text``, each with the index of the token it came from;
    None when a token cannot be spelled out (a number of 100 or more)."""
    out: list[tuple[str, int]] = []
    for i, token in enumerate(text.split()):
        for symbol, word in _SYMBOLS.items():
            token = token.replace(symbol, f" {word} ")
        for part in re.findall(r"[a-z']+|\d+", token.lower()):
            spelled = _number(part) if part.isdigit() else [part.strip("'")]
            if spelled is None:
                return None
            out += [(w, i) for w in spelled if w]
    return out


class WordAligner:
    """Forced alignment of one recording at a time (not thread-safe: one decoder)."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder  # data tooling only; the session never aligns

        self._decoder: Any = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", bestpath=False)

    def align(self, pcm: np.ndarray, text: str) -> list[AlignedWord] | None:
        """Each word of ``text`` with its place in ``pcm`` (16 kHz int16), or None when
        the text has a word the dictionary lacks or the alignment does not cover it."""
        words = spoken_words(text)
        if not words:
            return None
        decoder = self._decoder
        try:
            decoder.set_align_text(" ".join(w for w, _ in words))
        except RuntimeError:  # a word outside the dictionary
            return None
        # Runs of digital silence (synthetic speech, gated audio) make the search fail:
        # a least-significant-bit dither, the same every time, keeps its features finite.
        dither = np.random.default_rng(0).integers(-2, 3, len(pcm))
        audio = mix(pcm, dither.astype(np.int16))
        decoder.start_utt()
        decoder.process_raw(audio.tobytes(), full_utt=True)
        decoder.end_utt()
        found = decoder.seg()  # None when the search found no path through the text
        segments = [s for s in found or () if not s.word.startswith(("<", "["))]
        if len(segments) != len(words):
            return None
        return [
            AlignedWord(token, s.start_frame * _FRAME, (s.end_frame + 1) * _FRAME)
            for (_, token), s in zip(words, segments, strict=True)
        ]


@functools.cache
def shared_aligner() -> WordAligner:
    """The process's aligner (turn data is made on one thread)."""
    return WordAligner()
