"""``omnivox eval turns``: how well the turn classifier decides, clip by clip.

DIR holds WAV files and ``labels.csv`` with columns ``path,label[,transcript]``; labels
are ``backchannel`` and ``interruption`` (scored as overlap: the agent is speaking) and
``end_of_turn`` and ``hold`` (scored as a pause: the agent is silent).

Each clip is replayed as the policy would see it: from the user's speech onset, one
query every 100 ms.
- overlap: the agent stops at the first query whose ``p_takeover`` reaches the
  threshold. A backchannel that stops it is a false stop; an interruption that never
  does is a miss; the decision time is measured from onset.
- pause: after the speech ends, the recording's own background (its frames that are
  not speech, not the trimmed speech's quietest stretch) continues for up to
  ``PAUSE_WINDOW_MS``; end of turn is declared at the first query whose ``p_finished``
  reaches the threshold. An end_of_turn is right if that happens within the window (its
  decision time counts from the end of speech), a hold if it never does.

The partial transcript at each query is the labels.csv transcript, revealed word by
word as a streaming recognizer would (each word ``RECOGNIZER_LAG_MS`` after it ends),
or, with no transcript or with ``--asr pocketsphinx``, pocketsphinx decoding the clip
as it streams.

Beside the thresholds alone ("model"), the turn policy itself is replayed on the same
scores and partials ("policy": what a session decides, its staging and word rules
included; see ``replay_policy``).

The baseline beside the model's figures: take the floor after N recognised words (N
tuned on training data, stored in the model), and end the turn after the configured
fixed silence (``turns.end_of_turn_silence_ms``).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from omnivox.agent.config import TurnsConfig
from omnivox.agent.turn_data import (
    AGENT_VOICE,
    HUMAN_BACKCHANNELS,
    LABELS,
    OVERLAP_LABELS,
    SAMPLE_RATE,
    AudioFileError,
    LabelledAudio,
    asterisk_prompts,
    cut_at_pause,
    extend_floor,
    held_out,
    load_16k,
    load_phrases,
    other_speakers,
    overlay_agent,
    progress,
    reveal,
    speech_bounds,
    synthesize,
    write_labelled_dir,
)
from omnivox.agent.turns import (
    AgentAudioStarted,
    CancelReply,
    OverlapScore,
    PauseScore,
    SpeechStarted,
    SpeechStopped,
    StartReply,
    Tick,
    TurnEvent,
    TurnPolicy,
    TurnPolicyConfig,
)
from omnivox.models.turn.classifier import TurnClassifier, TurnContext, TurnThresholds

QUERY_MS = 100
PAUSE_WINDOW_MS = 800
OVERLAP_TAIL_MS = 300  # keep querying this long after an overlapping utterance ends
RECOGNIZER_LAG_MS = 300
ONSET_PREROLL_MS = 50  # the policy back-dates the VAD's onset a little before the speech
VAD_STOP_MS = 160  # the VAD reports the end of speech this long after it (vad.stop_ms)
_MS = SAMPLE_RATE // 1000


class EvalDataError(ValueError):
    """labels.csv or a clip it names cannot be used; the message names the row."""


@dataclass(frozen=True, slots=True)
class LabelledClip:
    name: str
    label: str
    audio: np.ndarray  # 16 kHz int16 mono
    transcript: str | None


@dataclass(frozen=True, slots=True)
class Trace:
    """One clip replayed: the probability the label's task asks for at each query."""

    label: str
    times_ms: tuple[float, ...]  # overlap: since onset; pause: since the end of speech
    probs: tuple[float, ...]
    words: tuple[int, ...]  # words in the partial transcript at each query
    texts: tuple[str, ...] = ()  # the partial transcript at each query
    speech_ms: float = 0.0
    """Overlap: how long the speech lasts from onset (when the VAD will say it stopped)."""


