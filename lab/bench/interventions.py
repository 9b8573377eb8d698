"""What each built-in intervention adds to a turn (a benchmark, not a test).

    omnivox bench interventions [--runs 2000]

Times one hook call through the chain (so the chain's own cost, one asyncio task per
hook, is included) with the wall clock; prints p50/p95 per hook:
- safety on_text, per sentence-sized chunk (blocklist, patterns, phone + card redaction);
- rag before_think, per user turn, over the example docs folder and over a folder of
  1000 synthetic passages;
- tools on_tool_call, per call (the built-in current_time tool);
- a pass-through on_text hook: the chain's overhead alone.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np

from omnivox.agent.interventions.chain import (
    Intervention,
    InterventionChain,
    ThinkContext,
    ToolsIntervention,
)
from omnivox.agent.interventions.rag import DocumentRetrieval, load_folder
from omnivox.agent.interventions.safety import SafetyFilter
from omnivox.media.clock import VirtualClock
from omnivox.models.thinker.base import Message, ToolCall
from omnivox.models.thinker.tools import ToolRegistry, add_builtin_tools

EXAMPLE_DOCS = Path(__file__).parents[2] / "examples" / "interventions" / "docs"
CHUNKS = [
    "We're open from six in the morning to ten at night on weekdays.",
    "Call us on 555-123-4567 or pay with 4111 1111 1111 1111.",
    "A day pass is twelve dollars fifty, and it includes the pool, the gym and the sauna.",
    "The Lakeview Hall seats up to one hundred and twenty guests, has a small stage and a "
    "sound system, and opens onto the terrace.",
]
QUERIES = [
    "are dogs allowed in the building",
    "how much is it to rent the hall for a wedding",
    "can I take photos at the pool",
    "um so what time does the cafe close",
]


VOCAB = [
    f"{a}{b}"
    for a in ("lo", "ba", "ki", "ru", "te", "mo")
    for b in ("rim", "dax", "pel", "ton", "sup", "vek", "nor", "qua")
]
BIG_QUERIES = [
    "so what about the lorim and the kidax",
    "is there any tepel",
    "um basup mover",
    "ruton",
]


class PassThrough:
    name = "pass"

    async def on_text(self, text: str) -> str:
        return text


def big_folder(root: Path, sections: int = 1000) -> Path:
    """A synthetic handbook: 50 documents of 20 sections, varied vocabulary."""
    rng = np.random.default_rng(0)
    for d in range(sections // 20):
        body = [f"# Handbook part {d}\n"]
        for s in range(20):
            words = " ".join(rng.choice(VOCAB, 60))
            body.append(f"## Topic {d} {s} {rng.choice(VOCAB)}\n\n{words.capitalize()}.\n")
        (root / f"part{d:02d}.md").write_text("\n".join(body), encoding="utf-8")
    return root


async def measure(runs: int, once: Callable[[int], Awaitable[object]]) -> tuple[float, float]:
    for i in range(min(50, runs)):  # warm caches
        await once(i)
    times = []
    for i in range(runs):
        t = time.perf_counter()
        await once(i)
        times.append((time.perf_counter() - t) * 1000.0)
    p50, p95 = np.percentile(times, [50, 95])
    return float(p50), float(p95)


async def run(runs: int) -> None:
    clock = VirtualClock()
    registry = ToolRegistry()
    add_builtin_tools(registry, timezone="America/Chicago")
    safety = SafetyFilter(blocklist=["competitor", "internal only"], patterns=[r"\bpass ?words?\b"])
    spent: dict[str, float] = {}

    def chain(*items: Intervention) -> InterventionChain:
        return InterventionChain(items, clock, print)

    rows: list[tuple[str, str, tuple[float, float]]] = []
    c = chain(safety)
    rows.append(
        (
            "safety on_text",
            "per chunk",
            await measure(runs, lambda i: c.on_text(CHUNKS[i % len(CHUNKS)], spent)),
        )
    )
    p = chain(PassThrough())
    rows.append(
        (
            "pass-through on_text",
            "per chunk",
            await measure(runs, lambda i: p.on_text(CHUNKS[i % len(CHUNKS)], spent)),
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        folders = (
            ("example docs", EXAMPLE_DOCS, QUERIES),
            ("synthetic", big_folder(Path(tmp)), BIG_QUERIES),
        )
        for label, folder, queries in folders:
            t = time.perf_counter()
            rag = DocumentRetrieval(load_folder(folder))
            load_ms = (time.perf_counter() - t) * 1000.0
            r = chain(rag)

            def turn(
                i: int, r: InterventionChain = r, queries: list[str] = queries
            ) -> Awaitable[ThinkContext]:
                ctx = ThinkContext("r", (Message("user", queries[i % len(queries)]),))
                return r.before_think(ctx, spent)

            stats = await measure(max(runs // 4, 50), turn)
            rows.append(
                (
                    f"rag before_think ({label}: {len(rag.passages)} passages, "
                    f"read in {load_ms:.0f} ms)",
                    "per turn",
                    stats,
                )
            )
    tc = chain(ToolsIntervention([registry]))
    rows.append(
        (
            "tools on_tool_call (current_time)",
            "per call",
            await measure(
                runs, lambda i: tc.on_tool_call(ToolCall("1", "current_time", {}), spent)
            ),
        )
    )
    for name, unit, (p50, p95) in rows:
        print(f"{name:66} {unit:9} p50 {p50 * 1000:8.1f} us   p95 {p95 * 1000:8.1f} us")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omnivox bench interventions", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--runs", type=int, default=2000, help="calls per hook")
    asyncio.run(run(parser.parse_args(argv).runs))
    return 0
