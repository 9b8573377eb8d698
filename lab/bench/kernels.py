"""Time each kernel's fast path against its reference on one 20 ms frame.

Run: omnivox bench kernels [--repeat N]
Prints the median and 95th percentile per call in microseconds. Not a test: the numbers
depend on the machine and its load, so nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import numpy as np

from omnivox.kernels import g711, level, mixing
from omnivox.kernels.resample import StreamResampler, resample, resample_reference

RESAMPLE_PAIRS = [
    (8000, 16000),
    (16000, 8000),
    (48000, 16000),
    (16000, 48000),
    (22050, 16000),
    (24000, 16000),
]


def frame(rate: int, seed: int = 0) -> np.ndarray:
    """20 ms of speech-level noise at ``rate``."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(rate // 50) * 3000).astype(np.int16)


def time_us(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and p95 of ``repeat`` calls, in microseconds, after a short warm-up."""
    for _ in range(min(10, repeat)):
        fn()
    samples = np.empty(repeat)
    for i in range(repeat):
        start = time.perf_counter_ns()
        fn()
        samples[i] = (time.perf_counter_ns() - start) / 1000.0
    return float(np.median(samples)), float(np.percentile(samples, 95))


def cases() -> list[tuple[str, Callable[[], object], Callable[[], object] | None]]:
    """(name, fast call, reference call) for each kernel on one 20 ms frame."""
    out: list[tuple[str, Callable[[], object], Callable[[], object] | None]] = []
    for src, dst in RESAMPLE_PAIRS:
        x = frame(src)
        stream = StreamResampler(src, dst)
        out.append((f"resample stream {src}->{dst}", partial(stream.process, x), None))
        out.append(
            (
                f"resample one-shot {src}->{dst}",
                partial(resample, x, src, dst),
                partial(resample_reference, x, src, dst),
            )
        )
    pcm8, pcm16, other16 = frame(8000), frame(16000), frame(16000, seed=1)
    ulaw, alaw = g711.ulaw_encode(pcm8).tobytes(), g711.alaw_encode(pcm8).tobytes()
    out += [
        (
            "ulaw_encode 160",
            lambda: g711.ulaw_encode(pcm8),
            lambda: g711.ulaw_encode_reference(pcm8),
        ),
        (
            "ulaw_decode 160",
            lambda: g711.ulaw_decode(ulaw),
            lambda: g711.ulaw_decode_reference(ulaw),
        ),
        (
            "alaw_encode 160",
            lambda: g711.alaw_encode(pcm8),
            lambda: g711.alaw_encode_reference(pcm8),
        ),
        (
            "alaw_decode 160",
            lambda: g711.alaw_decode(alaw),
            lambda: g711.alaw_decode_reference(alaw),
        ),
        ("rms_dbfs 320", lambda: level.rms_dbfs(pcm16), lambda: level.rms_dbfs_reference(pcm16)),
        ("peak_dbfs 320", lambda: level.peak_dbfs(pcm16), lambda: level.peak_dbfs_reference(pcm16)),
        ("frame_levels 1 s / 320", lambda: level.frame_levels(np.tile(pcm16, 50), 320), None),
        (
            "mix 320",
            lambda: mixing.mix(pcm16, other16),
            lambda: mixing.mix_reference(pcm16, other16),
        ),
        (
            "apply_gain 320",
            lambda: mixing.apply_gain(pcm16, -6.0),
            lambda: mixing.apply_gain_reference(pcm16, -6.0),
        ),
        (
            "fade 320",
            lambda: mixing.fade(pcm16, 1.0, 0.0),
            lambda: mixing.fade_reference(pcm16, 1.0, 0.0),
        ),
    ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omnivox bench kernels", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--repeat", type=int, default=2000, help="calls per fast path")
    args = parser.parse_args(argv)
    ref_repeat = max(20, args.repeat // 20)  # references are 10-1000x slower
    print(
        f"{'kernel (20 ms frame)':34} {'fast med':>9} {'fast p95':>9} "
        f"{'ref med':>9} {'ref p95':>9}   (microseconds)"
    )
    for name, fast, ref in cases():
        med, p95 = time_us(fast, args.repeat)
        line = f"{name:34} {med:9.1f} {p95:9.1f}"
        if ref is not None:
            rmed, rp95 = time_us(ref, ref_repeat)
            line += f" {rmed:9.1f} {rp95:9.1f}"
        print(line, flush=True)
    # frame_levels' reference is a per-frame loop: time it once on the same second.
    pcm = np.tile(frame(16000), 50)
    rmed, rp95 = time_us(lambda: level.frame_levels_reference(pcm, 320), ref_repeat)
    print(f"{'frame_levels_reference 1 s / 320':34} {'':9} {'':9} {rmed:9.1f} {rp95:9.1f}")
    return 0