def read_labels(data_dir: Path) -> list[LabelledClip]:
    """Load every clip; all problems are reported together, each with its line."""
    listing = data_dir / "labels.csv"
    if not listing.is_file():
        raise EvalDataError(f"{listing}: not found (expected columns path,label[,transcript])")
    with listing.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if header[:2] != ["path", "label"] or header[2:] not in ([], ["transcript"]):
        raise EvalDataError(
            f"{listing} line 1: header must be path,label[,transcript], "
            f"got {','.join(header) or '(empty file)'}"
        )
    clips, problems = [], []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"labels.csv line {line}"
        if len(row) < 2 or len(row) > len(header):
            problems.append(f"{where}: expected {len(header)} columns, got {len(row)}")
            continue
        path, label = row[0].strip(), row[1].strip()
        transcript = row[2].strip() if len(row) > 2 and row[2].strip() else None
        if label not in LABELS:
            problems.append(
                f"{where}: unknown label {label!r} (expected one of {', '.join(LABELS)})"
            )
            continue
        file = data_dir / path
        if not file.is_file():
            problems.append(f"{where}: file not found: {path}")
            continue
        try:
            audio = load_16k(file)
        except AudioFileError as err:
            problems.append(f"{where}: {err}")
            continue
        if speech_bounds(audio)[1] == 0:
            problems.append(f"{where}: {path} holds no speech")
            continue
        clips.append(LabelledClip(path, label, audio, transcript))
    if problems:
        raise EvalDataError("\n".join(problems))
    if not clips:
        raise EvalDataError(f"{listing}: no clips listed")
    return clips


class _Partials:
    """Partial transcripts at each query: from the transcript, or from pocketsphinx."""

    def __init__(self, force_recognizer: bool) -> None:
        self.force_recognizer = force_recognizer
        self._decoder: Any = None  # pocketsphinx.Decoder, imported on first use

    def at(
        self, clip: LabelledClip, audio: np.ndarray, speech: tuple[int, int], times: list[int]
    ) -> list[str]:
        """The partial at each query time (in samples of ``audio``, since onset); the
        words are spread over ``speech``, the speech's bounds in ``audio``."""
        if clip.transcript is not None and not self.force_recognizer:
            start, end = speech
            return [reveal(clip.transcript, start, end, t, RECOGNIZER_LAG_MS * _MS) for t in times]
        if self._decoder is None:
            from pocketsphinx import Decoder  # only when a recognizer is needed

            self._decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        decoder = self._decoder
        out, fed = [], 0
        decoder.start_utt()
        for t in times:
            decoder.process_raw(audio[fed:t].tobytes(), False, False)
            fed = t
            hyp = decoder.hyp()
            out.append(hyp.hypstr if hyp is not None else "")
        decoder.end_utt()
        return out


def agent_replies(seed: int, count: int = 6) -> list[np.ndarray]:
    """A few replies in the embedded Talker's voice, for ``--overlay-agent``."""
    rng = np.random.default_rng(seed)
    texts = load_phrases()["agent"]
    picks = rng.choice(len(texts), size=min(count, len(texts)), replace=False)
    return [synthesize(AGENT_VOICE, texts[int(i)], rng) for i in picks]


def trace_clip(
    classifier: TurnClassifier,
    clip: LabelledClip,
    partials: _Partials,
    agent: np.ndarray | None,
    rng: np.random.Generator,
) -> Trace:
    """Replay one clip from its onset, querying every ``QUERY_MS``."""
    first, end = speech_bounds(clip.audio)
    start = max(0, first - ONSET_PREROLL_MS * _MS)
    if clip.label in OVERLAP_LABELS:
        tail = OVERLAP_TAIL_MS * _MS
        audio = extend_floor(clip.audio[start:], max(0, end + tail - len(clip.audio)), clip.audio)
        since_pause = 2000.0
        if agent is not None:
            overlay = overlay_agent(audio, agent, rng)
            audio, since_pause = overlay.audio, overlay.ms_since_agent_pause
        times = list(range(QUERY_MS * _MS, end - start + tail + 1, QUERY_MS * _MS))
        origin, speaking = 0, True
    else:
        audio = extend_floor(clip.audio[start:end], PAUSE_WINDOW_MS * _MS, clip.audio)
        origin = end - start
        times = [origin + d * _MS for d in range(QUERY_MS, PAUSE_WINDOW_MS + 1, QUERY_MS)]
        since_pause, speaking = 1500.0, False
    texts = partials.at(clip, audio, (first - start, end - start), times)
    probs, words = [], []
    for t, text in zip(times, texts, strict=True):
        context = TurnContext(speaking, since_pause + t / _MS, agent_asked_question=False)
        scores = classifier.score(audio[:t], text, context)
        probs.append(scores.p_takeover if speaking else scores.p_finished)
        words.append(len(text.split()))
    return Trace(
        clip.label,
        tuple((t - origin) / _MS for t in times),
        tuple(probs),
        tuple(words),
        tuple(texts),
        (end - start) / _MS,
    )


