"""The intervention chain: hook order, rewrite, block, budgets, failures, tool calls.

Chain-level tests use a VirtualClock, so an overrun is time passing on the session clock
(a hook advances it), not a wall-clock race. Reply-level tests run the real
knowledge-base Thinker and eSpeak Talker.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from omnivox.agent.events import Event
from omnivox.agent.interventions.chain import (
    Blocked,
    InterventionChain,
    Source,
    ThinkContext,
    ToolsIntervention,
)
from omnivox.agent.interventions.safety import SafetyFilter
from omnivox.agent.reply.reply import Reply, ReplyDeps
from omnivox.media.clock import VirtualClock
from omnivox.models.talker.espeak import EspeakTalker
from omnivox.models.thinker.base import Message, ToolCall
from omnivox.models.thinker.knowledge_base import KnowledgeBaseThinker
from omnivox.models.thinker.tools import ToolRegistry, error_result

# 21:05 UTC on 4 March 2025 is 3:05 PM in Chicago (the shipped KB's timezone).
PINNED = datetime(2025, 3, 4, 21, 5, tzinfo=UTC)


class Recorder:
    """Logs every hook it sees into a shared list; passes everything on."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    async def before_think(self, ctx: ThinkContext) -> ThinkContext:
        self.log.append(f"{self.name}.before_think")
        return dataclasses.replace(
            ctx,
            context=(*ctx.context, f"from {self.name}"),
            sources=(*ctx.sources, Source(self.name, f"{self.name}.md", 0.5)),
        )

    async def on_text(self, text: str) -> str:
        self.log.append(f"{self.name}.on_text")
        return text

    async def on_tool_call(self, call: ToolCall) -> str | None:
        self.log.append(f"{self.name}.on_tool_call:{call.name}")
        return None


class Upper:
    name = "upper"

    async def on_text(self, text: str) -> str:
        return text.upper()


class Slow:
    """Takes `ms` of session-clock time, then rewrites."""

    def __init__(self, clock: VirtualClock, ms: float, on_overrun: str = "skip") -> None:
        self.name = "slow"
        self.budget_ms = 50.0
        self.on_overrun = on_overrun
        self._clock, self._ms = clock, ms

    async def on_text(self, text: str) -> str:
        self._clock.advance(self._ms)
        return "slow " + text


class Hangs:
    name = "hangs"
    budget_ms = 50.0

    async def on_text(self, text: str) -> str:
        await asyncio.sleep(3600)
        return text


class HangingTools:
    name = "tools"
    budget_ms = 50.0

    async def on_tool_call(self, call: ToolCall) -> str | None:
        await asyncio.sleep(3600)
        return None


class Stubborn:
    """Ignores its cancellation for a while: the chain must not wait for it."""

    name = "stubborn"
    budget_ms = 50.0

    async def on_text(self, text: str) -> str:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(0.3)
        return text


class Raises:
    name = "raises"

    async def on_text(self, text: str) -> str:
        raise RuntimeError("boom")

    def before_think(self, ctx: ThinkContext) -> ThinkContext:  # fails before any await
        raise KeyError("ctx")


class Veto:
    name = "veto"

    async def on_tool_call(self, call: ToolCall) -> str | None:
        return error_result(f"{call.name} is not allowed here")


@contextlib.asynccontextmanager
async def frames_arriving(clock: VirtualClock) -> AsyncIterator[None]:
    """Media time passes as in a call: 20 ms a frame, here one frame a millisecond."""

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.001)
            clock.advance(20)

    ticker = asyncio.ensure_future(tick())
    try:
        yield
    finally:
        ticker.cancel()


def chain(*items: object, clock: VirtualClock | None = None) -> tuple[InterventionChain, list[str]]:
    reports: list[str] = []
    c = InterventionChain(list(items), clock or VirtualClock(), reports.append)
    return c, reports


# ---- the chain ---------------------------------------------------------------------


async def test_hooks_run_in_chain_order_and_time_is_recorded_per_name() -> None:
    log: list[str] = []
    c, reports = chain(Recorder("a", log), Recorder("b", log))
    spent: dict[str, float] = {}
    ctx = await c.before_think(ThinkContext("r1", (Message("user", "hi"),)), spent)
    assert ctx.context == ("from a", "from b")
    assert [s.title for s in ctx.sources] == ["a", "b"]
    assert await c.on_text("hello", spent) == "hello"
    assert log == ["a.before_think", "b.before_think", "a.on_text", "b.on_text"]
    assert set(spent) == {"a", "b"} and not reports


