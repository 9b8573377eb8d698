"""Short-lived client tokens, like the OpenAI Realtime API's client secrets.

A backend holding the API key mints one (`POST /v1/tokens`) and hands it to a browser,
which uses it as its bearer for a few minutes without ever seeing the key. A token is
its expiry and a nonce, signed with HMAC-SHA256 under a key derived from the API key:
no server state, and every worker sharing the key accepts it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "ovx1"


@dataclass(frozen=True, slots=True)
class ClientToken:
    value: str
    expires_at: int
    """Unix time, seconds."""


class ClientTokens:
    def __init__(self, api_key: str, ttl_s: int) -> None:
        self._key = hmac.new(api_key.encode(), b"omnivox client token", hashlib.sha256).digest()
        self.ttl_s = ttl_s

    def mint(self, now: float) -> ClientToken:
        expires = int(now) + self.ttl_s
        body = f"{PREFIX}.{expires}.{secrets.token_urlsafe(12)}"
        return ClientToken(f"{body}.{self._sign(body)}", expires)

    def valid(self, value: str, now: float) -> bool:
        """Signed by us (compared in constant time) and not expired."""
        body, _, signature = value.rpartition(".")
        parts = body.split(".")
        if len(parts) != 3 or parts[0] != PREFIX or not (parts[1].isascii() and parts[1].isdigit()):
            return False
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            return False
        return now < int(parts[1])

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
