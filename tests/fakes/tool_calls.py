"""Calling a registered tool the way the Reply does, and reading its JSON result."""

from __future__ import annotations

import json
from typing import Any

from omnivox.models.thinker.base import ToolCall
from omnivox.models.thinker.tools import ToolRegistry


async def run(registry: ToolRegistry, tool_name: str, **arguments: Any) -> Any:
    return json.loads(await registry.call(ToolCall("call_1", tool_name, arguments)))
