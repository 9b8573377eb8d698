"""How smoothly the agent's audio reaches a browser (a benchmark, not a test).

    .venv/bin/python lab/bench/browser_audio.py [--runs 3]

A real omnivox server (embedded stack) and headless Debian Chromium with a scripted
microphone (two questions). While the conversation runs it records:
- the event loop's lag (a 5 ms sleep's overshoot, sampled continuously): a stall here
  delays every session's outgoing RTP;
- the receive-path delay the page reports (network + jitter buffer, WebRTC stats),
  which browsers grow after a send stall and shrink only slowly: it adds to the
  voice-to-voice latency the user hears.
Prints p50 / p95 / max over all runs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[2]))

from omnivox.agent.config import parse_config
from omnivox.agent.session import Session
from tests.integration.browser import launch_chromium, wait_for_event
from tests.integration.conftest import serving, silence, speech, write_user_wav


async def loop_lag(stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.005)
        out.append((time.perf_counter() - t - 0.005) * 1000)


async def one_run(wav: Path, lags: list[float], delays: list[float]) -> None:
    config = parse_config({"greeting": ""})
    report = Session.report_playout_delay

    def spy(self: Session, delay_ms: float) -> None:
        delays.append(delay_ms)
        report(self, delay_ms)

    Session.report_playout_delay = spy  # type: ignore[method-assign]
    try:
        async with serving(config) as server, launch_chromium(fake_audio_wav=wav) as page:
            await page.goto(server.url + "/")
            await page.evaluate("() => window.omnivox.connect()")
            await wait_for_event(page, "session_started", 20)
            stop = asyncio.Event()
            probe = asyncio.create_task(loop_lag(stop, lags))
            await asyncio.sleep(18)
            stop.set()
            await probe
    finally:
        Session.report_playout_delay = report  # type: ignore[method-assign]


def stats(values: list[float]) -> str:
    p50, p95 = np.percentile(values, [50, 95])
    return f"{p50:7.1f} {p95:7.1f} {max(values):7.1f}   (n={len(values)})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
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
            await one_run(wav, lags, delays)
    print(f"{'ms':34s} {'p50':>7s} {'p95':>7s} {'max':>7s}")
    print(f"{'event-loop lag':34s} {stats(lags)}")
    print(f"{'page receive delay (net + jitter)':34s} {stats(delays)}")


if __name__ == "__main__":
    asyncio.run(main())
