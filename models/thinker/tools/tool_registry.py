"""Tools a Thinker may call: a registry that derives JSON schemas from Python functions.

    @tool
    def book_class(name: str, day: Literal["mon", "tue"], spots: int = 1) -> dict:
        '''Book places in a class.

        Args:
            name: The class name, e.g. "yoga".
            day: The day of the class.
        '''

The schema comes from the type hints (str, int, float, bool, Literal, Enum, Optional,
list[...]) and the docstring (first paragraph: description; `Args:`: parameters).
`call()` validates the arguments against it and always returns a JSON string: a tool's
result, or `{"error": "..."}` when the tool is unknown, the arguments are wrong, the tool
raises or times out, or its result is not JSON. A Thinker can speak about an error
result; an exception escaping into the Reply could only end the answer.

Async tools are awaited. Sync tools run inline on the event loop, which is right for
cheap ones (a clock read, a dict lookup); register a sync tool that does I/O or heavy
work with `blocking=True` so it runs through `run_blocking`.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import json
import logging
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from omnivox.models.blocking import run_blocking
from omnivox.models.thinker.base import ToolCall, ToolSpec

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class ToolArgumentError(ValueError):
    """Arguments that do not match a tool's schema."""


Decode = Callable[[Any], Any]


def _schema_for(tp: Any, where: str) -> tuple[dict[str, Any], Decode]:
    """JSON schema of a type hint, and how to turn a validated JSON value into it."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is bool:
        return {"type": "boolean"}, bool
    if tp is int:
        return {"type": "integer"}, int
    if tp is float:
        return {"type": "number"}, float
    if tp is str:
        return {"type": "string"}, str
    if origin is Literal:
        kinds = {_json_type(a, where) for a in args}
        schema: dict[str, Any] = {"enum": list(args)}
        if len(kinds) == 1:
            schema["type"] = kinds.pop()
        return schema, _identity
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [m.value for m in tp]
        kinds = {_json_type(v, where) for v in values}
        schema = {"enum": values, **({"type": kinds.pop()} if len(kinds) == 1 else {})}
        return schema, tp
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1 or len(args) != 2:
            raise TypeError(f"{where}: only Optional[X] unions are supported, not {tp}")
        schema, decode = _schema_for(inner[0], where)
        return {"anyOf": [schema, {"type": "null"}]}, lambda v: None if v is None else decode(v)
    if origin is list and len(args) == 1:
        schema, decode = _schema_for(args[0], where)
        return {"type": "array", "items": schema}, lambda v: [decode(x) for x in v]
    raise TypeError(
        f"{where}: unsupported type {tp!r} (use str, int, float, bool, Literal, "
        "an Enum, Optional[...] or list[...])"
    )


def _json_type(value: Any, where: str) -> str:
    for py, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")):
        if isinstance(value, py):
            return name
    raise TypeError(f"{where}: choice {value!r} is not a JSON scalar")


def _identity(value: Any) -> Any:
    return value


def _validate(value: Any, schema: dict[str, Any], where: str) -> None:
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                return _validate(value, option, where)
            except ToolArgumentError as err:
                errors.append(str(err))
        raise ToolArgumentError(errors[0])
    kind = schema.get("type")
    checks: dict[str, Callable[[Any], bool]] = {
        "null": lambda v: v is None,
        "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "string": lambda v: isinstance(v, str),
        "array": lambda v: isinstance(v, list),
    }
    if kind is not None and not checks[kind](value):
        raise ToolArgumentError(f"{where} must be {_a(kind)}, got {_describe(value)}")
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(json.dumps(c) for c in schema["enum"])
        raise ToolArgumentError(f"{where} must be one of {choices}, got {json.dumps(value)}")
    if kind == "array":
        for i, item in enumerate(value):
            _validate(item, schema["items"], f"{where}[{i}]")


def _a(kind: str) -> str:
    return {"integer": "an integer", "array": "a list", "null": "null"}.get(kind, f"a {kind}")


def _describe(value: Any) -> str:
    names = {
        type(None): "null",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }
    return names.get(type(value), type(value).__name__)


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(description, {parameter: description}) from a Google-style docstring."""
    text = inspect.cleandoc(doc or "")
    description = " ".join(text.split("\n\n")[0].split()) if text else ""
    if description.startswith(("Args:", "Arguments:")):
        description = ""
    params: dict[str, str] = {}
    lines = (doc or "").expandtabs().splitlines()
    for i, line in enumerate(lines):
        if not re.fullmatch(r"\s*(Args|Arguments):\s*", line):
            continue
        head, first, current = _indent(line), None, ""
        for body in lines[i + 1 :]:
            if not body.strip():
                continue
            if _indent(body) <= head:
                break  # the next section
            first = first or _indent(body)
            m = re.match(r"(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$", body.strip())
            if m and _indent(body) == first:
                current, params[m[1]] = m[1], m[2].strip()
            elif current:
                params[current] = f"{params[current]} {body.strip()}".strip()
        break
    return description, params


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any]
    decoders: dict[str, Decode]
    blocking: bool
    timeout_s: float

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)

    def bind(self, arguments: Any) -> dict[str, Any]:
        """Validated keyword arguments for `fn`; ToolArgumentError names what is wrong."""
        if not isinstance(arguments, dict):
            raise ToolArgumentError(f"arguments must be an object, got {_describe(arguments)}")
        props: dict[str, Any] = self.parameters["properties"]
        unexpected = sorted(set(arguments) - set(props))
        if unexpected:
            expected = ", ".join(props) or "none"
            raise ToolArgumentError(f"unexpected argument {unexpected[0]!r} (expected: {expected})")
        for name in self.parameters["required"]:
            if name not in arguments:
                raise ToolArgumentError(f"missing required argument {name!r}")
        for name, value in arguments.items():
            _validate(value, props[name], repr(name))
        return {name: self.decoders[name](value) for name, value in arguments.items()}


