"""Clocks and their alarms: deadlines on the media clock, not on wall time."""

from __future__ import annotations

import asyncio

import pytest

from omnivox.media.clock import MediaClock, VirtualClock, first_or_timeout


async def test_virtual_alarms_ring_in_time_order_when_time_passes() -> None:
    clock = VirtualClock()
    late, early = clock.alarm(300), clock.alarm(100)
    assert clock.alarm(0).done()  # already due
    clock.set(99)
    assert not early.done()
    clock.advance(1)
    assert early.done() and not late.done()
    clock.set(1000)
    assert late.done()
    with pytest.raises(ValueError):
        clock.set(10)


async def test_media_alarms_ring_as_frames_arrive_and_stop_with_them() -> None:
    wall = [0.0]
    clock = MediaClock(monotonic=lambda: wall[0])
    alarm = clock.alarm(100)
    for end_ms in (20, 40, 60, 80):
        clock.on_audio(end_ms)
    wall[0] = 10.0  # ten seconds of no audio: interpolation stops one frame on
    assert clock.now_ms() == pytest.approx(140) and not alarm.done()
    clock.on_audio(100)
    assert alarm.done()


async def test_first_or_timeout_counts_on_the_clock() -> None:
    clock = VirtualClock()
    never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    waiting = asyncio.ensure_future(first_or_timeout(clock, never, 500))
    await asyncio.sleep(0.01)  # wall time passes; the clock does not
    assert not waiting.done()
    clock.advance(500)
    with pytest.raises(TimeoutError):
        await waiting
    assert never.cancelled()

    soon: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    waiting = asyncio.ensure_future(first_or_timeout(clock, soon, 500))
    soon.set_result("first token")
    assert await waiting == "first token"


async def test_first_or_timeout_cancelled_from_outside_ends_the_awaitable_first() -> None:
    async def stream():  # type: ignore[no-untyped-def]
        await asyncio.sleep(10)
        yield "token"

    gen = stream()
    first = asyncio.ensure_future(anext(gen))
    waiting = asyncio.ensure_future(first_or_timeout(VirtualClock(), first, 500))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert first.cancelled()
    await gen.aclose()  # not "asynchronous generator is already running"
