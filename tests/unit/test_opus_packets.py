"""The agent's Opus packets: timed on one 48 kHz clock, silence not encoded once settled,
and what a real Opus decoder makes of them."""

from __future__ import annotations

import fractions

import av
import numpy as np

from omnivox.media.frames import FRAME_SAMPLES, SAMPLE_RATE
from omnivox.media.resampler import PcmResampler
from omnivox.media.webrtc.opus_packets import OpusPackets

SILENCE = np.zeros(FRAME_SAMPLES, np.int16)


def speech(frames: int, seed: int = 0) -> list[np.ndarray]:
    """Voice-like audio: a 150 Hz buzz with harmonics under a syllable-rate envelope."""
    t = np.arange(frames * FRAME_SAMPLES) / SAMPLE_RATE
    rng = np.random.default_rng(seed)
    buzz = sum(np.sin(2 * np.pi * 150 * k * t + rng.uniform(0, 6)) / k for k in range(1, 12))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    pcm = (6000 * buzz * envelope).astype(np.int16)
    return list(pcm.reshape(frames, FRAME_SAMPLES))


def decode(packets: list[av.Packet]) -> np.ndarray:
    """The packets through libopus's decoder, as WebRTC's receiving end would, at 16 kHz."""
    decoder = av.CodecContext.create("libopus", "r")
    decoder.sample_rate = 48000
    decoder.layout = "mono"
    decoder.format = "s16"
    out = [f.to_ndarray().reshape(-1) for p in packets for f in decoder.decode(p)]
    return PcmResampler(48000, SAMPLE_RATE).process(np.concatenate(out))


def packetize(frames: list[np.ndarray]) -> tuple[OpusPackets, list[av.Packet]]:
    opus = OpusPackets()
    return opus, [opus.packet(pcm, i) for i, pcm in enumerate(frames)]


def test_timestamps_count_48k_ticks_through_speech_silence_and_speech() -> None:
    frames = speech(10) + [SILENCE] * 30 + speech(10, seed=1)
    _, packets = packetize(frames)
    assert [p.pts for p in packets] == [i * 960 for i in range(len(frames))]
    assert {p.time_base for p in packets} == {fractions.Fraction(1, 48000)}


def test_silence_is_encoded_only_until_the_encoder_settles_then_resent() -> None:
    opus, packets = packetize(speech(10) + [SILENCE] * 50)
    settled = bytes(packets[-1])
    resent = [i for i, p in enumerate(packets) if bytes(p) == settled]
    # A few really encoded silent frames let the decoder decay; the rest are the copy.
    assert 10 < resent[0] <= 15 and resent == list(range(resent[0], 60))
    assert opus.encoded == resent[0] + 2  # it settles at its second alike silent packet


def test_the_settled_silence_packet_decodes_to_digital_silence() -> None:
    _, packets = packetize(speech(10) + [SILENCE] * 20)
    assert not decode(packets[-5:]).any()
    assert not decode([packets[-1]] * 5).any()  # on a fresh decoder too


def test_speech_decodes_close_to_what_went_in() -> None:
    frames = speech(50)
    _, packets = packetize(frames)
    heard, said = decode(packets).astype(float), np.concatenate(frames).astype(float)
    # libopus delays by its 6.5 ms lookahead (104 samples at 16 kHz).
    lag = max(range(200), key=lambda k: float(np.dot(heard[k : k + 4000], said[:4000])))
    heard = heard[lag : lag + len(said) - 200]
    said = said[: len(heard)]
    assert np.corrcoef(heard, said)[0, 1] > 0.8  # 0.9: a perceptual codec keeps no phase
    assert 0.8 < np.sqrt(np.mean(heard**2) / np.mean(said**2)) < 1.25


def test_speech_after_silence_decodes_as_if_every_frame_were_encoded() -> None:
    """No click: the silence is encoded until both ends' states have decayed, so skipping
    the encoder from then on changes next to nothing."""
    frames = speech(20) + [SILENCE] * 40 + speech(20, seed=1)
    _, packets = packetize(frames)
    reference = OpusPackets()  # its encoder, given every frame
    encoded_all = [av.Packet(reference._encode(pcm)) for pcm in frames]
    ours, theirs = decode(packets).astype(float), decode(encoded_all).astype(float)
    # 34 dB here; the settled packet sent from the first silent frame on makes it 12 dB.
    assert 10 * np.log10(np.sum(theirs**2) / np.sum((ours - theirs) ** 2)) > 25
