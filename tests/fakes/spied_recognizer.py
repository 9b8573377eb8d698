"""A real recognizer with its calls written down (not a fake: every answer is real)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from omnivox.models.recognizer.base import Recognizer, RecognizerStream


@dataclass
class RecognizerCalls:
    accept_sizes: list[int] = field(default_factory=list)
    """Samples in each `accept` call, all streams together."""
    catch_up_sizes: list[int] = field(default_factory=list)
    """Samples in each `catch_up` call (audio fed while behind), all streams together."""
    finals: list[tuple[int, str]] = field(default_factory=list)
    """Each `final`: samples its stream had been fed, and its answer."""
    prepared: int = 0
    """`prepare` calls, all streams together."""

    @property
    def fed(self) -> int:
        """Samples fed, with or without partials."""
        return sum(self.accept_sizes) + sum(self.catch_up_sizes)


class SpiedStream:
    def __init__(self, inner: RecognizerStream, calls: RecognizerCalls) -> None:
        self._inner = inner
        self._calls = calls
        self._fed = 0

    def accept(self, pcm: np.ndarray) -> str | None:
        self._calls.accept_sizes.append(len(pcm))
        self._fed += len(pcm)
        return self._inner.accept(pcm)

    def catch_up(self, pcm: np.ndarray) -> None:
        self._calls.catch_up_sizes.append(len(pcm))
        self._fed += len(pcm)
        self._inner.catch_up(pcm)

    def final(self) -> str:
        text = self._inner.final()
        self._calls.finals.append((self._fed, text))
        return text

    def prepare(self) -> None:
        self._calls.prepared += 1
        self._inner.prepare()

    def close(self) -> None:
        self._inner.close()


class SpiedRecognizer:
    name = "spied"

    def __init__(self, real: Recognizer) -> None:
        self._real = real
        self.interim_finals = real.interim_finals
        self.calls = RecognizerCalls()

    def new_stream(self) -> SpiedStream:
        return SpiedStream(self._real.new_stream(), self.calls)
