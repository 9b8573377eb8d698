"""The call tools a phone session offers the Thinker, on a recorded call in virtual time."""

from __future__ import annotations

import asyncio
import json

from omnivox.agent.call_tools import HANG_UP_GRACE_MS, CallTools
from omnivox.media.call_control import CallControlError
from omnivox.media.clock import VirtualClock
from omnivox.models.thinker.base import ToolCall


class RecordedCall:
    """A `CallControl` that writes down what was asked of it (the SIP side has its own
    tests with real peers)."""

    def __init__(self, targets: dict[str, str] | None = None, refuse: str | None = None) -> None:
        self.transfer_targets = targets or {}
        self.refuse = refuse
        self.log: list[tuple[str, str]] = []

    def hang_up(self) -> None:
        self.log.append(("hang_up", ""))

    async def transfer(self, target: str) -> str:
        self.log.append(("transfer", target))
        if self.refuse is not None:
            raise CallControlError(self.refuse)
        return "accepted"

    def send_dtmf(self, digits: str) -> None:
        if not digits.isdigit():
            raise CallControlError(f"not keys: {digits}")
        self.log.append(("dtmf", digits))


async def call_tool(tools: CallTools, name: str, **arguments: object) -> dict[str, object]:
    result = await tools.registry.call(ToolCall("c1", name, arguments))
    return dict(json.loads(result))


async def test_hang_up_waits_for_the_answer_to_end_then_a_grace() -> None:
    clock, call = VirtualClock(), RecordedCall()
    tools = CallTools(call, clock)
    assert set(tools.registry.names()) == {"hang_up", "send_dtmf"}  # no targets: no transfer
    assert "status" in await call_tool(tools, "hang_up")
    assert call.log == []  # the goodbye is still to be spoken
    clock.set(1000.0)
    tools.reply_ended()
    clock.set(1000.0 + HANG_UP_GRACE_MS - 1)
    await asyncio.sleep(0)
    assert call.log == []
    clock.set(1000.0 + HANG_UP_GRACE_MS)
    await asyncio.sleep(0)
    assert call.log == [("hang_up", "")]
    tools.reply_ended()  # once only
    clock.advance(5000)
    await asyncio.sleep(0)
    assert call.log == [("hang_up", "")]


async def test_a_barge_in_keeps_the_call_and_an_answer_without_the_tool_too() -> None:
    clock, call = VirtualClock(), RecordedCall()
    tools = CallTools(call, clock)
    tools.reply_ended()  # nobody asked to hang up
    await call_tool(tools, "hang_up")
    tools.barged_in()  # "wait, one more thing"
    tools.reply_ended()
    clock.advance(10_000)
    await asyncio.sleep(0)
    assert call.log == []
    await call_tool(tools, "hang_up")
    tools.reply_ended()
    tools.close()  # the session closed first: nothing more to do
    clock.advance(10_000)
    await asyncio.sleep(0)
    assert call.log == []


async def test_send_dtmf_presses_keys_and_reports_what_cannot_be_sent() -> None:
    call = RecordedCall()
    tools = CallTools(call, VirtualClock())
    assert await call_tool(tools, "send_dtmf", digits="12") == {"pressed": "12"}
    assert await call_tool(tools, "send_dtmf", digits="x") == {"error": "not keys: x"}
    assert "error" in await call_tool(tools, "send_dtmf")  # the argument is required
    assert call.log == [("dtmf", "12")]


async def test_transfer_offers_the_configured_targets_by_name_only() -> None:
    targets = {"front desk": "sip:desk@pbx.example", "sales": "sip:sales@pbx.example"}
    call = RecordedCall(targets)
    tools = CallTools(call, VirtualClock())
    spec = next(s for s in tools.registry.specs() if s.name == "transfer")
    to = spec.parameters["properties"]["to"]
    assert to["enum"] == ["front desk", "sales"] and to["default"] == "front desk"
    assert "sales" in to["description"]
    assert await call_tool(tools, "transfer") == {"transfer": "accepted", "to": "front desk"}
    assert await call_tool(tools, "transfer", to="sales") == {"transfer": "accepted", "to": "sales"}
    refused = await call_tool(tools, "transfer", to="sip:premium@evil.example")
    assert "must be one of" in str(refused["error"])
    assert call.log == [("transfer", "sip:desk@pbx.example"), ("transfer", "sip:sales@pbx.example")]
    busy = CallTools(RecordedCall(targets, refuse="busy"), VirtualClock())
    assert await call_tool(busy, "transfer") == {"error": "busy"}
