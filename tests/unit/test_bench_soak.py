"""The soak benchmark's readings and report, without a server."""

from __future__ import annotations

from pathlib import Path

from omnivox.lab.bench.soak import Minute, Sample, ended_by_reason, proc_sample, report


def fake_proc(root: Path, pid: int, rss_kb: int, threads: int, fds: int) -> None:
    (root / str(pid) / "fd").mkdir(parents=True)
    for i in range(fds):
        (root / str(pid) / "fd" / str(i)).touch()
    (root / str(pid) / "status").write_text(
        f"Name:\tomnivox\nVmRSS:\t  {rss_kb} kB\nThreads:\t{threads}\n"
    )


def test_a_sample_reads_memory_threads_and_descriptors(tmp_path: Path) -> None:
    fake_proc(tmp_path, 42, rss_kb=204800, threads=9, fds=17)
    sample = proc_sample(42, 12.34, tasks=30, proc=str(tmp_path))
    assert sample == Sample(12.3, 200.0, 17, 9, 30)


def test_the_report_counts_leftovers_and_growth_after_the_warm_up_minute() -> None:
    before = Sample(0.0, 900.0, 20, 8, 40)
    after = Sample(400.0, 1000.0, 21, 8, 40)
    samples = [Sample(30.0, 950.0, 60, 12, 300), Sample(60.0, 1000.0, 60, 12, 300)]
    samples.append(Sample(360.0, 1010.0, 61, 12, 310))
    minutes = {0: Minute([500.0, 700.0], 2, 2, 1, 0, 0, 3)}
    rep = report(2, 6.0, before, after, samples, minutes)
    assert (rep["leaked_fds"], rep["leaked_threads"], rep["leaked_tasks"]) == (1, 0, 0)
    assert rep["rss_warm_mb"] == 1000.0 and rep["rss_growth_after_warmup_pct"] == 1.0
    [row] = rep["minutes_report"]
    assert row["replies"] == 2 and row["underrun_frames"] == 3 and row["v2v_ms"]["p50"] == 600.0


def test_without_task_counts_the_leak_is_unknown_not_zero() -> None:
    before, after = Sample(0.0, 1.0, 1, 1, None), Sample(1.0, 1.0, 1, 1, None)
    assert report(1, 1.0, before, after, [], {})["leaked_tasks"] is None


def test_closed_sessions_by_reason_are_read_from_the_metrics_text() -> None:
    text = (
        "# HELP omnivox_sessions_ended_total Sessions closed, by reason\n"
        "# TYPE omnivox_sessions_ended_total counter\n"
        'omnivox_sessions_ended_total{reason="hangup"} 12.0\n'
        'omnivox_sessions_ended_total{reason="media_timeout"} 1.0\n'
        "# HELP omnivox_sessions_ended_created Sessions closed, by reason\n"
        "# TYPE omnivox_sessions_ended_created gauge\n"
        'omnivox_sessions_ended_created{reason="hangup"} 1.7e9\n'
        "# TYPE omnivox_turns_total counter\n"
        "omnivox_turns_total 40.0\n"
    )
    assert ended_by_reason(text) == {"hangup": 12, "media_timeout": 1}
