"""`eval turns --explain`: the policy's steps on a clip, and how they read."""

import json

import pytest

from omnivox.agent.config import TurnsConfig
from omnivox.lab.evaluation.turn_explain import explain, format_explained
from omnivox.lab.evaluation.turn_replay import Trace, policy_fire_ms
from omnivox.models.turn.classifier import TurnThresholds

TUNED = TurnThresholds(0.8, 0.75)
TIMES = tuple(float(t) for t in range(100, 1100, 100))


def _overlap(probs: tuple[float, ...], texts: tuple[str, ...]) -> Trace:
    finals = tuple(bool(t) for t in texts)
    return Trace("interruption", TIMES, probs, (0,) * len(TIMES), texts, 650.0, finals)


def test_the_steps_end_where_the_policy_takes_the_floor() -> None:
    trace = _overlap((0.4, 0.1, 0.3, 0.9, 0.95, *(0.9,) * 5), ("", "Yeah", "Yeah", *("",) * 7))
    (steps,) = explain(["a.wav"], [trace], ["a.wav"], TUNED).values()
    # Called a backchannel on "Yeah"; agreeing scores retire that once the speech
    # outlasts a backchannel (`backchannel_max_ms`, 700).
    assert [s["t_ms"] for s in steps] == [100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0]
    assert steps[1]["decisions"] == ("backchannel",) and steps[1]["final"]
    assert steps[-1]["fired"] and "interruption" in steps[-1]["decisions"]
    assert steps[-1]["t_ms"] == policy_fire_ms(trace, TurnsConfig(), TUNED)
    json.dumps(steps)  # the --json report carries them as they are


def test_a_clip_the_policy_never_fires_on_is_replayed_whole_with_the_vad_stop() -> None:
    trace = _overlap((0.1,) * len(TIMES), ("Mm-hmm.",) * len(TIMES))
    (steps,) = explain(["bc.wav"], [trace], ["bc.wav"], TUNED).values()
    assert not any(s["fired"] for s in steps)
    stopped = [s for s in steps if s["p"] is None]  # the VAD's stop, 650 + its stop_ms
    assert len(stopped) == 1 and stopped[0]["t_ms"] > 650


def test_the_plain_lines_show_scores_words_and_verdicts() -> None:
    trace = _overlap((0.4, 0.1, 0.3, 0.9, 0.95, *(0.9,) * 5), ("", "Yeah", "Yeah", *("",) * 7))
    lines = format_explained(explain(["a.wav"], [trace], ["a.wav"], TUNED))
    assert lines[1].startswith("a.wav")
    assert "0.100  F 'Yeah' -> backchannel" in lines[3]
    assert lines[-1].endswith("TAKES THE FLOOR")


def test_an_unknown_clip_is_named() -> None:
    trace = _overlap((0.1,) * len(TIMES), ("",) * len(TIMES))
    with pytest.raises(ValueError, match=r"no clip b\.wav"):
        explain(["a.wav"], [trace], ["b.wav"], TUNED)
