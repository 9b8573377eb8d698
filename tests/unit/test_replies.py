"""The session's replies on the real embedded Thinker and a real Talker, in virtual time:
what a far end reports it played revises the history."""

from __future__ import annotations

import asyncio

import numpy as np

from omnivox.agent.events import Emitter, Event
from omnivox.agent.reply.replies import Replies
from omnivox.agent.reply.reply import ReplyDeps
from omnivox.media.clock import VirtualClock
from omnivox.models.talker.espeak import EspeakTalker
from omnivox.models.thinker.knowledge_base import KnowledgeBaseThinker


def replies(events: list[Event], clock: VirtualClock) -> Replies:
    kb = KnowledgeBaseThinker(None)
    deps = ReplyDeps(thinker=kb, talker=EspeakTalker(), clock=clock, emit=events.append)
    return Replies(deps, Emitter(events.append, clock), lambda: None, lambda _heard: None)


async def pull(r: Replies, clock: VirtualClock, frames: int) -> None:
    silence = np.zeros(320, np.int16)
    for _ in range(5000):
        if frames == 0 or (r.current is None and clock.now_ms() > 0):
            return
        frame = r.next_frame(silence, None)
        if frame is not silence:
            frames -= 1
            clock.advance(20)
        await asyncio.sleep(0.001)


async def test_truncate_keeps_what_the_far_end_played() -> None:
    events: list[Event] = []
    clock = VirtualClock()
    r = replies(events, clock)
    transcript: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    transcript.set_result("how do I get there by bus")
    r.start(transcript=transcript)
    await pull(r, clock, 75)  # 1.5 s played
    reply_id = r.current.id if r.current else ""
    r.cancel("barge_in", clock.now_ms(), clock.now_ms())
    (cut,) = [e for e in events if e.type == "reply_cancelled"]
    assert r.history.messages[-1].content == f"{cut.data['heard_text']} …"
    assert r.truncate("r99", 0.0) is None  # not the last reply
    assert r.truncate(reply_id, 0.0) == ""
    assert r.history.messages[-1].content == "…"
    assert r.history.messages[-2].content == "how do I get there by bus"
    heard = r.truncate(reply_id, 1500.0)
    assert heard == cut.data["heard_text"] and heard
    r.forget()
    assert r.truncate(reply_id, 0.0) is None
