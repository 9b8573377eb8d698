"""The process-wide budget of streaming partials: a token bucket on wall time."""

from __future__ import annotations

import pytest

from omnivox.agent.speech.partial_budget import PartialBudget


def test_partials_stop_once_their_share_is_spent_and_come_back_as_it_refills() -> None:
    budget = PartialBudget(share=0.25, burst_s=0.2)
    assert budget.allows(10.0)
    budget.spend(10.0, 0.15)
    assert budget.allows(10.0)  # 50 ms left
    budget.spend(10.0, 0.15)
    assert not budget.allows(10.1)  # 100 ms owed, 25 ms refilled
    assert not budget.allows(10.39)
    assert budget.allows(10.41)  # 0.25 s of work per second of wall time


def test_a_long_quiet_stretch_saves_no_more_than_the_burst() -> None:
    budget = PartialBudget(share=0.5, burst_s=0.2)
    budget.allows(0.0)
    budget.spend(100.0, 0.25)  # idle for 100 s, then a call longer than the burst
    assert not budget.allows(100.0)


def test_a_lone_talker_within_its_share_is_never_thinned() -> None:
    budget = PartialBudget(share=0.3, burst_s=0.2)
    for step in range(200):  # 20 ms of work per 100 ms of speech, for 20 s
        now = step * 0.1
        assert budget.allows(now)
        budget.spend(now, 0.02)


@pytest.mark.parametrize(("share", "burst_s"), [(0.0, 0.2), (1.5, 0.2), (0.3, 0.0)])
def test_bad_settings_are_refused(share: float, burst_s: float) -> None:
    with pytest.raises(ValueError):
        PartialBudget(share, burst_s)
