"""The sound card's start-up measurement, exchanged frame by frame as the device does
(the streams themselves run against a real PulseAudio daemon in
tests/integration/test_kiosk_loopback.py)."""

from __future__ import annotations

import numpy as np

from omnivox.media.frames import FRAME_SAMPLES
from omnivox.media.local_audio.sound_card import _Measurement


async def test_the_chirp_goes_out_frame_by_frame_and_is_found_where_it_came_back() -> None:
    measurement = _Measurement()
    sent: list[np.ndarray] = []
    mic = np.zeros(FRAME_SAMPLES, np.int16)
    while not measurement.done.done():
        # This room answers five frames (100 ms) later, at half the level.
        heard = sent[-5] // 2 if len(sent) >= 5 else np.zeros(FRAME_SAMPLES, np.int16)
        mic = heard.astype(np.int16)
        sent.append(measurement.frame(mic))
    estimate = measurement.done.result()
    assert estimate is not None
    assert estimate.delay_ms == 100.0
    assert abs(estimate.gain_db - -6.0) < 0.5
    assert not np.any(measurement.frame(mic))  # after the chirp: silence
