"""OpenCV's bundled cascades on real photographs (tests/fixtures/camera)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from omnivox.media.image import read_image
from omnivox.models.vision.face_detector import FaceDetector

CAMERA = Path(__file__).parents[1] / "fixtures" / "camera"


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def test_a_face_towards_the_camera_is_found_and_facing(detector: FaceDetector) -> None:
    obs = detector.detect(read_image(CAMERA / "face.jpg"))
    assert obs.faces == 1 and obs.facing
    assert obs.box is not None
    x, y, w, h = obs.box
    # The astronaut's face sits in the upper middle of the picture.
    assert 0.2 < x + w / 2 < 0.7 and y + h / 2 < 0.5 and 0.1 < w < 0.5


def test_no_face_in_a_still_life(detector: FaceDetector) -> None:
    obs = detector.detect(read_image(CAMERA / "no_face.jpg"))
    assert obs.faces == 0 and not obs.facing and obs.box is None


def test_a_small_camera_image_works_too(detector: FaceDetector) -> None:
    small = read_image(CAMERA / "face.jpg")[::2, ::2].copy()  # 320x240
    assert detector.detect(small).facing


def test_a_mirrored_face_is_still_a_face(detector: FaceDetector) -> None:
    mirrored = read_image(CAMERA / "face.jpg")[:, ::-1].copy()
    assert detector.detect(mirrored, check_profile=False).facing


def test_a_black_frame_has_no_face(detector: FaceDetector) -> None:
    assert detector.detect(np.zeros((480, 640, 3), np.uint8)).faces == 0


@pytest.mark.parametrize(
    "bad",
    [np.zeros((480, 640), np.uint8), np.zeros((480, 640, 4), np.uint8), np.zeros((8, 8, 3))],
)
def test_wrong_image_shapes_are_refused(detector: FaceDetector, bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="RGB uint8"):
        detector.detect(bad)


def test_missing_cascades_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(OSError, match=r"haarcascade_frontalface_alt2\.xml"):
        FaceDetector(tmp_path)
