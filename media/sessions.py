"""The live sessions of every transport, for limits, health and shutdown."""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger(__name__)


class TransportSession(Protocol):
    id: str

    @property
    def running_tasks(self) -> int:
        """Its tasks not yet finished."""
        ...

    async def close(self, reason: str) -> None: ...


class SessionRegistry:
    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self.sessions: dict[str, TransportSession] = {}

    def __len__(self) -> int:
        return len(self.sessions)

    @property
    def full(self) -> bool:
        return len(self.sessions) >= self.max_sessions

    def add(self, session: TransportSession) -> None:
        self.sessions[session.id] = session

    def running_tasks(self) -> int:
        """Tasks still running for live sessions (zero once everything has closed)."""
        return sum(s.running_tasks for s in self.sessions.values())

    async def close(self, session_id: str, reason: str) -> None:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return
        await session.close(reason)
        log.info("session %s closed (%s)", session_id, reason)

    async def close_all(self) -> None:
        for sid in list(self.sessions):
            await self.close(sid, "server_shutdown")
