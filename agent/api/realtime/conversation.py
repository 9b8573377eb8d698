"""The Realtime conversation's items, in order, and the ids of everything in it."""

from __future__ import annotations

import itertools
from typing import Any

from omnivox.agent.api.realtime import events as ev


class Conversation:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        """Wire items by id, in conversation order."""
        self._ids = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        """A fresh id (never one a client gave an item)."""
        while True:
            candidate = f"{prefix}_{next(self._ids):04d}"
            if candidate not in self.items:
                return candidate

    def event(self, kind: str, **fields: Any) -> ev.ServerEvent:
        event = ev.server_event(kind, **fields)
        event.event_id = self.new_id("event")
        return event

    def error(self, error: ev.ErrorEvent) -> ev.ErrorEvent:
        error.event_id = self.new_id("event")
        return error

    @property
    def last_item(self) -> str | None:
        return next(reversed(self.items), None)

    def add(self, item: dict[str, Any], previous: str | None = None) -> ev.ServerEvent:
        """Append `item`: its `conversation.item.added`."""
        previous = previous if previous is not None else self.last_item
        self.items[item["id"]] = item
        return self.event("conversation.item.added", previous_item_id=previous, item=item)

    def done(self, item: dict[str, Any]) -> ev.ServerEvent:
        """`conversation.item.done` for `item` as it is now."""
        ids = list(self.items)
        at = ids.index(item["id"]) if item["id"] in self.items else 0
        previous = ids[at - 1] if at else None
        return self.event("conversation.item.done", previous_item_id=previous, item=item)


def user_audio_item(item_id: str) -> dict[str, Any]:
    """A user turn heard through the input audio buffer (its transcript comes later)."""
    return {
        "id": item_id,
        "type": "message",
        "object": "realtime.item",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }
