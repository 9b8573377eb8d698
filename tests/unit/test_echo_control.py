"""Canceller, gate and echo watch together, as a session drives them."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.agent.speech.echo_control import EchoControl
from omnivox.agent.speech.echo_gate import EchoGateSettings
from omnivox.lab.bench.echo_leak import passed_onsets
from omnivox.lab.simulate import EchoPath
from omnivox.lab.speech_corpus import load_corpus
from omnivox.media.echo_presence import EchoState
from omnivox.media.frames import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE
from omnivox.models.talker.espeak import EspeakTalker
from omnivox.models.vad import VadEvent

AGENT = "Our opening hours are nine to five on weekdays, and ten to four on Saturdays."


def _agent() -> np.ndarray:
    pcm = EspeakTalker(voice="en-us", rate_wpm=170).synthesize_pcm(AGENT)
    return np.concatenate([pcm, np.zeros(-len(pcm) % FRAME_SAMPLES, np.int16)])


def _run(control: EchoControl, sent: np.ndarray, heard: np.ndarray) -> list[EchoState]:
    changes = []
    for i in range(0, len(sent), FRAME_SAMPLES):
        control.sent(sent[i : i + FRAME_SAMPLES])
        _, change = control.clean(heard[i : i + FRAME_SAMPLES])
        if change is not None:
            changes.append(change)
    return changes


def test_with_no_echo_the_microphone_passes_untouched_and_the_gate_stands_aside() -> None:
    agent = _agent()
    control = EchoControl(noise_suppression=False, gate=EchoGateSettings(margin_db=10.0))
    assert _run(control, agent, np.zeros_like(agent)) == [EchoState.ABSENT]
    user = np.full(FRAME_SAMPLES, 300, np.int16)
    control.sent(agent[:FRAME_SAMPLES])
    heard, _ = control.clean(user)
    assert np.array_equal(heard, user)
    onset = [VadEvent("start", 0.0, 0.0)]
    assert control.gate(FRAME_MS, user, heard, onset) == (onset, [])


def test_an_echo_found_tunes_the_canceller_and_its_output_is_used() -> None:
    agent = _agent()
    path = EchoPath(gain_db=-10.0, delay_ms=120.0)
    echo = np.convolve(agent.astype(np.float64), path.impulse_response())[: len(agent)]
    heard = np.rint(echo).astype(np.int16)
    control = EchoControl(noise_suppression=False, gate=None)
    assert _run(control, agent, heard) == [EchoState.PRESENT]
    assert control.path is not None and abs(control.path.delay_ms - 120.0) < 30
    control.sent(agent[:FRAME_SAMPLES])
    cleaned, _ = control.clean(heard[:FRAME_SAMPLES])
    assert not np.array_equal(cleaned, heard[:FRAME_SAMPLES])


def test_a_measured_path_is_trusted_over_the_watch() -> None:
    control = EchoControl(noise_suppression=False, gate=EchoGateSettings(margin_db=10.0))
    control.path_measured(80.0, -12.0)
    assert control.state is EchoState.PRESENT
    assert control.path is not None and control.path.delay_ms == 80.0
    agent = _agent()
    assert _run(control, agent, np.zeros_like(agent)) == []  # the watch no longer runs
    assert control.state is EchoState.PRESENT


@pytest.mark.parametrize("jumps", [False, True])
def test_an_echo_whose_delay_jumps_is_not_taken_for_a_person(jumps: bool) -> None:
    """A full-level echo, 260 ms late. If it comes 100 ms sooner after 4 s (a sound server
    re-buffering), AEC3 loses it for a while and the leak is as loud as a person, but it
    is the agent's voice. Without the jump, a person talking over the agent there gets
    through. (Recorded voices: eSpeak's output varies a little from call to call.)"""
    clips = load_corpus("asterisk", limit=12)
    agent = np.concatenate([c.pcm for c in clips[2:]])[: 9 * SAMPLE_RATE]
    at, lead, sooner = 4 * SAMPLE_RATE, FRAME_SAMPLES * 13, FRAME_SAMPLES * 5
    echo = np.concatenate([np.zeros(lead, np.int16), agent])
    heard = np.concatenate([echo[:at], echo[at + sooner :] if jumps else echo[at:]])
    heard = heard[: len(agent)].copy()
    if not jumps:
        voice = clips[1].pcm[: len(heard) - at]
        mixed = heard[at : at + len(voice)].astype(np.int32) + voice
        heard[at : at + len(voice)] = np.clip(mixed, -32768, 32767)
    passed = [onset for onset, _ in passed_onsets(agent, heard, EchoGateSettings())]
    if jumps:
        assert passed == []
    else:
        assert passed and passed[0] >= 3900.0
