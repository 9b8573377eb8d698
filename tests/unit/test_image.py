from __future__ import annotations

from pathlib import Path

import pytest

from omnivox.media.image import ImageFileError, read_image

CAMERA = Path(__file__).parents[1] / "fixtures" / "camera"


def test_reads_rgb() -> None:
    rgb = read_image(CAMERA / "no_face.jpg")
    assert rgb.shape == (480, 640, 3) and rgb.dtype.name == "uint8"
    # A coffee cup on wood: more red than blue, which a BGR mix-up would invert.
    assert rgb[..., 0].mean() > rgb[..., 2].mean()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageFileError, match="no such image file"):
        read_image(tmp_path / "nope.jpg")


def test_not_an_image(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")
    with pytest.raises(ImageFileError, match=r"bad\.jpg: not a readable image"):
        read_image(bad)
