"""``omnivox train turns``: make data, train and export the turn classifier.

The recipe (also in models/turn/RECIPE.md):
1. Speech: every phrase list in lab/training/turn_phrases.yaml is spoken by several
   espeak-ng and flite voices at random rates and pitches, plus real human speech
   (Asterisk prompts, LibriVox). A fifth of the phrases (by hash) and four voices are
   held out for the synthetic evaluation set; a fifth of the Asterisk prompts for the
   real-human set.
2. Labels: backchannels and take-overs for overlap; finished turns, unfinished phrases
   (dangling "and", "um"...) and real or synthetic sentences cut at a pause, for pauses.
3. Channel: level, room, microphone tilt, noise, a G.711 phone leg on some clips, and,
   for overlap, the agent's own voice echoed under the user's.
4. Queries: each clip is cut at several query times (overlap: 100 ms steps from onset;
   pause: 100-1000 ms into the pause) with the partial transcript a streaming
   recognizer would show by then, mangled as recognizers do.
5. Model: three 1-D convolutions over 2 s of log-mel frames, pooled, joined with the
   text and context features; two sigmoid heads (agent/turn_fit). Trained with torch on
   CPU, exported to ONNX (opset 17), checked against onnxruntime, thresholds tuned on
   validation clips replayed as ``omnivox eval turns --asr hybrid --overlay-agent``
   replays them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from omnivox.lab.evaluation.eval_turns import build_human_set, decide, run_eval
from omnivox.lab.evaluation.turn_replay import LabelledClip, PartialSource, trace_all
from omnivox.lab.training.speech_channel import augment, overlay_agent
from omnivox.lab.training.turn_data import (
    AGENT_VOICE,
    HUMAN_BACKCHANNELS,
    OVERLAP_LABELS,
    SAMPLE_RATE,
    VOICES,
    LabelledAudio,
    asterisk_prompts,
    cut_at_pause,
    held_out,
    librivox,
    load_16k,
    load_phrases,
    phrase_fold,
    progress,
    recognizer_noise,
    reveal,
    synthesize,
    trim,
    write_labelled_dir,
)
from omnivox.lab.training.turn_fit import Examples, export, set_metadata, train
from omnivox.models.turn.classifier import MODEL_FILE, TurnClassifier
from omnivox.models.turn.features import (
    FEATURE_VERSION,
    WINDOW_FRAMES,
    TurnContext,
    compute_track,
    model_inputs,
)

VALIDATION_FOLD = 1  # phrases (see phrase_fold) that validate rather than train
PACKAGE_MODEL = Path(__file__).resolve().parent.parent / "models" / "turn" / MODEL_FILE
_MS = SAMPLE_RATE // 1000


@dataclass(frozen=True, slots=True)
class Plan:
    """How much of everything: renditions per phrase and kind, training length."""

    backchannel: int
    takeover: int
    finished: int
    unfinished: int
    evaluation: int  # renditions per held-out phrase in the synthetic evaluation set
    phrase_stride: int  # use every n-th phrase (quick runs)
    real_stride: int
    epochs: int
    max_train_s: float


PLANS = {
    "full": Plan(5, 3, 2, 3, 2, 1, 1, 15, 420.0),
    "quick": Plan(1, 1, 1, 1, 1, 3, 6, 3, 60.0),
}


@dataclass(frozen=True, slots=True)
class Clip:
    audio: np.ndarray  # 16 kHz int16, from (just before) onset to a silent tail
    speech_end: int  # sample where the speech ends
    text: str
    label: str
    source: str
    phrase: str  # the phrase or recording it came from: train/validation split by it


# ---- 1-3: speech, labels, channel ------------------------------------------------------


def _finish(
    audio: np.ndarray, text: str, label: str, source: str, phrase: str, rng: np.random.Generator
) -> Clip:
    tail_ms = 600.0 if label in OVERLAP_LABELS else 1100.0
    trimmed, end = trim(audio, rng, tail_ms)
    return Clip(augment(trimmed, rng), end, text, label, source, phrase)


def _tts_jobs(
    phrases: dict[str, list[str]], evaluation: bool, plan: Plan, rng: np.random.Generator
) -> list[tuple[str, str]]:
    """(kind, text) for every rendition; kinds are the phrase lists plus "answer"
    (a backchannel word said as a whole turn, e.g. "okay." after a question)."""
    counts = {
        "backchannel": plan.backchannel,
        "takeover": plan.takeover,
        "finished": plan.finished,
        "unfinished": plan.unfinished,
    }
    jobs = []
    for kind, n in counts.items():
        chosen = [p for p in phrases[kind] if held_out(p) == evaluation][:: plan.phrase_stride]
        for text in chosen:
            reps = plan.evaluation if evaluation else n
            jobs += [(kind, text)] * reps
            if kind == "backchannel" and rng.random() < 0.5:
                jobs.append(("answer", text))
    return jobs


def synthetic_clips(evaluation: bool, plan: Plan, rng: np.random.Generator) -> list[Clip]:
    """Spoken phrase lists; held-out phrases and voices when ``evaluation``."""
    voices = [v for v in VOICES if v.held_out == evaluation]
    jobs = _tts_jobs(load_phrases(), evaluation, plan, rng)
    clips = []
    label_of = {
        "backchannel": "backchannel",
        "takeover": "interruption",
        "finished": "end_of_turn",
        "unfinished": "hold",
        "answer": "end_of_turn",
    }
    title = "speaking held-out phrases" if evaluation else "speaking training phrases"
    for kind, text in progress(jobs, len(jobs), title):
        voice = voices[int(rng.integers(len(voices)))]
        source = f"{voice.engine}:{voice.name}"
        spoken = text + ("," if kind == "unfinished" and rng.random() < 0.5 else "")
        audio = synthesize(voice, spoken, rng)
        clips.append(_finish(audio, text, label_of[kind], source, text, rng))
        if kind != "finished":
            continue
        # Holds from finished sentences: cut at a real pause, or a prefix spoken on its
        # own with a continuation comma (the intonation of a mid-sentence pause).
        cut = cut_at_pause(audio, text, rng, min_ms=60)
        if cut is not None and rng.random() < 0.6:
            clips.append(_finish(cut[0], cut[1], "hold", source, text, rng))
        words = text.split()
        if len(words) >= 3:
            prefix = " ".join(words[: int(rng.integers(1, len(words)))])
            audio = synthesize(voice, prefix + ",", rng)
            clips.append(_finish(audio, prefix, "hold", source, text, rng))
    return clips


def real_clips(plan: Plan, rng: np.random.Generator) -> list[Clip]:
    """Human speech for training: Asterisk prompts outside the held-out fifth, LibriVox.

    Pause task only. There is no real backchannel to pair them with, so real voices as
    take-overs taught the overlap head that a real voice means a take-over: it scored
    0.98-1.0 at 200 ms on "oh" and "thank you" by the same speaker. The overlap head
    learns from voices that say both."""
    recordings = [
        r for r in asterisk_prompts() if not held_out(r.text) and r.name not in HUMAN_BACKCHANNELS
    ]
    recordings = recordings[:: plan.real_stride] + librivox()
    clips = []
    for rec in progress(recordings, len(recordings), "cutting real speech"):
        audio = load_16k(rec.path, rec.sample_rate)
        source = "librivox" if rec.path.parent.name == "librivox" else "asterisk"
        clips.append(_finish(audio, rec.text, "end_of_turn", source, rec.text, rng))
        cut = cut_at_pause(audio, rec.text, rng)
        if cut is not None:
            clips.append(_finish(cut[0], cut[1], "hold", source, rec.text, rng))
    return clips


# ---- 4: queries -> model inputs -----------------------------------------------------------


def _queries(clip: Clip, rng: np.random.Generator) -> list[int]:
    step = 100 * _MS
    if clip.label in OVERLAP_LABELS:
        grid = list(range(step, clip.speech_end + 400 * _MS + 1, step))
    else:
        grid = [clip.speech_end + d * step for d in range(1, 11)]
    k = 10  # every pause step: how p_finished should move as the pause grows is learned
    grid = [t for t in grid if t <= len(clip.audio)]
    return sorted(int(t) for t in rng.choice(grid, size=min(k, len(grid)), replace=False))


RECOGNIZED_SHARE = 0.5
"""Share of clips whose partials come from the session's own recognizer (pocketsphinx
streaming, Moonshine interim and pause finals: its errors, its punctuation); the rest
read the transcript, mangled like a recognizer and without punctuation."""


def make_examples(
    clips: Sequence[Clip], agent: Sequence[np.ndarray], rng: np.random.Generator
) -> Examples:
    frames, masks, extras, tasks, targets = [], [], [], [], []
    recognizer = PartialSource("hybrid")
    for clip in progress(clips, len(clips), "computing features"):
        overlap = clip.label in OVERLAP_LABELS
        audio, since = clip.audio, float(rng.uniform(0.0, 6000.0))
        if overlap and rng.random() < 0.75:
            mixed = overlay_agent(audio, agent[int(rng.integers(len(agent)))], rng)
            audio, since = mixed.audio, mixed.ms_since_agent_pause
        track = compute_track(audio, keep=None)
        asked = bool(rng.random() < 0.3)
        lag = int(rng.uniform(150.0, 500.0) * _MS)
        times = _queries(clip, rng)
        if rng.random() < RECOGNIZED_SHARE:
            heard = LabelledClip(clip.phrase, clip.label, audio, None)
            said = recognizer.at(heard, audio, (0, clip.speech_end), times, overlap)
            texts = [text for text, _ in said]
        else:
            texts = [
                recognizer_noise(reveal(clip.text, 0, clip.speech_end, t, lag), rng) for t in times
            ]
        for t, text in zip(times, texts, strict=True):
            context = TurnContext(overlap, since + t / _MS, asked)
            inputs = model_inputs(track, t, text, context)
            frames.append(inputs.frames.astype(np.float16))
            masks.append(inputs.mask)
            extras.append(inputs.extra)
            tasks.append(0 if overlap else 1)
            targets.append(float(clip.label in ("interruption", "end_of_turn")))
    return Examples(
        np.stack(frames),
        np.stack(masks),
        np.stack(extras),
        np.array(tasks, np.int64),
        np.array(targets, np.float32),
    )


# ---- 5: network (agent/turn_fit), then thresholds -----------------------------------------


def tune(model_path: Path, val_clips: Sequence[Clip], seed: int) -> dict[str, str]:
    """Thresholds (and the baseline's word count) with the best balanced accuracy on
    validation clips, replayed with agent echo and the partials of the session's own
    recognizer (what the thresholds meet live)."""
    classifier = TurnClassifier.load(model_path)
    clips = [LabelledClip(f"val{i}", c.label, c.audio, c.text) for i, c in enumerate(val_clips)]
    traces = trace_all(classifier, clips, overlay=True, seed=seed, partials="hybrid")
    grid = [round(x, 2) for x in np.arange(0.05, 0.96, 0.05)]

    def balanced(report: dict[str, Any], a: str, b: str) -> float:
        table = report["per_class"]
        return sum(table[c]["accuracy"] or 0.0 for c in (a, b)) / 2

    takeover = max(
        grid, key=lambda th: balanced(decide(traces, th, 0.5), "backchannel", "interruption")
    )
    finished = max(grid, key=lambda th: balanced(decide(traces, 0.5, th), "end_of_turn", "hold"))
    words = max(
        range(1, 8),
        key=lambda n: balanced(decide(traces, 0.5, 0.5, n, 0.0), "backchannel", "interruption"),
    )
    return {
        "threshold_takeover": str(takeover),
        "threshold_finished": str(finished),
        "baseline_takeover_words": str(words),
    }


def missing_prerequisites() -> list[str]:
    """What training needs and this machine lacks, each with its fix; checked before
    the first minute of work rather than failing in the middle of it."""
    missing = [
        f"the {exe} command (apt-get install -y {exe})"
        for exe in ("espeak-ng", "flite")
        if shutil.which(exe) is None
    ]
    for module in ("torch", "onnx"):
        if importlib.util.find_spec(module) is None:
            missing.append(f"the {module} package (pip install 'omnivox[train]')")
    return missing


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omnivox train turns", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("out/turns"),
        help="folder for the model, evaluation sets and report",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run (a few minutes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--install", action="store_true", help=f"also copy the model to {PACKAGE_MODEL}"
    )
    args = parser.parse_args(argv)
    missing = missing_prerequisites()
    if missing:
        print(f"omnivox train turns: needs {', '.join(missing)}", file=sys.stderr)
        print("  ./dev train sets them all up", file=sys.stderr)
        return 2
    plan = PLANS["quick" if args.quick else "full"]
    rng = np.random.default_rng(args.seed)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    clips = synthetic_clips(False, plan, rng) + real_clips(plan, rng)
    val_clips = [c for c in clips if phrase_fold(c.phrase) == VALIDATION_FOLD]
    train_clips = [c for c in clips if phrase_fold(c.phrase) != VALIDATION_FOLD]
    agent_texts = load_phrases()["agent"]
    agent = [
        synthesize(AGENT_VOICE, agent_texts[int(i)], rng)
        for i in rng.choice(len(agent_texts), size=8, replace=False)
    ]
    data = make_examples(train_clips, agent, rng)
    val = make_examples(val_clips, agent, rng)
    data_s = time.monotonic() - started

    model = train(data, val, plan.epochs, plan.max_train_s, args.seed)
    train_s = time.monotonic() - started - data_s
    info = {
        "seed": args.seed,
        "plan": "quick" if args.quick else "full",
        "train_clips": Counter(c.label for c in train_clips),
        "val_clips": Counter(c.label for c in val_clips),
        "train_examples": len(data.target),
        "data_s": round(data_s),
        "train_s": round(train_s),
        "voices": [f"{v.engine}:{v.name}" for v in VOICES if not v.held_out],
    }
    model_path = out / MODEL_FILE
    export(
        model,
        model_path,
        val,
        {
            "feature_version": str(FEATURE_VERSION),
            "window_frames": str(WINDOW_FRAMES),
            "training": json.dumps(info),
        },
    )
    set_metadata(model_path, tune(model_path, val_clips, args.seed))

    eval_synth = out / "eval_synthetic"
    shutil.rmtree(eval_synth, ignore_errors=True)
    held = synthetic_clips(True, plan, rng)
    write_labelled_dir(
        eval_synth,
        (LabelledAudio(f"clip{i:04d}", c.audio, c.label, c.text) for i, c in enumerate(held)),
    )
    eval_human = out / "eval_human"
    shutil.rmtree(eval_human, ignore_errors=True)
    build_human_set(eval_human, args.seed)
    report: dict[str, Any] = {"training": info, "model_bytes": model_path.stat().st_size}
    for name, folder in (("synthetic", eval_synth), ("human", eval_human)):
        for overlay in (False, True):
            key = f"{name}{'_overlay_agent' if overlay else ''}"
            report[key] = run_eval(folder, overlay, model_path, args.seed)
    report["total_s"] = round(time.monotonic() - started)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    if args.install:
        shutil.copyfile(model_path, PACKAGE_MODEL)
    print(f"model: {model_path} ({report['model_bytes']} bytes); report: {out / 'report.json'}")
    return 0
