"""Tool registry: schemas from hints and docstrings, validated calls, error results."""

import asyncio
import enum
import json
import threading
from datetime import UTC, date, datetime
from typing import Any, Literal

import pytest

from omnivox.models.thinker import tools as tools_module
from omnivox.models.thinker.base import ToolCall
from omnivox.models.thinker.tools import (
    OpeningHours,
    ToolRegistry,
    add_builtin_tools,
    make_tool,
    parse_docstring,
    spoken_date,
    spoken_time,
)


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


async def run(registry: ToolRegistry, tool_name: str, **arguments: Any) -> Any:
    return json.loads(await registry.call(ToolCall("call_1", tool_name, arguments)))


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


# ---- built-ins ----------------------------------------------------------------------

HOURS = OpeningHours.parse(
    {
        "weekly": {"mon-fri": "06:00-22:00", "sat": "08:00-12:00, 13:00-18:00", "sun": "closed"},
        "closed": ["12-25", "2025-03-05"],
    },
    "America/Chicago",
)


CLOSED = "We're closed right now. We open again "


def builtins(now: datetime, timezone: str | None = "America/Chicago") -> ToolRegistry:
    r = ToolRegistry()
    add_builtin_tools(r, now=lambda: now, timezone=timezone, hours=HOURS)
    return r


async def test_current_time_and_date_follow_the_injected_clock() -> None:
    r = builtins(datetime(2025, 3, 4, 21, 5, tzinfo=UTC))  # 3:05 PM in Chicago (CST)
    assert await run(r, "current_time") == {"time": "3:05 PM", "timezone": "America/Chicago"}
    assert await run(r, "current_time", timezone="Europe/Berlin") == {
        "time": "10:05 PM",
        "timezone": "Europe/Berlin",
    }
    assert await run(r, "current_date") == {
        "date": "Tuesday, March 4th",
        "weekday": "Tuesday",
        "iso": "2025-03-04",
    }


async def test_unknown_timezone_is_an_error_result() -> None:
    result = await run(
        builtins(datetime(2025, 3, 4, tzinfo=UTC)), "current_time", timezone="Mars/Olympus"
    )
    assert "unknown timezone 'Mars/Olympus'" in result["error"]


@pytest.mark.parametrize(
    ("local", "open_", "summary"),
    [
        (datetime(2025, 3, 3, 15, 0), True, "Yes, we're open right now, until 10 PM."),
        (datetime(2025, 3, 3, 5, 30), False, CLOSED + "today at 6 AM."),
        (datetime(2025, 3, 4, 22, 0), False, CLOSED + "on Thursday at 6 AM."),  # 5th closed
        (datetime(2025, 3, 8, 12, 30), False, CLOSED + "today at 1 PM."),  # lunch break
        (datetime(2025, 3, 8, 19, 0), False, CLOSED + "on Monday at 6 AM."),  # Sunday closed
        (datetime(2025, 12, 24, 23, 0), False, CLOSED + "on Friday at 6 AM."),  # Christmas
        (datetime(2025, 3, 6, 23, 59), False, CLOSED + "tomorrow at 6 AM."),
    ],
)
async def test_is_open_now(local: datetime, open_: bool, summary: str) -> None:
    from zoneinfo import ZoneInfo

    now = local.replace(tzinfo=ZoneInfo("America/Chicago")).astimezone(UTC)
    result = await run(builtins(now), "is_open_now")
    assert result["open"] is open_
    assert result["summary"] == summary


def test_is_open_now_is_only_offered_with_hours() -> None:
    r = ToolRegistry()
    add_builtin_tools(r)
    assert r.names() == ["current_time", "current_date"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"weekly": {"mon": "9-5"}}, "weekly.mon: '9-5' is not 'HH:MM-HH:MM'"),
        ({"weekly": {"funday": "09:00-17:00"}}, "weekly.funday: not a day"),
        ({"weekly": {"mon-fri": "09:00-17:00", "fri": "closed"}}, "fri is given twice"),
        ({"weekly": {"sat": "22:00-02:00"}}, "split overnight hours"),
        ({"weekly": {"sat": "09:00-09:75"}}, "must end after it starts"),
        ({"weekly": {}, "closed": ["13-01"]}, "closed\\[0\\]: '13-01' is not a date"),
        ({"weekly": {}, "holidays": []}, "must be a mapping with 'weekly'"),
        ("mon-fri 9 to 5", "must be a mapping"),
    ],
)
def test_opening_hours_errors_name_the_key(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OpeningHours.parse(data, "UTC")


def test_opening_hours_ranges_wrap_and_unknown_zone_is_named() -> None:
    h = OpeningHours.parse({"weekly": {"fri-mon": "10:00-24:00"}}, "UTC")
    assert [bool(d) for d in h.weekly] == [True, False, False, False, True, True, True]
    assert h.status(datetime(2025, 3, 3, 23, 0, tzinfo=UTC))["closes_at"] == "midnight"
    with pytest.raises(ValueError, match="unknown timezone 'Nowhere/Land'"):
        OpeningHours.parse({"weekly": {}}, "Nowhere/Land")


def test_spoken_forms() -> None:
    assert spoken_time(0, 0) == "12 AM"
    assert spoken_time(12, 30) == "12:30 PM"
    assert spoken_time(21, 5) == "9:05 PM"
    assert spoken_date(date(2025, 3, 1)) == "Saturday, March 1st"
    assert spoken_date(date(2025, 3, 12)) == "Wednesday, March 12th"
    assert spoken_date(date(2025, 3, 23)) == "Sunday, March 23rd"
