"""Shared fixtures for integration tests: a real omnivox server on an ephemeral port."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import pytest

from omnivox.agent.config import AgentConfig, parse_config
from omnivox.agent.stack import ModelStack, build_stack, build_thinker
from omnivox.lab.local_server import RunningServer, serving

# No greeting: the tests control exactly what the agent hears and says.
TEST_CONFIG = {"greeting": ""}


@functools.cache
def agent_config() -> AgentConfig:
    return parse_config(TEST_CONFIG, "test config")


@functools.cache
def shared_stack() -> ModelStack:
    """Models load once for the whole test run (loading is the slow part)."""
    return build_stack(agent_config())


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with serving(agent_config(), shared_stack()) as running:
        yield running


@pytest.fixture
async def rules_server() -> AsyncIterator[RunningServer]:
    """Timing-rule turn taking: barge-in after a fixed 200 ms of speech, so a transport
    test does not depend on the classifier's judgement."""
    config = parse_config({**TEST_CONFIG, "turns": {"classifier": "none"}}, "rules config")
    async with serving(config, shared_stack()) as running:
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
