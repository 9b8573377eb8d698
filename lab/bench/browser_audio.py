"""How smoothly the agent's audio reaches a browser (a benchmark, not a test).

    omnivox bench browser_audio [--runs 3]

A real omnivox server (embedded stack) and headless Debian Chromium with a scripted
microphone (two questions). While the conversation runs it records:
- the event loop's lag (a 5 ms sleep's overshoot, sampled continuously): a stall here
  delays every session's outgoing RTP;
- the receive-path delay the page reports (network + jitter buffer, WebRTC stats),
  which browsers grow after a send stall and shrink only slowly: it adds to the
  voice-to-voice latency the user hears.
Prints p50 / p95 / max over all runs. Needs /usr/bin/chromium and Playwright (dev extra).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

from omnivox.agent.config import AgentConfig, parse_config
from omnivox.agent.session import Session
from omnivox.agent.stack import ModelStack, build_stack
from omnivox.lab.browser import launch_chromium, missing_prerequisites, wait_for_event
from omnivox.lab.local_server import serving
from omnivox.lab.user_track import silence, speech, write_user_wav


async def loop_lag(stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.005)
        out.append((time.perf_counter() - t - 0.005) * 1000)


async def one_run(
    config: AgentConfig, stack: ModelStack, wav: Path, lags: list[float], delays: list[float]
) -> None:
    report = Session.report_playout_delay

    def spy(self: Session, delay_ms: float) -> None:
        delays.append(delay_ms)
        report(self, delay_ms)

    with mock.patch.object(Session, "report_playout_delay", spy):
        async with serving(config, stack) as server, launch_chromium(fake_audio_wav=wav) as page:
            await page.goto(server.url + "/")
            await page.evaluate("() => window.omnivox.connect()")
            await wait_for_event(page, "session_started", 20)
            stop = asyncio.Event()
            probe = asyncio.create_task(loop_lag(stop, lags))
            await asyncio.sleep(18)
            stop.set()
            await probe


def stats(values: list[float]) -> str:
    p50, p95 = np.percentile(values, [50, 95])
    return f"{p50:7.1f} {p95:7.1f} {max(values):7.1f}   (n={len(values)})"


async def run(runs: int) -> None:
    config = parse_config({"greeting": ""})
    stack = build_stack(config)
    with tempfile.TemporaryDirectory() as tmp:
        wav = write_user_wav(
            Path(tmp) / "talk.wav",
            silence(2.0),
            speech("What are your opening hours?"),
            silence(6.0),
            speech("And how much is a day pass for a child?"),
            silence(12.0),
        )
        lags: list[float] = []
        delays: list[float] = []
        for _ in range(runs):
            await one_run(config, stack, wav, lags, delays)
    print(f"{'ms':34s} {'p50':>7s} {'p95':>7s} {'max':>7s}")
    print(f"{'event-loop lag':34s} {stats(lags)}")
    print(f"{'page receive delay (net + jitter)':34s} {stats(delays)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omnivox bench browser_audio", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--runs", type=int, default=3, help="conversations (about 20 s each)")
    runs = parser.parse_args(argv).runs
    missing = missing_prerequisites()
    if missing:
        print(f"omnivox bench browser_audio: needs {', '.join(missing)}", file=sys.stderr)
        return 2
    asyncio.run(run(runs))
    return 0
