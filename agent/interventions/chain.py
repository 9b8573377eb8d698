"""The intervention chain between Thinker and Talker: three hook points, in order.

The seam between Thinker and Talker is text (plus tool calls), so outside systems act
there. An intervention is any object with a `name` and one or more of these hooks:

    async def before_think(self, ctx: ThinkContext) -> ThinkContext | None
        Before the Thinker runs: add passages to `ctx.context` (RAG, memory), rewrite
        `ctx.messages`, list `ctx.sources`. Return a new context (`dataclasses.replace`),
        or None to leave it as it is.
    async def on_text(self, text: str) -> str | Blocked
        Each sentence-sized chunk before the Talker: return it (possibly rewritten; ""
        drops it) or `Blocked(reply)` to stop the answer and say `reply` instead.
    async def on_tool_call(self, call: ToolCall) -> str | None
        A tool call from the Thinker: return the result (a JSON string) to answer it, or
        None to pass it on. The tools intervention runs the call; one placed before it
        can veto a call (answer with an error result) or audit it (return None).

A hook may be a plain function too (it runs inline: measured, but not cut at its
budget). Optional attributes: `tool_specs()` (tools offered to the Thinker),
`budget_ms` (None: each hook's default, DEFAULT_BUDGET_MS) and `on_overrun`.

Every hook runs under its latency budget. Its time is measured on the session clock and
added to the reply's per-intervention total (so it shows in `turn_metrics`). A hook that
raises, hangs or overruns is logged and reported, and the reply goes on without it:
`on_overrun: skip` cuts a hook at its budget and ignores a late result; `wait` accepts a
late result (still reported) and cuts only at WAIT_LIMIT_FACTOR times the budget, so no
hook can stall a reply for ever.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from omnivox.media.clock import Clock
from omnivox.models.thinker.base import Message, ToolCall, ToolSpec
from omnivox.models.thinker.tools import error_result

if TYPE_CHECKING:
    from omnivox.agent.reply.reply import ToolRunner

log = logging.getLogger(__name__)

Hook = Literal["before_think", "on_text", "on_tool_call"]
HOOKS: tuple[Hook, ...] = ("before_think", "on_text", "on_tool_call")
DEFAULT_BUDGET_MS: dict[Hook, float] = {
    "before_think": 300.0,
    "on_text": 50.0,
    "on_tool_call": 5000.0,
}
WAIT_LIMIT_FACTOR = 10.0
"""With `on_overrun: wait`, a hook is still cut at this multiple of its budget."""
OnOverrun = Literal["skip", "wait"]


class Intervention(Protocol):
    """What the chain needs of an intervention; the hooks are optional (module doc)."""

    name: str


@dataclass(frozen=True, slots=True)
class Source:
    """Where a passage in the context came from, for the page's `sources` list."""

    title: str
    path: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "path": self.path, "score": round(self.score, 3)}


@dataclass(frozen=True, slots=True)
class ThinkContext:
    """What the Thinker will be asked: the conversation and the added context."""

    reply_id: str
    messages: tuple[Message, ...]
    """History and the user's turn (last)."""
    context: tuple[str, ...] = ()
    """Passages for ThinkRequest.context."""
    sources: tuple[Source, ...] = ()

    @property
    def user_text(self) -> str:
        """The user's turn: the last user message."""
        for m in reversed(self.messages):
            if m.role == "user":
                return m.content
        return ""


@dataclass(frozen=True, slots=True)
class Blocked:
    """An on_text verdict: stop the answer and speak `reply` instead. The chain fills
    `by` with the blocking intervention's name."""

    reply: str
    by: str = ""


