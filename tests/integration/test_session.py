"""The session with the embedded models, fed audio frames of odd sizes (a transport's
bug or a simulator's WAV): no crash, no hang, it still closes cleanly (fuzzed)."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnivox.agent.session import Session
from omnivox.agent.turns.events import AgentWords, TurnAction, TurnEvent
from omnivox.agent.turns.policy import TurnPolicy
from omnivox.lab.simulate import simulate
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


async def test_the_turn_policy_is_told_the_agent_s_words_as_they_play(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the agent says reaches the policy word by word while it plays (the echo of
    it is not the user's), each piece once and in order."""
    greeting = "The pool is open until nine, and towels are free."
    told: list[AgentWords] = []
    handle = TurnPolicy.handle

    def spy(policy: TurnPolicy, event: TurnEvent) -> list[TurnAction]:
        if isinstance(event, AgentWords):
            told.append(event)
        return handle(policy, event)

    monkeypatch.setattr(TurnPolicy, "handle", spy)
    config = agent_config().model_copy(update={"greeting": greeting})
    result = await simulate(np.zeros(SAMPLE_RATE, np.int16), shared_stack(), config, greet=True)
    (started,) = result.of_type("reply_audio_start")
    assert " ".join(e.text for e in told).split() == greeting.split()
    assert len(told) > 2  # piece by piece, not the reply at once
    assert all(a.t_ms <= b.t_ms for a, b in itertools.pairwise(told))
    assert told[0].t_ms >= started["t_ms"] - 20