def _first(flags: Sequence[bool]) -> int | None:
    return next((i for i, f in enumerate(flags) if f), None)


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def decide(
    traces: Sequence[Trace],
    takeover: float,
    finished: float,
    takeover_words: int | None = None,
    silence_ms: float | None = None,
) -> dict[str, object]:
    """Metrics for thresholds on the model's probabilities, or, with ``takeover_words``
    and ``silence_ms``, for the word-count / fixed-silence rule."""
    fires: list[float | None] = []
    for trace in traces:
        if trace.label in OVERLAP_LABELS:
            fired = (
                [w >= takeover_words for w in trace.words]
                if takeover_words is not None
                else [p >= takeover for p in trace.probs]
            )
        elif silence_ms is not None:
            fired = [t >= silence_ms for t in trace.times_ms]
        else:
            fired = [p >= finished for p in trace.probs]
        k = _first(fired)
        fires.append(None if k is None else trace.times_ms[k])
    return _metrics(traces, fires)


def policy_config(thresholds: TurnThresholds, turns: TurnsConfig | None = None) -> TurnPolicyConfig:
    """The turn policy's settings as a session with the learned classifier builds them."""
    turns = turns or TurnsConfig()
    return TurnPolicyConfig(
        end_of_turn_silence_ms=turns.end_of_turn_silence_ms,
        use_classifier=True,
        takeover_threshold=thresholds.takeover,
        backchannel_threshold=turns.backchannel_threshold,
        finished_threshold=thresholds.finished,
        hold_threshold=turns.hold_threshold,
        max_end_of_turn_silence_ms=turns.max_end_of_turn_silence_ms,
        max_overlap_ms=turns.max_overlap_ms,
        backchannel_max_ms=turns.backchannel_max_ms,
    )


def replay_policy(traces: Sequence[Trace], config: TurnPolicyConfig) -> dict[str, object]:
    """Metrics of the turn policy itself, fed each trace's scores as timed events: what
    the session does with the model, rules included. Overlap: the agent is speaking and
    the VAD reports the end of the speech ``VAD_STOP_MS`` after it; a take-over is a
    cancelled reply. Pause: the turn ends when the policy starts a reply."""
    return _metrics(traces, [_policy_fire_ms(trace, config) for trace in traces])


def _policy_fire_ms(trace: Trace, config: TurnPolicyConfig) -> float | None:
    policy = TurnPolicy(config)
    texts = trace.texts or ("",) * len(trace.probs)
    events: list[TurnEvent]
    if trace.label in OVERLAP_LABELS:
        policy.handle(AgentAudioStarted(-1000.0))
        events = [SpeechStarted(0.0, 0.0)]
        stop = trace.speech_ms + VAD_STOP_MS
        for t, p, text in zip(trace.times_ms, trace.probs, texts, strict=True):
            if t >= stop and not any(isinstance(e, SpeechStopped) for e in events):
                events.append(SpeechStopped(stop, trace.speech_ms))
            events += [Tick(t), OverlapScore(t, p, text)]
    else:
        events = [SpeechStarted(-1000.0, -1000.0), SpeechStopped(0.0, 0.0)]
        for t, p, text in zip(trace.times_ms, trace.probs, texts, strict=True):
            events += [Tick(t), PauseScore(t, p, text)]
    for event in events:
        for action in policy.handle(event):
            if isinstance(action, StartReply) or (
                isinstance(action, CancelReply) and action.reason == "barge_in"
            ):
                return action.t_ms
    return None


