"""A Reply on the real embedded Thinker and Talker, cancelled in virtual time."""

from __future__ import annotations

import asyncio
import contextlib

from omnivox.agent.events import Event
from omnivox.agent.reply.reply import Reply, ReplyDeps
from omnivox.media.clock import VirtualClock
from omnivox.models.talker.espeak import EspeakTalker
from omnivox.models.thinker.knowledge_base import KnowledgeBaseThinker


def deps(events: list[Event], clock: VirtualClock) -> ReplyDeps:
    kb = KnowledgeBaseThinker(None)
    return ReplyDeps(
        thinker=kb, talker=EspeakTalker(), clock=clock, emit=events.append, tools=kb.tools
    )


async def pull_until(reply: Reply, frames: int, clock: VirtualClock) -> int:
    got = 0
    for _ in range(2000):
        if got >= frames or reply.finished:
            break
        if reply.pop_frame() is not None:
            got += 1
            clock.advance(20)
        await asyncio.sleep(0.001)
    return got


async def test_cancel_stops_audio_at_once_and_keeps_the_heard_words() -> None:
    events: list[Event] = []
    clock = VirtualClock()
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    fut.set_result("how do I get there by bus")
    reply = Reply("r1", deps(events, clock), [], transcript=fut)
    reply.start()
    assert await pull_until(reply, 60, clock) == 60  # 1.2 s of the answer
    reply.cancel()
    assert reply.pop_frame() is None  # nothing queued reaches the transport
    assert reply.task is not None
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(reply.task, 5)
    assert reply.task is not None and reply.task.done()
    spoken = " ".join(e.data["text"] for e in events if e.type == "reply_text")
    heard = reply.playout.heard_text()
    assert heard and spoken.startswith(heard) and len(heard) < len(spoken)
    assert reply.playout.played_ms == 1200


async def test_tool_round_trip_then_spoken_answer() -> None:
    events: list[Event] = []
    clock = VirtualClock()
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    fut.set_result("what time is it")
    reply = Reply("r2", deps(events, clock), [], transcript=fut)
    reply.start()
    await pull_until(reply, 10_000, clock)
    assert reply.finished
    assert [e.data["name"] for e in events if e.type == "tool_call"] == ["current_time"]
    assert any(e.type == "reply_text" for e in events)
    assert reply.playout.heard_text() == reply.playout.text.strip()


async def test_empty_transcript_finishes_without_audio() -> None:
    events: list[Event] = []
    clock = VirtualClock()
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    fut.set_result("   ")
    reply = Reply("r3", deps(events, clock), [], transcript=fut)
    reply.start()
    assert await pull_until(reply, 5, clock) == 0
    assert reply.finished and not events


async def test_frames_due_mid_reply_before_the_talker_has_them_are_underruns() -> None:
    events: list[Event] = []
    clock = VirtualClock()
    reply = Reply("r4", deps(events, clock), [], text="Hello there. How can I help you today?")
    reply.start()
    assert reply.pop_frame() is None  # before the first audio: latency, not an underrun
    assert await pull_until(reply, 1, clock) == 1
    # Pulled faster than the Talker can run (it gets no turn of the event loop here).
    missing = sum(reply.pop_frame() is None for _ in range(10))
    assert missing >= 10 - reply.playout.max_ahead
    assert reply.underrun_frames == missing
    await pull_until(reply, 10_000, clock)
    assert reply.finished
    before = reply.underrun_frames
    assert reply.pop_frame() is None  # after the end: silence, not an underrun
    assert reply.underrun_frames == before
