"""G.711 payloads <-> 16 kHz frames: sizes, a tone's round trip, loss concealment."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.media.frames import FRAME_SAMPLES
from omnivox.media.rtp.codec import CONCEAL_FRAMES, G711Codec

PAYLOAD_BYTES = 160  # 20 ms at 8 kHz, one byte a sample


def tone(hz: float, frames: int, amplitude: float = 10_000.0) -> np.ndarray:
    t = np.arange(frames * FRAME_SAMPLES) / 16_000
    return np.round(amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def frames_of(pcm: np.ndarray) -> list[np.ndarray]:
    return list(pcm.reshape(-1, FRAME_SAMPLES))


def snr_db(reference: np.ndarray, received: np.ndarray) -> float:
    """SNR of `received` against `reference` at the lag that fits best."""
    x = reference.astype(np.float64)
    y = received.astype(np.float64)
    skip = 800  # past the resamplers' start-up
    best = -np.inf
    for lag in range(0, 200):
        n = len(x) - skip - lag
        err = y[skip + lag : skip + lag + n] - x[skip : skip + n]
        signal = np.sum(x[skip : skip + n] ** 2)
        best = max(best, 10 * np.log10(signal / max(np.sum(err**2), 1e-9)))
    return float(best)


@pytest.mark.parametrize("law", ["PCMU", "PCMA"])
def test_every_payload_is_one_frame_and_back(law: str) -> None:
    encoder, decoder = G711Codec(law), G711Codec(law)
    for frame in frames_of(tone(440, 10)):
        payload = encoder.encode(frame)
        assert isinstance(payload, bytes) and len(payload) == PAYLOAD_BYTES
        pcm = decoder.decode(payload)
        assert pcm.dtype == np.int16 and pcm.shape == (FRAME_SAMPLES,)


@pytest.mark.parametrize(("law", "hz"), [("PCMU", 440), ("PCMA", 440), ("PCMU", 1800)])
def test_tone_round_trip_snr(law: str, hz: float) -> None:
    """G.711 alone gives about 38 dB on a loud tone; the two resamplers cost little."""
    encoder, decoder = G711Codec(law), G711Codec(law)
    sent = tone(hz, 50)
    received = np.concatenate([decoder.decode(encoder.encode(f)) for f in frames_of(sent)])
    assert snr_db(sent, received) > 33.0


def test_names_payload_types_and_silence_codes() -> None:
    assert (G711Codec("pcmu").name, G711Codec("pcmu").payload_type) == ("PCMU", 0)
    assert (G711Codec("PCMA").name, G711Codec("PCMA").payload_type) == ("PCMA", 8)
    silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)
    assert G711Codec("PCMU").encode(silence) == b"\xff" * PAYLOAD_BYTES
    assert G711Codec("PCMA").encode(silence) == b"\xd5" * PAYLOAD_BYTES
    assert not G711Codec("PCMU").decode(b"\xff" * PAYLOAD_BYTES).any()


def test_rejects_other_codecs_and_odd_lengths() -> None:
    with pytest.raises(ValueError):
        G711Codec("G722")
    with pytest.raises(ValueError):
        G711Codec("PCMU").encode(np.zeros(FRAME_SAMPLES - 1, dtype=np.int16))
    with pytest.raises(TypeError):
        G711Codec("PCMU").encode(np.zeros(FRAME_SAMPLES, dtype=np.float32))


def test_other_payload_lengths_keep_the_2_to_1_ratio() -> None:
    decoder = G711Codec("PCMU")
    assert [len(decoder.decode(b"\x80" * n)) for n in (160, 240, 80, 160)] == [320, 480, 160, 320]


def test_concealment_fades_the_last_frame_then_goes_silent() -> None:
    encoder, decoder = G711Codec("PCMU"), G711Codec("PCMU")
    heard = [decoder.decode(encoder.encode(f)) for f in frames_of(tone(300, 10))]
    energy = float(np.mean(heard[-1].astype(np.float64) ** 2))
    concealed = [decoder.conceal() for _ in range(CONCEAL_FRAMES + 2)]
    assert all(c.shape == (FRAME_SAMPLES,) and c.dtype == np.int16 for c in concealed)
    energies = [float(np.mean(c.astype(np.float64) ** 2)) for c in concealed]
    assert 0.4 * energy < energies[0] < energy  # the first loss is barely heard
    assert energies[0] > energies[1] > energies[2]
    assert not concealed[-1].any()  # then silence
    # A real payload after the loss restarts the fade count.
    decoder.decode(encoder.encode(frames_of(tone(300, 1))[0]))
    assert np.mean(decoder.conceal().astype(np.float64) ** 2) > 0.3 * energy


def test_concealment_before_any_audio_is_silence() -> None:
    assert not G711Codec("PCMA").conceal().any()
