"""The channel between a speaker and the server, simulated for the turn classifier's
data: level, room, microphone tilt, noise, a G.711 phone leg, and the agent's own voice
echoed under the user's. Training and evaluation both use it, so both hear the same
channel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omnivox.kernels._pcm import FULL_SCALE, as_unit_float64, saturate_int16
from omnivox.kernels.g711 import ulaw_decode, ulaw_encode
from omnivox.kernels.resample import resample
from omnivox.lab.training.turn_data import LEVEL_FRAME, SAMPLE_RATE, pauses, speech_frames


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


def _room(x: np.ndarray, rng: np.random.Generator, rt60: float) -> np.ndarray:
    """Convolve with a synthetic room: exponentially decaying noise, direct path first."""
    n = int(rt60 * SAMPLE_RATE)
    tail = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)  # -60 dB at rt60
    tail[0] = 1.0 / rng.uniform(0.05, 0.3)  # direct-to-reverberant ratio
    wet = np.fft.irfft(np.fft.rfft(x, len(x) + n) * np.fft.rfft(tail, len(x) + n))
    wet = wet[: len(x)]
    return wet * (_rms(x) / max(_rms(wet), 1e-9))


def _tilt(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random smooth spectral tilt and band limit: cheap mics, speakers, handsets."""
    spectrum = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1.0 / SAMPLE_RATE)
    low = rng.uniform(50.0, 300.0)
    high = rng.uniform(3000.0, 7500.0)
    slope = rng.uniform(-6.0, 3.0)  # dB per octave above 1 kHz
    gain = (1.0 / (1.0 + (low / np.maximum(f, 1.0)) ** 4)) / (1.0 + (f / high) ** 6)
    gain *= 10.0 ** (slope * np.log2(np.maximum(f, 1.0) / 1000.0).clip(0.0) / 20.0)
    return np.fft.irfft(spectrum * gain, len(x))


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """White, pink or brown noise, unit RMS, sometimes with mains hum."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE), 20.0)
    spectrum /= f ** (float(rng.choice([0.0, 0.5, 1.0])))
    x = np.fft.irfft(spectrum, n)
    if rng.random() < 0.2:
        hum = rng.choice([50.0, 60.0])
        x += 3 * _rms(x) * np.sin(2 * np.pi * hum * np.arange(n) / SAMPLE_RATE)
    return x / max(_rms(x), 1e-12)


def phone_codec(pcm: np.ndarray) -> np.ndarray:
    """A G.711 µ-law telephone leg: 16 kHz -> 8 kHz -> µ-law -> 8 kHz -> 16 kHz."""
    narrow = resample(pcm, SAMPLE_RATE, 8000)
    back = resample(ulaw_decode(ulaw_encode(narrow)), 8000, SAMPLE_RATE)
    return back[: len(pcm)]


def _to_pcm(x: np.ndarray) -> np.ndarray:
    return saturate_int16(x * FULL_SCALE)


def _speech_rms(x: np.ndarray) -> float:
    speech = speech_frames(_to_pcm(x))
    frames = x[: len(speech) * LEVEL_FRAME].reshape(-1, LEVEL_FRAME)[speech]
    return _rms(frames.ravel()) if len(frames) else _rms(x)


def augment(pcm: np.ndarray, rng: np.random.Generator, phone_prob: float = 0.3) -> np.ndarray:
    """Level, room, microphone, noise and (sometimes) a phone line; int16 in and out."""
    x = as_unit_float64(pcm)
    if rng.random() < 0.3:
        x = _room(x, rng, rng.uniform(0.1, 0.5))
    if rng.random() < 0.5:
        x = _tilt(x, rng)
    level = _speech_rms(x)
    x *= 10.0 ** (rng.uniform(-38.0, -14.0) / 20.0) / max(level, 1e-9)
    if rng.random() < 0.8:
        snr_db = rng.uniform(5.0, 45.0)
        x += _noise(len(x), rng) * _speech_rms(x) * 10.0 ** (-snr_db / 20.0)
    out = _to_pcm(x)
    return phone_codec(out) if rng.random() < phone_prob else out


def extend_floor(pcm: np.ndarray, n: int, background: np.ndarray | None = None) -> np.ndarray:
    """``pcm`` followed by ``n`` samples of the recording's own background: a pause that
    sounds like the rest of it, not digital silence. The background is the 10 ms frames
    of ``background`` (default ``pcm``) that are not speech, tiled; a clip trimmed to its
    speech has none of its own, so pass the whole recording."""
    if n <= 0:
        return pcm
    source = pcm if background is None else background
    quiet = ~speech_frames(source)
    frames = source[: len(quiet) * LEVEL_FRAME].reshape(-1, LEVEL_FRAME)[quiet]
    if len(frames) == 0:
        return np.concatenate([pcm, np.zeros(n, np.int16)])
    floor = frames.reshape(-1)
    return np.concatenate([pcm, np.tile(floor, n // len(floor) + 1)[:n]])


@dataclass(frozen=True, slots=True)
class AgentOverlay:
    audio: np.ndarray  # user audio with the agent's echo under it, int16
    ms_since_agent_pause: float
    start: int
    """The sample of the (looped) reply that plays as the user's audio begins; its echo
    reaches the user's audio `delay` samples later."""
    delay: int


def overlay_agent(user: np.ndarray, agent: np.ndarray, rng: np.random.Generator) -> AgentOverlay:
    """Mix the agent's voice as it reaches the server (the echo of the user's speaker:
    delayed, filtered, reverberant, quieter than the user) under ``user``, starting
    mid-reply. The agent's reply is looped if it is shorter than needed."""
    delay = int(rng.uniform(0.02, 0.25) * SAMPLE_RATE)
    need = len(user) + delay
    start = int(rng.integers(SAMPLE_RATE // 2, max(SAMPLE_RATE // 2 + 1, len(agent) // 2)))
    reply = np.tile(agent, need // max(len(agent), 1) + 2)
    segment = as_unit_float64(reply[start : start + need])
    echo = _tilt(_room(segment, rng, rng.uniform(0.1, 0.6)), rng)[: len(user)]
    x = as_unit_float64(user)
    user_level = _speech_rms(x) if np.any(user) else 10 ** (-30 / 20)
    echo *= user_level * 10.0 ** (rng.uniform(-30.0, -3.0) / 20.0) / max(_rms(echo), 1e-9)
    mixed = np.zeros(len(user))
    mixed[delay:] = echo[: len(user) - delay] if delay < len(user) else 0.0
    gaps = [end for _, end in pauses(reply[: start + 1], 150) if end <= start]
    since = (start - (gaps[-1] if gaps else 0)) * 1000.0 / SAMPLE_RATE
    return AgentOverlay(_to_pcm(x + mixed), since, start, delay)
