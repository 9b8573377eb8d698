"""`omnivox bench asr`: word error rate and final-transcript delay of each recognizer.

Each clip is fed through `accept()` in 20 ms frames, as a live session feeds it, then
`tail_ms` of silence (the VAD needs about that much to call the end of speech, and the
session asks for the final then), then `final()` is called. Reported per backend and
corpus:
- `wer`: corpus WER of the finals (lab/evaluation/wer.py normalisation);
- `final_call_ms`: how long `final()` itself took, p50/p95;
- `final_delay_ms`: from the session's final request to the transcript, with frames
  replayed at real time through one worker as in a session (agent/speech/transcription.py):
  each call starts when its frame has arrived and the previous call is done, so work an
  `accept()` still has queued when the final is asked for counts too. p50/p95;
- `accept_rtf`: total `accept()` time / audio time (over 1 means it cannot keep up).
Timings are wall clock on this machine, one clip at a time, after one warm-up clip.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any, cast

import numpy as np

from omnivox.lab.evaluation.wer import corpus_wer, word_error_rate
from omnivox.lab.speech_corpus import SAMPLE_RATE, Clip, CorpusName, load_corpus
from omnivox.models.recognizer.base import Recognizer
from omnivox.models.recognizer.factory import Backend, create_recognizer

FRAME = 320  # 20 ms
FRAME_S = FRAME / SAMPLE_RATE
CORPORA: tuple[CorpusName, ...] = ("asterisk", "librivox")


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p95": float("nan")}
    return {
        "p50": round(float(np.percentile(values, 50)), 1),
        "p95": round(float(np.percentile(values, 95)), 1),
    }


def run_clip(recognizer: Recognizer, pcm: np.ndarray, tail_ms: int) -> dict[str, Any]:
    """Feed one clip as a session would; the final text and the timings."""
    audio = np.concatenate([pcm, np.zeros(tail_ms * SAMPLE_RATE // 1000, dtype=np.int16)])
    stream = recognizer.new_stream()
    busy_until = 0.0  # replayed clock, seconds from the first frame
    accept_total = 0.0
    partials = 0
    n_frames = 0
    for start in range(0, len(audio), FRAME):
        n_frames += 1
        began = time.perf_counter()
        if stream.accept(audio[start : start + FRAME]) is not None:
            partials += 1
        cost = time.perf_counter() - began
        accept_total += cost
        busy_until = max(busy_until, n_frames * FRAME_S) + cost
    requested = n_frames * FRAME_S
    began = time.perf_counter()
    text = stream.final()
    final_cost = time.perf_counter() - began
    return {
        "text": text,
        "partials": partials,
        "final_call_ms": final_cost * 1000,
        "final_delay_ms": (max(busy_until, requested) + final_cost - requested) * 1000,
        "accept_s": accept_total,
        "audio_s": len(audio) / SAMPLE_RATE,
    }


def _bench_corpus(recognizer: Recognizer, clips: list[Clip], tail_ms: int) -> dict[str, Any]:
    runs = [run_clip(recognizer, clip.pcm, tail_ms) for clip in clips]
    scored = sorted(
        (
            {"clip": c.path.stem, "wer": round(word_error_rate(c.text, r["text"]), 3),
             "ref": c.text, "hyp": r["text"]}
            for c, r in zip(clips, runs, strict=True)
        ),
        key=lambda s: -float(s["wer"]),
    )  # fmt: skip
    audio_s = sum(r["audio_s"] for r in runs)
    return {
        "clips": len(clips),
        "audio_s": round(audio_s, 1),
        "wer": round(corpus_wer((c.text, r["text"]) for c, r in zip(clips, runs, strict=True)), 4),
        "final_call_ms": _percentiles([r["final_call_ms"] for r in runs]),
        "final_delay_ms": _percentiles([r["final_delay_ms"] for r in runs]),
        "accept_rtf": round(sum(r["accept_s"] for r in runs) / audio_s, 3),
        "partials_per_clip": round(sum(r["partials"] for r in runs) / len(runs), 1),
        "worst": scored[:3],
    }


def run_asr_bench(
    backends: list[str],
    limit: int | None = None,
    *,
    tail_ms: int = 160,
    threads: int = 1,
) -> dict[str, Any]:
    """WER and delays for each backend on each corpus; `limit` clips per corpus at most.
    `threads` is onnxruntime's intra-op thread count for the Moonshine-based backends."""
    corpora = {name: load_corpus(name, limit) for name in CORPORA}
    results: dict[str, dict[str, Any]] = {}
    load_s: dict[str, float] = {}
    for backend in backends:
        options: dict[str, Any] = {} if backend == "pocketsphinx" else {"threads": threads}
        began = time.perf_counter()
        recognizer = create_recognizer(cast(Backend, backend), **options)
        load_s[backend] = round(time.perf_counter() - began, 2)
        run_clip(recognizer, corpora["asterisk"][0].pcm, tail_ms)  # warm-up: lazy loads
        results[backend] = {
            name: _bench_corpus(recognizer, clips, tail_ms) for name, clips in corpora.items()
        }
    return {
        "setup": {
            "limit": limit,
            "tail_ms": tail_ms,
            "threads": threads,
            "cpus": os.cpu_count(),
        },
        "load_s": load_s,
        "results": results,
    }


def format_asr_table(result: dict[str, Any]) -> str:
    """A plain-text table of `run_asr_bench`'s result."""
    header = (
        f"{'backend':<13}{'corpus':<10}{'clips':>6}{'audio s':>9}{'WER':>8}"
        f"{'final p50/p95 ms':>19}{'delay p50/p95 ms':>19}{'accept RTF':>12}"
    )
    lines = [header, "-" * len(header)]
    for backend, corpora in result["results"].items():
        for corpus, r in corpora.items():
            call, delay = r["final_call_ms"], r["final_delay_ms"]
            lines.append(
                f"{backend:<13}{corpus:<10}{r['clips']:>6}{r['audio_s']:>9.1f}{r['wer']:>8.3f}"
                f"{call['p50']:>10.0f}/{call['p95']:<8.0f}{delay['p50']:>10.0f}/{delay['p95']:<8.0f}"
                f"{r['accept_rtf']:>12.2f}"
            )
    setup = result["setup"]
    loads = ", ".join(f"{b} {s:.1f} s" for b, s in result["load_s"].items())
    lines.append(
        f"(tail {setup['tail_ms']} ms of silence before final; onnxruntime threads "
        f"{setup['threads']}; {setup['cpus']} CPUs; load: {loads})"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omnivox bench asr", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    parser.add_argument("--limit", type=int, help="clips per corpus")
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["pocketsphinx", "moonshine", "hybrid"],
        help="recognizers to compare",
    )
    args = parser.parse_args(argv)
    result = run_asr_bench(args.backends, limit=args.limit)
    print(json.dumps(result, indent=2) if args.json else format_asr_table(result))
    return 0
