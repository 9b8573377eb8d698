"""A Realtime client's tools: offered to the Thinker, run by the client."""

from __future__ import annotations

import asyncio

from omnivox.agent.api.realtime.client_tools import ClientTools
from omnivox.agent.api.realtime.session_config import FunctionTool
from omnivox.models.thinker.base import ToolCall


async def test_a_call_goes_to_the_client_and_waits_for_its_output() -> None:
    sent: list[tuple[ToolCall, str]] = []
    tools = ClientTools(lambda call, arguments: sent.append((call, arguments)))
    tools.declare(
        [FunctionTool(name="save", description="Save it.", parameters={"type": "object"})]
    )
    assert [(s.name, s.description) for s in tools.tool_specs()] == [("save", "Save it.")]
    assert await tools.on_tool_call(ToolCall("c0", "other", {})) is None  # not the client's
    pending = asyncio.ensure_future(tools.on_tool_call(ToolCall("c1", "save", {"f": "wörk"})))
    await asyncio.sleep(0)
    assert [(c.id, a) for c, a in sent] == [("c1", '{"f": "wörk"}')]
    assert not pending.done()
    tools.resolve({"c1": '{"ok": true}', "unknown": "{}"})
    assert await pending == '{"ok": true}'
    tools.declare([])
    assert tools.tool_specs() == []
