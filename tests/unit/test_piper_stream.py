"""Shaping a streamed Piper piece: trimming, word positions and continuity across windows."""

from __future__ import annotations

import itertools

import numpy as np

from omnivox.models.talker.piper_stream import SAMPLE_RATE, PieceStream

RATE = 22_050


def tone(seconds: float, level: float = 0.1) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(RATE * seconds), np.float32)


def run(windows: list[np.ndarray], words: list[tuple[float, int]], pause_ms: int = 100):
    stream = PieceStream(RATE, 1.0, words, pause_ms)
    chunks = [stream.push(w, final=i == len(windows) - 1) for i, w in enumerate(windows)]
    got = [c for c in chunks if c is not None]
    starts, offset = [], 0
    for c in got:
        assert all(0 <= s < len(c.pcm) for s, _ in c.word_starts)
        starts += [(offset + s, ch) for s, ch in c.word_starts]
        offset += len(c.pcm)
    return np.concatenate([c.pcm for c in got]), starts


def test_silence_around_the_speech_is_trimmed_and_the_pause_appended() -> None:
    audio = np.concatenate([silence(0.3), tone(1.0), silence(0.4)])
    pcm, _ = run([audio], [])
    # 15 ms lead + 1 s + 30 ms tail (at 10 ms resolution) + the 100 ms pause.
    assert abs(len(pcm) / SAMPLE_RATE - 1.145) < 0.03
    assert np.all(pcm[-SAMPLE_RATE // 10 :] == 0)


def test_windows_give_the_same_audio_as_one_push() -> None:
    audio = np.concatenate([silence(0.2), tone(0.5), silence(0.1), tone(0.6), silence(0.3)])
    whole, _ = run([audio], [])
    cuts = [0, 4000, 4100, 15000, 20000, len(audio)]
    pieces, _ = run([audio[a:b] for a, b in itertools.pairwise(cuts)], [])
    assert len(pieces) == len(whole)
    assert np.max(np.abs(pieces.astype(np.int32) - whole.astype(np.int32))) <= 1


def test_a_pause_inside_the_piece_is_kept_only_the_final_silence_is_dropped() -> None:
    audio = np.concatenate([tone(0.3), silence(0.25), tone(0.3)])
    halves = [audio[: int(RATE * 0.4)], audio[int(RATE * 0.4) :]]
    pcm, _ = run(halves, [], pause_ms=0)
    assert len(pcm) / SAMPLE_RATE > 0.85 - 0.05  # 0.3 + 0.25 + 0.3 (+ lead, tail)


def test_word_positions_follow_the_trim_and_land_in_their_chunks() -> None:
    audio = np.concatenate([silence(0.5), tone(0.4), tone(0.4, 0.2)])
    words = [(RATE * 0.5, 0), (RATE * 0.9, 6)]
    _pcm, starts = run([audio[: int(RATE * 0.7)], audio[int(RATE * 0.7) :]], words)
    lead = SAMPLE_RATE * 15 // 1000
    assert [c for _, c in starts] == [0, 6]
    assert abs(starts[0][0] - lead) <= 160  # within a 10 ms frame of the lead
    assert abs(starts[1][0] - (lead + SAMPLE_RATE * 0.4)) <= 160


def test_a_piece_with_no_sound_gives_nothing() -> None:
    stream = PieceStream(RATE, 1.0, [(0.0, 0)], 100)
    assert stream.push(silence(0.2)) is None
    assert stream.push(silence(0.2), final=True) is None
