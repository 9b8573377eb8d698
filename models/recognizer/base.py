"""The recognizer role (AuT): streaming partials while the user speaks, then a final."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class RecognizerStream(Protocol):
    """One user turn's audio. All methods block; the session calls them on the executor."""

    def accept(self, pcm: np.ndarray) -> str | None:
        """Feed 16 kHz int16 mono PCM. Return the new partial text, or None if unchanged."""
        ...

    def catch_up(self, pcm: np.ndarray) -> None:
        """Feed audio that waited (the session is behind): as `accept`, but the stream
        may skip the work only its partials need. The final still covers this audio."""
        ...

    def final(self) -> str:
        """Best transcript of everything accepted so far. The stream stays usable: more
        audio may be accepted afterwards (the session asks speculatively at a pause)."""
        ...

    def prepare(self) -> None:
        """Take what the stream will need (a pooled decoder, loaded if none is idle)
        now, before its first audio: the session calls this when it connects, so a
        decoder's load never falls in a turn nor in a burst of users talking at once."""
        ...

    def close(self) -> None:
        """Give back what the stream holds (a pooled decoder) now, not at garbage
        collection. Idempotent; the stream is not used afterwards."""
        ...


class Recognizer(Protocol):
    """A loaded model; cheap to open many streams from."""

    name: str
    interim_finals: bool
    """`final()` in mid-speech is cheap and leaves the stream as it was, so the session
    may ask for one while the user talks over the agent."""

    def new_stream(self) -> RecognizerStream: ...
