"""The kiosk's camera: OpenCV capture into the session's vision path (`push_video`).

`VideoCapture.read` blocks until the camera's next frame, so it runs on the shared
executor; it is called only at the camera config's `max_fps` (2 by default), so it holds
an executor thread a few milliseconds in each half second, not all the time. The
driver is asked to buffer one frame, so a read gets a fresh one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from omnivox.models.blocking import Priority, run_blocking_at

log = logging.getLogger(__name__)


class CameraError(OSError):
    """The camera cannot be opened: the message says which and why."""


def open_camera(index: int) -> Any:
    """An opened cv2.VideoCapture, or CameraError."""
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        capture.release()
        raise CameraError(f"camera {index} cannot be opened (none there, or in use)")
    capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return capture


class CameraCapture:
    def __init__(
        self,
        capture: Any,
        push_video: Callable[[np.ndarray], None],
        max_fps: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capture = capture
        self._push = push_video
        self._gap_s = 1.0 / max_fps
        self._monotonic = monotonic
        self.frames = 0

    async def run(self) -> None:
        """Until cancelled, or the camera stops giving frames (logged; the session goes
        on without it, and the vision path sees the visitor leave)."""
        next_due = self._monotonic()
        try:
            while True:
                await asyncio.sleep(max(0.0, next_due - self._monotonic()))
                next_due = max(next_due + self._gap_s, self._monotonic())
                ok, bgr = await run_blocking_at(Priority.BACKGROUND, self._capture.read)
                if not ok:
                    log.warning("the camera stopped giving frames; going on without it")
                    return
                self.frames += 1
                self._push(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        finally:
            self._capture.release()
