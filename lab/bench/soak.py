"""Hours of conversation against one `omnivox serve`: does anything leak or drift? (a benchmark)

    omnivox bench soak [--sessions 8] [--minutes 30] [--barge-in-every 3] [--json]

A real `omnivox serve` (the embedded offline stack, no greeting) gets N aiortc peers over
loopback, all in this process, each in its own duty cycle: a spoken question (the load
benchmark's), the reply heard out, or, every `--barge-in-every`-th question, the same
question said again over the reply's first second (a barge-in), then 2-6 s of silence
(seeded, so runs repeat). Peers that lose their connection are counted and replaced.

Every `--sample-seconds` it reads the server's resident memory (VmRSS), open file
descriptors, threads (/proc/<pid>) and live asyncio tasks (`/v1/health`, when the server
reports them). Per minute it reports voice-to-voice on the peers' clocks (end of the
question's speech to the first audible reply frame), p50/p95, replies, barge-ins and
errors (`error` events and lost connections), and underruns (`underrun_frames` of the
replies: frames the transport asked for mid-reply with none ready).

At the end every peer hangs up and the server should come back to where it was before
the first call: the report compares fds, threads and tasks after all sessions closed
with the idle server before them (read after a warm-up round of N questions at once,
so thread pools and the models' state are already as large as N sessions make them;
`leaked_*`, 0 when nothing leaks), and RSS growth from the end of the first minute
(caches, allocator pools) to the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import yaml
from prometheus_client.parser import text_string_to_metric_families

from omnivox.lab.bench.idle_cpu import ServerProcess, serve
from omnivox.lab.bench.latency import percentile_stats
from omnivox.lab.bench.load import (
    AUDIBLE_DBFS,
    CONNECT_TIMEOUT_S,
    LEAD_S,
    REPLY_MAX_S,
    REPLY_TIMEOUT_S,
    Caller,
    load_question,
)
from omnivox.media.frames import SAMPLE_RATE

SAMPLE_S = 10.0
SETTLE_S = 3.0  # after the last hang-up, before the server is read for leftovers


@dataclass(slots=True)
class Minute:
    v2v_ms: list[float] = field(default_factory=list)
    questions: int = 0
    replies: int = 0
    barge_ins: int = 0
    errors: int = 0
    dropped: int = 0
    underrun_frames: int = 0


@dataclass(slots=True)
class Sample:
    t_s: float
    rss_mb: float
    fds: int
    threads: int
    tasks: int | None


def proc_sample(pid: int, t_s: float, tasks: int | None, proc: str = "/proc") -> Sample:
    """The server's memory, descriptors and threads now, from /proc/<pid>."""
    rss_kb = threads = 0
    with open(f"{proc}/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    fds = len(os.listdir(f"{proc}/{pid}/fd"))
    return Sample(round(t_s, 1), round(rss_kb / 1024, 1), fds, threads, tasks)


async def server_tasks(http: aiohttp.ClientSession, url: str) -> tuple[int, int | None]:
    """(sessions, live asyncio tasks or None if the server does not say)."""
    async with http.get(url + "/v1/health") as resp:
        health = await resp.json(content_type=None)
    tasks = health.get("tasks")
    return int(health.get("sessions", 0)), int(tasks) if isinstance(tasks, int) else None


async def sessions_ended(http: aiohttp.ClientSession, url: str) -> dict[str, int]:
    """The server's sessions closed so far, by reason (from /metrics): a lost call the
    caller saw as a dropped connection shows here as what closed it."""
    async with http.get(url + "/metrics") as resp:
        text = await resp.text()
    return ended_by_reason(text)


def ended_by_reason(metrics_text: str) -> dict[str, int]:
    return {
        s.labels["reason"]: int(s.value)
        for family in text_string_to_metric_families(metrics_text)
        if family.name == "omnivox_sessions_ended"
        for s in family.samples
        if s.name == "omnivox_sessions_ended_total"
    }


def first_audible_after(caller: Caller, since: int, end_s: float) -> float | None:
    """Arrival of the first audible frame after `end_s`, among frames from index `since`."""
    got = caller.received
    for i in range(since, len(got.arrival_s)):
        if got.arrival_s[i] >= end_s and got.dbfs[i] > AUDIBLE_DBFS:
            return got.arrival_s[i]
    return None


class Peer:
    """One caller in its duty cycle, recording into the minute it is in."""

    def __init__(self, index: int, url: str, question: np.ndarray, barge_every: int) -> None:
        self.index = index
        self.url = url
        self.question = question
        self.barge_every = barge_every
        self.rng = random.Random(index)

    async def run(self, minutes: dict[int, Minute], began: float, until: float) -> None:
        asked = 0
        while time.monotonic() < until:
            caller = Caller()
            try:
                await asyncio.wait_for(caller.connect(self.url), CONNECT_TIMEOUT_S)
                seen = 0
                while time.monotonic() < until:
                    asked += 1
                    barge = self.barge_every > 0 and asked % self.barge_every == 0
                    seen = await self._cycle(caller, minutes, began, barge, seen)
                    if caller.pc.connectionState in ("failed", "closed"):
                        raise ConnectionError("peer connection lost")
                    await asyncio.sleep(self.rng.uniform(2.0, 6.0))
            except (TimeoutError, ConnectionError, aiohttp.ClientError) as err:
                logging.getLogger("omnivox.soak").warning(
                    "peer %d: %s (connection %s, ICE %s)",
                    self.index,
                    err,
                    caller.pc.connectionState,
                    caller.pc.iceConnectionState,
                )
                minutes.setdefault(_minute(began), Minute()).dropped += 1
                await asyncio.sleep(1.0)
            finally:
                await caller.close(self.url)

    async def _cycle(
        self, caller: Caller, minutes: dict[int, Minute], began: float, barge: bool, seen: int
    ) -> int:
        frames_before = len(caller.received.arrival_s)
        caller.expect_reply()
        caller.mic.say(self.question)
        await self._spoken(caller)
        end = caller.mic.speech_end_s or time.monotonic()
        minute = minutes.setdefault(_minute(began), Minute())
        minute.questions += 1
        if barge:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(caller.heard_audible(), REPLY_TIMEOUT_S)
            await asyncio.sleep(1.0)
            caller.mic.say(self.question, lead_s=0.0)  # over the reply
            minute.barge_ins += 1
            await self._spoken(caller)
            end = caller.mic.speech_end_s or time.monotonic()
            caller.expect_reply()
            frames_before = len(caller.received.arrival_s)
        try:
            await asyncio.wait_for(caller.hear_reply(), REPLY_MAX_S + 10)
        except TimeoutError:
            raise ConnectionError("the agent's track stalled") from None
        heard = first_audible_after(caller, frames_before, end)
        if heard is not None:
            minute.replies += 1
            minute.v2v_ms.append(1000 * (heard - end))
        new = caller.events[seen:]
        minute.errors += sum(1 for e in new if e.get("type") == "error")
        minute.underrun_frames += sum(
            int(e.get("underrun_frames") or 0) for e in new if e.get("type") == "reply_audio_end"
        )
        return len(caller.events)

    async def _spoken(self, caller: Caller) -> None:
        """Until the question has left the microphone track (aiortc stops pulling it
        from a dead connection: then the call is lost)."""
        seconds = LEAD_S + len(self.question) / SAMPLE_RATE + 10
        try:
            await asyncio.wait_for(caller.mic.spoken.wait(), seconds)
        except TimeoutError:
            raise ConnectionError("the microphone track stalled") from None


async def warm_up(url: str, question: np.ndarray, sessions: int) -> None:
    """`sessions` callers ask one question at once before the baseline: the thread pools
    (ours, asyncio's default one that sockets' address lookups use, the libraries'), the
    models' state and the allocator's pools are then as large as this load makes them,
    and are not counted as leaks."""
    callers = [Caller() for _ in range(sessions)]

    async def ask(caller: Caller) -> None:
        await asyncio.wait_for(caller.connect(url), CONNECT_TIMEOUT_S)
        caller.mic.say(question)
        await asyncio.wait_for(caller.hear_reply(), REPLY_MAX_S + 10)

    try:
        await asyncio.gather(*(ask(c) for c in callers))
    finally:
        await asyncio.gather(*(c.close(url) for c in callers), return_exceptions=True)


async def settled(http: aiohttp.ClientSession, url: str) -> None:
    """Until the server holds no session (hang-ups take a moment), then SETTLE_S more."""
    for _ in range(int(30 / 0.2)):
        if (await server_tasks(http, url))[0] == 0:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(SETTLE_S)


def _minute(began: float) -> int:
    return int((time.monotonic() - began) // 60)


async def run_soak(
    server: ServerProcess,
    sessions: int,
    minutes: float,
    question: np.ndarray,
    barge_every: int,
    sample_s: float = SAMPLE_S,
) -> dict[str, Any]:
    per_minute: dict[int, Minute] = {}
    samples: list[Sample] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        await warm_up(server.url, question, sessions)
        await settled(http, server.url)
        _, tasks = await server_tasks(http, server.url)
        before = proc_sample(server.pid, 0.0, tasks)
        ended_before = await sessions_ended(http, server.url)
        began = time.monotonic()
        until = began + minutes * 60
        peers = [Peer(i, server.url, question, barge_every) for i in range(sessions)]
        running = [asyncio.ensure_future(p.run(per_minute, began, until)) for p in peers]
        total = max(1, int(minutes * 60 / sample_s))
        for k in range(total):
            await asyncio.sleep(max(0.0, began + (k + 1) * sample_s - time.monotonic()))
            _, tasks = await server_tasks(http, server.url)
            samples.append(proc_sample(server.pid, time.monotonic() - began, tasks))
            _bar(k + 1, total)
        # A peer mid-cycle finishes it; one that cannot is stopped and counted.
        _, late = await asyncio.wait(running, timeout=REPLY_MAX_S + 30)
        for task in late:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        stuck = len(late)
        await settled(http, server.url)
        _, tasks = await server_tasks(http, server.url)
        after = proc_sample(server.pid, time.monotonic() - began, tasks)
        ended = await sessions_ended(http, server.url)
    sys.stderr.write("\n")
    rep = report(sessions, minutes, before, after, samples, per_minute)
    rep["peers_stopped_at_the_end"] = stuck
    rep["sessions_ended"] = {
        reason: n - ended_before.get(reason, 0)
        for reason, n in sorted(ended.items())
        if n > ended_before.get(reason, 0)
    }
    return rep


def report(
    sessions: int,
    minutes: float,
    before: Sample,
    after: Sample,
    samples: list[Sample],
    per_minute: dict[int, Minute],
) -> dict[str, Any]:
    warm = next((s for s in samples if s.t_s >= 60), samples[0] if samples else after)
    rss_end = samples[-1].rss_mb if samples else after.rss_mb
    growth = 100 * (rss_end - warm.rss_mb) / warm.rss_mb if warm.rss_mb else None

    def leaked(a: int | None, b: int | None) -> int | None:
        return None if a is None or b is None else b - a

    return {
        "sessions": sessions,
        "minutes": minutes,
        "before": vars_of(before),
        "after_close": vars_of(after),
        "leaked_fds": leaked(before.fds, after.fds),
        "leaked_threads": leaked(before.threads, after.threads),
        "leaked_tasks": leaked(before.tasks, after.tasks),
        "rss_warm_mb": warm.rss_mb,
        "rss_end_mb": rss_end,
        "rss_growth_after_warmup_pct": None if growth is None else round(growth, 2),
        "samples": [vars_of(s) for s in samples],
        "minutes_report": [
            {
                "minute": m,
                "questions": row.questions,
                "replies": row.replies,
                "barge_ins": row.barge_ins,
                "errors": row.errors,
                "dropped_connections": row.dropped,
                "underrun_frames": row.underrun_frames,
                "v2v_ms": percentile_stats(row.v2v_ms) if row.v2v_ms else None,
            }
            for m, row in sorted(per_minute.items())
        ],
    }


def vars_of(sample: Sample) -> dict[str, Any]:
    return {
        "t_s": sample.t_s,
        "rss_mb": sample.rss_mb,
        "fds": sample.fds,
        "threads": sample.threads,
        "tasks": sample.tasks,
    }


def format_table(rep: dict[str, Any]) -> str:
    lines = [
        f"soak: {rep['sessions']} sessions for {rep['minutes']:g} min",
        f"{'min':>4} {'asked':>6} {'replies':>8} {'barge':>6} {'errors':>7} {'dropped':>8} "
        f"{'underruns':>10} {'v2v p50/p95 ms':>16}",
    ]
    for row in rep["minutes_report"]:
        v2v = row["v2v_ms"]
        figure = f"{v2v['p50']:.0f}/{v2v['p95']:.0f}" if v2v else "-"
        lines.append(
            f"{row['minute']:>4} {row['questions']:>6} {row['replies']:>8} "
            f"{row['barge_ins']:>6} {row['errors']:>7} {row['dropped_connections']:>8} "
            f"{row['underrun_frames']:>10} {figure:>16}"
        )
    b, a = rep["before"], rep["after_close"]
    lines += [
        f"RSS: {b['rss_mb']:.0f} MB idle before, {rep['rss_warm_mb']:.0f} MB after warm-up, "
        f"{rep['rss_end_mb']:.0f} MB at the end ({rep['rss_growth_after_warmup_pct']} %)",
        f"after every session closed vs before: fds {b['fds']} -> {a['fds']}, "
        f"threads {b['threads']} -> {a['threads']}, tasks {b['tasks']} -> {a['tasks']}",
        f"peers that could not finish their last cycle: {rep.get('peers_stopped_at_the_end')}",
        "sessions the server closed, by reason: "
        + (", ".join(f"{k} {v}" for k, v in rep.get("sessions_ended", {}).items()) or "none"),
    ]
    return "\n".join(lines)


def _bar(done: int, total: int) -> None:
    filled = 30 * done // total
    sys.stderr.write(f"\rbench soak  [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="omnivox bench soak", description=(__doc__ or "").splitlines()[0]
    )
    ap.add_argument("--sessions", type=int, default=8, help="concurrent callers")
    ap.add_argument("--minutes", type=float, default=30.0, help="how long they talk")
    ap.add_argument("--barge-in-every", type=int, default=3, help="0: never barge in")
    ap.add_argument("--sample-seconds", type=float, default=SAMPLE_S)
    ap.add_argument("--question-wav", help="the spoken question (default: eSpeak NG)")
    ap.add_argument("--config", type=Path, help="agent YAML (its greeting is turned off)")
    ap.add_argument("--json", action="store_true", help="the JSON report")
    args = ap.parse_args(argv)
    if args.sessions < 1 or args.minutes <= 0 or args.sample_seconds <= 0:
        ap.error("--sessions, --minutes and --sample-seconds must be positive")
    settings = yaml.safe_load(args.config.read_text()) if args.config else {}
    server_yaml = yaml.safe_dump({**(settings or {}), "greeting": ""})
    logging.getLogger("aioice").setLevel(logging.WARNING)
    question, _ = load_question(args.question_wav)
    with serve(server_yaml) as server:
        rep = asyncio.run(
            run_soak(
                server,
                args.sessions,
                args.minutes,
                question,
                args.barge_in_every,
                args.sample_seconds,
            )
        )
    rep["question_s"] = round(len(question) / SAMPLE_RATE, 2)
    print(json.dumps(rep, indent=2) if args.json else format_table(rep))
    return 0
