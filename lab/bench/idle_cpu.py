"""CPU cost of idle connected sessions (a benchmark, not a test).

Starts `omnivox serve` as its own process, connects N real aiortc peers that send
silence (as a quiet microphone does), and reads the server's CPU time from /proc while
they stay connected. Prints CPU per idle session as a percentage of one core.

    omnivox bench idle_cpu [--sessions 4] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def connect(url: str) -> RTCPeerConnection:
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    pc.createDataChannel("events")
    await pc.setLocalDescription(await pc.createOffer())
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            url + "/v1/sessions", json={"sdp": pc.localDescription.sdp, "type": "offer"}
        ) as resp,
    ):
        answer = await resp.json()
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
    return pc


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
    port = free_port()
    config = f"/tmp/omnivox-idle-{port}.yaml"
    with open(config, "w") as f:
        f.write("greeting: ''\n")
    exe = os.path.join(os.path.dirname(sys.executable), "omnivox")
    proc = subprocess.Popen(
        [exe, "serve", "--port", str(port), "--config", config], stderr=subprocess.DEVNULL
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        print(asyncio.run(measure(url, proc.pid, args.sessions, args.seconds)))
    finally:
        proc.terminate()
        proc.wait(10)
    return 0
