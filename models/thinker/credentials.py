"""A remote Thinker's secrets: its API key, read from the environment variable the config
names (never from the config itself), and its URL as messages may show it."""

from __future__ import annotations

import os

from yarl import URL


def api_key_from_env(variable: str | None) -> str | None:
    """The key in `variable` (None when no variable is named); a named variable that is
    unset or empty is a ValueError naming it, so a typo fails at start-up."""
    if not variable:
        return None
    key = os.environ.get(variable, "").strip()
    if not key:
        raise ValueError(f"thinker.api_key_env: environment variable {variable} is not set")
    return key


def safe_url(url: URL) -> str:
    """The URL without credentials or query (which may hold a key), for messages."""
    return str(url.with_user(None).with_password(None).with_query(None).with_fragment(None))
