"""`omnivox bench latency`: voice-to-voice and barge-in figures from `simulate` runs.

Every figure is measured on the media clock of a simulated session (model compute runs
in real time there, see lab/simulate.py). Cases:
- spoken questions for the shipped knowledge base, in eSpeak voices unlike the agent's;
- real human speech (Asterisk prompts) as user turns, answered by the fallback line;
- barge-in: a question, then "wait, stop" (eSpeak) or a real Asterisk prompt while the
  agent is answering.
Barge-in stop latency is taken from the audio itself: the end of the last non-silent
agent frame after the interruption's onset, minus that onset. For each answer, from its
audio too: `longest_pause_ms`, the longest run of silent frames between its first and
last sound (the pause between two sentences, longer if the next was late), and
`underrun_frames`, the frames due mid-answer that the Talker had not made yet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from omnivox.agent.config import AgentConfig, load_config
from omnivox.agent.stack import ModelStack, build_stack
from omnivox.lab.simulate import SimulationResult, simulate
from omnivox.lab.speech_corpus import load_corpus
from omnivox.media.frames import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE
from omnivox.models.talker.espeak import EspeakTalker

QUESTIONS = [
    "What are your opening hours?",
    "How much is a day pass?",
    "Where can I park my car?",
    "Do you have wifi?",
    "What time is it?",
    "Is there a discount for students?",
    "How do I get there by bus?",
    "Can I bring my kids?",
]
USER_VOICES = ["en-us+m3", "en-gb+f2", "en-us+f4", "en+m7"]
INTERRUPTIONS = [
    "Wait, stop.",
    "Hold on, that's not what I asked.",
    "Sorry, can I ask something else?",
]
REAL_INTERRUPTIONS = 5
"""Asterisk prompts of three words or more (real human speech, not among the questions)
said over the answers as well: a handful of eSpeak phrases is too few for a median."""
BARGE_IN_DELAY_MS = 2500
"""Interruption onset after the question ends: inside the answer for every KB entry."""
REAL_QUESTIONS = 6
"""Asterisk prompts asked as questions."""


@dataclass
class Case:
    name: str
    pcm: np.ndarray
    interruption_onset_ms: float | None = None


def silence_pcm(ms: float) -> np.ndarray:
    return np.zeros(int(SAMPLE_RATE * ms / 1000), dtype=np.int16)


def trim_silence(pcm: np.ndarray, threshold: int = 300) -> np.ndarray:
    """Cut leading/trailing near-silence, so scripted onsets are the speech's onsets."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > threshold)
    return pcm[loud[0] : loud[-1] + 1] if len(loud) else pcm


def build_cases(quick: bool) -> list[Case]:
    questions = QUESTIONS[:3] if quick else QUESTIONS
    cases: list[Case] = []
    for i, q in enumerate(questions):
        voice = EspeakTalker(voice=USER_VOICES[i % len(USER_VOICES)], rate_wpm=165)
        pcm = trim_silence(voice.synthesize_pcm(q))
        cases.append(
            Case(f"question:{q}", np.concatenate([silence_pcm(500), pcm, silence_pcm(500)]))
        )
    asked = load_corpus("asterisk", limit=2 if quick else REAL_QUESTIONS)
    for clip in asked:
        pcm = trim_silence(clip.pcm)
        cases.append(
            Case(
                f"real:{clip.path.stem}", np.concatenate([silence_pcm(500), pcm, silence_pcm(500)])
            )
        )
    # (name, recorded speech): None is an eSpeak interruption, said in the case's voice.
    stops: list[tuple[str, np.ndarray | None]] = [
        (text, None) for text in INTERRUPTIONS[: 1 if quick else len(INTERRUPTIONS)]
    ]
    if not quick:
        paths = {c.path for c in asked}
        spoken = [
            c
            for c in load_corpus("asterisk", limit=4 * REAL_INTERRUPTIONS)
            if c.path not in paths and len(c.text.split()) >= 3
        ]
        stops += [(f"real:{c.path.stem}", trim_silence(c.pcm)) for c in spoken[:REAL_INTERRUPTIONS]]
    for i, (name, recorded) in enumerate(stops):
        voice = EspeakTalker(voice=USER_VOICES[(i + 1) % len(USER_VOICES)], rate_wpm=170)
        question = trim_silence(voice.synthesize_pcm(QUESTIONS[i % len(QUESTIONS)]))
        stop = trim_silence(voice.synthesize_pcm(name)) if recorded is None else recorded
        lead = silence_pcm(500)
        gap = silence_pcm(BARGE_IN_DELAY_MS)
        onset_ms = 1000.0 * (len(lead) + len(question) + len(gap)) / SAMPLE_RATE
        pcm = np.concatenate([lead, question, gap, stop, silence_pcm(500)])
        cases.append(Case(f"barge_in:{name}", pcm, onset_ms))
    return cases


