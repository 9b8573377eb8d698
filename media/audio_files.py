"""Reading and writing audio files at the edge (simulator, benchmarks, evaluation).

Reading goes through PyAV, so any container/codec/rate FFmpeg knows (WAV of any sample
format, FLAC, MP3, ...) arrives as 16 kHz mono int16, the internal format.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from omnivox.kernels.resample import resample
from omnivox.media.frames import SAMPLE_RATE


class AudioFileError(ValueError):
    """An audio file that cannot be read; the message names the file and the problem."""


def decode_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a whole file to mono int16 at the file's own sample rate."""
    p = Path(path)
    if not p.is_file():
        raise AudioFileError(f"{p}: no such file")
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(p)) as container:
            if not container.streams.audio:
                raise AudioFileError(f"{p}: no audio stream")
            rate = container.streams.audio[0].rate
            if not rate:
                raise AudioFileError(f"{p}: no sample rate")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except AudioFileError:
        raise
    except (av.FFmpegError, ValueError, OSError) as err:
        raise AudioFileError(f"{p}: not a readable audio file ({err})") from None
    if not chunks:
        return np.zeros(0, dtype=np.int16), rate
    return np.concatenate(chunks).astype(np.int16, copy=False), rate


def read_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode a whole file to mono int16 at `sample_rate` (soxr, as at the transports)."""
    pcm, rate = decode_audio(path)
    return resample(pcm, rate, sample_rate)


def write_wav(path: str | Path | BinaryIO, pcm: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write int16 PCM; a 2-D array (samples, channels) gives a multi-channel file."""
    data = np.asarray(pcm, dtype=np.int16)
    channels = 1 if data.ndim == 1 else data.shape[1]
    with wave.open(str(path) if isinstance(path, str | Path) else path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(data.astype("<i2").tobytes())


def wav_bytes(pcm: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A whole WAV file in memory (for Thinkers that take the user's audio)."""
    buf = io.BytesIO()
    write_wav(buf, pcm, sample_rate)
    return buf.getvalue()
