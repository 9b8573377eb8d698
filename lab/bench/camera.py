"""What the camera path costs (a benchmark, not a test).

    omnivox bench camera [--runs 100]

Wall-clock p50/p95 per sampled frame on one core, for the fixture photographs at the
camera's 640x480 (scaled to 320 wide inside the detector):
- face detection when someone is there (frontal cascade hits) and in an empty scene
  (frontal only, as while nobody is present; and frontal + both profile passes, as while
  a present visitor looks away);
- VP8-decoded frame to RGB at the server (PyAV, `frame_to_rgb`);
- the snapshot's JPEG encoding (once per user turn, for a vision Thinker);
and the share of one core the detector takes per session at the default 2 fps.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from omnivox.agent.vision.camera import encode_jpeg
from omnivox.media.image import read_image
from omnivox.media.webrtc.tracks import frame_to_rgb
from omnivox.models.vision.face_detector import FaceDetector

CAMERA = Path(__file__).parents[2] / "tests" / "fixtures" / "camera"  # in a checkout


def measure(runs: int, once: Callable[[], object]) -> tuple[float, float]:
    for _ in range(min(5, runs)):
        once()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        once()
        times.append((time.perf_counter() - t) * 1000.0)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omnivox bench camera", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--runs", type=int, default=100, help="calls per row")
    runs = parser.parse_args(argv).runs
    face, empty = read_image(CAMERA / "face.jpg"), read_image(CAMERA / "no_face.jpg")
    detector = FaceDetector()
    yuv = av.VideoFrame.from_ndarray(face, format="rgb24").reformat(format="yuv420p")
    rows = {
        "detect, face in view": lambda: detector.detect(face),
        "detect, empty scene (nobody present)": lambda: detector.detect(empty, check_profile=False),
        "detect, empty scene (+ profile passes)": lambda: detector.detect(empty),
        "decoded frame -> RGB": lambda: frame_to_rgb(yuv),
        "snapshot JPEG encode": lambda: encode_jpeg(face),
    }
    print(f"{'per frame':42s} {'p50 ms':>8s} {'p95 ms':>8s}")
    results = {}
    for name, once in rows.items():
        p50, p95 = measure(runs, once)
        results[name] = p50
        print(f"{name:42s} {p50:8.2f} {p95:8.2f}")
    idle = results["detect, empty scene (nobody present)"] + results["decoded frame -> RGB"]
    here = results["detect, face in view"] + results["decoded frame -> RGB"]
    print(
        f"\nshare of one core per session at 2 fps: {idle * 2 / 10:.1f} % with nobody in view, "
        f"{here * 2 / 10:.1f} % with a visitor"
    )
    return 0
