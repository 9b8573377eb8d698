"""STUN and TURN servers for both ends of a WebRTC call.

The same list goes to the server's own peer connections (aiortc) and to the page, which
needs it before it creates its RTCPeerConnection. A TURN server that uses the TURN REST
API's shared-secret scheme (coturn's `use-auth-secret` / `static-auth-secret`) gets
short-lived credentials minted per call: username "<expiry unix time>:<id>", password
base64(HMAC-SHA1(secret, username)); the TURN server checks both without a database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, replace
from typing import Any, Literal

from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCIceTransportPolicy

IceTransportPolicy = Literal["all", "relay"]

_HOST_PORT = r"(\[[0-9a-fA-F:.]+\]|[^\s?:/@\[\]]+)(:\d{1,5})?"
_URL = re.compile(rf"stuns?:{_HOST_PORT}|turns?:{_HOST_PORT}(\?transport=(udp|tcp))?")
"""RFC 7064 (STUN) and RFC 7065 (TURN) URIs."""


def check_ice_url(url: str) -> str:
    """`url` if it is a stun:, stuns:, turn: or turns: URL with a host (RFC 7064/7065);
    ValueError naming it otherwise."""
    if not _URL.fullmatch(url):
        raise ValueError(f"{url!r} is not a STUN or TURN URL (stun:HOST[:PORT], turn:HOST...)")
    return url


def is_turn(url: str) -> bool:
    return url.startswith(("turn:", "turns:"))


def turn_rest_credentials(secret: str, user_id: str, expires_at: int) -> tuple[str, str]:
    """(username, password) for the TURN REST API shared-secret scheme."""
    username = f"{expires_at}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class IceServer:
    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The W3C RTCIceServer dictionary, as the page's RTCPeerConnection takes it."""
        out: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out

    def link_headers(self) -> list[str]:
        """RFC 9725 section 4.6: one `Link: <url>; rel="ice-server"` per URL."""
        params = ""
        if self.username is not None and self.credential is not None:
            params = (
                f'; username="{_quoted(self.username)}"; '
                f'credential="{_quoted(self.credential)}"; credential-type="password"'
            )
        return [f'<{url}>; rel="ice-server"{params}' for url in self.urls]


@dataclass(frozen=True, slots=True)
class IceServers:
    """The configured servers; `for_call` fills in minted credentials."""

    servers: tuple[IceServer, ...] = ()
    turn_secret: str | None = None
    """Shared secret of TURN servers listed without a username."""
    credential_ttl_s: int = 86_400
    policy: IceTransportPolicy = "all"
    """"relay": use TURN relays only (hides both ends' addresses; also how a test proves
    the relay path works)."""

    def for_call(self, call_id: str, now_s: float) -> tuple[IceServer, ...]:
        """The servers for one call at wall time `now_s` (unix seconds)."""
        if self.turn_secret is None:
            return self.servers
        expires = int(now_s) + self.credential_ttl_s
        username, password = turn_rest_credentials(self.turn_secret, call_id, expires)
        return tuple(
            replace(s, username=username, credential=password)
            if s.username is None and any(is_turn(u) for u in s.urls)
            else s
            for s in self.servers
        )

    def rtc_configuration(self, call_id: str, now_s: float) -> RTCConfiguration:
        """For the server's own aiortc peer connection. An empty list means no STUN at
        all (aiortc would otherwise ask Google's public STUN server)."""
        servers = [
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in self.for_call(call_id, now_s)
        ]
        policy = (
            RTCIceTransportPolicy.RELAY if self.policy == "relay" else RTCIceTransportPolicy.ALL
        )
        return RTCConfiguration(iceServers=servers, iceTransportPolicy=policy)

    def page_configuration(self, call_id: str, now_s: float) -> dict[str, Any]:
        """The RTCConfiguration dictionary for the page (`GET /v1/ice-servers`)."""
        return {
            "iceServers": [s.to_json() for s in self.for_call(call_id, now_s)],
            "iceTransportPolicy": self.policy,
        }


def _quoted(value: str) -> str:
    """A quoted-string's content (RFC 9110): backslash-escape quotes and backslashes."""
    return value.replace("\\", "\\\\").replace('"', '\\"')
