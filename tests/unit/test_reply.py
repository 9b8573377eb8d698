"""A Reply on the real embedded Thinker and Talker, cancelled in virtual time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

import numpy as np
import pytest

from omnivox.agent.events import Event
from omnivox.agent.reply.reply import Reply, ReplyDeps
from omnivox.media.clock import VirtualClock
from omnivox.models.blocking import SPEECH_AHEAD
from omnivox.models.talker.base import SpeechChunk
from omnivox.models.talker.espeak import EspeakTalker
from omnivox.models.thinker.base import TextDelta
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


class ScriptedTalker:
    """Each text as `pieces` 20 ms pieces; records what it was asked and what it closed."""

    name = "scripted"

    def __init__(self, pieces: int, fail_on: str | None = None) -> None:
        self.pieces = pieces
        self.fail_on = fail_on
        self.started: list[str] = []
        self.closed: list[str] = []
        self.ahead_s: list[float] = []
        """What `SPEECH_AHEAD` said before each piece: when its blocking work was due."""

    async def synthesize(self, text: str) -> AsyncGenerator[SpeechChunk, None]:
        self.started.append(text)
        try:
            if text == self.fail_on:
                raise RuntimeError("voice broke")
            for n in range(self.pieces):
                await asyncio.sleep(0)
                ahead = SPEECH_AHEAD.get()
                self.ahead_s.append(ahead() if ahead is not None else -1.0)
                yield SpeechChunk(np.full(320, n + 1, np.int16), [(0, 0)] if n == 0 else [])
        finally:
            self.closed.append(text)


def scripted_reply(talker: ScriptedTalker, text: str) -> tuple[Reply, list[Event], VirtualClock]:
    events: list[Event] = []
    clock = VirtualClock()
    kb = KnowledgeBaseThinker(None)
    deps = ReplyDeps(thinker=kb, talker=talker, clock=clock, emit=events.append)
    return Reply("r5", deps, [], text=text), events, clock


async def test_the_next_sentence_is_synthesized_while_the_one_before_plays() -> None:
    talker = ScriptedTalker(pieces=20)
    reply, events, clock = scripted_reply(talker, "First one here. Second one here.")
    reply.start()
    played = 0
    while len(talker.started) < 2:
        await asyncio.sleep(0.001)
        if reply.pop_frame() is not None:
            played += 1
    # Asked for before the first sentence is all but played (the queue's last frames).
    assert 20 - played > reply.playout.max_ahead
    await pull_until(reply, 10_000, clock)
    assert reply.finished and reply.playout.played_samples == 40 * 320
    assert [e.data["text"] for e in events if e.type == "reply_text"] == talker.started
    assert reply.playout.heard_text() == "First one here. Second one here."
    # The second sentence's audio follows the first's in order.
    marks = [m for m in reply.playout.marks if m.char == len("First one here. ")]
    assert [m.sample for m in marks] == [20 * 320]


async def test_the_talkers_work_is_due_when_the_audio_made_so_far_has_played() -> None:
    talker = ScriptedTalker(pieces=10)
    reply, _, clock = scripted_reply(talker, "Only one sentence here.")
    reply.start()
    for _ in range(1000):  # nothing played: what is made piles up ahead
        if len(talker.ahead_s) >= 5:
            break
        await asyncio.sleep(0.001)
    assert talker.ahead_s[0] == 0.0  # the first words: due at once
    assert talker.ahead_s[1:4] == [0.02, 0.04, 0.06]
    assert await pull_until(reply, 3, clock) == 3
    await pull_until(reply, 10_000, clock)
    assert len(talker.ahead_s) == 10
    assert talker.ahead_s[-1] < 9 * 0.02  # less what was played meanwhile
    assert SPEECH_AHEAD.get() is None  # set in the Reply's talker task only


async def test_cancel_stops_the_look_ahead_synthesis_too() -> None:
    talker = ScriptedTalker(pieces=20)
    reply, _, _ = scripted_reply(talker, "First one here. Second one here.")
    reply.start()
    while len(talker.started) < 2:
        await asyncio.sleep(0.001)
        reply.pop_frame()
    reply.cancel()
    assert reply.pop_frame() is None
    assert reply.task is not None
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(reply.task, 5)
    assert talker.closed == talker.started  # the second sentence's synthesis was closed
    assert reply.pop_frame() is None and reply.finished


async def test_a_talker_failure_ends_the_reply_with_its_error() -> None:
    talker = ScriptedTalker(pieces=2, fail_on="Second one here.")
    reply, _, clock = scripted_reply(talker, "First one here. Second one here.")
    reply.start()
    await pull_until(reply, 10_000, clock)
    assert reply.task is not None
    with pytest.raises(RuntimeError, match="voice broke"):
        await asyncio.wait_for(reply.task, 5)
    assert reply.playout.played_samples == 2 * 320  # the first sentence was played


class PausingThinker:
    """Says one sentence, then nothing until `go` is set, then one more."""

    name = "pausing"
    takes_images = False
    takes_audio = False

    def __init__(self) -> None:
        self.go = asyncio.Event()

    async def stream(self, request: object) -> AsyncGenerator[TextDelta, None]:
        yield TextDelta("We are open until ten.")
        await self.go.wait()
        yield TextDelta(" See you soon.")


async def test_a_sentence_the_thinker_paused_after_is_spoken_without_the_next_word() -> None:
    events: list[Event] = []
    clock = VirtualClock()
    thinker = PausingThinker()
    talker = ScriptedTalker(pieces=2)
    deps = ReplyDeps(thinker=thinker, talker=talker, clock=clock, emit=events.append)
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    fut.set_result("when do you close")
    reply = Reply("r6", deps, [], transcript=fut)
    reply.start()
    for _ in range(50):
        await asyncio.sleep(0.001)
    # The sentence could go on ("… ten. 30 minutes later"): it waits for the next word.
    assert talker.started == []
    clock.advance(200)  # the Thinker stays quiet past SETTLE_MS
    for _ in range(50):
        await asyncio.sleep(0.001)
    assert talker.started == ["We are open until ten."]
    thinker.go.set()
    await pull_until(reply, 10_000, clock)
    assert reply.finished and talker.started == ["We are open until ten.", "See you soon."]
