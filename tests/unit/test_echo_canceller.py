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


def test_any_reported_playout_delay_is_a_usable_hint() -> None:
    # A browser's jitter buffer on a loaded machine reports a second and more; the module
    # itself raises past 500 ms, which once broke the call's data channel.
    canceller = EchoCanceller()
    for delay_ms in (0.0, 499.6, 500.0, 1500.0, 1e9):
        canceller.set_delay_ms(delay_ms)
    assert len(canceller.process(np.zeros(FRAME_SAMPLES, np.int16))) == FRAME_SAMPLES


def test_noise_suppression_is_switchable() -> None:
    """`echo.noise_suppression`: steady noise (a fan, a street) is damped only when on."""
    noise = (np.random.default_rng(0).standard_normal(3 * SAMPLE_RATE) * 300).astype(np.int16)
    silent = np.zeros_like(noise)
    settled = slice(SAMPLE_RATE, None)
    kept = _run(EchoCanceller(), silent, noise)
    damped = _run(EchoCanceller(noise_suppression=True), silent, noise)
    assert abs(_db(kept[settled]) - _db(noise[settled])) < 2.0
    assert _db(damped[settled]) < _db(noise[settled]) - 6.0
