"""How fast does closing a Thinker stream reach the server?

Streams from the scripted OpenAI-compatible server (lab/openai_server.py; in a child
process by default, so its event loop is independent of the client's), reads the first
words, then closes the stream (`aclose()`, or cancelling the consuming task) and
measures, on the shared monotonic clock (`time.perf_counter`, CLOCK_MONOTONIC on Linux),
the time until the server's handler is told the client has gone.

Run: omnivox bench thinker_cancel [--runs 30] [--same-loop]
Prints p50 / p95 / max in milliseconds. Not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import time
from multiprocessing.connection import Connection

import numpy as np

from omnivox.lab.openai_server import Chunk, FakeOpenAIServer, Sleep, Step, StreamReply
from omnivox.models.blocking import run_blocking
from omnivox.models.thinker.base import Message, ThinkRequest
from omnivox.models.thinker.openai_compat import OpenAIThinker

REQUEST = ThinkRequest([Message("user", "Tell me a long story.")])


def endless_reply() -> StreamReply:
    """A model that keeps talking: a word every 20 ms for a minute."""
    steps: list[Step] = [Chunk({"role": "assistant", "content": ""})]
    for _ in range(3000):
        steps += [Chunk({"content": "word "}), Sleep(0.02)]
    return StreamReply(steps)


async def _serve(n: int, conn: Connection) -> None:
    async with FakeOpenAIServer([endless_reply() for _ in range(n)]) as server:
        conn.send(server.base_url)
        sent = 0
        while sent < n:
            await server.disconnected.wait()
            server.disconnected.clear()
            while sent < len(server.disconnect_times):
                conn.send(server.disconnect_times[sent])
                sent += 1


def _child(n: int, conn: Connection) -> None:
    asyncio.run(_serve(n, conn))


async def _close_one(thinker: OpenAIThinker, how: str) -> float:
    """Start a stream, read a few words, close it; return the perf_counter at close."""
    if how == "aclose":
        stream = thinker.stream(REQUEST)
        for _ in range(3):
            await anext(stream)
        await asyncio.sleep(random.uniform(0, 0.02))  # land anywhere between chunks
        t0 = time.perf_counter()
        await stream.aclose()
        return t0
    got = asyncio.Event()

    async def consume() -> None:
        async for _ in thinker.stream(REQUEST):
            got.set()

    task = asyncio.create_task(consume())
    await got.wait()
    await asyncio.sleep(random.uniform(0, 0.02))
    t0 = time.perf_counter()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return t0


async def _bench_child(runs: int, how: str) -> list[float]:
    parent, child = mp.get_context("spawn").Pipe()
    proc = mp.get_context("spawn").Process(target=_child, args=(runs, child), daemon=True)
    proc.start()
    try:
        base_url = await run_blocking(parent.recv)
        thinker = OpenAIThinker.from_config({"base_url": base_url, "model": "fake"})
        delays = []
        for _ in range(runs):
            t0 = await _close_one(thinker, how)
            seen = await run_blocking(parent.recv)
            delays.append((seen - t0) * 1000)
        await thinker.close()
        return delays
    finally:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()


async def _bench_same_loop(runs: int, how: str) -> list[float]:
    async with FakeOpenAIServer([endless_reply() for _ in range(runs)]) as server:
        thinker = OpenAIThinker.from_config({"base_url": server.base_url, "model": "fake"})
        delays = []
        for i in range(runs):
            t0 = await _close_one(thinker, how)
            while len(server.disconnect_times) <= i:
                await server.disconnected.wait()
                server.disconnected.clear()
            delays.append((server.disconnect_times[i] - t0) * 1000)
        await thinker.close()
        return delays


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omnivox bench thinker_cancel", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--runs", type=int, default=30, help="streams closed per way")
    parser.add_argument("--same-loop", action="store_true", help="server in this process's loop")
    args = parser.parse_args(argv)
    bench = _bench_same_loop if args.same_loop else _bench_child
    where = "same event loop" if args.same_loop else "server in a child process"
    print(f"close -> server sees the disconnect ({where}, {args.runs} runs), ms")
    for how in ("aclose", "cancel"):
        d = np.array(asyncio.run(bench(args.runs, how)))
        p50, p95 = np.percentile(d, 50), np.percentile(d, 95)
        print(f"  {how:7s} p50 {p50:6.3f}  p95 {p95:6.3f}  max {d.max():6.3f}")
    return 0
