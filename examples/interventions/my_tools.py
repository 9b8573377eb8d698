"""Application tools for the interventions example.

Importing this module registers its `@tool` functions in the module-level registry of
omnivox.models.thinker.tools; `tools: {import: [examples.interventions.my_tools]}` in
agent.yaml imports it, and the chain then offers the tools to the Thinker. An LLM Thinker
decides when to call them; the knowledge-base Thinker calls a tool an entry names
(`tools: [room_quote]` in its YAML).
"""

from __future__ import annotations

from typing import Any, Literal

from omnivox.models.thinker.tools import tool

HOURLY_RATE = {"lakeview_hall": 90, "meeting_room": 25}
"""Dollars an hour, as in docs/room_hire.md."""
WEEKEND_MINIMUM_HOURS = {"lakeview_hall": 3, "meeting_room": 1}


@tool
def room_quote(
    room: Literal["lakeview_hall", "meeting_room"], hours: int, weekend: bool = False
) -> dict[str, Any]:
    """The price of renting a room for some hours.

    Args:
        room: Which room: the Lakeview Hall or a meeting room.
        hours: How many hours, at least one.
        weekend: Whether the booking is on a Saturday or Sunday.
    """
    if hours < 1:
        # The registry turns this into {"error": ...} for the Thinker; the call goes on.
        raise ValueError("hours must be at least 1")
    billed = max(hours, WEEKEND_MINIMUM_HOURS[room]) if weekend else hours
    dollars = billed * HOURLY_RATE[room]
    return {
        "room": room,
        "hours_billed": billed,
        "dollars": dollars,
        "summary": f"That would be {dollars} dollars for {billed} hours.",
    }