async def test_a_rewrite_feeds_the_next_intervention_and_a_block_stops_the_chain() -> None:
    log: list[str] = []
    c, _ = chain(
        Upper(), SafetyFilter(blocklist=["HELLO"], blocked_reply="No."), Recorder("after", log)
    )
    assert await c.on_text("hello there", {}) == Blocked("No.", by="safety")
    assert log == []  # nothing after the block ran
    assert await c.on_text("hi 555-123-4567", {}) == "HI a phone number"  # upper, then redacted


async def test_add_inserts_before_a_named_intervention_and_checks_names() -> None:
    c, _ = chain(Upper())
    c.add(Recorder("first", []), before="upper")
    assert c.names == ["first", "upper"]
    with pytest.raises(ValueError, match="already in the chain"):
        c.add(Upper())
    with pytest.raises(ValueError, match="no intervention named 'nope'"):
        c.add(Recorder("x", []), before="nope")
    with pytest.raises(TypeError, match="needs a non-empty `name`"):
        c.add(Source("x", "y", 1.0))
    with pytest.raises(TypeError, match="none of the hooks"):
        c.add(dataclasses.make_dataclass("Named", [("name", str)])("idle"))


async def test_an_overrun_is_reported_and_skipped() -> None:
    clock = VirtualClock()
    c, reports = chain(Slow(clock, 80), clock=clock)
    spent: dict[str, float] = {}
    assert await c.on_text("text", spent) == "text"  # its rewrite is not used
    assert spent == {"slow": 80.0}
    assert reports == ["intervention 'slow' (on_text) took 80 ms, over its 50 ms budget; skipped"]


async def test_on_overrun_wait_uses_the_late_result_and_still_reports() -> None:
    clock = VirtualClock()
    c, reports = chain(Slow(clock, 80, on_overrun="wait"), clock=clock)
    assert await c.on_text("text", {}) == "slow text"
    assert len(reports) == 1 and "used its result anyway" in reports[0]


async def test_within_budget_nothing_is_reported() -> None:
    clock = VirtualClock()
    c, reports = chain(Slow(clock, 20), clock=clock)
    assert await c.on_text("text", {}) == "slow text" and not reports


async def test_raising_hooks_are_skipped_and_reported() -> None:
    c, reports = chain(Raises(), Upper())
    assert await c.on_text("go on", {}) == "GO ON"
    ctx = ThinkContext("r1", (Message("user", "hi"),))
    assert await c.before_think(ctx, {}) == ctx
    assert reports == [
        "intervention 'raises' (on_text) failed (RuntimeError); skipped",
        "intervention 'raises' (before_think) failed (KeyError); skipped",
    ]


async def test_hanging_hooks_are_cut_at_their_budget_on_the_session_clock() -> None:
    clock = VirtualClock()
    c, reports = chain(Hangs(), Stubborn(), Upper(), clock=clock)
    pending = asyncio.ensure_future(c.on_text("go on", {}))
    await asyncio.sleep(0.05)
    assert not pending.done()  # wall time alone does not end a budget
    async with frames_arriving(clock):
        assert await pending == "GO ON"
    assert clock.now_ms() <= 2 * 60 + 40  # each cut within a frame or two of its budget
    assert [r.split(" (")[0] for r in reports] == [
        "intervention 'hangs'",
        "intervention 'stubborn'",
    ]
    assert all("did not finish within 50 ms; skipped" in r for r in reports)


async def test_a_wrong_return_type_is_reported_not_used() -> None:
    class Wrong:
        name = "wrong"

        async def on_text(self, text: str) -> int:
            return 42

    c, reports = chain(Wrong())
    assert await c.on_text("fine", {}) == "fine"
    assert reports == ["intervention 'wrong' (on_text) returned int, not a str or Blocked; skipped"]


