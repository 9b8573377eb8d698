"""Recognizer factory: names, options, one cached instance per backend and options."""

from __future__ import annotations

import pytest

from omnivox.models.recognizer.factory import BACKENDS, create_recognizer
from omnivox.models.recognizer.pocketsphinx import PocketsphinxRecognizer


def test_backends_listed() -> None:
    assert set(BACKENDS) == {"hybrid", "moonshine", "pocketsphinx"}


def test_cached_per_backend_and_options() -> None:
    a = create_recognizer("pocketsphinx")
    assert isinstance(a, PocketsphinxRecognizer) and a.name == "pocketsphinx"
    assert create_recognizer("pocketsphinx") is a
    assert create_recognizer("pocketsphinx", partial_interval_ms=100) is a  # the default
    b = create_recognizer("pocketsphinx", partial_interval_ms=300)
    assert b is not a and b.partial_interval_ms == 300


def test_moonshine_based_backends_share_the_model() -> None:
    moonshine = create_recognizer("moonshine")
    hybrid = create_recognizer("hybrid")
    assert (moonshine.name, hybrid.name) == ("moonshine", "hybrid")
    assert moonshine.model is hybrid.model  # type: ignore[attr-defined]


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="unknown recognizer backend 'whisper'"):
        create_recognizer("whisper")  # type: ignore[arg-type]


def test_unknown_option_named() -> None:
    with pytest.raises(ValueError, match=r"pocketsphinx.*threads"):
        create_recognizer("pocketsphinx", threads=2)