def last_agent_audio_ms(agent: np.ndarray, start_ms: float, end_ms: float) -> float | None:
    """End time of the last non-silent agent frame within [start_ms, end_ms)."""
    frames = agent[: len(agent) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    first, stop = int(start_ms // FRAME_MS), min(len(frames), int(end_ms // FRAME_MS))
    if first >= stop:
        return None
    loud = np.flatnonzero(np.abs(frames[first:stop]).max(axis=1) > 0)
    return None if len(loud) == 0 else (first + int(loud[-1]) + 1) * FRAME_MS


def longest_pause_ms(agent: np.ndarray, start_ms: float, end_ms: float) -> float | None:
    """The longest run of silent agent frames between the first and the last non-silent
    frame within [start_ms, end_ms); None if fewer than two frames sound there."""
    frames = agent[: len(agent) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    window = frames[int(start_ms // FRAME_MS) : min(len(frames), int(end_ms // FRAME_MS))]
    loud = np.flatnonzero(np.abs(window).max(axis=1) > 0) if len(window) else window[:0, 0]
    if len(loud) < 2:
        return None
    return float((np.diff(loud).max() - 1) * FRAME_MS)


def _measure(case: Case, res: SimulationResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "case": case.name,
        "realtime_factor": res.media_s / max(res.wall_s, 1e-9),
    }
    metrics = res.of_type("turn_metrics")
    if metrics:
        out.update({k: v for k, v in metrics[0].items() if k.endswith("_ms")})
    out["transcript"] = " / ".join(e["text"] for e in res.of_type("transcript_final"))
    started, ended = res.of_type("reply_audio_start"), res.of_type("reply_audio_end")
    if started and ended and case.interruption_onset_ms is None:
        out["longest_pause_ms"] = longest_pause_ms(res.agent, started[0]["t_ms"], ended[0]["t_ms"])
        out["underrun_frames"] = ended[0]["underrun_frames"]
    if case.interruption_onset_ms is not None:
        onset = case.interruption_onset_ms
        cancels = [e for e in res.of_type("reply_cancelled") if e["reason"] == "barge_in"]
        out["cancelled"] = bool(cancels)
        if cancels:
            decision = cancels[0]["t_ms"]
            # The next reply cannot start within WINDOW of the decision (it needs the
            # user to finish and an end-of-turn silence), so audio there is the old one.
            window = decision + 200.0
            last = last_agent_audio_ms(res.agent, onset, window)
            out["barge_in_stop_ms"] = 0.0 if last is None else max(0.0, last - onset)
            after = last_agent_audio_ms(res.agent, decision, window)
            out["audio_after_cancel_ms"] = 0.0 if after is None else max(0.0, after - decision)
            out["heard_text"] = cancels[0]["heard_text"]
    return out


def percentile_stats(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None}
    arr = np.asarray(values, dtype=float)
    return {
        "n": len(values),
        "p50": round(float(np.percentile(arr, 50)), 1),
        "p95": round(float(np.percentile(arr, 95)), 1),
    }


async def _run(stack: ModelStack, config: AgentConfig, cases: list[Case]) -> list[dict[str, Any]]:
    rows = []
    for case in cases:
        res = await simulate(case.pcm, stack, config)
        rows.append(_measure(case, res))
    return rows


def run_latency_bench(config: AgentConfig, quick: bool = False) -> dict[str, Any]:
    stack = build_stack(config)
    rows = asyncio.run(_run(stack, config, build_cases(quick)))

    def col(key: str, rows: list[dict[str, Any]] = rows) -> list[float]:
        return [r[key] for r in rows if r.get(key) is not None]

    answered = [r for r in rows if not r["case"].startswith("barge_in:")]
    real_stops = [r for r in rows if r["case"].startswith("barge_in:real:")]
    return {
        "voice_to_voice_ms": percentile_stats(col("voice_to_voice_ms", answered)),
        "endpoint_ms": percentile_stats(col("endpoint_ms", answered)),
        "recognizer_final_ms": percentile_stats(col("recognizer_final_ms", answered)),
        "thinker_first_token_ms": percentile_stats(col("thinker_first_token_ms", answered)),
        "talker_first_audio_ms": percentile_stats(col("talker_first_audio_ms", answered)),
        "longest_pause_ms": percentile_stats(col("longest_pause_ms", answered)),
        "underrun_frames": percentile_stats(col("underrun_frames", answered)),
        "barge_in_stop_ms": percentile_stats(col("barge_in_stop_ms")),
        "barge_in_stop_real_ms": percentile_stats(col("barge_in_stop_ms", real_stops)),
        "barge_ins_missed": sum(1 for r in rows if r.get("cancelled") is False),
        "audio_after_cancel_ms": percentile_stats(col("audio_after_cancel_ms")),
        "realtime_factor": percentile_stats(col("realtime_factor")),
        "config": {
            "end_of_turn_silence_ms": config.turns.end_of_turn_silence_ms,
            "barge_in_min_speech_ms": config.turns.barge_in_min_speech_ms,
            "recognizer": config.recognizer.backend,
        },
        "cases": rows,
    }


def format_latency_table(result: dict[str, Any]) -> str:
    lines = [f"{'metric (ms, media clock)':32} {'n':>3} {'p50':>8} {'p95':>8}"]
    for key in (
        "voice_to_voice_ms",
        "endpoint_ms",
        "recognizer_final_ms",
        "thinker_first_token_ms",
        "talker_first_audio_ms",
        "longest_pause_ms",
        "underrun_frames",
        "barge_in_stop_ms",
        "barge_in_stop_real_ms",
        "audio_after_cancel_ms",
        "realtime_factor",
    ):
        s = result[key]
        lines.append(f"{key:32} {s['n']:>3} {s['p50']!s:>8} {s['p95']!s:>8}")
    lines.append(f"{'barge_ins_missed':32} {result['barge_ins_missed']:>3}")
    lines.append("")
    for r in result["cases"]:
        v2v = r.get("barge_in_stop_ms") if "cancelled" in r else r.get("voice_to_voice_ms")
        lines.append(f"  {r['case'][:48]:48} {v2v!s:>7}  {r['transcript'][:60]}")
    return "\n".join(lines)


def session_bench_parser(name: str, doc: str) -> argparse.ArgumentParser:
    """The options of a benchmark over simulated sessions: --json, --config, --quick."""
    parser = argparse.ArgumentParser(prog=f"omnivox bench {name}", description=doc)
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    parser.add_argument("--config", type=Path, help="agent YAML (default: embedded offline stack)")
    parser.add_argument("--quick", action="store_true", help="fewer cases")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = session_bench_parser("latency", __doc__.splitlines()[0]).parse_args(argv)
    result = run_latency_bench(load_config(args.config), quick=args.quick)
    print(json.dumps(result, indent=2) if args.json else format_latency_table(result))
    return 0
