"""Built-in tools for a venue: current_time, current_date and, given its opening hours,
is_open_now (`add_builtin_tools`); with `OpeningHours` and the spoken forms of times and
dates that their results use."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from omnivox.models.thinker.tools.tool_registry import ToolRegistry

Now = Callable[[], datetime]
"""Returns the current instant (timezone-aware); injectable so tests pick the time."""

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def utc_now() -> datetime:
    return datetime.now(UTC)


def spoken_time(hour: int, minute: int) -> str:
    """ "3:05 PM", "9 PM": how a voice says a time of day."""
    h12 = hour % 12 or 12
    suffix = "AM" if hour % 24 < 12 else "PM"
    return f"{h12} {suffix}" if minute == 0 else f"{h12}:{minute:02d} {suffix}"


def spoken_date(d: date) -> str:
    """ "Tuesday, March 4th" (TTS reads "4th" as "fourth")."""
    n = d.day
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{_DAY_NAMES[d.weekday()]}, {d:%B} {n}{suffix}"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r} (use an IANA name such as "
            "'Europe/Berlin' or 'America/Chicago')"
        ) from None


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """Weekly opening intervals (minutes after midnight) plus closed dates.

    Declared in YAML as
        weekly: {mon-fri: "06:00-22:00", sat: "08:00-12:00, 13:00-18:00", sun: closed}
        closed: ["12-25", "2025-11-27"]   # every year / one date
    Days not listed are closed. An interval ends the same day (at "24:00" at the latest).
    """

    timezone: ZoneInfo
    weekly: tuple[tuple[tuple[int, int], ...], ...]
    closed: frozenset[str]

    @classmethod
    def parse(cls, data: Any, timezone: str) -> OpeningHours:
        """ValueError names the offending key."""
        if not isinstance(data, dict) or set(data) - {"weekly", "closed"} or "weekly" not in data:
            raise ValueError("must be a mapping with 'weekly' (and optionally 'closed')")
        weekly: list[tuple[tuple[int, int], ...] | None] = [None] * 7
        if not isinstance(data["weekly"], dict):
            raise ValueError("'weekly' must map days (mon, mon-fri, ...) to hours")
        for key, value in data["weekly"].items():
            intervals = _parse_intervals(value, f"weekly.{key}")
            for day in _parse_days(str(key)):
                if weekly[day] is not None:
                    raise ValueError(f"weekly.{key}: {_DAYS[day]} is given twice")
                weekly[day] = intervals
        closed = data.get("closed") or []
        if not isinstance(closed, list):
            raise ValueError("'closed' must be a list of dates (MM-DD or YYYY-MM-DD)")
        for i, d in enumerate(closed):
            if not isinstance(d, str) or not _valid_date(d):
                raise ValueError(f"closed[{i}]: {d!r} is not a date (use MM-DD or YYYY-MM-DD)")
        return cls(zone(timezone), tuple(w or () for w in weekly), frozenset(closed))

    def intervals(self, d: date) -> tuple[tuple[int, int], ...]:
        if d.isoformat() in self.closed or d.isoformat()[5:] in self.closed:
            return ()
        return self.weekly[d.weekday()]

    def status(self, now: datetime) -> dict[str, Any]:
        """Open or not at `now`, when it closes or next opens, and a spoken summary."""
        local = now.astimezone(self.timezone)
        minute = local.hour * 60 + local.minute
        result: dict[str, Any] = {
            "open": False,
            "now": spoken_time(local.hour, local.minute),
            "closes_at": None,
            "opens_at": None,
        }
        for start, end in self.intervals(local.date()):
            if start <= minute < end:
                result.update(open=True, closes_at=_spoken_minutes(end))
                result["summary"] = f"Yes, we're open right now, until {result['closes_at']}."
                return result
        for offset in range(15):
            day = local.date() + timedelta(days=offset)
            starts = [s for s, _ in self.intervals(day) if offset > 0 or s > minute]
            if starts:
                at = _spoken_minutes(starts[0])
                when = (
                    "today"
                    if offset == 0
                    else "tomorrow"
                    if offset == 1
                    else f"on {_DAY_NAMES[day.weekday()]}"
                )
                summary = f"We're closed right now. We open again {when} at {at}."
                result.update(opens_at=at, summary=summary)
                return result
        result["summary"] = "We're closed right now."
        return result


def _spoken_minutes(m: int) -> str:
    return "midnight" if m == 24 * 60 else spoken_time(m // 60, m % 60)


def _parse_days(key: str) -> list[int]:
    parts = [p.strip().lower()[:3] for p in key.split("-")]
    if len(parts) > 2 or any(p not in _DAYS for p in parts):
        raise ValueError(f"weekly.{key}: not a day or day range (use mon..sun, e.g. mon-fri)")
    first, last = _DAYS.index(parts[0]), _DAYS.index(parts[-1])
    return [(first + i) % 7 for i in range((last - first) % 7 + 1)]


def _parse_intervals(value: Any, where: str) -> tuple[tuple[int, int], ...]:
    if isinstance(value, str) and value.strip().lower() == "closed":
        return ()
    out = []
    for part in str(value).split(","):
        m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", part)
        if not m:
            raise ValueError(f"{where}: {value!r} is not 'HH:MM-HH:MM' (or 'closed')")
        start, end = int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])
        if int(m[2]) > 59 or int(m[4]) > 59 or not 0 <= start < end <= 24 * 60:
            raise ValueError(
                f"{where}: {part.strip()!r} must end after it starts, by 24:00 "
                "(split overnight hours across two days)"
            )
        out.append((start, end))
    return tuple(sorted(out))


def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text if len(text) == 10 else f"2000-{text}")  # 2000: has Feb 29
    except ValueError:
        return False
    return len(text) in (5, 10)


def add_builtin_tools(
    target: ToolRegistry,
    *,
    now: Now = utc_now,
    timezone: str | None = None,
    hours: OpeningHours | None = None,
) -> None:
    """Register current_time, current_date and (given `hours`) is_open_now on `target`.

    `timezone` is the default zone for times and dates (the host's when None). Reading
    the wall clock is right here: the time of day is what the user asked for."""
    default_zone = zone(timezone) if timezone else None

    def local_now(tz: str | None) -> datetime:
        zone_ = zone(tz) if tz else default_zone
        return now().astimezone(zone_) if zone_ else now().astimezone()

    def current_time(timezone: str | None = None) -> dict[str, str]:
        """The current time of day.

        Args:
            timezone: IANA timezone name, e.g. "Europe/London"; the venue's when omitted.
        """
        t = local_now(timezone)
        name = timezone or (str(default_zone) if default_zone else t.tzname() or "local")
        return {"time": spoken_time(t.hour, t.minute), "timezone": name}

    def current_date() -> dict[str, str]:
        """Today's date and weekday where the venue is."""
        d = local_now(None).date()
        return {"date": spoken_date(d), "weekday": _DAY_NAMES[d.weekday()], "iso": d.isoformat()}

    target.tool(current_time)
    target.tool(current_date)
    if hours is not None:
        opening_hours = hours

        def is_open_now() -> dict[str, Any]:
            """Whether the venue is open right now, and when it closes or opens next."""
            return opening_hours.status(now())

        target.tool(is_open_now)
