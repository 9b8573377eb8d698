"""`bench turns` scoring: what counts as taking the floor, and as the agent stopping
for itself."""

from __future__ import annotations

import numpy as np

from omnivox.lab.bench.turns import Scenario, _outcome
from omnivox.lab.simulate import SimulationResult


def _result(*events: tuple[str, float, dict[str, object]]) -> SimulationResult:
    res = SimulationResult(agent=np.zeros(16000 * 10, np.int16))
    res.events = [{"type": t, "t_ms": at, **data} for t, at, data in events]
    return res


def test_barge_ins_before_the_overlap_are_the_agent_stopping_for_itself() -> None:
    s = Scenario("backchannel", "uh-huh", np.zeros(0, np.int16), mark_ms=5000.0)
    echo_stop = ("reply_cancelled", 3000.0, {"reason": "barge_in"})
    row = _outcome(s, _result(echo_stop))
    assert row["self_interruptions"] == 1 and row["took_over"] is False
    row = _outcome(s, _result(echo_stop, ("reply_cancelled", 5600.0, {"reason": "barge_in"})))
    assert row["self_interruptions"] == 1 and row["took_over"] is True


def test_in_a_finished_turn_every_barge_in_is_a_self_interruption() -> None:
    s = Scenario("finished", "Where can I park?", np.zeros(0, np.int16), mark_ms=1500.0)
    res = _result(
        ("user_turn_end", 1900.0, {}),
        ("reply_cancelled", 2600.0, {"reason": "barge_in"}),
        ("reply_cancelled", 2700.0, {"reason": "user_resumed"}),
    )
    row = _outcome(s, res)
    assert row["took_over"] is True and row["self_interruptions"] == 1
