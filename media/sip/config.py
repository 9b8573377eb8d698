"""Settings of the SIP user agent server."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    """The one account allowed to place calls, checked with HTTP Digest (MD5)."""

    realm: str
    username: str
    password: str = field(repr=False)
    nonce_ttl_s: float = 300.0
    """A challenge's nonce is good this long; later it gets a fresh challenge (stale)."""
    max_nonces: int = 1024
    """Outstanding nonces remembered; the oldest is forgotten first."""


@dataclass(frozen=True, slots=True)
class SipConfig:
    local_host: str
    """Our address as peers reach it, for Contact and Via (an IP or a name)."""
    local_port: int = 5060
    user_agent: str = "omnivox"
    """Sent as Server in responses and User-Agent in requests."""
    contact_user: str = ""
    """User part of our Contact URI ("" for none): sip:[user@]host:port."""
    max_calls: int = 8
    """Calls at once; an INVITE beyond them gets 486 Busy Here."""
    allowed_networks: tuple[Network, ...] = ()
    """Source networks that may send us requests (others get 403); () allows all."""
    auth: DigestCredentials | None = None
    """Challenge new INVITEs (401) when set."""
    max_transactions: int = 4096
    """Server transactions remembered for absorbing retransmissions; past it the
    oldest finished one is forgotten early."""

    def __post_init__(self) -> None:
        if not 0 < self.local_port < 65536:
            raise ValueError(f"local_port {self.local_port} out of range")
        if self.max_calls < 0 or self.max_transactions < 1:
            raise ValueError("max_calls must be >= 0 and max_transactions >= 1")
