"""A scripted user's microphone track: spoken lines, silences, and a WAV of them.

The user speaks in an eSpeak NG voice unlike the agent's, so what the agent hears is
never its own voice. The WAV feeds `omnivox simulate` or Chromium's fake microphone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from omnivox.media.audio_files import write_wav
from omnivox.media.frames import SAMPLE_RATE
from omnivox.models.talker.espeak import EspeakTalker


def speech(text: str, voice: str = "en-us+m3", rate_wpm: int = 160) -> np.ndarray:
    """A spoken user utterance, 16 kHz int16."""
    return EspeakTalker(voice=voice, rate_wpm=rate_wpm).synthesize_pcm(text)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(SAMPLE_RATE * seconds), dtype=np.int16)


def speech_spans(parts: list[np.ndarray]) -> list[tuple[float, float]]:
    """Where the user speaks in a track built of `parts` (silences are all zeros): (start,
    end) in seconds from the track's start."""
    spans, t = [], 0.0
    for part in parts:
        length = len(part) / SAMPLE_RATE
        if np.any(part):
            spans.append((t, t + length))
        t += length
    return spans


def write_user_wav(path: Path, *parts: np.ndarray) -> Path:
    """`parts` one after the other, written to `path` (16 kHz mono WAV)."""
    write_wav(path, np.concatenate(parts))
    return path
