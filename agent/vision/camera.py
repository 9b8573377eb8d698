"""The session's camera: sampled frames in, presence changes and snapshots out.

A thin asyncio shell around the pure `PresenceTracker`: the face detector blocks, so it
runs on the shared executor, one frame at a time; frames that arrive while it works
replace each other (only the newest matters), so a slow detector never builds a backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import cv2
import numpy as np

from omnivox.agent.vision.presence import Presence, PresenceConfig, PresenceTracker
from omnivox.models.blocking import Priority, run_blocking_at
from omnivox.models.vision.face_detector import FaceDetector

log = logging.getLogger(__name__)

JPEG_QUALITY = 80


class Camera:
    def __init__(
        self,
        detector: FaceDetector | None,
        now_ms: Callable[[], float],
        on_presence: Callable[[Presence], None],
        on_error: Callable[[str], None],
        presence: PresenceConfig | None = None,
    ) -> None:
        """`detector` None: snapshots only, no presence."""
        self._detector = detector
        self._now_ms = now_ms
        self._on_presence = on_presence
        self._on_error = on_error
        self.tracker = PresenceTracker(presence)
        self._latest: np.ndarray | None = None
        self._latest_ms = 0.0
        self._jpeg: tuple[int, bytes] | None = None
        """The latest frame's JPEG, keyed by its frame number (encoded at most once)."""
        self._pending: tuple[np.ndarray, float] | None = None
        self._task: asyncio.Task[None] | None = None
        self.frames = 0
        self._failed = False

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def push(self, rgb: np.ndarray) -> None:
        """One sampled RGB (H, W, 3) uint8 frame."""
        now = self._now_ms()
        self._latest, self._latest_ms = rgb, now
        self.frames += 1
        if self._detector is None:
            return
        self._pending = (rgb, now)
        if not self.busy:
            self._task = asyncio.create_task(self._detect_pending(self._detector), name="faces")

    def tick(self) -> None:
        """Called with the media clock: presence ends when frames stop showing a face,
        also when they stop coming at all (camera switched off)."""
        change = self.tracker.tick(self._now_ms())
        if change is not None:
            self._on_presence(change)

    async def snapshot(self, max_age_ms: float) -> bytes | None:
        """The newest frame as JPEG, if one arrived within `max_age_ms`."""
        frame, number = self._latest, self.frames
        if frame is None or self._now_ms() - self._latest_ms > max_age_ms:
            return None
        if self._jpeg is not None and self._jpeg[0] == number:
            return self._jpeg[1]
        jpeg = await run_blocking_at(Priority.URGENT, encode_jpeg, frame)  # a reply waits
        self._jpeg = (number, jpeg)
        return jpeg

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _detect_pending(self, detector: FaceDetector) -> None:
        while self._pending is not None:
            rgb, t_ms = self._pending
            self._pending = None
            try:
                obs = await run_blocking_at(
                    Priority.BACKGROUND, detector.detect, rgb, check_profile=self.tracker.present
                )
            except Exception as err:  # a bad frame must not end the session
                log.warning("face detection failed: %s", err)
                if not self._failed:  # once per session, not twice a second
                    self._failed = True
                    self._on_error(f"face detection failed: {err}")
                continue
            change = self.tracker.observe(t_ms, obs)
            if change is not None:
                self._on_presence(change)


def encode_jpeg(rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(data)
