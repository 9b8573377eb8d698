"""The transcription worker on the real pocketsphinx recognizer: order, bounded calls."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from omnivox.agent.speech import transcription
from omnivox.agent.speech.partial_budget import PartialBudget
from omnivox.agent.speech.transcription import MAX_CHUNK_SAMPLES, TranscriptionWorker
from omnivox.media.frames import FRAME_SAMPLES
from omnivox.models.blocking import Priority
from omnivox.models.recognizer.factory import create_recognizer
from omnivox.models.recognizer.pocketsphinx import PocketsphinxRecognizer
from omnivox.models.talker.espeak import EspeakTalker
from tests.fakes.spied_recognizer import SpiedRecognizer


def test_pocketsphinx_loads_a_decoder_with_the_recognizer() -> None:
    # Loading one holds the GIL for ~0.4 s: at start-up, never in a user's first turn.
    assert len(create_recognizer("pocketsphinx").pool) >= 1


@pytest.mark.parametrize("decides", [False, True])
async def test_a_backlog_is_fed_in_bounded_chunks_and_the_final_covers_it(decides: bool) -> None:
    recognizer = SpiedRecognizer(create_recognizer("pocketsphinx"))
    partials: list[str] = []
    errors: list[str] = []
    worker = TranscriptionWorker(recognizer, partials.append, errors.append)
    pcm = EspeakTalker(voice="en-us+m3", rate_wpm=160).synthesize_pcm("go forward ten meters")
    worker.open_stream()
    # The whole utterance queued at once, as when the worker fell behind.
    for i in range(0, len(pcm) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        worker.feed(pcm[i : i + FRAME_SAMPLES])
    final = worker.request_final(decides=decides)
    worker.start()
    text = await final
    await worker.close()
    assert errors == []
    calls = recognizer.calls
    assert max(calls.accept_sizes + calls.catch_up_sizes) <= MAX_CHUNK_SAMPLES
    assert calls.fed == len(pcm) // FRAME_SAMPLES * FRAME_SAMPLES
    # Behind: all but the tail went without partials; the tail too when the final ends
    # the turn (its partial would come after the final's words).
    assert calls.catch_up_sizes and len(calls.accept_sizes) == (0 if decides else 1)
    # At most the tail's partial (news or not: a pooled decoder's normalisation carries
    # over from the utterances it decoded before, so its hypotheses vary from run to run).
    assert len(partials) <= len(calls.accept_sizes)
    assert text  # pocketsphinx on an eSpeak voice: words, if not these


async def test_closing_hands_the_decoder_back_at_once() -> None:
    recognizer = create_recognizer("pocketsphinx")
    worker = TranscriptionWorker(recognizer, lambda _t: None, lambda _e: None)
    worker.start()
    worker.open_stream()
    worker.feed(np.zeros(FRAME_SAMPLES, np.int16))
    await worker.request_final()
    idle = len(recognizer.pool)
    await worker.close()
    assert len(recognizer.pool) == idle + 1  # while `worker` itself is still referenced


async def test_a_started_worker_holds_a_decoder_before_the_user_speaks() -> None:
    real = PocketsphinxRecognizer()  # its own pool: one decoder loaded
    recognizer = SpiedRecognizer(real)
    workers = [TranscriptionWorker(recognizer, lambda _t: None, lambda _e: None) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        assert await worker.request_final() == ""  # answered after the preparation
    assert recognizer.calls.prepared == 2
    assert len(real.pool) == 0  # both leased: the second session's was loaded now
    for worker in workers:
        worker.open_stream()  # a turn: its stream takes the decoder its last one held
        worker.feed(np.zeros(MAX_CHUNK_SAMPLES, np.int16))
        await worker.request_final()
    assert len(real.pool) == 0  # no third one loaded
    for worker in workers:
        await worker.close()
    assert len(real.pool) == 2


async def test_with_the_partials_budget_spent_audio_goes_in_without_partials() -> None:
    recognizer = SpiedRecognizer(create_recognizer("hybrid"))
    spent = PartialBudget(share=0.001, burst_s=0.001)
    spent.spend(0.0, 10.0)  # other sessions' partials took it all
    partials: list[str] = []
    worker = TranscriptionWorker(
        recognizer, partials.append, lambda _e: None, budget=spent, monotonic=lambda: 0.0
    )
    pcm = EspeakTalker(voice="en-us+m3", rate_wpm=160).synthesize_pcm("go forward ten meters")
    worker.start()
    worker.open_stream()
    for i in range(0, len(pcm) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        worker.feed(pcm[i : i + FRAME_SAMPLES])
        await asyncio.sleep(0)
    text = await worker.request_final()
    await worker.close()
    assert recognizer.calls.accept_sizes == [] and recognizer.calls.catch_up_sizes
    assert partials == [] and "forward" in text.lower()


async def test_a_final_that_decides_a_turn_goes_ahead_of_other_finals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pause's final (the turn's end waits on it) runs at the executor's DECISION
    priority, other finals at URGENT."""
    seen: list[Priority] = []
    real = transcription.run_blocking_at

    async def spy(priority: Priority, fn: Any, *args: Any) -> Any:
        if getattr(fn, "__name__", "") == "final":
            seen.append(priority)
        return await real(priority, fn, *args)

    monkeypatch.setattr(transcription, "run_blocking_at", spy)
    worker = TranscriptionWorker(PocketsphinxRecognizer(), lambda _: None, lambda _: None)
    worker.start()
    worker.open_stream()
    await worker.request_final()
    await worker.request_final(decides=True)
    await worker.close()
    assert seen == [Priority.URGENT, Priority.DECISION]
