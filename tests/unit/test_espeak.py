"""The eSpeak NG Talker, against the real library from the espeakng-loader wheel."""

from __future__ import annotations

import asyncio
import re
import threading
from contextlib import aclosing

import numpy as np
import pytest

from omnivox.models.talker.base import SpeechChunk
from omnivox.models.talker.espeak import EspeakTalker, list_variants, list_voices

SR = 16_000


async def collect(talker: EspeakTalker, text: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """All audio, and word starts as (sample from the start of the audio, char index)."""
    pcm: list[np.ndarray] = []
    starts: list[tuple[int, int]] = []
    offset = 0
    async for chunk in talker.synthesize(text):
        assert isinstance(chunk, SpeechChunk)
        assert chunk.pcm.dtype == np.int16 and chunk.pcm.ndim == 1
        for sample, char in chunk.word_starts:
            assert 0 <= sample < max(len(chunk.pcm), 1)
            starts.append((offset + sample, char))
        offset += len(chunk.pcm)
        pcm.append(chunk.pcm)
    return (np.concatenate(pcm) if pcm else np.zeros(0, np.int16)), starts


def word_indices(text: str) -> list[int]:
    return [m.start() for m in re.finditer(r"\w+", text)]


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))


async def test_streams_audible_speech_with_a_start_for_every_word() -> None:
    text = "The quick brown fox jumps over the lazy dog."
    pcm, starts = await collect(EspeakTalker(), text)
    assert 1.0 < len(pcm) / SR < 6.0
    assert rms(pcm) > 500
    assert [c for _, c in starts] == word_indices(text)
    samples = [s for s, _ in starts]
    assert samples == sorted(samples) and len(set(samples)) == len(samples)
    # Each word starts where the audio is: the 100 ms after a word start are not silent.
    for s in samples:
        assert rms(pcm[s : s + SR // 10]) > 300


async def test_streamed_audio_matches_the_blocking_path() -> None:
    talker = EspeakTalker()
    text = "Streaming and blocking share one code path."
    streamed, _ = await collect(talker, text)
    whole = talker.synthesize_pcm(text)
    assert whole.dtype == np.int16
    # eSpeak adds noise and carries phase between calls, so equal up to a few samples.
    assert abs(len(whole) - len(streamed)) <= 0.01 * len(whole)


def test_blocking_synthesis_gives_every_word_start_in_order() -> None:
    text = "Cut this sentence here and here."
    pcm, starts = EspeakTalker().synthesize_with_words(text)
    assert [char for _, char in starts] == [0, 4, 9, 18, 23, 27]
    samples = [sample for sample, _ in starts]
    assert samples == sorted(samples) and samples[-1] < len(pcm)


async def test_first_chunk_arrives_before_synthesis_ends() -> None:
    text = " ".join(["This sentence is repeated to make a long utterance."] * 40)
    gen = EspeakTalker().synthesize(text)
    async with aclosing(gen):
        first = await anext(gen)
        assert 0 < len(first.pcm) < SR  # a buffer, not the whole utterance


async def test_non_ascii_text_maps_word_starts_to_python_indices() -> None:
    text = "Café naïve résumé, déjà vu. Ünïcödé 😀 works!"
    _, starts = await collect(EspeakTalker(), text)
    chars = [c for _, c in starts]
    for word in ("Café", "naïve", "résumé", "déjà", "works"):
        assert text.index(word) in chars
    assert chars == sorted(set(chars))
    for c in chars:
        assert not text[c].isspace() and (c == 0 or not text[c - 1].isalnum())


async def test_numbers_and_emoji_do_not_add_mid_token_starts() -> None:
    text = "I have 1234 apples and 5s left."
    _, starts = await collect(EspeakTalker(), text)
    chars = [c for _, c in starts]
    assert chars == word_indices(text)


async def test_markup_in_user_text_is_spoken_not_obeyed() -> None:
    text = 'Say <break time="5s"/> and [[h@\'loU]] &amp; done.'
    pcm, starts = await collect(EspeakTalker(), text)
    chars = [c for _, c in starts]
    # The tag's words are read out (SSML would have swallowed them) ...
    assert text.index("break") in chars and text.index("time") in chars
    assert text.index("amp") in chars
    # ... and no break was obeyed: a 5 s and a 0 s "break" last about the same.
    zero, _ = await collect(EspeakTalker(), text.replace("5s", "0s"))
    assert abs(len(pcm) - len(zero)) / SR < 1.0


async def test_empty_and_whitespace_text_yield_nothing() -> None:
    talker = EspeakTalker()
    for text in ("", "   ", "\n\t "):
        assert [c async for c in talker.synthesize(text)] == []
        assert len(talker.synthesize_pcm(text)) == 0


async def test_odd_characters_do_not_shift_positions() -> None:
    text = "nul\x00here and lone \ud800 surrogate then words."
    _, starts = await collect(EspeakTalker(), text)
    chars = [c for _, c in starts]
    assert text.index("then") in chars and text.index("words") in chars


async def test_long_text_is_spoken_to_the_end() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(150))
    pcm, starts = await collect(EspeakTalker(rate_wpm=450), text)
    assert starts[-1][1] == text.rindex("here")
    assert len(starts) >= len(word_indices(text)) - 5
    assert len(pcm) / SR > 60


async def test_aclose_stops_and_the_next_synthesis_works() -> None:
    talker = EspeakTalker()
    gen = talker.synthesize(" ".join(["A long reply that will be cut short."] * 200))
    await anext(gen)
    await gen.aclose()
    pcm, starts = await collect(talker, "Next one.")
    assert len(pcm) > 0 and [c for _, c in starts] == [0, 5]


async def test_cancelled_consumer_releases_the_engine() -> None:
    talker = EspeakTalker()
    got_one = asyncio.Event()

    async def consume() -> None:
        async with aclosing(talker.synthesize("Talk and talk. " * 300)) as gen:
            async for _ in gen:
                got_one.set()
                await asyncio.sleep(10)  # a slow consumer: playout paced at real time

    task = asyncio.create_task(consume())
    await got_one.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    pcm, _ = await collect(talker, "Still here.")
    assert len(pcm) > 0


async def test_a_consumer_that_stops_reading_does_not_block_others() -> None:
    """The producer runs ahead, so an unread stream never holds the engine."""
    talker = EspeakTalker()
    stalled = talker.synthesize(" ".join(["Nobody reads this part."] * 100))
    await anext(stalled)
    pcm, starts = await collect(EspeakTalker("en-gb"), "Another session speaks.")
    assert len(pcm) > 0 and len(starts) == 3
    await stalled.aclose()


def test_abort_stops_synthesis_early() -> None:
    """The stop flag (set by aclose) aborts eSpeak at its next buffer."""
    talker = EspeakTalker()
    text = " ".join(["Abort me please, this text goes on."] * 100)
    full = len(talker.synthesize_pcm(text))
    stop = threading.Event()
    chunks: list[SpeechChunk] = []

    def emit(chunk: SpeechChunk) -> None:
        chunks.append(chunk)
        if len(chunks) == 3:
            stop.set()

    talker._run(text, emit, stop)
    assert len(chunks) == 3
    assert sum(len(c.pcm) for c in chunks) < full / 20


async def test_concurrent_sessions_each_get_their_own_voice() -> None:
    slow = EspeakTalker("en-us", rate_wpm=150, pitch=30)
    fast = EspeakTalker("en-gb+f3", rate_wpm=330, pitch=80)
    text = "Several sessions speak at the same time with different voices."
    slow_len, fast_len = len(slow.synthesize_pcm(text)), len(fast.synthesize_pcm(text))
    assert fast_len < 0.7 * slow_len
    results = await asyncio.gather(*(collect(t, text) for t in [slow, fast] * 3))
    for i, (pcm, starts) in enumerate(results):
        expected = slow_len if i % 2 == 0 else fast_len
        assert abs(len(pcm) - expected) <= 0.02 * expected
        assert [c for _, c in starts] == word_indices(text)


def test_voice_validation() -> None:
    for voice in ("en-gb", "fr-fr", "de", "en-us+m3", "EN-US"):
        EspeakTalker(voice)
    for voice in ("xx-yy", "", "en-us+nosuchvariant"):
        with pytest.raises(ValueError, match="list_voices"):
            EspeakTalker(voice)
    with pytest.raises(ValueError, match="rate_wpm"):
        EspeakTalker(rate_wpm=10)
    with pytest.raises(ValueError, match="pitch"):
        EspeakTalker(pitch=120)


def test_list_voices_and_variants() -> None:
    voices = list_voices()
    assert {"en-us", "en-gb", "fr-fr", "de"} <= set(voices)
    assert voices == sorted(voices)
    for voice in voices:  # every listed code is accepted as a voice
        EspeakTalker(voice)
    assert {"f3", "m3"} <= set(list_variants())