def make_tool(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    blocking: bool = False,
    timeout_s: float = 10.0,
) -> Tool:
    """Describe `fn` as a Tool; TypeError names anything that cannot become a schema."""
    tool_name = name or fn.__name__
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", tool_name):
        raise TypeError(f"tool name {tool_name!r}: use letters, digits and underscores")
    if blocking and inspect.iscoroutinefunction(fn):
        raise TypeError(f"tool {tool_name}: blocking=True is for sync functions only")
    try:
        hints = typing.get_type_hints(fn)
    except NameError as err:
        raise TypeError(f"tool {tool_name}: cannot resolve its type hints ({err})") from None
    description, arg_docs = parse_docstring(fn.__doc__)
    props: dict[str, Any] = {}
    required: list[str] = []
    decoders: dict[str, Decode] = {}
    for p in inspect.signature(fn).parameters.values():
        where = f"tool {tool_name}, parameter {p.name!r}"
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise TypeError(f"{where}: *args, **kwargs and positional-only are not supported")
        if p.name not in hints:
            raise TypeError(f"{where}: needs a type hint")
        schema, decoders[p.name] = _schema_for(hints[p.name], where)
        if p.name in arg_docs:
            schema = {**schema, "description": arg_docs[p.name]}
        if p.default is inspect.Parameter.empty:
            required.append(p.name)
        elif isinstance(p.default, enum.Enum):
            schema = {**schema, "default": p.default.value}
        elif p.default is None or isinstance(p.default, str | int | float | bool):
            schema = {**schema, "default": p.default}
        props[p.name] = schema
    parameters = {
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }
    return Tool(tool_name, description, parameters, fn, decoders, blocking, timeout_s)


def error_result(message: str) -> str:
    return json.dumps({"error": message}, ensure_ascii=False)


class ToolRegistry:
    """Named tools: their specs for the Thinker, and `call` for the Reply."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def tool(
        self,
        fn: F | None = None,
        *,
        name: str | None = None,
        blocking: bool = False,
        timeout_s: float = 10.0,
    ) -> Any:
        """Decorator, bare (`@registry.tool`) or with options (`@registry.tool(blocking=True)`).
        Returns the function unchanged."""

        def register(f: F) -> F:
            self.add(make_tool(f, name=name, blocking=blocking, timeout_s=timeout_s))
            return f

        return register(fn) if fn is not None else register

    def add(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    def include(self, other: ToolRegistry) -> None:
        """Add every tool of `other` (e.g. the module-level registry's user tools)."""
        for t in other._tools.values():
            self.add(t)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self) -> list[ToolSpec]:
        return [t.spec for t in self._tools.values()]

    async def call(self, call: ToolCall) -> str:
        """Run one call; always a JSON string, `{"error": ...}` when anything goes wrong."""
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(self._tools) or "none"
            return error_result(f"unknown tool {call.name!r} (available: {known})")
        try:
            kwargs = tool.bind(call.arguments)
        except ToolArgumentError as err:
            return error_result(f"invalid arguments for {tool.name}: {err}")
        try:
            async with asyncio.timeout(tool.timeout_s) as deadline:
                if inspect.iscoroutinefunction(tool.fn):
                    result = await tool.fn(**kwargs)
                elif tool.blocking:
                    result = await run_blocking(tool.fn, **kwargs)
                else:
                    result = tool.fn(**kwargs)
        except TimeoutError:
            if deadline.expired():
                return error_result(f"{tool.name} took longer than {tool.timeout_s:g} s")
            log.warning("tool %s raised TimeoutError", tool.name, exc_info=True)
            return error_result(f"{tool.name} failed: timed out")
        except Exception as err:
            log.warning("tool %s failed", tool.name, exc_info=True)
            return error_result(f"{tool.name} failed: {type(err).__name__}: {err}")
        try:
            return json.dumps(result, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as err:
            return error_result(f"{tool.name} returned a result that is not JSON: {err}")


registry = ToolRegistry()
"""The module-level registry for application tools; the KB Thinker includes them."""
tool = registry.tool
