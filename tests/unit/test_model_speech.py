"""An omni model's own voice through the reply stage: ledger, Thinker view and Talker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import numpy as np
import pytest

from omnivox.models.talker.base import SpeechChunk
from omnivox.models.talker.model_speech import (
    ModelSpeechTalker,
    SpeakingThinker,
    SpeechLedger,
)
from omnivox.models.thinker.base import (
    Message,
    SpeechAudio,
    TextDelta,
    ThinkerEvent,
    ThinkRequest,
    ToolCall,
    ToolCallsRequested,
)


class Recorder:
    """A fallback Talker: one chunk of 100 samples of 7s per call."""

    name = "fallback"

    def __init__(self) -> None:
        self.said: list[str] = []

    async def synthesize(self, text: str) -> AsyncGenerator[SpeechChunk, None]:
        self.said.append(text)
        yield SpeechChunk(np.full(100, 7, np.int16), [(0, 0)])


class Scripted:
    """A speaking Thinker that says what it is given."""

    name = "scripted"
    takes_images = takes_audio = False
    speaks = True

    def __init__(self, events: list[ThinkerEvent]) -> None:
        self.events = events

    async def stream(self, request: ThinkRequest) -> AsyncGenerator[ThinkerEvent, None]:
        for event in self.events:
            yield event


async def said(talker: ModelSpeechTalker, text: str) -> tuple[np.ndarray, list[int]]:
    pcm, words, offset = [], [], 0
    async for chunk in talker.synthesize(text):
        words += [offset + s for s, _ in chunk.word_starts]
        offset += len(chunk.pcm)
        pcm.append(chunk.pcm)
    return (np.concatenate(pcm) if pcm else np.zeros(0, np.int16)), words


def ledger_with(text: str, samples: int, ended: bool = True) -> SpeechLedger:
    ledger = SpeechLedger()
    ledger.add_text(text)
    ledger.add_audio(np.arange(samples, dtype=np.int16))
    if ended:
        ledger.end()
    return ledger


async def test_chunks_take_the_model_audio_in_order_and_all_of_it() -> None:
    ledger = ledger_with("Hello there. How can I help?", 28_000)
    talker = ModelSpeechTalker(ledger, Recorder())
    first, words = await said(talker, "Hello there.")
    second, _ = await said(talker, "How can I help?")
    together = np.concatenate([first, second])
    assert np.array_equal(together, np.arange(28_000, dtype=np.int16))
    assert 0 < len(first) < len(second)  # split by the share of the text
    assert len(words) == 2 and words == sorted(words)


async def test_audio_still_arriving_is_played_as_it_comes() -> None:
    ledger = SpeechLedger()
    ledger.add_text("Sure.")
    talker = ModelSpeechTalker(ledger, Recorder())

    async def model() -> None:
        for i in range(4):
            await asyncio.sleep(0.01)
            ledger.add_audio(np.full(1000, i, np.int16))
        ledger.end()

    feeding = asyncio.create_task(model())
    pcm, _ = await said(talker, "Sure.")
    await feeding
    assert len(pcm) == 4000 and pcm[0] == 0 and pcm[-1] == 3


async def test_a_rewritten_sentence_is_spoken_by_the_fallback_and_skipped() -> None:
    ledger = ledger_with("Call 555 0100. Anything else?", 29_000)
    fallback = Recorder()
    talker = ModelSpeechTalker(ledger, fallback)
    replaced, _ = await said(talker, "Call [redacted].")
    rest, _ = await said(talker, "Anything else?")
    assert fallback.said == ["Call [redacted]."] and np.all(replaced == 7)
    assert 0 < len(rest) < 29_000 and rest[-1] == 28_999  # the model's own, after the skip


async def test_text_the_model_did_not_say_goes_to_the_fallback() -> None:
    fallback = Recorder()
    talker = ModelSpeechTalker(SpeechLedger(), fallback)
    ledger = talker._ledger
    ledger.end()
    await said(talker, "Welcome!")
    assert fallback.said == ["Welcome!"]


async def test_the_thinker_view_records_speech_and_passes_on_only_text_and_tools() -> None:
    pcm = (np.sin(np.arange(2400) / 5) * 8000).astype("<i2").tobytes()  # 0.1 s at 24 kHz
    call = ToolCallsRequested([ToolCall("c1", "lookup", {})])
    inner = Scripted([TextDelta("Hi."), SpeechAudio(pcm, 24_000), call])
    ledger = SpeechLedger()
    thinker = SpeakingThinker(inner, ledger)
    request = ThinkRequest([Message("user", "hello")])
    events = [e async for e in thinker.stream(request)]
    assert events == [TextDelta("Hi."), call]
    assert ledger.transcript == "Hi." and abs(ledger.audio_samples - 1600) <= 2
    assert not ledger.ended  # a tool round follows: the same answer goes on
    inner.events = [TextDelta(" Done.")]
    tool_round = ThinkRequest([Message("user", "hello"), Message("tool", "{}", tool_call_id="c1")])
    [e async for e in thinker.stream(tool_round)]
    assert ledger.transcript == "Hi. Done." and ledger.ended
    [e async for e in thinker.stream(request)]  # a new answer starts a fresh ledger
    assert ledger.transcript == " Done."


@pytest.mark.parametrize("text", ["", "   "])
async def test_nothing_to_say_plays_nothing(text: str) -> None:
    ledger = ledger_with("Hello.", 1000)
    pcm, _ = await said(ModelSpeechTalker(ledger, Recorder()), text)
    assert len(pcm) == 0
