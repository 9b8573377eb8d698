"""A Realtime client's own tools, offered to the Thinker beside the server's.

An intervention (agent/interventions/chain.py) of one session: it offers the tools the
client declared in `session.update`, and when the Thinker calls one it hands the call
to the client and waits for the output the client sends back. Server tools come first in
the chain, so a name both define runs on the server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from omnivox.agent.api.realtime.session_config import FunctionTool
from omnivox.models.thinker.base import ToolCall, ToolSpec

CLIENT_TOOL_BUDGET_MS = 120_000.0
"""How long a reply waits for a client's output (and `response.create`) before it goes
on with an error result."""


class ClientTools:
    name = "realtime_client_tools"
    budget_ms = CLIENT_TOOL_BUDGET_MS
    on_overrun = "skip"

    def __init__(self, send_call: Callable[[ToolCall, str], None]) -> None:
        """`send_call(call, arguments_json)`: put the call on the wire."""
        self._send_call = send_call
        self._specs: list[ToolSpec] = []
        self._waiting: dict[str, asyncio.Future[str]] = {}

    def declare(self, tools: list[FunctionTool]) -> None:
        """The client's tools, from the next reply on."""
        self._specs = [ToolSpec(t.name, t.description, t.parameters) for t in tools]

    def tool_specs(self) -> list[ToolSpec]:
        return list(self._specs)

    async def on_tool_call(self, call: ToolCall) -> str | None:
        if not any(spec.name == call.name for spec in self._specs):
            return None
        waiting: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting[call.id] = waiting
        try:
            self._send_call(call, json.dumps(call.arguments, ensure_ascii=False))
            return await waiting
        finally:
            self._waiting.pop(call.id, None)

    def resolve(self, outputs: dict[str, str]) -> None:
        """The client's outputs, by call id: the waiting reply goes on."""
        for call_id, output in outputs.items():
            waiting = self._waiting.get(call_id)
            if waiting is not None and not waiting.done():
                waiting.set_result(output)
