"""Session events: what the page, the JSONL log and the simulator all see.

Every event has a `type` and `t_ms` on the session's media clock; the rest is flat JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    t_ms: float
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "t_ms": round(self.t_ms, 1), **self.data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


EventSink = Callable[[Event], None]
