"""Tool registry: schemas from hints and docstrings, validated calls, error results."""

import asyncio
import enum
import json
import threading
from datetime import date
from typing import Any, Literal

import pytest

from omnivox.models.thinker import tools as tools_module
from omnivox.models.thinker.base import ToolCall
from omnivox.models.thinker.tools.tool_registry import ToolRegistry, make_tool, parse_docstring
from tests.fakes.tool_calls import run


class Level(enum.Enum):
    EASY = "easy"
    HARD = "hard"


def book_class(
    name: str,
    day: Literal["mon", "tue"],
    spots: int = 1,
    level: Level = Level.EASY,
    price: float | None = None,
    tags: list[str] | None = None,
    waitlist: bool = False,
) -> dict[str, Any]:
    """Book places in a class.

    Checks availability first.

    Args:
        name (str): The class name,
            e.g. "yoga".
        day: The day of the class.
        spots: How many places.

    Returns:
        The booking.
    """
    return {
        "name": name,
        "day": day,
        "spots": spots,
        "level": level.value,
        "price": price,
        "tags": tags,
        "waitlist": waitlist,
    }


@pytest.fixture
def registry() -> ToolRegistry:
    r = ToolRegistry()
    r.tool(book_class)
    return r


def test_schema_from_type_hints_and_docstring(registry: ToolRegistry) -> None:
    (spec,) = registry.specs()
    assert spec.name == "book_class"
    assert spec.description == "Book places in a class."
    assert spec.parameters == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": 'The class name, e.g. "yoga".'},
            "day": {
                "enum": ["mon", "tue"],
                "type": "string",
                "description": "The day of the class.",
            },
            "spots": {"type": "integer", "description": "How many places.", "default": 1},
            "level": {"enum": ["easy", "hard"], "type": "string", "default": "easy"},
            "price": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None},
            "tags": {
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                "default": None,
            },
            "waitlist": {"type": "boolean", "default": False},
        },
        "required": ["name", "day"],
        "additionalProperties": False,
    }


def test_docstring_parsing_edge_cases() -> None:
    assert parse_docstring(None) == ("", {})
    assert parse_docstring("Args:\n    x: an x.\n") == ("", {"x": "an x."})
    desc, params = parse_docstring("""Do it
        over two lines.

        Arguments:
            a: first
            b (int): second,
                continued
        """)
    assert desc == "Do it over two lines."
    assert params == {"a": "first", "b": "second, continued"}


async def test_valid_call_decodes_arguments(registry: ToolRegistry) -> None:
    result = await run(
        registry, "book_class", name="yoga", day="tue", level="hard", price=12, tags=["am"]
    )
    assert result == {
        "name": "yoga",
        "day": "tue",
        "spots": 1,
        "level": "hard",
        "price": 12.0,
        "tags": ["am"],
        "waitlist": False,
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"day": "mon"}, "missing required argument 'name'"),
        ({"name": "yoga", "day": "mon", "colour": "red"}, "unexpected argument 'colour'"),
        ({"name": 5, "day": "mon"}, "'name' must be a string, got an integer"),
        ({"name": "yoga", "day": "wed"}, '\'day\' must be one of "mon", "tue", got "wed"'),
        (
            {"name": "yoga", "day": "mon", "spots": True},
            "'spots' must be an integer, got a boolean",
        ),
        ({"name": "yoga", "day": "mon", "spots": 1.5}, "'spots' must be an integer, got a number"),
        ({"name": "yoga", "day": "mon", "level": "medium"}, "'level' must be one of"),
        ({"name": "yoga", "day": "mon", "tags": ["a", 3]}, "'tags'[1] must be a string"),
        ({"name": "yoga", "day": "mon", "price": "free"}, "'price' must be a number, got a string"),
    ],
)
async def test_invalid_arguments_give_an_error_result(
    registry: ToolRegistry, arguments: dict[str, Any], message: str
) -> None:
    result = await run(registry, "book_class", **arguments)
    assert set(result) == {"error"}
    assert result["error"].startswith("invalid arguments for book_class: ")
    assert message in result["error"]


async def test_arguments_must_be_an_object(registry: ToolRegistry) -> None:
    raw = await registry.call(ToolCall("c", "book_class", ["yoga"]))
    assert "arguments must be an object, got a list" in json.loads(raw)["error"]


async def test_unknown_tool(registry: ToolRegistry) -> None:
    result = await run(registry, "teleport")
    assert result["error"] == "unknown tool 'teleport' (available: book_class)"


async def test_a_raising_tool_gives_an_error_result() -> None:
    r = ToolRegistry()

    @r.tool
    def explode() -> str:
        """Always fails."""
        raise RuntimeError("the booking system is down")

    assert await run(r, "explode") == {
        "error": "explode failed: RuntimeError: the booking system is down"
    }


@pytest.mark.parametrize("value", [{1, 2}, float("nan"), object(), {"when": date(2025, 1, 1)}])
async def test_a_result_that_is_not_json_gives_an_error_result(value: object) -> None:
    r = ToolRegistry()
    r.add(make_tool(lambda: value, name="odd"))
    result = await run(r, "odd")
    assert result["error"].startswith("odd returned a result that is not JSON")


async def test_async_tools_are_awaited_and_timed_out() -> None:
    r = ToolRegistry()

    @r.tool(timeout_s=0.05)
    async def slow(seconds: float) -> str:
        """Sleeps."""
        await asyncio.sleep(seconds)
        return "done"

    assert await run(r, "slow", seconds=0) == "done"
    assert await run(r, "slow", seconds=30) == {"error": "slow took longer than 0.05 s"}


async def test_blocking_sync_tools_run_on_the_shared_executor() -> None:
    r = ToolRegistry()

    @r.tool(blocking=True)
    def where() -> str:
        """Which thread runs me."""
        return threading.current_thread().name

    @r.tool
    def inline() -> str:
        """Which thread runs me."""
        return threading.current_thread().name

    assert (await run(r, "where")).startswith("omnivox-blocking")
    assert await run(r, "inline") == threading.current_thread().name


def test_decorator_returns_the_function_and_rejects_duplicates() -> None:
    r = ToolRegistry()
    assert r.tool(book_class) is book_class
    assert "book_class" in r
    with pytest.raises(ValueError, match="already registered"):
        r.tool(book_class)
    assert tools_module.tool == tools_module.registry.tool  # the module-level decorator


def no_hint(x) -> None:
    """No hint."""


def takes_dict(x: dict[str, int]) -> None:
    """A dict."""


def star_args(*xs: int) -> None:
    """Varargs."""


def wide_union(x: int | str) -> None:
    """Union."""


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (no_hint, "parameter 'x': needs a type hint"),
        (takes_dict, "parameter 'x': unsupported type"),
        (star_args, "parameter 'xs': \\*args"),
        (wide_union, "only Optional\\[X\\] unions"),
    ],
)
def test_functions_that_cannot_become_schemas_are_refused(fn: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        make_tool(fn)


def test_bad_tool_names_and_options_are_refused() -> None:
    with pytest.raises(TypeError, match="tool name"):
        make_tool(book_class, name="book class")

    async def a() -> None:
        """Async."""

    with pytest.raises(TypeError, match="blocking=True is for sync"):
        make_tool(a, blocking=True)
