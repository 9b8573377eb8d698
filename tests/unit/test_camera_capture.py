"""The kiosk's camera capture, on OpenCV's own capture of a real video file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from omnivox.agent.kiosk import camera_capture
from omnivox.agent.kiosk.camera_capture import CameraCapture, CameraError, open_camera


def video(path: Path, frames: int) -> Path:
    """An MJPEG AVI whose frames are red (BGR order on disk)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    red = np.zeros((48, 64, 3), np.uint8)
    red[:, :, 2] = 255
    for _ in range(frames):
        writer.write(red)
    writer.release()
    return path


async def test_frames_go_to_the_vision_path_in_rgb_until_the_camera_stops(
    tmp_path: Path,
) -> None:
    pushed: list[np.ndarray] = []
    capture = cv2.VideoCapture(str(video(tmp_path / "cam.avi", 5)))
    assert capture.isOpened()
    camera = CameraCapture(capture, pushed.append, max_fps=1000.0)
    await camera.run()  # returns when the frames run out, as an unplugged camera
    assert camera.frames == len(pushed) == 5
    assert pushed[0].shape == (48, 64, 3)
    assert pushed[0][..., 0].mean() > 200 and pushed[0][..., 2].mean() < 50  # RGB: red first


async def test_reads_are_paced_at_the_configured_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a fake clock that only the waits move: one read per half second at 2 fps."""
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(camera_capture.asyncio, "sleep", sleep)
    capture = cv2.VideoCapture(str(video(tmp_path / "cam.avi", 3)))
    camera = CameraCapture(capture, lambda _rgb: None, max_fps=2.0, monotonic=lambda: now[0])
    await camera.run()
    assert camera.frames == 3
    assert waits[:3] == [0.0, 0.5, 0.5]


def test_a_camera_that_is_not_there_is_a_clear_error() -> None:
    with pytest.raises(CameraError, match="camera 99 cannot be opened"):
        open_camera(99)
