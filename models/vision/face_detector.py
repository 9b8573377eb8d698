"""Face presence and attention from OpenCV's bundled Haar cascades.

The cascades ship inside the opencv-python-headless wheel (4.x; the 5.x wheels dropped
them), so this works offline with nothing to download. "Facing" means the frontal
cascade fires. The profile cascade (run on the image and its mirror, it only knows one
side) is only asked when the caller says someone was there, to tell "looking away" from
"gone": it is the costly part, and nobody needs it for an empty scene.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DETECT_WIDTH = 320
"""Images are scaled to this width first: enough for a face at kiosk distance and
about 15-20 ms per pass on one core, where full VGA is four times that."""
MIN_FACE_FRACTION = 0.1
"""Faces narrower than this fraction of the image are people far away, not visitors."""


@dataclass(frozen=True, slots=True)
class FaceObservation:
    """What one frame shows. `box` is the largest face as (x, y, w, h), fractions of the
    image size."""

    faces: int
    facing: bool
    box: tuple[float, float, float, float] | None = None


class FaceDetector:
    """Thread-safe: one instance is shared by every session (calls are serialised, so a
    cascade is never used by two threads at once)."""

    def __init__(self, cascades_dir: str | Path | None = None) -> None:
        root = (
            Path(cascades_dir) if cascades_dir is not None else Path(cv2.__file__).parent / "data"
        )
        self._frontal = _load(root / "haarcascade_frontalface_alt2.xml")
        self._profile = _load(root / "haarcascade_profileface.xml")
        self._lock = threading.Lock()
        # Parallelism comes from the shared executor (one call per session); OpenCV's
        # own thread pool on top would oversubscribe the cores the audio path needs.
        cv2.setNumThreads(1)

    def detect(self, rgb: np.ndarray, *, check_profile: bool = True) -> FaceObservation:
        """Find faces in an RGB (H, W, 3) uint8 image. Blocking: call on the executor."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {rgb.dtype} {rgb.shape}")
        gray = _prepare(rgb)
        h, w = gray.shape
        side = max(16, int(w * MIN_FACE_FRACTION))
        with self._lock:
            frontal = _boxes(self._frontal, gray, side)
            if frontal:
                return FaceObservation(len(frontal), True, _largest(frontal, w, h))
            if not check_profile:
                return FaceObservation(0, False)
            profile = _boxes(self._profile, gray, side)
            mirrored = [
                (w - x - bw, y, bw, bh)
                for x, y, bw, bh in _boxes(self._profile, gray[:, ::-1], side)
            ]
        found = profile + mirrored
        return FaceObservation(len(found), False, _largest(found, w, h) if found else None)


def _load(path: Path) -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise OSError(f"cannot load the face cascade {path} (opencv-python-headless < 5 ships it)")
    return cascade


def _prepare(rgb: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    if w > DETECT_WIDTH:
        gray = cv2.resize(
            gray, (DETECT_WIDTH, round(h * DETECT_WIDTH / w)), interpolation=cv2.INTER_AREA
        )
    # Equalising makes the cascades work in dim rooms and against bright windows.
    return cv2.equalizeHist(np.ascontiguousarray(gray))


def _boxes(
    cascade: cv2.CascadeClassifier, gray: np.ndarray, side: int
) -> list[tuple[int, int, int, int]]:
    found = cascade.detectMultiScale(
        np.ascontiguousarray(gray), scaleFactor=1.2, minNeighbors=4, minSize=(side, side)
    )
    return [tuple(int(v) for v in box) for box in found]  # type: ignore[misc]


def _largest(
    boxes: list[tuple[int, int, int, int]], w: int, h: int
) -> tuple[float, float, float, float]:
    x, y, bw, bh = max(boxes, key=lambda b: b[2] * b[3])
    return (x / w, y / h, bw / w, bh / h)
