"""The bounded playout queue: backpressure, cancellation bound, heard text."""

import asyncio

import numpy as np
import pytest

from omnivox.agent.reply.playout import ClientPlayout, PlayoutQueue
from omnivox.media.frames import FRAME_SAMPLES


def tone(samples: int, value: int = 1000) -> np.ndarray:
    return np.full(samples, value, dtype=np.int16)


async def test_producer_is_held_to_max_ahead_frames() -> None:
    q = PlayoutQueue(max_ahead=3)
    task = asyncio.create_task(q.put(tone(10 * FRAME_SAMPLES)))
    await asyncio.sleep(0.01)
    assert len(q) == 3 and not task.done()
    for _ in range(7):
        assert q.pop() is not None
        await asyncio.sleep(0)
    await asyncio.wait_for(task, 1)
    assert len(q) == 3


async def test_partial_frames_are_joined_and_the_tail_padded() -> None:
    q = PlayoutQueue(max_ahead=10)
    await q.put(tone(100))
    assert len(q) == 0
    await q.put(tone(FRAME_SAMPLES))
    assert len(q) == 1
    q.finish()
    assert len(q) == 2
    q.pop()
    last = q.pop()
    assert last is not None and last[99 - 0] == 1000 and last[100] == 0  # 100 samples left over
    assert q.played_samples == 2 * FRAME_SAMPLES


async def test_after_clear_nothing_more_reaches_the_transport() -> None:
    q = PlayoutQueue(max_ahead=3)
    producer = asyncio.create_task(q.put(tone(50 * FRAME_SAMPLES)))
    await asyncio.sleep(0.01)
    assert q.pop() is not None  # the frame in flight at the decision
    dropped = q.clear()
    assert dropped == 2  # the producer had no chance to refill yet
    await asyncio.wait_for(producer, 1)  # a blocked producer is released, not hung
    assert q.pop() is None
    await q.put(tone(5 * FRAME_SAMPLES))  # late audio after the cancel is refused
    q.finish()
    assert q.pop() is None


async def test_heard_text_stops_at_the_last_word_boundary_played() -> None:
    q = PlayoutQueue(max_ahead=100)
    start = q.add_text("Hello there friend.")
    assert start == 0
    for sample, char in [(0, 0), (2 * FRAME_SAMPLES, 6), (4 * FRAME_SAMPLES, 12)]:
        q.mark(sample, char)
    await q.put(tone(6 * FRAME_SAMPLES))
    q.mark(6 * FRAME_SAMPLES, len(q.text))
    assert q.heard_text() == ""
    for _ in range(3):
        q.pop()
    assert q.heard_text() == "Hello"
    for _ in range(3):
        q.pop()
    assert q.heard_text() == "Hello there friend."


def test_max_ahead_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_ahead"):
        PlayoutQueue(max_ahead=0)


async def test_heard_text_by_a_given_position() -> None:
    q = PlayoutQueue(max_ahead=50)
    start = q.add_text("Hello there friend.")
    q.mark(0, start)
    q.mark(3200, start + 5)
    q.mark(6400, start + 11)
    await q.put(np.zeros(9600, np.int16))
    while q.pop() is not None:
        pass
    assert q.heard_text() == "Hello there"
    assert q.heard_text(6399) == "Hello"
    assert q.heard_text(0) == ""


def test_client_playout_median_of_recent_reports() -> None:
    c = ClientPlayout(window=3, max_delay_ms=1000)
    assert c.lag_ms == 0.0  # no reports: what was sent was heard
    for delay in (40, 60, 900):
        c.report(delay)
    assert c.lag_ms == 60  # one spike does not move it
    c.report(-5)  # clock skew on the far end: clamped
    c.report(5000)  # clamped to the bound
    assert c.lag_ms == 900
