"""Time one turn-classifier query as the session makes it, on onnxruntime.

Run: omnivox bench turn_classifier [--turns N]
Streaming: an eSpeak question is scored every 100 ms from onset, as the session does
(the track cache computes only the new audio's frames). Cold: the whole 2 s window of a
stream the cache has not seen. Prints the median and 95th percentile in milliseconds;
not a test, the numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from omnivox.models.talker.espeak import EspeakTalker
from omnivox.models.turn.classifier import TurnClassifier
from omnivox.models.turn.features import TurnContext

STEP = 1600  # 100 ms at 16 kHz
CONTEXT = TurnContext(agent_speaking=True, ms_since_agent_pause=1500.0, agent_asked_question=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omnivox bench turn_classifier", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--turns", type=int, default=20, help="questions to score")
    args = parser.parse_args(argv)
    classifier = TurnClassifier.load()
    speech = EspeakTalker().synthesize_pcm("Sorry, could you tell me what time the pool opens?")
    rng = np.random.default_rng(0)
    streaming, cold = [], []
    for _ in range(args.turns):
        # A little noise makes every turn a new stream for the cache.
        pcm = (speech + rng.integers(-3, 4, len(speech))).astype(np.int16)
        for end in range(STEP, len(pcm) + 1, STEP):
            t0 = time.perf_counter()
            classifier.score(pcm[:end], "could you tell me", CONTEXT)
            streaming.append((time.perf_counter() - t0) * 1000)
        fresh = (pcm[-32000:] + rng.integers(-3, 4, min(32000, len(pcm)))).astype(np.int16)
        t0 = time.perf_counter()
        classifier.score(fresh, "could you tell me", CONTEXT)
        cold.append((time.perf_counter() - t0) * 1000)
    results = {"streaming query (every 100 ms)": streaming, "cold query (2 s)": cold}
    for name, samples in results.items():
        p50, p95 = np.median(samples), np.percentile(samples, 95)
        print(f"{name:32} n={len(samples):4}  p50 {p50:6.2f} ms  p95 {p95:6.2f} ms")
    return 0
