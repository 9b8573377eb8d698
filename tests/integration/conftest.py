"""Shared fixtures for integration tests: a real omnivox server on an ephemeral port."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web

from omnivox.agent.api.app import REGISTRY, SessionRegistry, create_app
from omnivox.agent.config import AgentConfig, parse_config
from omnivox.agent.stack import ModelStack, build_stack, build_thinker
from omnivox.media.audio_files import write_wav
from omnivox.media.frames import SAMPLE_RATE
from omnivox.models.talker.espeak import EspeakTalker

# No greeting: the tests control exactly what the agent hears and says.
TEST_CONFIG = {"greeting": ""}


@functools.cache
def agent_config() -> AgentConfig:
    return parse_config(TEST_CONFIG, "test config")


@functools.cache
def shared_stack() -> ModelStack:
    """Models load once for the whole test run (loading is the slow part)."""
    return build_stack(agent_config())


@dataclass
class RunningServer:
    url: str
    registry: SessionRegistry
    app: web.Application


@contextlib.asynccontextmanager
async def serving(
    config: AgentConfig, stack: ModelStack | None = None
) -> AsyncIterator[RunningServer]:
    """A server for `config` on the shared models (or on `stack`)."""
    app = create_app(config, stack or shared_stack())
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", app[REGISTRY], app)
    finally:
        await runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with serving(agent_config()) as running:
        yield running


@pytest.fixture
async def rules_server() -> AsyncIterator[RunningServer]:
    """Timing-rule turn taking: barge-in after a fixed 200 ms of speech, so a transport
    test does not depend on the classifier's judgement."""
    config = parse_config({**TEST_CONFIG, "turns": {"classifier": "none"}}, "rules config")
    async with serving(config) as running:
        yield running


def with_thinker(config: AgentConfig) -> ModelStack:
    """The shared models with the Thinker `config` names (a remote one, say)."""
    base = shared_stack()
    thinker, tools = build_thinker(config)
    return ModelStack(
        config,
        base.recognizer,
        thinker,
        base.talker,
        tools,
        turn_classifier=base.turn_classifier,
        face_detector=base.face_detector,
    )


def speech(text: str, voice: str = "en-us+m3", rate_wpm: int = 160) -> np.ndarray:
    """A spoken user utterance (eSpeak NG, a voice unlike the agent's)."""
    return EspeakTalker(voice=voice, rate_wpm=rate_wpm).synthesize_pcm(text)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(SAMPLE_RATE * seconds), dtype=np.int16)


def write_user_wav(path: Path, *parts: np.ndarray) -> Path:
    write_wav(path, np.concatenate(parts))
    return path
