"""The session with the embedded models, fed audio frames of odd sizes (a transport's
bug or a simulator's WAV): no crash, no hang, it still closes cleanly (fuzzed)."""

from __future__ import annotations

import asyncio

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnivox.agent.session import Session
from omnivox.media.clock import VirtualClock
from omnivox.media.frames import SAMPLE_RATE, AudioFrame

from .conftest import agent_config, shared_stack


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(min_value=1, max_value=2000), min_size=1, max_size=40),
    st.sampled_from(["silence", "noise", "loud"]),
)
async def test_fuzz_odd_frame_sizes_into_the_session(sizes: list[int], content: str) -> None:
    clock = VirtualClock()
    events: list[str] = []
    session = Session(
        "fuzz", agent_config(), shared_stack(), clock, lambda e: events.append(e.type)
    )
    await session.start(greet=False)
    rng = np.random.default_rng(len(sizes))
    samples = 0
    for n in sizes:
        if content == "silence":
            pcm = np.zeros(n, np.int16)
        else:
            scale = 32767 if content == "loud" else 3000
            pcm = rng.integers(-scale, scale, n).astype(np.int16)
        session.push_audio(AudioFrame(pcm, SAMPLE_RATE, samples))
        samples += n
        clock.set(1000.0 * samples / SAMPLE_RATE)
        out = session.pull_audio()
        assert out.dtype == np.int16
        await asyncio.sleep(0)
    await asyncio.wait_for(session.close("fuzz"), 10)
    assert "error" not in events and events[-1] == "session_ended"
