"""The kiosk's own defaults under the user's config, and its --camera argument."""

from __future__ import annotations

import pytest

from omnivox.agent.config import parse_config
from omnivox.agent.kiosk.run import _camera_index, kiosk_config


def test_a_kiosk_cancels_its_echo_and_forgets_visitors_unless_told_otherwise() -> None:
    config = kiosk_config(parse_config({"greeting": "Hello"}))
    assert config.echo.cancel and config.echo.gate
    assert config.camera.forget_on_leave
    assert config.greeting == "Hello"
    told = kiosk_config(
        parse_config({"echo": {"cancel": False}, "camera": {"forget_on_leave": False}})
    )
    assert not told.echo.cancel and not told.camera.forget_on_leave


def test_camera_argument() -> None:
    assert _camera_index("off") is None
    assert _camera_index("auto") == 0
    assert _camera_index("2") == 2
    with pytest.raises(ValueError, match="--camera takes an index, auto or off"):
        _camera_index("front")
