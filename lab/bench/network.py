"""Spoken turns over a clean and a bad network, side by side (a benchmark).

    omnivox bench network [--questions 8] [--loss 0.10] [--jitter-ms 50] [--delay-ms 10] [--json]

A real `omnivox serve` (the embedded offline stack, no greeting) gets one aiortc caller
at a time, each asking the load benchmark's spoken question and hearing the reply out:
first over loopback as it is, then with every packet of the call (ICE, DTLS, RTP, RTCP,
the data channel) crossing a user-space relay that drops `--loss` of them and delays the
rest by `--delay-ms` plus uniform jitter up to `--jitter-ms`, each way
(lab/lossy_link.py; `tc netem` needs a kernel module many machines lack).

Per condition: replies heard (of questions asked), voice-to-voice on the caller's clock
(end of the question's speech to the first audible reply frame) p50/p95, the server's own
voice_to_voice_ms p50, and the packets the relay dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from omnivox.lab.bench.idle_cpu import ServerProcess, serve
from omnivox.lab.bench.latency import percentile_stats
from omnivox.lab.bench.load import CONNECT_TIMEOUT_S, REPLY_MAX_S, Caller, load_question
from omnivox.lab.lossy_link import Impairment, UdpRelay, offer_through
from omnivox.lab.training.turn_data import progress


class ImpairedCaller(Caller):
    """A caller whose packets all cross a lossy, jittery relay."""

    def __init__(self, up: Impairment, down: Impairment) -> None:
        super().__init__()
        self.up, self.down = up, down
        self.relay: UdpRelay | None = None

    async def connect(self, url: str) -> None:
        answer, self.relay = await offer_through(url, self.pc, self.up, self.down)
        self.session_id = answer.get("session_id")
        await self._started.wait()
        await self._first_frame.wait()
        self.connected = True

    async def close(self, url: str) -> None:
        await super().close(url)
        if self.relay is not None:
            self.relay.close()


async def ask(url: str, question: np.ndarray, link: Impairment | None, seed: int) -> dict[str, Any]:
    """One caller, one question: what it heard and when."""
    if link is None:
        caller = Caller()
    else:
        up = Impairment(link.loss, link.delay_ms, link.jitter_ms, seed=2 * seed)
        down = Impairment(link.loss, link.delay_ms, link.jitter_ms, seed=2 * seed + 1)
        caller = ImpairedCaller(up, down)
    try:
        await asyncio.wait_for(caller.connect(url), CONNECT_TIMEOUT_S)
        caller.mic.say(question)
        await asyncio.wait_for(caller.hear_reply(), REPLY_MAX_S + 15)
        result = caller.result()
    except (TimeoutError, RuntimeError) as err:
        logging.getLogger("omnivox.bench").warning("question %d: %s", seed, err)
        return {"replied": False, "v2v_ms": None, "server_v2v_ms": None, "dropped": None}
    finally:
        await caller.close(url)
    dropped = caller.relay.dropped if isinstance(caller, ImpairedCaller) and caller.relay else 0
    metrics = [e for e in caller.events if e.get("type") == "turn_metrics"]
    return {
        "replied": result.v2v_ms is not None,
        "v2v_ms": result.v2v_ms,
        "server_v2v_ms": metrics[0].get("voice_to_voice_ms") if metrics else None,
        "dropped": dropped,
    }


async def run_network(
    server: ServerProcess, question: np.ndarray, questions: int, link: Impairment
) -> list[dict[str, Any]]:
    rows = []
    conditions: list[tuple[str, Impairment | None]] = [("clean", None), ("impaired", link)]
    steps = [(name, cond, i) for name, cond in conditions for i in range(questions)]
    results: dict[str, list[dict[str, Any]]] = {"clean": [], "impaired": []}
    for name, cond, i in progress(steps, len(steps), "bench network"):
        results[name].append(await ask(server.url, question, cond, i))
    for name, cond in conditions:
        runs = results[name]
        v2v = [r["v2v_ms"] for r in runs if r["v2v_ms"] is not None]
        server_v2v = [r["server_v2v_ms"] for r in runs if r["server_v2v_ms"] is not None]
        rows.append(
            {
                "condition": name,
                "loss": 0.0 if cond is None else cond.loss,
                "delay_ms": 0.0 if cond is None else cond.delay_ms,
                "jitter_ms": 0.0 if cond is None else cond.jitter_ms,
                "questions": len(runs),
                "replies": sum(r["replied"] for r in runs),
                "v2v_ms": percentile_stats(v2v) if v2v else None,
                "server_v2v_ms": percentile_stats(server_v2v) if server_v2v else None,
                "packets_dropped": sum(r["dropped"] or 0 for r in runs),
            }
        )
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'condition':<10}{'loss':>6}{'jitter':>8}{'replies':>9}{'v2v p50/p95 ms':>17}"
        f"{'server v2v p50':>16}{'dropped':>9}"
    ]
    for r in rows:
        v2v, server = r["v2v_ms"], r["server_v2v_ms"]
        figure = f"{v2v['p50']:.0f}/{v2v['p95']:.0f}" if v2v else "-"
        server_p50 = f"{server['p50']:.0f}" if server else "-"
        lines.append(
            f"{r['condition']:<10}{r['loss']:>6.2f}{r['jitter_ms']:>8.0f}"
            f"{r['replies']:>5}/{r['questions']:<3}{figure:>17}"
            f"{server_p50:>16}{r['packets_dropped']:>9}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="omnivox bench network", description=(__doc__ or "").splitlines()[0]
    )
    ap.add_argument("--questions", type=int, default=8, help="per condition")
    ap.add_argument("--loss", type=float, default=0.10, help="share of packets dropped")
    ap.add_argument("--delay-ms", type=float, default=10.0)
    ap.add_argument("--jitter-ms", type=float, default=50.0)
    ap.add_argument("--question-wav", help="the spoken question (default: eSpeak NG)")
    ap.add_argument("--config", type=Path, help="agent YAML (its greeting is turned off)")
    ap.add_argument("--json", action="store_true", help="the JSON report")
    args = ap.parse_args(argv)
    try:
        link = Impairment(args.loss, args.delay_ms, args.jitter_ms)
    except ValueError as err:
        ap.error(str(err))
    if args.questions < 1:
        ap.error("--questions must be positive")
    settings = yaml.safe_load(args.config.read_text()) if args.config else {}
    server_yaml = yaml.safe_dump({**(settings or {}), "greeting": ""})
    logging.getLogger("aioice").setLevel(logging.WARNING)
    question, source = load_question(args.question_wav)
    with serve(server_yaml) as server:
        rows = asyncio.run(run_network(server, question, args.questions, link))
    report = {"question": source, "cpus": os.cpu_count(), "conditions": rows}
    print(json.dumps(report, indent=2) if args.json else format_table(rows))
    return 0
