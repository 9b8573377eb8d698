"""The Talker role: text in, streaming 16 kHz audio out, with word positions."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class SpeechChunk:
    """A piece of synthesized speech.

    `pcm` is 16 kHz int16 mono. `word_starts` lists (sample index within this chunk,
    character index in the synthesized text) for each word that begins in this chunk, so
    the session can tell which words were actually heard when playback is cut.
    """

    pcm: np.ndarray
    word_starts: list[tuple[int, int]] = field(default_factory=list)


class Talker(Protocol):
    name: str

    def synthesize(self, text: str) -> AsyncGenerator[SpeechChunk, None]:
        """Stream speech for `text`. Closing the iterator early (aclose) stops synthesis."""
        ...
