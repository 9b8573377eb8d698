"""The bounded playout queue: backpressure, cancellation bound, heard text."""

import asyncio

import numpy as np
import pytest

from omnivox.agent.playout import PlayoutQueue
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
