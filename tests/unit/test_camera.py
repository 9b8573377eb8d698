"""The camera shell: frames to the detector on the executor, presence out, snapshots."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np
import pytest

from omnivox.agent.vision.camera import Camera
from omnivox.agent.vision.presence import Presence, PresenceConfig
from omnivox.media.clock import VirtualClock
from omnivox.media.image import read_image
from omnivox.models.vision.face_detector import FaceDetector, FaceObservation

CAMERA = Path(__file__).parents[1] / "fixtures" / "camera"
FACE = read_image(CAMERA / "face.jpg")
NO_FACE = read_image(CAMERA / "no_face.jpg")


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


class Rig:
    def __init__(self, detector: FaceDetector | None, **presence: float) -> None:
        self.clock = VirtualClock()
        self.changes: list[Presence] = []
        self.errors: list[str] = []
        self.camera = Camera(
            detector,
            self.clock.now_ms,
            self.changes.append,
            self.errors.append,
            PresenceConfig(**presence),  # type: ignore[arg-type]
        )

    async def detected(self) -> None:
        """Wait for the detection in flight (and the frames queued behind it)."""
        task = self.camera._task
        if task is not None:
            await task

    async def show(self, image: np.ndarray, frames: int, gap_ms: float = 500) -> None:
        """`frames` frames at 2 fps, each detected before the next (a quick detector)."""
        for _ in range(frames):
            self.camera.push(image)
            await self.detected()
            self.clock.advance(gap_ms)
            self.camera.tick()


async def test_a_visitor_arrives_and_leaves(detector: FaceDetector) -> None:
    rig = Rig(detector, arrive_frames=2, leave_ms=2000)
    await rig.show(NO_FACE, 3)
    assert rig.changes == []
    await rig.show(FACE, 3)
    assert [(c.present, c.facing, c.arrived) for c in rig.changes] == [(True, True, True)]
    await rig.show(NO_FACE, 5)
    assert [c.present for c in rig.changes] == [True, False]
    assert rig.errors == []
    await rig.camera.close()


async def test_presence_ends_when_frames_stop_coming(detector: FaceDetector) -> None:
    rig = Rig(detector, arrive_frames=1, leave_ms=1000)
    await rig.show(FACE, 1)
    assert rig.changes[-1].present
    rig.clock.advance(1000)
    rig.camera.tick()
    assert not rig.changes[-1].present


async def test_frames_arriving_during_detection_collapse_to_the_newest() -> None:
    seen: list[np.ndarray] = []

    class Recording:
        def detect(self, rgb: np.ndarray, *, check_profile: bool = True) -> FaceObservation:
            seen.append(rgb)
            return FaceObservation(0, False)

    rig = Rig(Recording(), arrive_frames=1)  # type: ignore[arg-type]
    frames = [np.full((48, 64, 3), i, np.uint8) for i in range(5)]
    rig.camera.push(frames[0])
    await asyncio.sleep(0)  # detection of the first frame is under way
    for f in frames[1:]:
        rig.camera.push(f)
    await rig.detected()
    assert len(seen) == 2 and seen[0] is frames[0] and seen[1] is frames[-1]


async def test_a_failing_detector_reports_once_and_keeps_going() -> None:
    class Broken:
        def detect(self, rgb: np.ndarray, *, check_profile: bool = True) -> FaceObservation:
            raise ValueError("expected an RGB uint8 image")

    rig = Rig(Broken())  # type: ignore[arg-type]
    await rig.show(FACE, 3)
    assert rig.errors == ["face detection failed: expected an RGB uint8 image"]
    assert await rig.camera.snapshot(max_age_ms=1000) is not None  # snapshots still work


async def test_snapshot_is_the_newest_frame_as_jpeg() -> None:
    rig = Rig(None)  # snapshots only
    assert await rig.camera.snapshot(max_age_ms=1000) is None
    rig.camera.push(NO_FACE)
    rig.camera.push(FACE)
    jpeg = await rig.camera.snapshot(max_age_ms=1000)
    assert jpeg is not None and jpeg[:3] == b"\xff\xd8\xff"
    decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), 1), cv2.COLOR_BGR2RGB)
    assert decoded.shape == FACE.shape
    assert np.abs(decoded.astype(int) - FACE).mean() < 6  # the face, not the cup
    assert await rig.camera.snapshot(max_age_ms=1000) is jpeg  # encoded once
    rig.clock.advance(1001)
    assert await rig.camera.snapshot(max_age_ms=1000) is None  # too old to describe now