def _metrics(traces: Sequence[Trace], fires: Sequence[float | None]) -> dict[str, object]:
    """Per-class accuracy and decision times, given when (if ever) each trace fired:
    took the floor (overlap) or ended the turn (pause)."""
    per_class = {label: {"count": 0, "correct": 0} for label in LABELS}
    stop_ms: list[float] = []
    end_ms: list[float] = []
    for trace, fire in zip(traces, fires, strict=True):
        fires_right = trace.label in ("interruption", "end_of_turn")
        per_class[trace.label]["count"] += 1
        per_class[trace.label]["correct"] += int((fire is not None) == fires_right)
        if fire is not None and trace.label == "interruption":
            stop_ms.append(fire)
        if fire is not None and trace.label == "end_of_turn":
            end_ms.append(fire)
    table = {
        label: {**c, "accuracy": c["correct"] / c["count"] if c["count"] else None}
        for label, c in per_class.items()
    }
    bc, it = per_class["backchannel"], per_class["interruption"]
    return {
        "backchannel_false_stop_rate": 1.0 - bc["correct"] / bc["count"] if bc["count"] else None,
        "interruption_recall": it["correct"] / it["count"] if it["count"] else None,
        "decision_ms_p50": _percentile(stop_ms, 50),
        "decision_ms_p95": _percentile(stop_ms, 95),
        "end_of_turn_decision_ms_p50": _percentile(end_ms, 50),
        "end_of_turn_decision_ms_p95": _percentile(end_ms, 95),
        "per_class": table,
    }


def trace_all(
    classifier: TurnClassifier,
    clips: Sequence[LabelledClip],
    overlay: bool,
    seed: int = 0,
    force_recognizer: bool = False,
) -> list[Trace]:
    partials = _Partials(force_recognizer)
    replies = (
        agent_replies(seed) if overlay and any(c.label in OVERLAP_LABELS for c in clips) else []
    )
    traces = []
    for i, clip in enumerate(progress(clips, len(clips), "replaying clips")):
        rng = np.random.default_rng([seed, i])
        agent = replies[i % len(replies)] if replies else None
        traces.append(trace_clip(classifier, clip, partials, agent, rng))
    return traces


def summarize(traces: Sequence[Trace], classifier: TurnClassifier) -> dict[str, object]:
    th = classifier.thresholds
    n_words = int(classifier.metadata.get("baseline_takeover_words", 2))
    silence = float(TurnsConfig().end_of_turn_silence_ms)
    report = decide(traces, th.takeover, th.finished)
    report["thresholds"] = {"takeover": th.takeover, "finished": th.finished}
    report["policy"] = replay_policy(traces, policy_config(th))
    report["baseline"] = {
        "rule": f"take the floor after {n_words} recognised words; end of turn after "
        f"{silence:.0f} ms of silence",
        **decide(traces, th.takeover, th.finished, n_words, silence),
    }
    return report


def run_eval(
    data_dir: Path,
    overlay_agent: bool,
    model: Path | None = None,
    seed: int = 0,
    force_recognizer: bool = False,
) -> dict[str, object]:
    """Evaluate the classifier on a labelled directory; see the module docstring."""
    clips = read_labels(Path(data_dir))
    classifier = TurnClassifier.load(model)
    report = summarize(
        trace_all(classifier, clips, overlay_agent, seed, force_recognizer), classifier
    )
    report["data"] = str(data_dir)
    report["overlay_agent"] = overlay_agent
    report["partials"] = (
        "pocketsphinx" if force_recognizer else "labels.csv transcript (pocketsphinx where missing)"
    )
    return report


_COMMAND = re.compile(
    r"\?|^(please|press|enter|hold|wait|try|check|dial|say|record|stay|"
    r"hang|go|to) ",
    re.IGNORECASE,
)


