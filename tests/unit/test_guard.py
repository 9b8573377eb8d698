"""The access middleware on requests for any `/v1/*` route, including ones it has never
heard of, with a fake clock."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from omnivox.agent.api.access.guard import AccessGuard, warn_if_open
from omnivox.agent.config import AccessConfig
from omnivox.media.sessions import SessionRegistry, opened_by

KEY = "sk-test-key"


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


class FakeSession:
    def __init__(self, sid: str) -> None:
        self.id = sid
        self.running_tasks = 0

    async def close(self, reason: str) -> None:
        pass


def guard(key: str | None = KEY, **config: Any) -> tuple[AccessGuard, SessionRegistry, Clock]:
    registry, clock = SessionRegistry(100), Clock()
    return AccessGuard(AccessConfig(**config), registry, key, clock), registry, clock


def request(
    method: str = "POST",
    path: str = "/v1/anything-new",
    remote: str = "10.0.0.1",
    **headers: str,
) -> web.Request:
    hdrs = CIMultiDict({k.replace("_", "-"): v for k, v in headers.items()})
    hdrs.setdefault("Host", "voice.example.com")
    return make_mocked_request(method, path, headers=hdrs).clone(remote=remote)


async def ok(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "opened_by": opened_by.get()})


async def call(g: AccessGuard, req: web.Request, handler: Any = ok) -> tuple[int, dict[str, Any]]:
    response = await g.middleware(req, handler)
    assert isinstance(response, web.Response) and response.text is not None
    return response.status, json.loads(response.text)


async def test_without_a_key_anything_goes_and_with_one_it_is_a_json_401() -> None:
    open_guard, _, _ = guard(key=None)
    assert (await call(open_guard, request()))[0] == 200
    g, _, _ = guard()
    status, body = await call(g, request())
    assert status == 401 and "Bearer" in body["error"]
    assert (await call(g, request(Authorization="Bearer wrong")))[0] == 401
    assert (await call(g, request(Authorization=f"Bearer {KEY}")))[0] == 200
    assert (await call(g, request(Authorization=f"bearer {KEY}")))[0] == 200


async def test_health_and_the_page_need_nothing() -> None:
    g, _, _ = guard()
    assert (await call(g, request("GET", "/v1/health")))[0] == 200
    assert (await call(g, request("GET", "/app.js")))[0] == 200


async def test_client_tokens_work_everywhere_but_minting_and_expire() -> None:
    g, _, clock = guard(token_ttl_s=60)
    minted = await g.mint_token(request(Authorization=f"Bearer {KEY}"))
    token = json.loads(minted.text or "")
    assert token["expires_at"] == int(clock.t) + 60
    bearer = f"Bearer {token['value']}"
    assert (await call(g, request(Authorization=bearer)))[0] == 200
    assert (await call(g, request(path="/v1/tokens", Authorization=bearer)))[0] == 401
    clock.t += 61
    assert (await call(g, request(Authorization=bearer)))[0] == 401


async def test_websockets_may_carry_the_token_in_the_query_or_subprotocol() -> None:
    g, _, _ = guard()
    value = g.tokens.mint(Clock()()).value if g.tokens else ""
    ws = {"Upgrade": "websocket", "Connection": "Upgrade"}
    assert (await call(g, request("GET", f"/v1/realtime?token={value}", **ws)))[0] == 200
    protocols = f"realtime, openai-insecure-api-key.{value}"
    assert (await call(g, request("GET", "/v1/realtime", Sec_WebSocket_Protocol=protocols, **ws)))[
        0
    ] == 200
    assert (await call(g, request("GET", "/v1/realtime", **ws)))[0] == 401
    # not on plain requests: a token in a URL ends up in logs
    assert (await call(g, request("GET", f"/v1/x?token={value}")))[0] == 401


async def test_foreign_origins_are_a_403_unless_allowed() -> None:
    g, _, _ = guard(key=None, allowed_origins=["https://app.example.com"])
    status, body = await call(g, request(Origin="https://evil.example"))
    assert status == 403 and "evil" in body["error"]
    assert (await call(g, request(Origin="https://app.example.com")))[0] == 200
    assert (await call(g, request(Origin="https://voice.example.com")))[0] == 200  # same origin
    assert (await call(g, request()))[0] == 200  # no Origin: not a browser
    anyone, _, _ = guard(key=None, allowed_origins=["*"])
    assert (await call(anyone, request(Origin="https://evil.example")))[0] == 200


async def test_request_rate_is_limited_per_client_with_retry_after() -> None:
    g, _, clock = guard(key=None, requests_per_s=1.0, request_burst=2)
    assert [(await call(g, request("GET")))[0] for _ in range(3)] == [200, 200, 429]
    response = await g.middleware(request("GET"), ok)
    assert response.headers["Retry-After"] == "1"
    assert (await call(g, request("GET", remote="10.0.0.2")))[0] == 200
    clock.t += 1.0
    assert (await call(g, request("GET")))[0] == 200


async def test_large_bodies_are_a_413_before_the_handler_runs() -> None:
    g, _, _ = guard(key=None, max_body_bytes=1000)
    status, body = await call(g, request(Content_Length="5000"))
    assert status == 413 and "1000" in body["error"]


async def test_sessions_per_client_are_capped_across_transports() -> None:
    g, registry, _ = guard(key=None, max_sessions_per_ip=2)

    async def opens(req: web.Request) -> web.Response:
        registry.add(FakeSession(f"s{len(registry)}"))
        return await ok(req)

    assert [(await call(g, request(), opens))[0] for _ in range(3)] == [200, 200, 429]
    status, body = await call(g, request(), opens)
    assert status == 429 and "too many sessions" in body["error"]
    assert (await call(g, request("DELETE")))[0] == 200  # hanging up is not capped
    assert (await call(g, request(remote="10.0.0.9"), opens))[0] == 200
    await registry.close("s0", "hangup")
    assert (await call(g, request(), opens))[0] == 200


async def test_the_client_address_reaches_the_handler_and_http_errors_become_json() -> None:
    g, _, _ = guard(key=None)
    assert (await call(g, request()))[1]["opened_by"] == "10.0.0.1"

    async def too_big(_request: web.Request) -> web.Response:
        raise web.HTTPRequestEntityTooLarge(max_size=10, actual_size=20)

    status, body = await call(g, request(), too_big)
    assert status == 413 and body["error"]


def test_listening_beyond_localhost_without_a_key_warns() -> None:
    open_guard, _, _ = guard(key=None)
    assert warn_if_open(open_guard, "127.0.0.1") is None
    assert warn_if_open(open_guard, "localhost") is None
    warning = warn_if_open(open_guard, "0.0.0.0")
    assert warning is not None and "OMNIVOX_API_KEY" in warning
    assert warn_if_open(guard()[0], "0.0.0.0") is None


async def test_behind_a_trusted_proxy_the_forwarded_client_is_counted() -> None:
    g, _, _ = guard(key=None, trusted_proxies=["10.9.0.0/16"], requests_per_s=1, request_burst=1)
    via_lb = {"remote": "10.9.0.5"}
    assert g.client_address(request(**via_lb, X_Forwarded_For="203.0.113.7")) == "203.0.113.7"
    # a client cannot pose as another: only the hop the proxy appended is believed
    forged = request(**via_lb, X_Forwarded_For="198.51.100.1, 203.0.113.7")
    assert g.client_address(forged) == "203.0.113.7"
    assert g.client_address(request(**via_lb)) == "10.9.0.5"
    # an untrusted sender's header is ignored
    assert g.client_address(request(remote="192.0.2.1", X_Forwarded_For="1.2.3.4")) == "192.0.2.1"
    # two clients behind the proxy have their own buckets
    assert (await call(g, request(**via_lb, X_Forwarded_For="203.0.113.7")))[0] == 200
    assert (await call(g, request(**via_lb, X_Forwarded_For="203.0.113.8")))[0] == 200
    assert (await call(g, request(**via_lb, X_Forwarded_For="203.0.113.7")))[0] == 429
