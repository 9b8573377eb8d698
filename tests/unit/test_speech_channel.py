"""The simulated channel: level, room, noise, phone leg, agent echo, background floor."""

from __future__ import annotations

import numpy as np

from omnivox.lab.training.speech_channel import augment, extend_floor, overlay_agent, phone_codec
from tests.fakes.signals import burst, gap, three_words

RNG = np.random.default_rng


def test_augment_and_codec_keep_length_and_stay_audible() -> None:
    pcm = three_words()
    for seed in range(5):
        out = augment(pcm, RNG(seed), phone_prob=0.5)
        assert out.dtype == np.int16 and len(out) == len(pcm) and np.abs(out).max() > 100
    coded = phone_codec(pcm)
    assert len(coded) == len(pcm)
    assert np.corrcoef(coded.astype(float), pcm.astype(float))[0, 1] > 0.9


def test_overlay_agent_puts_quieter_agent_speech_under_the_user() -> None:
    user = np.concatenate([gap(300), burst(800, 200.0)])
    agent = np.concatenate([burst(1500, 120.0), gap(300), burst(3000, 120.0)])
    mixed = overlay_agent(user, agent, RNG(3))
    assert len(mixed.audio) == len(user) and mixed.ms_since_agent_pause >= 0
    assert np.abs(mixed.audio[300 * 16 :]).max() > 0
    assert np.any(mixed.audio[: 300 * 16] != 0)  # echo before the user speaks


def test_the_overlay_says_where_in_the_reply_its_echo_starts() -> None:
    """A click in the reply is heard at `start`, the echo's `delay` (and the room's first
    reflections, which may be louder than the direct sound, up to 80 ms) later."""
    n, click = 4 * 16_000, int(2.5 * 16_000)
    reply = np.zeros(n, np.int16)
    reply[click : click + 160] = 20000
    for seed in range(8):
        overlay = overlay_agent(np.zeros(3 * 16_000, np.int16), reply, RNG(seed))
        loudest = int(np.argmax(np.abs(overlay.audio.astype(np.int32))))
        heard_at = click - overlay.start + overlay.delay
        assert 20 * 16 <= overlay.delay <= 250 * 16
        assert heard_at <= loudest <= heard_at + 80 * 16


def test_extend_floor_continues_the_background_not_the_speech() -> None:
    noisy = (RNG(2).standard_normal(16000) * 100).astype(np.int16)
    noisy[4000:8000] = burst(250)
    longer = extend_floor(noisy, 8000)
    assert len(longer) == 24000
    assert np.abs(longer[16000:]).max() < 1000


def test_extend_floor_of_pure_speech_pads_with_silence() -> None:
    loud = burst(500)
    longer = extend_floor(loud, 1600)
    assert len(longer) == len(loud) + 1600 and not np.any(longer[len(loud) :])
    assert extend_floor(loud, 0) is loud
