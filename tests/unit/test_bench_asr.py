"""ASR benchmark plumbing on the real pocketsphinx backend (figures are not checked)."""

from __future__ import annotations

import json

import numpy as np

from omnivox.lab.bench.asr import format_asr_table, run_asr_bench, run_clip
from omnivox.lab.speech_corpus import load_corpus
from omnivox.models.recognizer.factory import create_recognizer


def test_run_clip_times_and_replays() -> None:
    clip = load_corpus("librivox", limit=1)[0]
    run = run_clip(create_recognizer("pocketsphinx"), clip.pcm, tail_ms=160)
    assert "dashwood" in run["text"] or "john" in run["text"]
    assert run["audio_s"] == len(clip.pcm) / 16000 + 0.16
    assert run["partials"] > 0
    # the replayed delay includes the final call itself, never less
    assert run["final_delay_ms"] >= run["final_call_ms"] > 0


def test_run_clip_silence_gives_empty_text() -> None:
    run = run_clip(create_recognizer("pocketsphinx"), np.zeros(8000, np.int16), tail_ms=0)
    assert run["text"] == ""


def test_bench_result_shape_and_table() -> None:
    result = run_asr_bench(["pocketsphinx"], limit=2)
    json.dumps(result)  # the CLI prints it as JSON
    assert set(result["results"]["pocketsphinx"]) == {"asterisk", "librivox"}
    r = result["results"]["pocketsphinx"]["librivox"]
    assert r["clips"] == 2
    assert 0.0 <= r["wer"] < 1.0
    assert r["final_delay_ms"]["p95"] >= r["final_delay_ms"]["p50"]
    assert len(r["worst"]) == 2 and {"ref", "hyp", "wer", "clip"} <= set(r["worst"][0])
    table = format_asr_table(result)
    assert "pocketsphinx" in table and "librivox" in table and "WER" in table
    assert len(table.splitlines()) == 2 + 2 + 1  # header, rule, two rows, setup line
