"""`omnivox bench realtime`'s pure parts: the report and its table (no server here; the
figures themselves are not checked)."""

from __future__ import annotations

import numpy as np

from omnivox.lab.bench.realtime import RATE, format_table, question_audio, report


def test_the_report_counts_answers_and_skips_missing_figures() -> None:
    rows = [
        {"v2v_ms": 500.0, "server_v2v_ms": 450.0, "endpoint_ms": 300.0},
        {"v2v_ms": 700.0, "server_v2v_ms": 650.0, "endpoint_ms": 320.0},
        {"v2v_ms": None, "server_v2v_ms": None, "endpoint_ms": None},
    ]
    rep = report(rows)
    assert (rep["questions"], rep["answered"]) == (3, 2)
    assert rep["v2v_ms"] == {"n": 2, "p50": 600.0, "p95": 690.0}
    table = format_table(rep)
    assert "2/3 answered" in table and "600.0" in table


def test_questions_are_24khz_speech_without_leading_silence() -> None:
    pcm = question_audio(0, "What are your opening hours?")
    assert 0.8 * RATE < len(pcm) < 3 * RATE
    assert int(np.abs(pcm[: RATE // 50].astype(np.int32)).max()) > 300  # speech from the start
