"""Built-in tools: time and date from an injected clock, opening hours, spoken forms."""

from datetime import UTC, date, datetime
from typing import Any

import pytest

from omnivox.models.thinker.tools.builtins import (
    OpeningHours,
    add_builtin_tools,
    spoken_date,
    spoken_time,
)
from omnivox.models.thinker.tools.tool_registry import ToolRegistry
from tests.fakes.tool_calls import run

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
