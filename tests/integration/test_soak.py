"""A short soak (the benchmark's own code): callers in a conversation duty cycle against a
real `omnivox serve` process, which afterwards holds no more descriptors or asyncio tasks
than before them."""

from __future__ import annotations

import pytest

from omnivox.lab.bench.idle_cpu import serve
from omnivox.lab.bench.load import load_question
from omnivox.lab.bench.soak import run_soak

pytestmark = pytest.mark.slow


async def test_a_short_soak_leaves_nothing_behind() -> None:
    question, _ = load_question(None)
    with serve('greeting: ""\n') as server:
        report = await run_soak(server, 2, 0.75, question, barge_every=2, sample_s=5.0)
        assert server.proc is not None and server.proc.poll() is None  # still serving
    rows = report["minutes_report"]
    assert sum(r["questions"] for r in rows) >= 4
    assert sum(r["replies"] for r in rows) >= sum(r["questions"] for r in rows) - 2
    assert sum(r["errors"] + r["dropped_connections"] for r in rows) == 0
    assert report["leaked_fds"] == 0, report
    assert report["leaked_tasks"] == 0, report
    # Every call ended because its caller hung up: none was closed for silence or a
    # failed connection while it was still talking.
    assert set(report["sessions_ended"]) == {"hangup"}, report["sessions_ended"]
    # Threads are reported, not asserted: asyncio's default executor (address lookups)
    # starts its threads on demand, up to min(32, CPUs + 4), so a count may still rise.
    assert report["leaked_threads"] is not None
