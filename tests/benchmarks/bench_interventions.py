"""Per-chunk cost of the shipped safety intervention (a benchmark, not a test).

.venv/bin/python tests/benchmarks/bench_interventions.py
"""

from __future__ import annotations

import time

import numpy as np

from omnivox.agent.interventions import SafetyFilter

CHUNKS = [
    "We're open from six in the morning to ten at night on weekdays, "
    "and from eight to eight on weekends.",
    "Call us on 555-123-4567 or pay with 4111 1111 1111 1111.",
    "A day pass is twelve dollars for adults and includes the pool, the gym and the sauna.",
]


def main(runs: int = 3000) -> None:
    f = SafetyFilter(blocklist=["competitor", "internal only", "secret"])
    times = []
    for i in range(runs):
        t = time.perf_counter()
        f.filter(CHUNKS[i % len(CHUNKS)])
        times.append((time.perf_counter() - t) * 1e6)
    arr = np.asarray(times)
    p50, p95 = np.percentile(arr, 50), np.percentile(arr, 95)
    print(f"safety on_text per chunk: p50 {p50:.1f} us, p95 {p95:.1f} us")


if __name__ == "__main__":
    main()
