"""`omnivox bench turns`: Full-Duplex-Bench-style scenarios through `simulate`.

Each scenario is a scripted user track run through the real session. The take-over rate
(TOR) of a scenario is the share of its runs in which the agent took the floor at the
moment under test: it should be 0 for a mid-sentence pause and for a backchannel, and 1
for a finished question and for a real interruption. Latencies are on the media clock:
the gap after a finished turn (voice-to-voice) and the stop latency after an interruption.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from omnivox.agent.config import AgentConfig, load_config
from omnivox.agent.stack import ModelStack, build_stack
from omnivox.lab.bench.latency import (
    last_agent_audio_ms,
    percentile_stats,
    session_bench_parser,
    silence_pcm,
    trim_silence,
)
from omnivox.lab.simulate import EchoPath, SimulationResult, simulate
from omnivox.media.frames import SAMPLE_RATE
from omnivox.models.talker.espeak import EspeakTalker

VOICES = ["en-us+m3", "en-gb+f2", "en-us+f4", "en+m7", "en-us+m1", "en-gb-x-rp+f3"]
QUESTIONS = [
    "What are your opening hours?",
    "How much is a day pass?",
    "Where can I park?",
    "Do you have a pool?",
    "Can I bring my kids?",
    "Is there a student discount?",
]
PAUSED = [
    ("I would like to book", "a yoga class for tomorrow."),
    ("Can you tell me", "how much the parking costs?"),
    ("My daughter wants to", "join the swimming lessons."),
    ("I was wondering whether", "you have lockers."),
    ("So um", "what time do you close on Sunday?"),
    ("I need to know if", "the gym has showers."),
]
BACKCHANNELS = ["uh-huh", "yeah", "right", "okay", "mm-hmm", "I see"]
INTERRUPTIONS = [
    "Wait, stop.",
    "No, that's wrong.",
    "Hold on a second.",
    "Sorry, what about parking?",
    "Stop, I meant the pool.",
    "Excuse me, one question.",
]
PAUSE_MS = 700
OVERLAP_AFTER_MS = 2500
"""User speech over the agent starts this long after the question ends."""


@dataclass
class Scenario:
    kind: str
    text: str
    pcm: np.ndarray
    mark_ms: float
    """The moment under test: the pause's start, or the overlap's onset."""


def _say(text: str, voice: str) -> np.ndarray:
    return trim_silence(EspeakTalker(voice=voice, rate_wpm=165).synthesize_pcm(text))


def _say_halting(first: str, rest: str, voice: str) -> tuple[np.ndarray, np.ndarray]:
    """One sentence cut where ``rest`` begins. Said as one sentence, ``first`` keeps the
    pitch of a speaker who is not done; said alone it would end on a final fall."""
    text = f"{first} {rest}"
    pcm, starts = EspeakTalker(voice=voice, rate_wpm=165).synthesize_with_words(text)
    cut = next(sample for sample, char in starts if char > len(first))
    return trim_silence(pcm[:cut]), trim_silence(pcm[cut:])


def _ms(*parts: np.ndarray) -> float:
    return 1000.0 * sum(len(p) for p in parts) / SAMPLE_RATE


def build_scenarios(quick: bool) -> list[Scenario]:
    n = 2 if quick else len(VOICES)
    out: list[Scenario] = []
    for i in range(n):
        v = VOICES[i]
        lead = silence_pcm(500)
        q = _say(QUESTIONS[i], v)
        out.append(
            Scenario(
                "finished", QUESTIONS[i], np.concatenate([lead, q, silence_pcm(500)]), _ms(lead, q)
            )
        )
        a, b = _say_halting(*PAUSED[i], v)
        pause = silence_pcm(PAUSE_MS)
        out.append(
            Scenario(
                "pause",
                " … ".join(PAUSED[i]),
                np.concatenate([lead, a, pause, b, silence_pcm(500)]),
                _ms(lead, a),
            )
        )
        for kind, words in (("backchannel", BACKCHANNELS[i]), ("interruption", INTERRUPTIONS[i])):
            q2 = _say(QUESTIONS[(i + 1) % len(QUESTIONS)], VOICES[(i + 1) % len(VOICES)])
            gap = silence_pcm(OVERLAP_AFTER_MS)
            over = _say(words, v)
            pcm = np.concatenate([lead, q2, gap, over, silence_pcm(500)])
            out.append(Scenario(kind, words, pcm, _ms(lead, q2, gap)))
    return out


def _outcome(s: Scenario, res: SimulationResult) -> dict[str, Any]:
    row: dict[str, Any] = {"kind": s.kind, "text": s.text}
    barge_ins = [e for e in res.of_type("reply_cancelled") if e["reason"] == "barge_in"]
    # The user talks over the agent only at the mark of an overlap scenario: any other
    # barge-in is the agent stopping for its own echo (or for nothing).
    overlap = s.kind in ("backchannel", "interruption")
    row["self_interruptions"] = sum(not overlap or e["t_ms"] < s.mark_ms for e in barge_ins)
    if s.kind in ("finished", "pause"):
        ends = [e["t_ms"] for e in res.of_type("user_turn_end")]
        # Took the floor at the pause: a turn ended before the second half began.
        first_end = ends[0] if ends else None
        row["took_over"] = first_end is not None and (
            s.kind == "finished" or first_end < s.mark_ms + PAUSE_MS
        )
        metrics = res.of_type("turn_metrics")
        if s.kind == "finished" and metrics:
            row["gap_ms"] = metrics[0]["voice_to_voice_ms"]
    else:
        cancels = [e for e in barge_ins if e["t_ms"] >= s.mark_ms]
        row["took_over"] = bool(cancels)
        if cancels:
            last = last_agent_audio_ms(res.agent, s.mark_ms, cancels[0]["t_ms"] + 200.0)
            row["stop_ms"] = 0.0 if last is None else max(0.0, last - s.mark_ms)
        decisions = [
            e
            for e in res.of_type("turn_decision")
            if e["kind"] in ("backchannel", "interruption", "false_interruption_resumed")
            and e["t_ms"] >= s.mark_ms
        ]
        if decisions:
            row["decision"] = decisions[0]["kind"]
            row["decision_ms"] = decisions[0]["decision_ms"]
    return row


async def _run_all(
    stack: ModelStack, config: AgentConfig, scenarios: list[Scenario], echo: EchoPath | None
) -> list[dict[str, Any]]:
    return [_outcome(s, await simulate(s.pcm, stack, config, echo=echo)) for s in scenarios]


def run_turns_bench(
    config: AgentConfig, quick: bool = False, echo: EchoPath | None = None
) -> dict[str, Any]:
    """`echo`: every user track also carries the agent's voice, as from a client that
    does not cancel its echo (see `echo.cancel`)."""
    stack = build_stack(config)
    rows = asyncio.run(_run_all(stack, config, build_scenarios(quick), echo))
    by_kind: dict[str, Any] = {}
    for kind in ("finished", "pause", "backchannel", "interruption"):
        group = [r for r in rows if r["kind"] == kind]
        by_kind[kind] = {
            "n": len(group),
            "tor": round(sum(r["took_over"] for r in group) / max(len(group), 1), 3),
        }
    return {
        "classifier": config.turns.classifier if stack.turn_classifier is not None else "none",
        "echo_db": echo.gain_db if echo is not None else None,
        "echo_cancel": config.echo.cancel,
        "scenarios": by_kind,
        "self_interruptions": sum(r["self_interruptions"] for r in rows),
        "end_of_turn_gap_ms": percentile_stats(
            [r["gap_ms"] for r in rows if r.get("gap_ms") is not None]
        ),
        "interruption_stop_ms": percentile_stats(
            [r["stop_ms"] for r in rows if r["kind"] == "interruption" and "stop_ms" in r]
        ),
        "decision_ms": percentile_stats([r["decision_ms"] for r in rows if "decision_ms" in r]),
        "runs": rows,
    }


def format_turns_table(result: dict[str, Any]) -> str:
    echo = "none" if result["echo_db"] is None else f"{result['echo_db']} dB"
    lines = [
        f"classifier: {result['classifier']}",
        f"echo in the user track: {echo}; echo cancelling: {result['echo_cancel']}",
        "",
        f"{'scenario':14} {'n':>3} {'TOR':>6}  (want)",
    ]
    want = {"finished": "1", "pause": "0", "backchannel": "0", "interruption": "1"}
    for kind, s in result["scenarios"].items():
        lines.append(f"{kind:14} {s['n']:>3} {s['tor']:>6}  ({want[kind]})")
    lines.append(f"{'self-interruptions':14} {result['self_interruptions']:>3}  (0)")
    lines.append("")
    for key in ("end_of_turn_gap_ms", "interruption_stop_ms", "decision_ms"):
        s = result[key]
        lines.append(f"{key:22} n={s['n']:<3} p50={s['p50']!s:>7} p95={s['p95']!s:>7}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = session_bench_parser("turns", __doc__.splitlines()[0])
    parser.add_argument(
        "--echo-db", type=float, metavar="DB", help="the agent's echo in each user track"
    )
    args = parser.parse_args(argv)
    echo = None if args.echo_db is None else EchoPath(gain_db=args.echo_db)
    result = run_turns_bench(load_config(args.config), quick=args.quick, echo=echo)
    print(json.dumps(result, indent=2) if args.json else format_turns_table(result))
    return 0
