"""Audio files at the edge: any format FFmpeg reads arrives as mono int16."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import pytest

from omnivox.kernels.resample import resample
from omnivox.media.audio_files import AudioFileError, decode_audio, read_audio, wav_bytes, write_wav

PCM = np.array([0, 1000, -1000, 32767, -32768], np.int16)


def _write_raw_wav(path: Path, data: bytes, width: int, channels: int, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)


def _encode(path: Path, codec: str, sample_format: str, x: np.ndarray, rate: int) -> None:
    """Write (channels, samples) `x` in a planar `sample_format` (or mono) with FFmpeg's
    `codec`: float WAV, FLAC, ..."""
    layout = "stereo" if len(x) == 2 else "mono"
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(x, format=sample_format, layout=layout)
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_pcm_wavs_of_every_width_and_channel_count(tmp_path: Path) -> None:
    _write_raw_wav(tmp_path / "s16.wav", np.repeat(PCM, 2).tobytes(), 2, 2, 8000)
    got, rate = decode_audio(tmp_path / "s16.wav")
    assert rate == 8000 and got.tolist() == PCM.tolist()  # both channels alike: unchanged
    wide = (PCM.astype(np.int32) << 16).astype("<i4").tobytes()
    _write_raw_wav(tmp_path / "s32.wav", wide, 4, 1, 16000)
    assert decode_audio(tmp_path / "s32.wav")[0].tolist() == PCM.tolist()
    b24 = b"".join(int(v << 8).to_bytes(3, "little", signed=True) for v in PCM.tolist())
    _write_raw_wav(tmp_path / "s24.wav", b24, 3, 1, 16000)
    assert decode_audio(tmp_path / "s24.wav")[0].tolist() == PCM.tolist()
    _write_raw_wav(tmp_path / "u8.wav", bytes([128, 255, 0]), 1, 1, 8000)
    assert decode_audio(tmp_path / "u8.wav")[0].tolist() == [0, 127 << 8, -128 << 8]


def test_float_wav_and_stereo_flac(tmp_path: Path) -> None:
    """What audio editors and Python's soundfile write by default."""
    t = np.arange(44100) / 44100
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    _encode(tmp_path / "f32.wav", "pcm_f32le", "flt", tone[None, :], 44100)
    got, rate = decode_audio(tmp_path / "f32.wav")
    assert rate == 44100 and len(got) == len(tone)
    assert np.abs(got.astype(np.float64) / 32768 - tone).max() < 2 / 32768
    stereo = np.stack([tone, tone])
    _encode(tmp_path / "st.flac", "flac", "s16p", (stereo * 32767).astype(np.int16), 44100)
    pcm = read_audio(tmp_path / "st.flac")
    assert abs(len(pcm) - 16000) <= 1
    assert 0.45 < np.abs(pcm).max() / 32768 < 0.55


def test_read_audio_resamples_with_soxr(tmp_path: Path) -> None:
    x = (np.sin(np.arange(8000) / 5) * 8000).astype(np.int16)
    write_wav(tmp_path / "a.wav", x, sample_rate=8000)
    assert read_audio(tmp_path / "a.wav").tolist() == resample(x, 8000, 16000).tolist()
    assert read_audio(tmp_path / "a.wav", sample_rate=8000).tolist() == x.tolist()


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "bad.wav").write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(AudioFileError, match=r"bad\.wav: not a readable audio file"):
        decode_audio(tmp_path / "bad.wav")
    with pytest.raises(AudioFileError, match=r"missing\.wav: no such file"):
        read_audio(tmp_path / "missing.wav")
    (tmp_path / "empty.wav").write_bytes(wav_bytes(np.zeros(0, np.int16)))
    assert decode_audio(tmp_path / "empty.wav")[0].size == 0
