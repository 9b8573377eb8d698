"""`omnivox bench load`'s pure parts: onsets, late frames, CPU accounting, the report.

No server, no sleeping, no timing thresholds: the figures themselves are not checked.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import pytest

from omnivox.lab.bench.idle_cpu import TICKS, cpu_seconds
from omnivox.lab.bench.load import (
    AUDIBLE_DBFS,
    ClientResult,
    CpuWindow,
    MicTrack,
    Received,
    analyse,
    first_audible,
    format_table,
    late_frames,
    parse_clients,
    round_report,
)
from omnivox.media.frames import FRAME_SAMPLES, SAMPLE_RATE


def stream(
    levels: list[float], start_s: float = 10.0, delays_s: list[float] | None = None
) -> Received:
    """Frames every 20 ms from `start_s`, each `delays_s[i]` later than its slot."""
    delays = delays_s or [0.0] * len(levels)
    rtp = [0.02 * i for i in range(len(levels))]
    return Received([start_s + t + d for t, d in zip(rtp, delays, strict=True)], rtp, levels)


# ---- audible onset ----------------------------------------------------------------------


def test_first_audible_skips_earlier_and_quiet_frames() -> None:
    arrivals = [0.0, 0.02, 0.04, 0.06, 0.08]
    levels = [-20.0, -100.0, -60.0, -30.0, -25.0]
    assert first_audible(arrivals, levels, after_s=0.01) == 3  # -60 is below the floor
    assert first_audible(arrivals, levels, after_s=0.0) == 0
    assert first_audible(arrivals, levels, after_s=0.07) == 4
    assert first_audible(arrivals, levels, after_s=1.0) is None
    assert first_audible(arrivals, [-100.0] * 5, after_s=0.0) is None


def test_floor_is_exclusive() -> None:
    assert first_audible([0.0, 0.02], [AUDIBLE_DBFS, AUDIBLE_DBFS + 0.1], 0.0) == 1


# ---- late frames and underruns ----------------------------------------------------------


def test_steady_or_jittery_stream_within_the_buffer_has_no_late_frames() -> None:
    r = stream([-20.0] * 50, delays_s=[0.05 * (i % 2) for i in range(50)])
    assert not any(late_frames(r.arrival_s, r.rtp_s))


def test_a_stall_is_one_underrun_then_the_buffer_restarts() -> None:
    delays = [0.0] * 10 + [0.1] * 20  # from frame 10 on, 100 ms later for good
    r = stream([-20.0] * 30, delays_s=delays)
    assert late_frames(r.arrival_s, r.rtp_s) == [False] * 10 + [True] + [False] * 19


def test_a_burst_after_a_gap_counts_the_frame_that_was_late() -> None:
    delays = [0.0] * 5 + [0.08, 0.06, 0.04, 0.02] + [0.0] * 5  # a stall, then catch-up
    r = stream([-20.0] * 14, delays_s=delays)
    late = late_frames(r.arrival_s, r.rtp_s)
    assert late.count(True) == 1 and late[5]


# ---- one peer's figures -----------------------------------------------------------------


def test_analyse_times_the_reply_from_the_speech_end() -> None:
    levels = [-100.0] * 20 + [-30.0] * 10 + [-100.0] * 2 + [-25.0] * 5 + [-100.0] * 10
    received = stream(levels, start_s=10.0)
    events = [
        {"type": "transcript_final", "text": "what are your opening hours"},
        {"type": "user_turn_end", "received_s": 10.35},
        {"type": "turn_metrics", "t_ms": 5.0, "voice_to_voice_ms": 321.0, "endpoint_ms": None},
    ]
    result = analyse(received, speech_end_s=10.1, events=events)
    assert result.v2v_ms == pytest.approx(300.0)  # frame 20 arrived at 10.4
    assert result.server_ms == {"voice_to_voice_ms": 321.0}
    assert result.reply_frames == 17 and result.silent_frames == 2
    assert result.underruns == 0
    assert result.heard == "what are your opening hours"
    assert result.turn_end_ms == pytest.approx(250.0)


def test_analyse_counts_underruns_inside_the_reply_only() -> None:
    delays = [0.0] * 5 + [0.2] * 5 + [0.2] * 10 + [0.5] * 10
    received = stream([-100.0] * 20 + [-20.0] * 10, delays_s=delays)
    result = analyse(received, speech_end_s=10.0, events=[])
    assert result.underruns == 1  # the stall at frame 5 is before the reply


def test_a_reply_after_the_timeout_or_none_is_no_reply() -> None:
    received = stream([-100.0] * 10 + [-20.0] * 5)
    assert analyse(received, 10.0, [], timeout_s=0.1).v2v_ms is None
    assert analyse(received, 10.0, [], timeout_s=1.0).v2v_ms == pytest.approx(200.0)
    quiet = analyse(stream([-100.0] * 15), 10.0, [])
    assert quiet.v2v_ms is None and quiet.connected and quiet.reply_frames == 0
    assert analyse(received, None, []).v2v_ms is None  # the question never ended


# ---- CPU accounting ---------------------------------------------------------------------


def test_cpu_seconds_reads_utime_and_stime_from_a_fake_proc(tmp_path: Path) -> None:
    (tmp_path / "4242").mkdir()
    # comm may hold spaces and ")"; utime and stime are fields 14 and 15.
    fields = ["S", "1", "4242", "4242", "0", "-1", "4194560", "10", "0", "0", "0"]
    fields += [str(3 * TICKS), str(TICKS // 2), "7", "7"]  # utime, stime, cutime, cstime
    (tmp_path / "4242" / "stat").write_text("4242 (omni vox) x) " + " ".join(fields) + " 20 0\n")
    assert cpu_seconds(4242, proc=str(tmp_path)) == pytest.approx(3.5, abs=1 / TICKS)


def test_cpu_window_per_session_is_above_the_baseline() -> None:
    window = CpuWindow(server_s=1.0, client_s=0.5, wall_s=2.0)
    assert window.server_pct() == 50.0
    assert window.per_session_pct(baseline_pct=10.0, sessions=4) == 10.0
    assert window.per_session_pct(baseline_pct=10.0, sessions=0) is None
    assert CpuWindow(0.0, 0.0, 0.0).per_session_pct(0.0, 1) is None


# ---- the report -------------------------------------------------------------------------


def test_round_report_shape_and_percentiles() -> None:
    results = [
        ClientResult(
            True,
            v2v,
            {"voice_to_voice_ms": 300.0 + i, "endpoint_ms": 200.0},
            underruns=i % 2,
            reply_frames=100,
            silent_frames=3,
            heard="q",
        )
        for i, v2v in enumerate([100.0, 200.0, 300.0, 400.0])
    ]
    results += [ClientResult(True, heard="q"), ClientResult(False)]  # no reply; never connected
    idle, talking = CpuWindow(0.5, 0.2, 5.0), CpuWindow(4.0, 1.0, 10.0)
    row = round_report(6, results, idle, talking, baseline_pct=1.0)
    assert row["clients"] == 6 and row["connected"] == 5 and row["replies"] == 4
    assert row["v2v_ms"] == {"n": 4, "p50": 250.0, "p95": 385.0}
    assert row["turn_end_seen_ms"]["n"] == 0
    assert list(row["server_ms"]) == ["voice_to_voice_ms", "endpoint_ms"]
    assert row["server_ms"]["voice_to_voice_ms"]["p50"] == 301.5
    assert row["cpu_idle"] == {
        "server_pct": 10.0,
        "per_session_pct": 1.8,  # (10 - 1) / 5 connected
        "peers_pct": 4.0,
        "wall_s": 5.0,
    }
    assert row["cpu_talking"]["per_session_pct"] == 7.8
    assert (row["underruns"], row["reply_frames"], row["silent_frames"]) == (2, 400, 12)
    assert row["heard"] == ["q"]

    nobody = round_report(2, [ClientResult(False), ClientResult(False)], None, None, 1.0)
    assert nobody["replies"] == 0 and nobody["v2v_ms"]["p50"] is None
    assert nobody["cpu_talking"]["per_session_pct"] is None

    report = {
        "question": "q",
        "cpus": 2,
        "server_baseline_cpu_pct": 1.0,
        "rounds": [row, nobody],
    }
    table = format_table(report).splitlines()
    assert table[2].split()[:4] == ["6", "4/6", "250.0", "385.0"]
    assert table[3].split()[:2] == ["2", "0/2"]
    assert "voice_to_voice 301.5, endpoint 200.0" in table[4]


def test_parse_clients() -> None:
    assert parse_clients("1, 4,8") == [1, 4, 8]
    for bad in ("", "0,2", "a"):
        with pytest.raises((ValueError, argparse.ArgumentTypeError)):
            parse_clients(bad)


# ---- the microphone ---------------------------------------------------------------------


async def test_mic_track_times_the_speech_end_on_its_clock() -> None:
    ticks = itertools.count(100.0, 1.0)  # always ahead of the frames' due times: no waiting
    mic = MicTrack(clock=lambda: next(ticks))
    first = await mic.recv()
    assert first.pts == 0 and first.samples == FRAME_SAMPLES and first.sample_rate == SAMPLE_RATE
    speech = np.full(500, 1000, np.int16)
    mic.say(speech, lead_s=FRAME_SAMPLES / SAMPLE_RATE)  # one silent frame, then speech
    frames = [await mic.recv() for _ in range(4)]
    pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
    assert not pcm[:FRAME_SAMPLES].any()
    assert (pcm[FRAME_SAMPLES : FRAME_SAMPLES + 500] == 1000).all()
    assert not pcm[FRAME_SAMPLES + 500 :].any()
    assert mic.spoken.is_set() and mic.speech_end_s is not None
    # The speech ended 140 samples before the end of the frame that carried its last sample.
    end_frame_sent = mic.speech_end_s + (3 * FRAME_SAMPLES - (FRAME_SAMPLES + 500)) / SAMPLE_RATE
    assert end_frame_sent == pytest.approx(round(end_frame_sent))  # read off the fake clock
