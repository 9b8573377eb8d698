"""A spoken turn over a bad network: 10 % packet loss and 50 ms of jitter each way on
every packet of the WebRTC call (a user-space relay: lab/lossy_link.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from omnivox.lab.bench.network import ImpairedCaller
from omnivox.lab.local_server import RunningServer
from omnivox.lab.lossy_link import Impairment
from omnivox.media.audio_files import read_audio

HELLO_WORLD = Path("/usr/share/asterisk/sounds/en/hello-world.wav")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not HELLO_WORLD.exists(),
        reason="needs asterisk-core-sounds-en-wav (./dev test installs it)",
    ),
]


async def test_a_spoken_turn_survives_loss_and_jitter(rules_server: RunningServer) -> None:
    bad = {"loss": 0.10, "delay_ms": 10.0, "jitter_ms": 50.0}
    caller = ImpairedCaller(Impairment(**bad, seed=1), Impairment(**bad, seed=2))
    try:
        await asyncio.wait_for(caller.connect(rules_server.url), 60)
        caller.mic.say(read_audio(HELLO_WORLD))
        await asyncio.wait_for(caller.hear_reply(), 90)
        result = caller.result()
    finally:
        await caller.close(rules_server.url)
    assert caller.relay is not None and caller.relay.dropped > 0  # the network was bad
    assert result.heard, f"the server heard no words: {caller.events[-5:]}"
    assert result.v2v_ms is not None, "no audible answer reached the caller"
