"""Time the echo canceller per 20 ms session frame (reference in, user audio through).

Run: omnivox bench echo_canceller [--seconds N]
The agent says a sentence and its echo comes back through a simulated room, with the
user talking over half of it. Prints the median and 95th percentile in milliseconds per
frame, and the share of one core that is at 50 frames a second; not a test, the numbers
depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from omnivox.lab.simulate import EchoPath
from omnivox.media.echo_canceller import EchoCanceller
from omnivox.media.frames import FRAME_SAMPLES
from omnivox.models.talker.espeak import EspeakTalker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omnivox bench echo_canceller", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="audio to process")
    args = parser.parse_args(argv)
    agent = EspeakTalker().synthesize_pcm("Our opening hours are nine to five on weekdays.")
    user = EspeakTalker(voice="en-gb+f2").synthesize_pcm("Wait, what about Sundays?")
    n = int(args.seconds * 16000) // FRAME_SAMPLES * FRAME_SAMPLES
    far = np.resize(agent, n)
    echo = np.convolve(far.astype(np.float64), EchoPath().impulse_response())[:n]
    near = np.resize(np.concatenate([user, np.zeros(len(user), np.int16)]), n)
    mic = np.clip(np.rint(echo + near), -32768, 32767).astype(np.int16)
    canceller = EchoCanceller()
    took = []
    for i in range(0, n, FRAME_SAMPLES):
        t0 = time.perf_counter()
        canceller.reference(far[i : i + FRAME_SAMPLES])
        canceller.process(mic[i : i + FRAME_SAMPLES])
        took.append((time.perf_counter() - t0) * 1000)
    p50, p95 = np.median(took), np.percentile(took, 95)
    print(f"per 20 ms frame  n={len(took)}  p50 {p50:.3f} ms  p95 {p95:.3f} ms")
    print(f"one session: {100 * np.mean(took) / 20:.1f} % of a core")
    return 0