class InterventionChain:
    """An ordered list of interventions, run at each hook point for one session."""

    def __init__(
        self,
        interventions: Iterable[Intervention],
        clock: Clock,
        report: Callable[[str], None],
    ) -> None:
        """`report` receives a user-safe message when a hook overruns, hangs or fails
        (the session emits it as an `error` event with source "intervention")."""
        self._items: list[Intervention] = []
        self._clock = clock
        self._report = report
        for item in interventions:
            self.add(item)

    @property
    def names(self) -> list[str]:
        return [i.name for i in self._items]

    def add(self, intervention: Intervention, *, before: str | None = None) -> None:
        """Append `intervention`, or insert it before the one named `before` (e.g. an
        audit of tool calls goes before "tools", which runs them)."""
        name = getattr(intervention, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{intervention!r}: an intervention needs a non-empty `name`")
        if not any(callable(getattr(intervention, h, None)) for h in HOOKS):
            raise TypeError(f"intervention {name!r} has none of the hooks {', '.join(HOOKS)}")
        if name in self.names:
            raise ValueError(f"an intervention named {name!r} is already in the chain")
        if before is None:
            self._items.append(intervention)
        elif before in self.names:
            self._items.insert(self.names.index(before), intervention)
        else:
            raise ValueError(f"no intervention named {before!r} (chain: {self.names})")

    def tool_specs(self) -> list[ToolSpec]:
        """The tools offered to the Thinker: those of every intervention, first wins."""
        specs: dict[str, ToolSpec] = {}
        for item in self._items:
            offer = getattr(item, "tool_specs", None)
            for spec in offer() if callable(offer) else ():
                specs.setdefault(spec.name, spec)
        return list(specs.values())

    # ---- the hook points -------------------------------------------------------------

    async def before_think(self, ctx: ThinkContext, spent_ms: dict[str, float]) -> ThinkContext:
        for item in self._with("before_think"):
            ok, result = await self._run(item, "before_think", ctx, spent_ms)
            if ok and result is not None:
                if not isinstance(result, ThinkContext):
                    self._reject(item, "before_think", "a ThinkContext or None", result)
                    continue
                ctx = result
        return ctx

    async def on_text(self, text: str, spent_ms: dict[str, float]) -> str | Blocked:
        """Run the chain over one chunk: the text to speak, or Blocked."""
        for item in self._with("on_text"):
            ok, result = await self._run(item, "on_text", text, spent_ms)
            if not ok:
                continue
            if isinstance(result, Blocked):
                return dataclasses.replace(result, by=item.name)
            if not isinstance(result, str):
                self._reject(item, "on_text", "a str or Blocked", result)
                continue
            text = result
        return text

    async def on_tool_call(self, call: ToolCall, spent_ms: dict[str, float]) -> str:
        """The result of one tool call: from the first intervention that answers it."""
        failed = False
        for item in self._with("on_tool_call"):
            ok, result = await self._run(item, "on_tool_call", call, spent_ms)
            failed = failed or not ok
            if ok and result is not None:
                if isinstance(result, str):
                    return result
                self._reject(item, "on_tool_call", "a JSON string or None", result)
                failed = True
        if failed:  # e.g. the tools intervention overran or raised
            return error_result(f"{call.name} failed: no result")
        return error_result(f"tool {call.name!r} is not available")

    # ---- running one hook ------------------------------------------------------------

    def _with(self, hook: Hook) -> list[Any]:
        # Snapshot: the list may change (add) while a reply is between hooks.
        return [i for i in self._items if callable(getattr(i, hook, None))]

    async def _run(
        self, item: Any, hook: Hook, arg: Any, spent_ms: dict[str, float]
    ) -> tuple[bool, Any]:
        """Run one hook under its budget: (True, result), or (False, None) when it was
        skipped (raised, hung, or overran with on_overrun: skip)."""
        budget = getattr(item, "budget_ms", None) or DEFAULT_BUDGET_MS[hook]
        wait = getattr(item, "on_overrun", "skip") == "wait"
        limit_ms = budget * WAIT_LIMIT_FACTOR if wait else budget
        where = f"intervention {item.name!r} ({hook})"
        start = self._clock.now_ms()
        task: asyncio.Future[Any] | None = None
        try:
            outcome = getattr(item, hook)(arg)
            if inspect.isawaitable(outcome):
                task = asyncio.ensure_future(outcome)
                # The budget is on the session's clock. asyncio.wait, not wait_for: a
                # hook that swallows its cancellation must not hold the reply; it is
                # cancelled and left behind.
                alarm = self._clock.alarm(start + limit_ms)
                try:
                    await asyncio.wait({task, alarm}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    alarm.cancel()
        except Exception as err:  # raised before its first await
            return self._failed(where, err)
        finally:
            spent = self._clock.now_ms() - start
            spent_ms[item.name] = spent_ms.get(item.name, 0.0) + spent
            if task is not None and not task.done():
                task.cancel()
                task.add_done_callback(_consume)
        if task is not None:
            if not task.done():
                log.warning("%s did not finish within %g ms; skipped", where, limit_ms)
                self._report(f"{where} did not finish within {limit_ms:g} ms; skipped")
                return False, None
            if task.cancelled() or task.exception() is not None:
                return self._failed(where, task.exception() if not task.cancelled() else None)
            outcome = task.result()
        if spent > budget:
            verdict = "used its result anyway" if wait else "skipped"
            log.warning("%s took %.0f ms, over its %g ms budget; %s", where, spent, budget, verdict)
            self._report(f"{where} took {spent:.0f} ms, over its {budget:g} ms budget; {verdict}")
            if not wait:
                return False, None
        return True, outcome

    def _failed(self, where: str, err: BaseException | None) -> tuple[bool, None]:
        kind = type(err).__name__ if err is not None else "CancelledError"
        log.error("%s failed; skipped", where, exc_info=err)
        self._report(f"{where} failed ({kind}); skipped")
        return False, None

    def _reject(self, item: Any, hook: Hook, expected: str, got: object) -> None:
        where = f"intervention {item.name!r} ({hook})"
        log.error("%s returned %s, not %s; skipped", where, type(got).__name__, expected)
        self._report(f"{where} returned {type(got).__name__}, not {expected}; skipped")


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned hook's outcome, so asyncio does not warn about it."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("abandoned intervention hook ended with %r", task.exception())


class ToolsIntervention:
    """Runs tool calls: the Thinker's own tools and the application's (`@tool`).

    Runners are asked in order; the first that offers a tool runs it, so a name offered
    twice (the KB Thinker includes the module registry too) is run once."""

    budget_ms: float | None = None
    on_overrun: OnOverrun = "skip"

    def __init__(self, runners: Sequence[ToolRunner], *, name: str = "tools") -> None:
        self.name = name
        self._runners = list(runners)

    def tool_specs(self) -> list[ToolSpec]:
        specs: dict[str, ToolSpec] = {}
        for runner in self._runners:
            for spec in runner.specs():
                specs.setdefault(spec.name, spec)
        return list(specs.values())

    async def on_tool_call(self, call: ToolCall) -> str | None:
        for runner in self._runners:
            if any(spec.name == call.name for spec in runner.specs()):
                return await runner.call(call)
        return None
