"""Fixtures every test shares."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def restore_root_logging() -> Iterator[None]:
    """The CLI's setup replaces the root handlers with one bound to the stderr of the
    moment, which is pytest's capture for this test only: later tests would log into a
    closed file."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