def build_human_set(folder: Path, seed: int = 0) -> dict[str, int]:
    """Write a labelled folder of real human speech that training never saw: the
    held-out fifth of Asterisk's prompts (by text; same speaker as the trained-on
    prompts) and pocketsphinx's recordings of other speakers. Commands and questions
    are interruptions, other prompts ends of turn, prompts cut at an internal pause
    holds; the few backchannel-like prompts ("oh", "thank you") are backchannels."""
    rng = np.random.default_rng(seed)
    prompts = asterisk_prompts()
    items = [
        LabelledAudio(r.name.replace("/", "-"), load_16k(r.path), "backchannel", r.text)
        for r in prompts
        if r.name in HUMAN_BACKCHANNELS
    ]
    held = [r for r in prompts if held_out(r.text) and r.name not in HUMAN_BACKCHANNELS]
    for rec in held + other_speakers():
        audio = load_16k(rec.path, rec.sample_rate)
        name = rec.name.replace("/", "-")
        multiword = len(rec.text.split()) >= 2
        label = "interruption" if multiword and _COMMAND.search(rec.text) else "end_of_turn"
        items.append(LabelledAudio(name, audio, label, rec.text))
        cut = cut_at_pause(audio, rec.text, rng)
        if cut is not None:
            items.append(LabelledAudio(f"{name}-cut", cut[0], "hold", cut[1]))
    write_labelled_dir(folder, items)
    counts = {label: sum(i.label == label for i in items) for label in LABELS}
    return counts


def _fmt(value: object, percent: bool = False) -> str:
    if value is None:
        return "-"
    if percent:
        return f"{100 * float(value):.1f}%"  # type: ignore[arg-type]
    return f"{float(value):.0f}"  # type: ignore[arg-type]


def format_report(report: dict[str, object]) -> str:
    base, policy = report["baseline"], report["policy"]
    assert isinstance(base, dict) and isinstance(policy, dict)
    lines = [
        f"turn classifier on {report['data']} (overlay agent: {report['overlay_agent']})",
        f"{'':34}{'model':>10}{'policy':>10}{'baseline':>10}",
    ]
    for key, pct in (
        ("backchannel_false_stop_rate", True),
        ("interruption_recall", True),
        ("decision_ms_p50", False),
        ("decision_ms_p95", False),
        ("end_of_turn_decision_ms_p50", False),
        ("end_of_turn_decision_ms_p95", False),
    ):
        lines.append(
            f"{key:34}{_fmt(report[key], pct):>10}{_fmt(policy[key], pct):>10}"
            f"{_fmt(base[key], pct):>10}"
        )
    model_classes, base_classes = report["per_class"], base["per_class"]
    assert isinstance(model_classes, dict)
    for label in LABELS:
        m, pc, b = model_classes[label], policy["per_class"][label], base_classes[label]
        lines.append(
            f"{label + ' accuracy (n=' + str(m['count']) + ')':34}"
            f"{_fmt(m['accuracy'], True):>10}{_fmt(pc['accuracy'], True):>10}"
            f"{_fmt(b['accuracy'], True):>10}"
        )
    lines.append("model: the thresholds alone; policy: the turn policy fed the scores")
    lines.append(f"baseline: {base['rule']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omnivox eval turns", description=__doc__.split("\n\n")[0]
    )
    task = parser.add_mutually_exclusive_group(required=True)
    task.add_argument(
        "--data", type=Path, help="folder with labels.csv (path,label[,transcript]) and WAVs"
    )
    task.add_argument(
        "--make-human-set",
        type=Path,
        metavar="DIR",
        help="write a labelled set of real human speech (Asterisk prompts, "
        "pocketsphinx test recordings) to DIR, then exit",
    )
    parser.add_argument(
        "--overlay-agent",
        action="store_true",
        help="mix overlap clips over the agent's echo, starting mid-reply",
    )
    parser.add_argument(
        "--asr",
        choices=("transcript", "pocketsphinx"),
        default="transcript",
        help="partials from the transcript column (default) or pocketsphinx",
    )
    parser.add_argument("--model", type=Path, help="ONNX model (default: the committed one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.make_human_set is not None:
        counts = build_human_set(args.make_human_set, args.seed)
        print(f"wrote {sum(counts.values())} clips to {args.make_human_set}: {counts}")
        return 0
    try:
        report = run_eval(
            args.data, args.overlay_agent, args.model, args.seed, args.asr == "pocketsphinx"
        )
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"omnivox eval turns: {err}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
