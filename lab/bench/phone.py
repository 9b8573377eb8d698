"""Phone calls to one `omnivox serve --sip` process: voice-to-voice and barge-in over RTP,
with N calls at once (a benchmark).

    omnivox bench phone [--calls 1,4,8] [--rounds 3] [--json]

For each N in --calls, a real `omnivox serve` (the embedded offline stack, no greeting,
SIP on a loopback port) gets N calls at once from this process: SIP signalling by a
minimal user agent client (lab/phone_caller.py), RTP in PCMU from one socket, paced at
real time in 20 ms packets on a drift-free schedule. Every caller, at the same moment,
is quiet for a second, asks "How do I get there by bus?" (eSpeak NG, a voice unlike the
agent's), listens to the answer for BARGE_AFTER_S, then talks over it; --rounds times on
the same server, the calls of every round pooled.

Per N, on the callers' clock (time.monotonic(), the media clock of a phone):
- voice-to-voice: from the moment the packet holding the question's last sample was
  sent to the arrival of the first audible agent packet (mu-law decoded RMS above
  -50 dBFS). It includes loopback UDP and G.711 both ways, the server's jitter buffer,
  its endpointing silence and its whole reply path; not a phone's own playout buffer.
- replies within 1 s: calls whose voice-to-voice was at most 1000 ms.
- barge-in stop: from the first sent packet of the interruption's speech to the
  arrival of the agent's last audible packet before it stays quiet for 500 ms (what a
  caller hears of the agent after starting to talk, plus the loopback's few ms).
- server CPU in % of one core (utime + stime of the server process) over the calls.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml

from omnivox.lab.bench.idle_cpu import cpu_seconds, free_port, serve
from omnivox.lab.bench.latency import percentile_stats, trim_silence
from omnivox.lab.phone_caller import RemoteCall, RtpLine, SipCaller, mulaw_frames
from omnivox.lab.training.turn_data import progress
from omnivox.lab.user_track import silence, speech

QUESTION = "How do I get there by bus?"
INTERRUPTION = "wait, stop, I want to know where I can park my car"
AUDIBLE_DBFS = -50.0
LEAD_S = 1.0
BARGE_AFTER_S = 1.0
"""How long each caller listens to the answer before talking over it."""
QUIET_S = 0.5
"""The agent has stopped once it stays below the audible floor this long."""
REPLY_TIMEOUT_S = 15.0
TAIL_S = 4.0
"""Silence after the interruption, for the stop to be seen."""


@dataclass
class CallResult:
    v2v_ms: float | None
    stop_ms: float | None


def audible_after(call: RemoteCall, t: float) -> float | None:
    """Arrival of the first audible agent packet after `t`."""
    return next((a.at_s for a in call.arrivals if a.at_s > t and a.dbfs > AUDIBLE_DBFS), None)


def stopped_after(call: RemoteCall, t: float) -> float | None:
    """Arrival of the last audible packet after `t` that is followed by QUIET_S of quiet
    (t itself if the agent was already quiet then)."""
    last = t
    for a in call.arrivals:
        if a.at_s <= t:
            continue
        if a.dbfs > AUDIBLE_DBFS:
            last = a.at_s
        elif a.at_s - last >= QUIET_S:
            return last
    return None


async def _converse(
    line: RtpLine, call: RemoteCall, question: list[bytes], interruption: list[bytes]
) -> CallResult:
    call.script = [*mulaw_frames(silence(LEAD_S)), *question]
    asked_end = len(call.script)
    await _until(lambda: call.sent_frames >= asked_end, 60)
    spoken_at = call.sent_at[asked_end - 1]
    await _until(lambda: audible_after(call, spoken_at) is not None, REPLY_TIMEOUT_S + 5)
    heard_at = audible_after(call, spoken_at)
    if heard_at is None or heard_at - spoken_at > REPLY_TIMEOUT_S:
        return CallResult(None, None)
    await asyncio.sleep(BARGE_AFTER_S)
    start = len(call.script)
    call.script += [*interruption, *mulaw_frames(silence(TAIL_S))]
    await _until(lambda: call.sent_frames >= len(call.script), 60)
    onset = call.sent_at[start]
    stopped = stopped_after(call, onset)
    return CallResult(
        round(1000 * (heard_at - spoken_at), 1),
        round(1000 * (stopped - onset), 1) if stopped is not None else None,
    )


async def _until(done: Callable[[], bool], timeout_s: float) -> None:
    """Poll `done` every 20 ms (a packet time) for at most `timeout_s`."""
    for _ in range(int(timeout_s / 0.02)):
        if done():
            return
        await asyncio.sleep(0.02)


def ending_on_a_frame(pcm: np.ndarray) -> list[bytes]:
    """Speech as packets, padded in front so that its last sample ends the last packet:
    the moment that packet is sent is the moment the speech ended."""
    speech_only = trim_silence(pcm)
    return mulaw_frames(np.concatenate([np.zeros(-len(speech_only) % 320, np.int16), speech_only]))


async def _round(sip_port: int, calls: int, pid: int) -> tuple[list[CallResult], float]:
    """N calls at once, each asking and cutting in once: their results, and the server's
    CPU over the conversation (a fraction of one core)."""
    loop = asyncio.get_running_loop()
    line = RtpLine()
    rtp, _ = await loop.create_datagram_endpoint(lambda: line, local_addr=("127.0.0.1", 0))
    caller = SipCaller()
    sip, _ = await loop.create_datagram_endpoint(lambda: caller, local_addr=("127.0.0.1", 0))
    pacing = loop.create_task(line.run())
    question = ending_on_a_frame(speech(QUESTION))
    interruption = mulaw_frames(trim_silence(speech(INTERRUPTION, voice="en-gb+f2")))
    target = ("127.0.0.1", sip_port)
    try:
        dialogs = await asyncio.gather(*(caller.call(target, line.port) for _ in range(calls)))
        await _until(lambda: len(line.calls) >= calls, 10)  # every agent's RTP has started
        await asyncio.sleep(1.0)
        cpu0, t0 = cpu_seconds(pid), loop.time()
        results = await asyncio.gather(
            *(_converse(line, c, question, interruption) for c in line.calls.values())
        )
        cpu = (cpu_seconds(pid) - cpu0) / (loop.time() - t0)
        await asyncio.gather(*(caller.hang_up(d) for d in dialogs))
    finally:
        pacing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pacing
        rtp.close()
        sip.close()
    return list(results), cpu


def report(calls: int, results: list[CallResult], cpus: list[float]) -> dict[str, Any]:
    """One row: every round's calls pooled."""
    v2v = [r.v2v_ms for r in results if r.v2v_ms is not None]
    stops = [r.stop_ms for r in results if r.stop_ms is not None]
    return {
        "calls": calls,
        "rounds": len(cpus),
        "replies": f"{len(v2v)}/{len(results)}",
        "replies_within_1s": sum(v <= 1000 for v in v2v),
        "v2v_ms": percentile_stats(v2v),
        "barge_in_stop_ms": percentile_stats(stops),
        "server_cpu_pct": round(100 * sum(cpus) / len(cpus), 1) if cpus else None,
    }


