"""The session registry: a session counts until it has closed, and closes once."""

from __future__ import annotations

import asyncio
import logging

import pytest

from omnivox.media.sessions import SessionRegistry, SessionTasks


class SlowSession:
    transport = "test"

    def __init__(self, session_id: str) -> None:
        self.id = session_id
        self.closes: list[str] = []
        self.release = asyncio.Event()

    @property
    def running_tasks(self) -> int:
        return 0

    async def close(self, reason: str) -> None:
        self.closes.append(reason)
        await self.release.wait()


async def test_a_closing_session_counts_until_it_has_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="omnivox.media.sessions")
    registry = SessionRegistry(max_sessions=1)
    session = SlowSession("a")
    registry.add(session)
    closing = asyncio.create_task(registry.close("a", "media_timeout"))
    await asyncio.sleep(0)
    assert registry.full and "a" in registry.sessions  # its resources are still held
    session.release.set()
    await closing
    assert not registry.sessions and not registry.full
    assert "session a closed (media_timeout)" in caplog.text


async def test_a_second_close_waits_for_the_first_and_closes_nothing_again() -> None:
    registry = SessionRegistry(max_sessions=4)
    session = SlowSession("a")
    registry.add(session)
    first = asyncio.create_task(registry.close("a", "hangup"))
    await asyncio.sleep(0)
    second = asyncio.create_task(registry.close("a", "server_shutdown"))
    await asyncio.sleep(0)
    assert not second.done()
    session.release.set()
    await asyncio.gather(first, second)
    assert session.closes == ["hangup"] and not registry.sessions
    await registry.close("a", "hangup")  # already gone: nothing to do


async def test_a_session_s_tasks_are_cancelled_but_not_the_one_closing_it() -> None:
    tasks = SessionTasks("s")
    sleeper = tasks.spawn(asyncio.sleep(3600), "sleep")

    async def closer() -> None:
        await tasks.cancel_all()

    closing = tasks.spawn(closer(), "close")
    await closing
    assert sleeper.cancelled() and tasks.running == 0
    assert sleeper.get_name() == "s:sleep"
