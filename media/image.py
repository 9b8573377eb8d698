"""Reading still images at the edge (`omnivox simulate --camera`, tests)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


class ImageFileError(ValueError):
    """An image file that cannot be read; the message names the file."""


def read_image(path: str | Path) -> np.ndarray:
    """An image file (JPEG, PNG, ...) as RGB (H, W, 3) uint8."""
    p = Path(path)
    if not p.is_file():
        raise ImageFileError(f"{p}: no such image file")
    bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageFileError(f"{p}: not a readable image (JPEG, PNG, BMP, ...)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
