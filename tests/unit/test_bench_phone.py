"""`omnivox bench phone`'s pure parts: when the agent was heard, when it stopped, where
the question ends, the report. No server and no timing thresholds."""

from __future__ import annotations

import numpy as np

from omnivox.lab.bench.phone import (
    AUDIBLE_DBFS,
    QUIET_S,
    CallResult,
    audible_after,
    ending_on_a_frame,
    format_table,
    main,
    report,
    stopped_after,
)
from omnivox.lab.phone_caller import Arrival, RemoteCall, mulaw_frames
from omnivox.lab.user_track import silence


def call_with(levels: list[float], start_s: float = 10.0) -> RemoteCall:
    """An agent's packets, 20 ms apart from `start_s`, at these levels (dBFS)."""
    call = RemoteCall(("127.0.0.1", 20000))
    call.arrivals = [Arrival(start_s + 0.02 * i, db) for i, db in enumerate(levels)]
    return call


QUIET, LOUD = AUDIBLE_DBFS - 10, AUDIBLE_DBFS + 20


def test_audible_after_skips_quiet_and_earlier_packets() -> None:
    call = call_with([LOUD, QUIET, QUIET, LOUD, LOUD])
    assert audible_after(call, 10.0) == 10.06  # the first loud one after t
    assert audible_after(call, 9.0) == 10.0
    assert audible_after(call, 10.08) is None


def test_stopped_after_is_the_last_audible_packet_before_a_long_quiet() -> None:
    quiet_run = [QUIET] * int(QUIET_S / 0.02 + 2)
    call = call_with([LOUD] * 5 + [QUIET] * 5 + [LOUD] * 3 + quiet_run)
    assert stopped_after(call, 10.01) == 10.0 + 0.02 * 12  # the short pause is not the end
    assert stopped_after(call_with([QUIET] * 40), 9.99) == 9.99  # quiet already
    assert stopped_after(call_with([LOUD] * 40), 9.99) is None  # never stopped


def test_the_question_ends_with_its_last_packet() -> None:
    pcm = np.concatenate([silence(0.1), np.full(1000, 8000, np.int16), silence(0.1)])
    frames = ending_on_a_frame(pcm)
    assert len(frames) == 4  # 1000 samples at 16 kHz, padded in front to a 20 ms multiple
    assert frames[-1][-1] != 0xFF and frames[0][0] == 0xFF  # speech to the end, pad first
    assert [len(f) for f in mulaw_frames(silence(0.05))] == [160, 160, 160]


def test_report_pools_the_rounds_and_bad_arguments_are_refused() -> None:
    results = [CallResult(700.0, 300.0), CallResult(1200.0, None), CallResult(None, None)]
    row = report(3, results, [0.4, 0.2])
    assert row["replies"] == "2/3" and row["replies_within_1s"] == 1 and row["rounds"] == 2
    assert row["v2v_ms"]["n"] == 2 and row["barge_in_stop_ms"]["n"] == 1
    assert row["server_cpu_pct"] == 30.0
    table = format_table({"rows": [row]})
    assert "| 3 x 2 | 2/3 (1) | 950.0 / 1175.0 ms | 300.0 / 300.0 ms | 30.0 % |" in table
    assert main(["--calls", "0"]) == 2
    assert main(["--calls", "two"]) == 2
    assert main(["--calls", "1", "--rounds", "0"]) == 2