def run_phone_bench(call_counts: Sequence[int], rounds: int) -> dict[str, Any]:
    config = yaml.safe_dump({"greeting": "", "telephony": {"max_calls": max(call_counts)}})
    rows = []
    for calls in progress(call_counts, len(call_counts), "phone calls"):
        sip_port = free_port()
        results: list[CallResult] = []
        cpus: list[float] = []
        with serve(config, args=["--sip", f"127.0.0.1:{sip_port}"]) as server:
            for _ in range(rounds):
                got, cpu = asyncio.run(_round(sip_port, calls, server.pid))
                results += got
                cpus.append(cpu)
        rows.append(report(calls, results, cpus))
    return {"rows": rows}


def format_table(result: dict[str, Any]) -> str:
    lines = [
        "| calls x rounds | replies (within 1 s) | v2v p50 / p95 | barge-in stop p50 / p95 "
        "| server CPU |",
        "|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        v, s = r["v2v_ms"], r["barge_in_stop_ms"]
        lines.append(
            f"| {r['calls']} x {r['rounds']} | {r['replies']} ({r['replies_within_1s']}) "
            f"| {v['p50']} / {v['p95']} ms | {s['p50']} / {s['p95']} ms "
            f"| {r['server_cpu_pct']} % |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omnivox bench phone", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--calls", default="1,4,8", help="comma-separated call counts")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per call count (pooled)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    try:
        counts = [int(n) for n in args.calls.split(",")]
        if not counts or min(counts) < 1 or args.rounds < 1:
            raise ValueError
    except ValueError:
        print(
            f"--calls {args.calls!r} --rounds {args.rounds}: positive numbers are needed",
            file=sys.stderr,
        )
        return 2
    result = run_phone_bench(counts, args.rounds)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0
