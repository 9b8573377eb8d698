"""bench latency: its pause measure (on agent audio built by hand) and its cases."""

from __future__ import annotations

import numpy as np

from omnivox.lab.bench.latency import REAL_INTERRUPTIONS, build_cases, longest_pause_ms
from omnivox.media.frames import FRAME_SAMPLES, SAMPLE_RATE


def frames(pattern: str) -> np.ndarray:
    """'x' a sounding 20 ms frame, '.' a silent one."""
    return np.concatenate([np.full(FRAME_SAMPLES, int(c == "x"), np.int16) for c in pattern])


def test_the_longest_silent_run_between_sounds() -> None:
    agent = frames("..xx...x.....xx..")
    assert longest_pause_ms(agent, 0, 340) == 100.0
    assert longest_pause_ms(agent, 0, 160) == 60.0  # the window ends before the last sound
    assert longest_pause_ms(agent, 0, 60) is None  # one sound: no pause between two
    assert longest_pause_ms(agent, 40, 80) == 0.0  # adjacent sounding frames


def test_barge_ins_include_real_speech_never_asked_as_a_question() -> None:
    cases = build_cases(quick=False)
    asked = {c.name.removeprefix("real:") for c in cases if c.name.startswith("real:")}
    real = [c for c in cases if c.name.startswith("barge_in:real:")]
    assert len(real) == REAL_INTERRUPTIONS
    assert not {c.name.removeprefix("barge_in:real:") for c in real} & asked
    for case in (c for c in cases if c.name.startswith("barge_in:")):
        assert case.interruption_onset_ms is not None
        onset = int(case.interruption_onset_ms * SAMPLE_RATE / 1000)
        assert np.abs(case.pcm[onset : onset + 160]).max() > 300  # speech starts at the onset
        assert not case.pcm[onset - 160 : onset].any()  # after the silent gap
