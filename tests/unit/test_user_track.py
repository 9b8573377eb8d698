"""The scripted user's track: where its speech lies."""

from __future__ import annotations

import numpy as np

from omnivox.lab.user_track import silence, speech_spans


def test_speech_spans_are_the_parts_that_are_not_silence() -> None:
    said = np.ones(8000, np.int16)
    assert speech_spans([silence(1.0), said, silence(1.0), said]) == [(1.0, 1.5), (2.5, 3.0)]
    assert speech_spans([silence(2.0)]) == []