async def test_tool_calls_go_to_the_first_intervention_that_answers() -> None:
    registry = ToolRegistry()

    @registry.tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @registry.tool
    def boom() -> int:
        """Always fails."""
        raise RuntimeError("kaput")

    @registry.tool
    def not_json() -> object:
        """Returns something JSON cannot carry."""
        return object()

    log: list[str] = []
    c, _ = chain(Recorder("audit", log), ToolsIntervention([registry]))
    assert [s.name for s in c.tool_specs()] == ["add", "boom", "not_json"]
    spent: dict[str, float] = {}
    assert await c.on_tool_call(ToolCall("1", "add", {"a": 2, "b": 3}), spent) == "5"
    assert log == ["audit.on_tool_call:add"] and set(spent) == {"audit", "tools"}
    for name in ("boom", "not_json", "missing"):
        result = json.loads(await c.on_tool_call(ToolCall("2", name, {}), spent))
        assert set(result) == {"error"}, result
    clock = VirtualClock()
    cut, reports = chain(HangingTools(), clock=clock)
    async with frames_arriving(clock):
        result = await cut.on_tool_call(ToolCall("4", "add", {}), {})
    assert json.loads(result) == {"error": "add failed: no result"}
    assert len(reports) == 1
    vetoed, _ = chain(Veto(), ToolsIntervention([registry]))
    assert (
        "not allowed"
        in json.loads(await vetoed.on_tool_call(ToolCall("3", "add", {}), {}))["error"]
    )


# ---- in a Reply, with the real Thinker and Talker ----------------------------------


async def run_reply(
    question: str, *items: object, thinker: KnowledgeBaseThinker | None = None
) -> tuple[Reply, list[Event]]:
    events: list[Event] = []
    clock = VirtualClock()
    kb = thinker or KnowledgeBaseThinker(None, now=lambda: PINNED)

    def report(message: str) -> None:
        events.append(
            Event("error", clock.now_ms(), {"source": "intervention", "message": message})
        )

    c = InterventionChain([*items, ToolsIntervention([kb.tools])], clock, report)
    deps = ReplyDeps(
        thinker=kb, talker=EspeakTalker(), clock=clock, emit=events.append, interventions=c
    )
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    fut.set_result(question)
    reply = Reply("r1", deps, [], transcript=fut)
    reply.start()
    for _ in range(5000):
        if reply.finished:
            break
        reply.pop_frame()
        clock.advance(20)  # media time passes whether or not the agent speaks
        await asyncio.sleep(0.001)
    assert reply.finished
    return reply, events


def spoken(events: list[Event]) -> list[str]:
    return [e.data["text"] for e in events if e.type == "reply_text"]


async def test_a_tool_result_is_fed_back_to_the_thinker() -> None:
    log: list[str] = []
    reply, events = await run_reply("what time is it", Recorder("audit", log))
    assert spoken(events) == ["It's 3:05 PM right now."]
    assert "audit.on_tool_call:current_time" in log
    (call,) = [e.data for e in events if e.type == "tool_call"]
    assert json.loads(call["result"])["time"] == "3:05 PM"
    assert {"audit", "tools"} <= set(reply.timings.metrics()["interventions"])


async def test_a_vetoed_tool_call_makes_the_thinker_say_it_cannot_check() -> None:
    _, events = await run_reply("what time is it", Veto())
    assert spoken(events) == ["Sorry, I can't check that right now."]


async def test_a_blocked_reply_keeps_what_was_said_and_speaks_the_blocked_line() -> None:
    # The answer: "Lost items are kept at the front desk for thirty days. Give us a call
    # or stop by with a description." The second sentence is blocked.
    safety = SafetyFilter(blocklist=["description"], blocked_reply="Let's move on.")
    reply, events = await run_reply("where is the lost and found", safety)
    assert spoken(events) == [
        "Lost items are kept at the front desk for thirty days.",
        "Let's move on.",
    ]
    assert [e.data["by"] for e in events if e.type == "reply_blocked"] == ["safety"]
    assert reply.playout.heard_text().endswith("Let's move on.")


async def test_a_rewrite_reaches_the_talker() -> None:
    _, events = await run_reply("what time is it", Upper())
    assert spoken(events) == ["IT'S 3:05 PM RIGHT NOW."]


async def test_failing_hooks_become_error_events_and_the_reply_goes_on() -> None:
    reply, events = await run_reply("what time is it", Raises(), Hangs())
    assert spoken(events) == ["It's 3:05 PM right now."]
    errors = [e.data for e in events if e.type == "error"]
    assert {e["source"] for e in errors} == {"intervention"}
    assert any("'raises' (before_think) failed" in e["message"] for e in errors)
    assert any("'hangs' (on_text) did not finish" in e["message"] for e in errors)
    assert {"raises", "hangs"} <= set(reply.timings.metrics()["interventions"])
