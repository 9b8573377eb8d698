"""`omnivox bench echo_leak`'s own parts: the moved echo, the person, the table."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.lab.bench.echo_leak import (
    DELAY_MS,
    PERSON_AT_S,
    ROOMS,
    _jumped,
    _with_person,
    format_table,
    main,
)
from omnivox.media.frames import SAMPLE_RATE

MS = SAMPLE_RATE // 1000


@pytest.mark.parametrize("jump_ms", [-100, 200])
def test_the_echo_comes_late_then_moves_by_the_jump(jump_ms: int) -> None:
    agent = np.zeros(10 * SAMPLE_RATE, np.int16)
    agent[::1000] = 1000  # a click every 62.5 ms
    heard = _jumped(agent, jump_ms, at_s=4.0)
    clicks = np.flatnonzero(heard)
    assert clicks[0] == DELAY_MS * MS
    after = clicks[clicks > 4 * SAMPLE_RATE + abs(jump_ms) * MS]
    assert (after[0] - DELAY_MS * MS - jump_ms * MS) % 1000 == 0


def test_the_person_starts_when_scheduled_at_the_level_asked() -> None:
    agent = np.zeros(8 * SAMPLE_RATE, np.int16)
    agent[: SAMPLE_RATE // 2] = 3000  # the agent's only speech, early
    voice = np.full(SAMPLE_RATE, 2000, np.int16)
    heard = _with_person(agent, next(iter(ROOMS.values())), voice)
    at = int(PERSON_AT_S * SAMPLE_RATE)
    assert not heard[at - 100 : at].any()
    assert heard[at + 10] == pytest.approx(3000 * 10 ** (-6 / 20), abs=2)


def test_the_table() -> None:
    text = format_table(
        {
            "jump_cases": 8,
            "leaked_onsets": {"with_check": 2, "without": 18},
            "people": 48,
            "people_heard": {"with_check": 48, "without": 48},
            "check_delay_ms": {"n": 48, "p50": 0.0, "p95": 0.0, "max": 200.0},
        }
    )
    assert "onsets let through 2 with the likeness check, 18 without" in text
    assert "heard 48 with the check, 48 without" in text
    assert "max 200.0 ms" in text


def test_a_negative_number_of_people_is_refused_before_any_work(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--people", "-1"])
    assert exit_info.value.code == 2
    assert "--people must be 0 or more (got -1)" in capsys.readouterr().err
