"""CPU cost of idle connected sessions (a benchmark, not a test).

Starts `omnivox serve` as its own process, connects N real aiortc peers that send
silence (as a quiet microphone does), and reads the server's CPU time from /proc while
they stay connected. Prints CPU per idle session as a percentage of one core.

    omnivox bench idle_cpu [--sessions 4] [--seconds 20]

The server process and client helpers here are shared with `omnivox bench load`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, proc: str = "/proc") -> float:
    """CPU time (user + system) the process has used so far. The kernel sums a process's
    /proc/<pid>/stat utime and stime over all its threads, exited ones included."""
    with open(f"{proc}/{pid}/stat") as f:
        # comm (field 2) is in parentheses and may itself hold spaces or ")".
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def offer(url: str, pc: RTCPeerConnection) -> dict[str, Any]:
    """POST pc's offer to /v1/sessions and apply the answer, which is returned (it holds
    the session_id). aiortc has no trickle ICE: setLocalDescription returns once ICE
    gathering is complete, so the offer carries every candidate."""
    await pc.setLocalDescription(await pc.createOffer())
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            url + "/v1/sessions", json={"sdp": pc.localDescription.sdp, "type": "offer"}
        ) as resp,
    ):
        if resp.status != 200:
            raise RuntimeError(f"POST /v1/sessions: {resp.status} {await resp.text()}")
        answer: dict[str, Any] = await resp.json()
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
    return answer


async def connect(url: str) -> RTCPeerConnection:
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    pc.createDataChannel("events")
    await offer(url, pc)
    return pc


@dataclass(frozen=True)
class ServerProcess:
    url: str
    pid: int
    proc: subprocess.Popen[bytes] | None = None
    """The process itself (tests signal it and read its exit status)."""


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"omnivox serve exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/v1/health", timeout=1) as resp:
                if json.load(resp).get("status") == "ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"omnivox serve was not healthy within {timeout_s:.0f} s")


@contextlib.contextmanager
def serve(
    config_yaml: str, start_timeout_s: float = 180, args: Sequence[str] = ()
) -> Iterator[ServerProcess]:
    """`omnivox serve` in its own process with `config_yaml` on a free loopback port, from
    healthy (GET /v1/health) until the block ends; always terminated, Ctrl-C included."""
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="omnivox-bench-") as config:
        config.write(config_yaml)
        config.flush()
        exe = os.path.join(os.path.dirname(sys.executable), "omnivox")
        proc = subprocess.Popen(
            [exe, "serve", "--port", str(port), "--config", config.name, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, proc, start_timeout_s)
            yield ServerProcess(url, proc.pid, proc)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def measure(url: str, pid: int, sessions: int, seconds: float) -> dict[str, float]:
    base0 = cpu_seconds(pid)
    await asyncio.sleep(seconds / 2)
    baseline = (cpu_seconds(pid) - base0) / (seconds / 2)
    pcs = [await connect(url) for _ in range(sessions)]
    await asyncio.sleep(3)  # connection set-up and greeting out of the way
    c0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    used = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
    for pc in pcs:
        await pc.close()
    return {
        "sessions": sessions,
        "server_idle_cpu_pct": round(100 * baseline, 2),
        "server_cpu_pct": round(100 * used, 2),
        "per_session_cpu_pct": round(100 * (used - baseline) / sessions, 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="omnivox bench idle_cpu", description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=4, help="connected peers")
    ap.add_argument("--seconds", type=float, default=20, help="how long to measure")
    args = ap.parse_args(argv)
    with serve("greeting: ''\n") as server:
        print(asyncio.run(measure(server.url, server.pid, args.sessions, args.seconds)))
    return 0
