"""Tools a Thinker may call: `tool_registry` (schemas from Python functions, validated
calls, the application's `registry` and its `@tool` decorator) and `builtins` (time, date
and opening hours). The registry module is not named `registry`: that name here is the
application's ToolRegistry, which a submodule of the same name would shadow."""

from omnivox.models.thinker.tools.builtins import (
    Now,
    OpeningHours,
    add_builtin_tools,
    spoken_date,
    spoken_time,
    utc_now,
    zone,
)
from omnivox.models.thinker.tools.tool_registry import (
    Tool,
    ToolArgumentError,
    ToolRegistry,
    error_result,
    make_tool,
    parse_docstring,
    registry,
    tool,
)

__all__ = [
    "Now",
    "OpeningHours",
    "Tool",
    "ToolArgumentError",
    "ToolRegistry",
    "add_builtin_tools",
    "error_result",
    "make_tool",
    "parse_docstring",
    "registry",
    "spoken_date",
    "spoken_time",
    "tool",
    "utc_now",
    "zone",
]
