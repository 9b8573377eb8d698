"""The Thinker's side of one reply: the context through `before_think`, the Thinker's
stream, and its tool calls run through the intervention chain and fed back, round
after round, until it answers in words.

Apart from the audio pipeline (reply.py) so that the loop reads as one conversation with
the model; it yields only text. The first-token deadline is an alarm on the session's
clock, like every other timing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass

from omnivox.agent.events import Emitter, EventType
from omnivox.agent.interventions.chain import InterventionChain, ThinkContext
from omnivox.media.clock import Clock, first_or_timeout
from omnivox.models.thinker.base import (
    Message,
    TextDelta,
    Thinker,
    ThinkerEvent,
    ThinkRequest,
    ToolCall,
    ToolCallsRequested,
)


@dataclass(frozen=True, slots=True)
class ToolLoopLimits:
    first_token_timeout_s: float = 8.0
    """No first event from the Thinker by then (media clock): the round fails."""
    max_tool_rounds: int = 3


class ToolLoop:
    def __init__(
        self,
        reply_id: str,
        thinker: Thinker,
        chain: InterventionChain,
        clock: Clock,
        emit: Emitter,
        limits: ToolLoopLimits,
        on_first_event: Callable[[], None],
    ) -> None:
        self._reply_id = reply_id
        self._thinker = thinker
        self._chain = chain
        self._clock = clock
        self._emit = emit
        self._limits = limits
        self._on_first_event = on_first_event
        self._heard_from = False

    async def text(
        self,
        messages: list[Message],
        spent_ms: dict[str, float],
        images: list[bytes],
        audio_wav: bytes | None,
    ) -> AsyncGenerator[str, None]:
        """The Thinker's answer to `messages`, as text deltas. Time spent in each
        intervention is added to `spent_ms`."""
        chain, limits = self._chain, self._limits
        ctx = await chain.before_think(ThinkContext(self._reply_id, tuple(messages)), spent_ms)
        if ctx.sources:
            self._emit(EventType.SOURCES, items=[s.to_dict() for s in ctx.sources])
        messages, context = list(ctx.messages), list(ctx.context)
        tools = chain.tool_specs()
        for _round in range(limits.max_tool_rounds + 1):
            request = ThinkRequest(
                messages=messages, tools=tools, context=context, images=images, audio_wav=audio_wav
            )
            calls: list[ToolCall] = []
            async with contextlib.aclosing(self._thinker.stream(request)) as stream:
                async for event in self._first_within(stream):
                    if not self._heard_from:
                        self._heard_from = True
                        self._on_first_event()
                    if isinstance(event, TextDelta):
                        yield event.text
                    elif isinstance(event, ToolCallsRequested):
                        calls = event.calls
            if not calls:
                return
            messages.append(Message("assistant", tool_calls=calls))
            results = await asyncio.gather(*(chain.on_tool_call(c, spent_ms) for c in calls))
            for call, result in zip(calls, results, strict=True):
                self._emit(
                    EventType.TOOL_CALL, name=call.name, arguments=call.arguments, result=result
                )
                messages.append(
                    Message("tool", content=result, tool_call_id=call.id, name=call.name)
                )
        raise RuntimeError(f"tool loop limit ({limits.max_tool_rounds} rounds) reached")

    async def _first_within(
        self, stream: AsyncIterator[ThinkerEvent]
    ) -> AsyncIterator[ThinkerEvent]:
        """Pass the stream through, failing if its first event takes longer than the
        first-token timeout on the clock."""
        timeout_s = self._limits.first_token_timeout_s
        try:
            first = await first_or_timeout(
                self._clock, asyncio.ensure_future(anext(stream)), timeout_s * 1000.0
            )
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise TimeoutError(f"no answer within {timeout_s:g} s") from None
        yield first
        async for event in stream:
            yield event
