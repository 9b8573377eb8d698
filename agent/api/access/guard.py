"""The access layer in front of every `/v1/*` route but health: rate limits, body sizes,
Origin, the API key or a client token, per-client session caps; and JSON error bodies.

One aiohttp middleware, so routes mounted later (WHIP, the Realtime API) are covered
without knowing about it. Browsers cannot set headers on a WebSocket, so an upgrade may
carry its token as `?token=` or as a `Sec-WebSocket-Protocol` entry
(`omnivox-token.TOKEN`, or OpenAI's `openai-insecure-api-key.TOKEN`).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from omnivox.agent.api.access.rate_limit import RateLimiter
from omnivox.agent.api.access.tokens import ClientTokens
from omnivox.agent.config import AccessConfig
from omnivox.media.sessions import SessionRegistry, opened_by
from omnivox.media.webrtc.signaling import error_response

log = logging.getLogger(__name__)

API_PREFIX = "/v1/"
OPEN_PATHS = frozenset({"/v1/health"})
TOKENS_PATH = "/v1/tokens"
WS_PROTOCOL_PREFIXES = ("omnivox-token.", "openai-insecure-api-key.")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def creates_session(request: web.Request) -> bool:
    """A request that may open a session: a POST (an SDP offer, WHIP) or a WebSocket."""
    if request.path == TOKENS_PATH:
        return False
    return request.method == hdrs.METH_POST or is_websocket(request)


def is_plain_error(response: web.StreamResponse) -> bool:
    return (
        isinstance(response, web.Response)
        and response.status >= 400
        and response.content_type != "application/json"
    )


def is_websocket(request: web.Request) -> bool:
    return request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"


class AccessGuard:
    def __init__(
        self,
        config: AccessConfig,
        registry: SessionRegistry,
        api_key: str | None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._registry = registry
        self._key = api_key.encode() if api_key else None
        self.tokens = ClientTokens(api_key, config.token_ttl_s) if api_key else None
        self._rates = RateLimiter(config.requests_per_s, config.request_burst)
        self._now = now
        self._proxies = [ipaddress.ip_network(n, strict=False) for n in config.trusted_proxies]
        self._opening: dict[str, int] = {}
        """Session-opening requests in flight per client (not yet in the registry)."""

    @classmethod
    def from_env(
        cls, config: AccessConfig, registry: SessionRegistry, env: Mapping[str, str]
    ) -> AccessGuard:
        return cls(config, registry, env.get(config.api_key_env) or None)

    @property
    def enabled(self) -> bool:
        """Whether a key (or a token) is asked for."""
        return self._key is not None

    def mount(self, app: web.Application) -> None:
        app.middlewares.append(self.middleware)
        app.router.add_post(TOKENS_PATH, self.mint_token)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX) or request.path in OPEN_PATHS:
            return await handler(request)
        client = self.client_address(request)
        refused = self._refusal(request, client)
        if refused is not None:
            return refused
        counted = creates_session(request) and not is_websocket(request)
        if counted:
            self._opening[client] = self._opening.get(client, 0) + 1
        token = opened_by.set(client)
        try:
            return await self._handle(request, handler)
        finally:
            opened_by.reset(token)
            if counted:
                self._opening[client] -= 1
                if not self._opening[client]:
                    del self._opening[client]

    @staticmethod
    async def _handle(request: web.Request, handler: Handler) -> web.StreamResponse:
        """The handler's answer, its HTTP errors (and aiohttp's own: no route, wrong
        method) as JSON bodies."""
        try:
            response = await handler(request)
        except web.HTTPException as err:
            if err.status < 400:
                raise
            return error_response(err.status, err.reason)
        if isinstance(response, web.FileResponse):  # the page's files fall through to here
            return error_response(404, f"no such endpoint: {request.method} {request.path}")
        if is_plain_error(response):
            return error_response(response.status, response.reason)
        return response

    def _refusal(self, request: web.Request, client: str) -> web.Response | None:
        wait_s = self._rates.check(client, self._now())
        if wait_s:
            response = error_response(429, "too many requests: slow down")
            response.headers[hdrs.RETRY_AFTER] = str(max(1, round(wait_s)))
            return response
        limit = self.config.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return error_response(413, f"request body too large (limit {limit} bytes)")
        if not self._origin_allowed(request):
            return error_response(403, f"origin {request.headers[hdrs.ORIGIN]!r} is not allowed")
        if self._key is not None and not self._authorized(request):
            response = error_response(
                401,
                "missing or invalid credentials: send the API key or a client token as "
                "'Authorization: Bearer ...'",
            )
            response.headers[hdrs.WWW_AUTHENTICATE] = "Bearer"
            return response
        cap = self.config.max_sessions_per_ip
        if creates_session(request) and self._sessions_of(client) >= cap:
            return error_response(429, f"too many sessions from {client} (limit {cap})")
        return None

    def client_address(self, request: web.Request) -> str:
        """The caller's address: behind trusted proxies, the last address in
        X-Forwarded-For that is not one of them (earlier ones the client may forge)."""
        remote = request.remote or "unknown"
        if not self._trusted(remote):
            return remote
        headers = request.headers.getall(hdrs.X_FORWARDED_FOR, [])
        hops = [h.strip() for header in headers for h in header.split(",") if h.strip()]
        hops = [*hops[-16:], remote]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop
        return hops[0]

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._proxies)

    def _sessions_of(self, client: str) -> int:
        return self._registry.count_opened_by(client) + self._opening.get(client, 0)

    def _origin_allowed(self, request: web.Request) -> bool:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is None:  # not a browser
            return True
        allowed = self.config.allowed_origins
        if "*" in allowed or origin in allowed:
            return True
        return urlsplit(origin).netloc == request.host  # the page's own origin

    def _authorized(self, request: web.Request) -> bool:
        presented = self._credentials(request)
        if self._is_key(presented):
            return True
        if request.path == TOKENS_PATH:  # minting takes the key itself
            return False
        assert self.tokens is not None
        now = self._now()
        return any(self.tokens.valid(c, now) for c in presented)

    def _is_key(self, presented: list[str]) -> bool:
        assert self._key is not None
        return any(hmac.compare_digest(c.encode(), self._key) for c in presented)

    @staticmethod
    def _credentials(request: web.Request) -> list[str]:
        found = []
        scheme, _, value = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            found.append(value.strip())
        if is_websocket(request):
            if "token" in request.query:
                found.append(request.query["token"])
            for proto in request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL, "").split(","):
                proto = proto.strip()
                for prefix in WS_PROTOCOL_PREFIXES:
                    if proto.startswith(prefix):
                        found.append(proto.removeprefix(prefix))
        return found[:4]  # a bound on the work a request can ask for

    async def mint_token(self, _request: web.Request) -> web.Response:
        """`POST /v1/tokens` (with the API key): a client token and its expiry."""
        if self.tokens is None:
            return error_response(
                400, f"client tokens need an API key: set ${self.config.api_key_env}"
            )
        token = self.tokens.mint(self._now())
        return web.json_response({"value": token.value, "expires_at": token.expires_at})


def warn_if_open(guard: AccessGuard, host: str) -> str | None:
    """The warning to print when the server listens beyond this machine without a key."""
    if guard.enabled or is_loopback(host):
        return None
    return (
        f"omnivox: WARNING: listening on {host} without an API key: anyone who can reach "
        f"this address can open sessions. Set ${guard.config.api_key_env} "
        "(see 'Running in production' in the README)."
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
