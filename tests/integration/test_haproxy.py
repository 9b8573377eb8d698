"""Two real `omnivox serve` workers behind Debian's HAProxy with the shipped
deploy/haproxy.cfg: signaling and WHIP are balanced and each call's later requests reach
its worker; a killed worker's new sessions are served by the other."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from omnivox.lab.bench.idle_cpu import ServerProcess, free_port, serve

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"
WORKER = "greeting: ''\naccess: {trusted_proxies: [127.0.0.1/32]}\n"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(HAPROXY).exists(), reason="needs Debian haproxy"),
]


def _host_port(server: ServerProcess) -> str:
    return server.url.removeprefix("http://")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/v1/health", timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def haproxy(*workers: ServerProcess) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "OMNIVOX_LB_BIND": f"127.0.0.1:{port}"}
    for i, worker in enumerate(workers, start=1):
        env[f"OMNIVOX_WORKER_{i}"] = _host_port(worker)
    proc = subprocess.Popen([HAPROXY, "-db", "-f", str(CONFIG)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while not _healthy(url):
            assert proc.poll() is None and time.monotonic() < deadline, "haproxy did not start"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


async def sessions(worker: ServerProcess) -> int:
    async with aiohttp.ClientSession() as http, http.get(worker.url + "/v1/health") as resp:
        return int((await resp.json())["sessions"])


async def new_peer() -> RTCPeerConnection:
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    return pc


async def whip(lb: str, pc: RTCPeerConnection) -> str:
    """Publish through the balancer (a client without cookies); the Location."""
    headers = {"Content-Type": "application/sdp"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(lb + "/v1/whip", data=pc.localDescription.sdp, headers=headers) as resp,
    ):
        assert resp.status == 201, await resp.text()
        answer = await resp.text()
        location = resp.headers["Location"]
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return location


async def test_two_workers_behind_haproxy_route_calls_and_survive_a_killed_worker() -> None:
    peers: list[RTCPeerConnection] = []
    try:
        with serve(WORKER) as w1, serve(WORKER) as w2, haproxy(w1, w2) as lb:
            # Two pages' JSON signaling, one per worker: each hang-up reaches the worker
            # holding its call by the cookie the balancer set.
            pages, ids = [], []
            for _ in range(2):
                jar = aiohttp.CookieJar(unsafe=True)  # unsafe: cookies from an IP address
                page = aiohttp.ClientSession(cookie_jar=jar)
                pages.append(page)
                pc = await new_peer()
                peers.append(pc)
                offer = {"sdp": pc.localDescription.sdp, "type": "offer"}
                async with page.post(lb + "/v1/sessions", json=offer) as resp:
                    assert resp.status == 200, await resp.text()
                    ids.append((await resp.json())["session_id"])
                assert [c.key for c in jar] == ["OMNIVOX_WORKER"]
            assert (await sessions(w1), await sessions(w2)) == (1, 1)
            for page, session_id in zip(pages, ids, strict=True):
                async with page.delete(f"{lb}/v1/sessions/{session_id}") as resp:
                    assert resp.status == 200
                await page.close()
            assert (await sessions(w1), await sessions(w2)) == (0, 0)

            # WHIP: balanced over both workers; DELETE on each Location reaches its worker.
            locations = []
            for _ in range(4):
                pc = await new_peer()
                peers.append(pc)
                locations.append(await whip(lb, pc))
            assert (await sessions(w1), await sessions(w2)) == (2, 2)
            for location in locations:
                async with aiohttp.ClientSession() as http, http.delete(lb + location) as resp:
                    assert resp.status == 200, (location, resp.status)
            assert (await sessions(w1), await sessions(w2)) == (0, 0)

            # A worker dies: new sessions are served by the other at once.
            os.kill(w1.pid, signal.SIGKILL)
            killed = time.monotonic()
            served = []
            for _ in range(4):
                pc = await new_peer()
                peers.append(pc)
                await whip(lb, pc)
                served.append(round(time.monotonic() - killed, 2))
            assert await sessions(w2) == 4
            print(json.dumps({"killed_worker_new_sessions_served_s": served}))
    finally:
        await asyncio.gather(*(pc.close() for pc in peers))
