"""The live sessions of every transport, for limits, health and shutdown."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

log = logging.getLogger(__name__)

opened_by: contextvars.ContextVar[str | None] = contextvars.ContextVar("opened_by", default=None)
"""Who opens the sessions added in this context (the server's access layer sets the
client's address for each request), for per-client caps on every transport."""


class TransportSession(Protocol):
    id: str
    transport: str
    """Which front opened it ("webrtc", "whip", "sip"...), for metrics."""

    @property
    def running_tasks(self) -> int:
        """Its tasks not yet finished."""
        ...

    async def close(self, reason: str) -> None: ...


class SessionTasks:
    """The tasks of one transport session: named after it, counted for health, and all
    cancelled when it closes."""

    def __init__(self, session_id: str) -> None:
        self._session_id = session_id
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=f"{self._session_id}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def running(self) -> int:
        return sum(1 for t in self._tasks if not t.done())

    async def cancel_all(self) -> None:
        """Cancel them and wait until they have finished; not the task calling this (a
        session's own task may be closing it)."""
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class SessionRegistry:
    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self.sessions: dict[str, TransportSession] = {}
        self.draining = False
        """No new sessions: the server is shutting down (every transport sees it `full`)."""
        self._owners: dict[str, str] = {}
        self._closing: dict[str, asyncio.Event] = {}

    def __len__(self) -> int:
        return len(self.sessions)

    @property
    def full(self) -> bool:
        return self.draining or len(self.sessions) >= self.max_sessions

    def add(self, session: TransportSession) -> None:
        self.sessions[session.id] = session
        owner = opened_by.get()
        if owner is not None:
            self._owners[session.id] = owner

    def count_opened_by(self, owner: str) -> int:
        """Live sessions `owner` opened."""
        return sum(1 for o in self._owners.values() if o == owner)

    def running_tasks(self) -> int:
        """Tasks still running for live sessions (zero once everything has closed)."""
        return sum(s.running_tasks for s in self.sessions.values())

    async def close(self, session_id: str, reason: str) -> None:
        """Close it once; a second call waits for that close. It stays counted until it
        has closed: until then it still holds its resources."""
        session = self.sessions.get(session_id)
        if session is None:
            return
        if session_id in self._closing:
            await self._closing[session_id].wait()
            return
        closed = self._closing[session_id] = asyncio.Event()
        try:
            await session.close(reason)
        finally:
            del self._closing[session_id], self.sessions[session_id]
            self._owners.pop(session_id, None)
            closed.set()
        log.info("session %s closed (%s)", session_id, reason)

    async def close_all(self) -> None:
        for sid in list(self.sessions):
            await self.close(sid, "server_shutdown")
