"""WebRTC's AEC3 through livekit's wheel, on the session's 16 kHz frames."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.lab.simulate import EchoPath
from omnivox.media.echo_canceller import EchoCanceller
from omnivox.media.frames import FRAME_SAMPLES, SAMPLE_RATE
from omnivox.models.talker.espeak import EspeakTalker

AGENT = "Our opening hours are nine to five on weekdays, and ten to four on Saturdays."
USER = "Wait, stop, I meant the price for children."


def _say(text: str, voice: str) -> np.ndarray:
    pcm = EspeakTalker(voice=voice, rate_wpm=170).synthesize_pcm(text)
    return np.concatenate([pcm, np.zeros(-len(pcm) % FRAME_SAMPLES, np.int16)])


def _db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x.astype(np.float64))) + 1e-9))


def _run(canceller: EchoCanceller, far: np.ndarray, mic: np.ndarray) -> np.ndarray:
    """Frame by frame, as a session does: the agent's frame, then the user's."""
    out = []
    for i in range(0, len(mic), FRAME_SAMPLES):
        canceller.reference(far[i : i + FRAME_SAMPLES])
        out.append(canceller.process(mic[i : i + FRAME_SAMPLES]))
    return np.concatenate(out)


def _echo(far: np.ndarray, path: EchoPath) -> np.ndarray:
    wet = np.convolve(far.astype(np.float64), path.impulse_response())[: len(far)]
    return np.clip(np.rint(wet), -32768, 32767).astype(np.int16)


def test_the_agents_echo_is_taken_out() -> None:
    far = _say(AGENT, "en-us")
    mic = _echo(far, EchoPath(gain_db=-6.0, delay_ms=120.0))
    out = _run(EchoCanceller(), far, mic)
    settled = slice(SAMPLE_RATE, None)  # after a second to converge
    assert _db(out[settled]) < _db(mic[settled]) - 20.0


def test_the_users_voice_alone_passes_unchanged_in_level() -> None:
    near = _say(USER, "en-gb+f2")
    out = _run(EchoCanceller(), np.zeros_like(near), near)
    assert abs(_db(out) - _db(near)) < 1.0


def test_frames_of_any_length_and_bad_input() -> None:
    canceller = EchoCanceller()
    canceller.set_delay_ms(80.0)
    canceller.reference(np.zeros(100, np.int16))  # a short last frame is padded
    assert len(canceller.process(np.ones(100, np.int16))) == 100
    with pytest.raises(ValueError, match="dtype int16"):
        canceller.process(np.zeros(320, np.float32))
