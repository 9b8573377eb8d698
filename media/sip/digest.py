"""HTTP Digest authentication of INVITEs (RFC 3261 22, RFC 2617 / RFC 7616 with MD5).

We answer an INVITE without good credentials with a 401 whose nonce we remember; the
caller sends the INVITE again with `response = MD5(HA1:nonce:nc:cnonce:auth:HA2)`.
Nonces are random, expire after `nonce_ttl_s` (a late one earns `stale=true`, so the
phone retries without asking its user again), are bounded in number, and each nonce
count is accepted once (a replayed INVITE fails). MD5 is what SIP phones speak; in
production a proxy in front (TLS, stronger schemes) is the real gate.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from omnivox.media.sip.config import DigestCredentials
from omnivox.media.sip.message import SipRequest
from omnivox.media.sip.syntax import SipParseError, quote, split_unquoted, unquote

_NONCE_COUNT = re.compile(r"[0-9A-Fa-f]{8}")


class AuthResult(enum.Enum):
    OK = "ok"
    MISSING = "missing"
    """No Digest credentials for our realm."""
    STALE = "stale"
    """Credentials for a nonce we no longer know (expired, evicted, or from before a
    restart): challenge again with stale=true."""
    FAILED = "failed"
    """Wrong user, password, URI or algorithm, or a replayed nonce count."""


@dataclass(slots=True)
class _Nonce:
    expires_ms: float
    last_count: int = 0
    """The highest nonce count accepted with this nonce."""


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8", "surrogateescape")).hexdigest()


def parse_credentials(value: str) -> dict[str, str] | None:
    """The parameters of a `Digest k=v, k="v"` Authorization value (names lowercased,
    values unquoted), or None for another scheme (RFC 4475 regaut01) or a garbled one."""
    scheme, _, rest = value.strip(" \t").partition(" ")
    if scheme.lower() != "digest":
        return None
    params: dict[str, str] = {}
    try:
        pieces = split_unquoted(rest, ",")
    except SipParseError:
        return None
    for piece in pieces:
        name, equals, param = piece.partition("=")
        if not equals:
            return None
        params[name.strip(" \t").lower()] = unquote(param.strip(" \t"))
    return params


class DigestAuthenticator:
    def __init__(self, credentials: DigestCredentials, token: Callable[[], str]) -> None:
        self._credentials = credentials
        self._token = token
        self._nonces: OrderedDict[str, _Nonce] = OrderedDict()
        self._ha1 = _md5(f"{credentials.username}:{credentials.realm}:{credentials.password}")

    def challenge(self, now_ms: float, *, stale: bool = False) -> str:
        """A WWW-Authenticate value carrying a fresh nonce."""
        for nonce in [n for n, state in self._nonces.items() if now_ms >= state.expires_ms]:
            del self._nonces[nonce]
        while len(self._nonces) >= max(1, self._credentials.max_nonces):
            self._nonces.popitem(last=False)
        nonce = self._token() + self._token()
        self._nonces[nonce] = _Nonce(now_ms + 1000.0 * self._credentials.nonce_ttl_s)
        value = f'Digest realm={quote(self._credentials.realm)}, nonce="{nonce}"'
        value += ', algorithm=MD5, qop="auth"'
        return value + (", stale=true" if stale else "")

    def check(self, request: SipRequest, now_ms: float) -> AuthResult:
        for value in request.headers.get_all("Authorization"):
            params = parse_credentials(value)
            if params is not None and params.get("realm") == self._credentials.realm:
                return self._verify(params, request, now_ms)
        return AuthResult.MISSING

    def _verify(self, params: dict[str, str], request: SipRequest, now_ms: float) -> AuthResult:
        nonce = params.get("nonce", "")
        state = self._nonces.get(nonce)
        if state is None or now_ms >= state.expires_ms:
            self._nonces.pop(nonce, None)
            return AuthResult.STALE
        uri = params.get("uri", "")
        if (
            params.get("username") != self._credentials.username
            or uri != request.uri
            or params.get("algorithm", "MD5").upper() != "MD5"
        ):
            return AuthResult.FAILED
        ha2 = _md5(f"{request.method}:{uri}")
        qop = params.get("qop")
        count: int | None = None
        if qop is None:  # RFC 2069 style, no client nonce: the nonce is single use
            expected = _md5(f"{self._ha1}:{nonce}:{ha2}")
        elif qop.lower() == "auth":
            nc, cnonce = params.get("nc", ""), params.get("cnonce", "")
            if not _NONCE_COUNT.fullmatch(nc) or not cnonce:
                return AuthResult.FAILED
            count = int(nc, 16)
            expected = _md5(f"{self._ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
        else:
            return AuthResult.FAILED
        given = params.get("response", "").lower().encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(expected.encode(), given):
            return AuthResult.FAILED
        if count is None:
            del self._nonces[nonce]
        elif count <= state.last_count:
            return AuthResult.FAILED  # a replay of an INVITE we already accepted
        else:
            state.last_count = count
        return AuthResult.OK

    def __len__(self) -> int:
        return len(self._nonces)
