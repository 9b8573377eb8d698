"""A remote Thinker's key comes from the named environment variable; URLs shown in
messages carry no secrets."""

from __future__ import annotations

import pytest
from yarl import URL

from omnivox.models.thinker.credentials import api_key_from_env, safe_url


def test_the_key_is_read_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIVOX_TEST_KEY", "  sk-123 \n")
    assert api_key_from_env("OMNIVOX_TEST_KEY") == "sk-123"
    assert api_key_from_env(None) is None


def test_an_unset_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIVOX_TEST_KEY", " ")
    with pytest.raises(ValueError, match="OMNIVOX_TEST_KEY is not set"):
        api_key_from_env("OMNIVOX_TEST_KEY")


def test_safe_url_drops_credentials_and_query() -> None:
    url = URL("wss://user:secret@api.example.com/v1/realtime?api-key=abc#x")
    assert safe_url(url) == "wss://api.example.com/v1/realtime"
