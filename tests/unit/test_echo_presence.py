"""Whether the agent's voice comes back: judged from what was sent and what was heard."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.lab.simulate import EchoPath
from omnivox.media.echo_presence import EchoPresence, EchoState
from omnivox.media.frames import FRAME_SAMPLES, SAMPLE_RATE
from omnivox.models.talker.espeak import EspeakTalker

AGENT = (
    "Our opening hours are nine to five on weekdays, and ten to four on Saturdays. "
    "On Sundays and public holidays we are closed, but the online shop stays open."
)
USER = "Wait, stop, I meant the price for children. And what about the weekend, is it open?"


def _say(text: str, voice: str) -> np.ndarray:
    return EspeakTalker(voice=voice, rate_wpm=170).synthesize_pcm(text)


@pytest.fixture(scope="module")
def agent() -> np.ndarray:
    return _say(AGENT, "en-us")


@pytest.fixture(scope="module")
def user() -> np.ndarray:
    return _say(USER, "en-gb+f2")


def _echo(far: np.ndarray, path: EchoPath) -> np.ndarray:
    return np.convolve(far.astype(np.float64), path.impulse_response())[: len(far)]


def _feed(sent: np.ndarray, heard: np.ndarray) -> tuple[EchoPresence, list[tuple[float, str]]]:
    """Frame by frame, as a session does; the state changes with their times (s)."""
    presence = EchoPresence()
    changes = []
    n = min(len(sent), len(heard)) // FRAME_SAMPLES * FRAME_SAMPLES
    mic = np.clip(np.rint(heard[:n]), -32768, 32767).astype(np.int16)
    for i in range(0, n, FRAME_SAMPLES):
        presence.sent(sent[i : i + FRAME_SAMPLES])
        if (state := presence.heard(mic[i : i + FRAME_SAMPLES])) is not None:
            changes.append((i / SAMPLE_RATE, state.value))
    return presence, changes


def _noise(n: int, dbfs: float) -> np.ndarray:
    return np.random.default_rng(3).standard_normal(n) * 32768 * 10 ** (dbfs / 20)


@pytest.mark.parametrize(("gain_db", "delay_ms"), [(-6.0, 60.0), (-25.0, 120.0), (-20.0, 800.0)])
def test_an_echo_path_is_found_with_its_delay_and_gain(
    agent: np.ndarray, gain_db: float, delay_ms: float
) -> None:
    heard = _echo(agent, EchoPath(gain_db=gain_db, delay_ms=delay_ms, rt60_s=0.4))
    presence, changes = _feed(agent, heard + _noise(len(agent), -70))
    assert changes and changes[0][1] == "present" and changes[0][0] < 3.0
    assert presence.state is EchoState.PRESENT
    assert presence.estimate is not None
    assert abs(presence.estimate.delay_ms - delay_ms) < 30
    assert abs(presence.estimate.gain_db - gain_db) < 3


def test_a_quiet_microphone_while_the_agent_talks_means_no_echo(agent: np.ndarray) -> None:
    for heard in (np.zeros(len(agent)), _noise(len(agent), -60)):
        presence, changes = _feed(agent, heard)
        assert changes and changes[0][1] == "absent" and changes[0][0] < 3.0
        assert presence.estimate is None


def test_the_user_talking_over_the_agent_is_not_taken_for_an_echo(
    agent: np.ndarray, user: np.ndarray
) -> None:
    """No echo, the user as loud as the agent throughout: nothing can be concluded."""
    _, changes = _feed(agent, user.astype(np.float64))
    assert changes == []


def test_the_user_talking_does_not_hide_an_echo_already_found(
    agent: np.ndarray, user: np.ndarray
) -> None:
    """The echo found while the user listens stays found while they talk over it."""
    n = len(agent)
    heard = _echo(agent, EchoPath(gain_db=-20.0, delay_ms=120.0))
    start = 3 * SAMPLE_RATE
    heard[start : start + len(user)] += user[: max(0, n - start)]
    presence, changes = _feed(agent, heard)
    assert [c for _, c in changes] == ["present"]
    assert presence.state is EchoState.PRESENT


def test_nothing_is_judged_while_the_agent_is_silent(user: np.ndarray) -> None:
    _, changes = _feed(np.zeros(len(user), np.int16), user.astype(np.float64))
    assert changes == []


def test_frames_of_any_length() -> None:
    presence = EchoPresence()
    presence.sent(np.ones(100, np.int16))
    assert presence.heard(np.ones(500, np.int16)) is None
