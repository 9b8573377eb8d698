"""``omnivox eval turns``: how well the turn classifier decides, clip by clip.

DIR holds audio files (any format and rate FFmpeg reads; stereo is mixed down) and
``labels.csv``. Its header row names the columns ``path``, ``label`` and optionally
``transcript``, in any order and any case; other columns are ignored. A file without a
header has exactly ``path,label[,transcript]`` (a first row whose second cell is a
label is read as a clip). Labels are ``backchannel`` and ``interruption`` (scored as
overlap: the agent is speaking) and ``end_of_turn`` and ``hold`` (scored as a pause:
the agent is silent). Clips are replayed as a session sees them (lab/evaluation/turn_replay.py).

The headline figures are the turn policy's: the policy fed each clip's scores and
partial transcripts as timed events, staging and word rules included, i.e. what a
session decides. A backchannel that cancels the reply is a false stop, an interruption
that never does is a miss (decision time from onset); an end_of_turn is right if the
policy starts a reply within the pause window (decision time from the end of speech), a
hold if it does not.

Beside them: ``model``, the tuned thresholds alone (first query at or over them), and
``baseline``, take the floor after N recognised words (N tuned on training data, stored
in the model) and end the turn after the configured fixed silence
(``turns.end_of_turn_silence_ms``).

The plain report then lists the clips the policy misjudged (the first
``MISJUDGED_SHOWN``); ``--json`` adds ``clips``, every clip's result:
``{path, label, decision, decision_ms, correct}``. ``decision`` is what the policy did:
over the agent ``yielded`` (cancelled its reply: right for an interruption) or
``kept_talking`` (right for a backchannel); at a pause ``replied`` (started a reply within
the window: right for an end_of_turn) or ``waited`` (right for a hold).
``decision_ms`` is when it yielded or replied, as above; null when it did not.
``--explain`` shows why, step by step (turn_explain.py).

``--make-human-set`` reads Debian's asterisk-core-sounds-en-wav, asterisk-core-sounds-en
and pocketsphinx-testdata, ``--overlay-agent`` runs espeak-ng: without them it says what
to install and exits 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np

from omnivox.agent.config import TurnsConfig
from omnivox.lab.evaluation.turn_explain import explain, format_explained
from omnivox.lab.evaluation.turn_replay import (
    PARTIAL_SOURCES,
    LabelledClip,
    Trace,
    policy_fire_ms,
    trace_all,
)
from omnivox.lab.training import turn_data
from omnivox.lab.training.turn_data import (
    HUMAN_BACKCHANNELS,
    LABELS,
    OVERLAP_LABELS,
    LabelledAudio,
    asterisk_prompts,
    cut_at_pause,
    held_out,
    load_16k,
    other_speakers,
    speech_bounds,
    write_labelled_dir,
)
from omnivox.media.audio_files import AudioFileError
from omnivox.models.turn.classifier import TurnClassifier, TurnThresholds

REQUIRED_COLUMNS = ("path", "label")
COLUMNS = (*REQUIRED_COLUMNS, "transcript")
#: What the turn policy did with a clip, as (it fired, it did not): over the agent it
#: stops the reply (yields) or keeps talking; at a pause it replies or waits.
OVERLAP_DECISIONS = ("yielded", "kept_talking")
PAUSE_DECISIONS = ("replied", "waited")
FIRING_LABELS = ("interruption", "end_of_turn")  # the labels the policy should fire on
MISJUDGED_SHOWN = 20  # the plain report lists this many misjudged clips at most


class EvalDataError(ValueError):
    """labels.csv or a clip it names cannot be used; the message names the row."""


class MissingPackageError(OSError):
    """A Debian package the task needs is not installed; the message names the fix."""


def _columns(listing: Path, first: list[str]) -> tuple[dict[str, int], bool]:
    """Where each column is, from labels.csv's first row, and whether it is a header.

    A first row whose second cell is a label is a clip: the file has no header and its
    columns are ``path,label[,transcript]``. Any other first row is a header: columns
    are found by name (case and surrounding spaces ignored), others are ignored."""
    if len(first) >= 2 and first[1].strip().lower() in LABELS:
        return dict(zip(COLUMNS, range(len(COLUMNS)), strict=True)), False
    names = [cell.strip().lower() for cell in first]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    twice = [c for c in COLUMNS if names.count(c) > 1]
    if missing or twice:
        problem = f"no {' or '.join(missing)} column" if missing else f"two {twice[0]} columns"
        found = ", ".join(n or "(blank)" for n in names) or "nothing"
        raise EvalDataError(
            f"{listing} line 1: header has {problem} (found: {found}); expected path, "
            "label and optionally transcript, in any order"
        )
    return {c: names.index(c) for c in COLUMNS if c in names}, True


def read_labels(data_dir: Path) -> list[LabelledClip]:
    """Load every clip; all problems are reported together, each with its line."""
    listing = data_dir / "labels.csv"
    if not listing.is_file():
        raise EvalDataError(f"{listing}: not found (expected columns path,label[,transcript])")
    try:
        # utf-8-sig: spreadsheets write a byte-order mark before the header.
        with listing.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError as err:
        raise EvalDataError(
            f"{listing}: not UTF-8 text ({err.reason} at byte {err.start})"
        ) from None
    if not rows:
        raise EvalDataError(f"{listing}: no clips listed (empty file)")
    column, has_header = _columns(listing, rows[0])
    width = len(rows[0]) if has_header else len(COLUMNS)
    expected = str(width) if has_header else "2 or 3"
    clips, problems = [], []
    first_line = 2 if has_header else 1
    for line, row in enumerate(rows[first_line - 1 :], start=first_line):
        if not any(cell.strip() for cell in row):
            continue
        where = f"labels.csv line {line}"
        if len(row) <= max(column["path"], column["label"]) or len(row) > width:
            hint = "" if has_header else " (more need a header row naming the columns)"
            problems.append(f"{where}: expected {expected} columns, got {len(row)}{hint}")
            continue
        path, label = row[column["path"]].strip(), row[column["label"]].strip().lower()
        k = column.get("transcript", width)
        transcript = row[k].strip() if k < len(row) and row[k].strip() else None
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


def policy_fires(
    traces: Sequence[Trace], config: TurnsConfig, tuned: TurnThresholds
) -> list[float | None]:
    """When (if ever) the turn policy, fed each trace's scores as timed events, fired."""
    return [policy_fire_ms(trace, config, tuned) for trace in traces]


def replay_policy(
    traces: Sequence[Trace], config: TurnsConfig, tuned: TurnThresholds
) -> dict[str, object]:
    """Metrics of the turn policy itself, fed each trace's scores as timed events: what
    the session does with the model, rules included."""
    return _metrics(traces, policy_fires(traces, config, tuned))


def clip_results(
    names: Sequence[str], traces: Sequence[Trace], fires: Sequence[float | None]
) -> list[dict[str, object]]:
    """One entry per clip: what the policy decided (``OVERLAP_DECISIONS`` or
    ``PAUSE_DECISIONS``), when, and whether that was right."""
    results: list[dict[str, object]] = []
    for name, trace, fire in zip(names, traces, fires, strict=True):
        fired, idle = OVERLAP_DECISIONS if trace.label in OVERLAP_LABELS else PAUSE_DECISIONS
        results.append(
            {
                "path": name,
                "label": trace.label,
                "decision": idle if fire is None else fired,
                "decision_ms": fire,
                "correct": _right(trace.label, fire),
            }
        )
    return results


def _right(label: str, fire: float | None) -> bool:
    """Did the policy fire (take the floor, end the turn) exactly when it should?"""
    return (fire is not None) == (label in FIRING_LABELS)


def _metrics(traces: Sequence[Trace], fires: Sequence[float | None]) -> dict[str, object]:
    """Per-class accuracy and decision times, given when (if ever) each trace fired:
    took the floor (overlap) or ended the turn (pause)."""
    per_class = {label: {"count": 0, "correct": 0} for label in LABELS}
    stop_ms: list[float] = []
    end_ms: list[float] = []
    for trace, fire in zip(traces, fires, strict=True):
        per_class[trace.label]["count"] += 1
        per_class[trace.label]["correct"] += int(_right(trace.label, fire))
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


def summarize(
    traces: Sequence[Trace], classifier: TurnClassifier, names: Sequence[str] | None = None
) -> dict[str, object]:
    """The report; with ``names`` (the clips' paths, in trace order) it lists every
    clip's policy decision under ``clips``."""
    th = classifier.thresholds
    n_words = int(classifier.metadata.get("baseline_takeover_words", 2))
    silence = float(TurnsConfig().end_of_turn_silence_ms)
    fires = policy_fires(traces, TurnsConfig(), th)
    report: dict[str, object] = {
        **_metrics(traces, fires),
        "decided_by": "the turn policy (what a session does)",
        "model": {
            "thresholds": {"takeover": th.takeover, "finished": th.finished},
            **decide(traces, th.takeover, th.finished),
        },
        "baseline": {
            "rule": f"take the floor after {n_words} recognised words; end of turn after "
            f"{silence:.0f} ms of silence",
            **decide(traces, th.takeover, th.finished, n_words, silence),
        },
    }
    if names is not None:
        report["clips"] = clip_results(names, traces, fires)
    return report


def run_eval(
    data_dir: Path,
    overlay_agent: bool,
    model: Path | None = None,
    seed: int = 0,
    partials: str = "transcript",
    per_clip: bool = False,
    explained: Sequence[str] | None = None,
) -> dict[str, object]:
    """Evaluate the classifier on a labelled directory; see the module docstring.
    ``per_clip`` adds ``clips``: every clip's policy decision. ``explained`` adds
    ``explained``: the policy's steps on those clips (turn_explain.py); empty: on the
    clips it misjudged (the first ``MISJUDGED_SHOWN``)."""
    clips = read_labels(Path(data_dir))
    classifier = TurnClassifier.load(model)
    traces = trace_all(classifier, clips, overlay_agent, seed, partials)
    names = [c.name for c in clips]
    report = summarize(traces, classifier, names)
    results = cast(list[dict[str, object]], report["clips"] if per_clip else report.pop("clips"))
    if explained is not None:
        wrong = [str(c["path"]) for c in results if not c["correct"]]
        asked = explained or wrong[:MISJUDGED_SHOWN]
        report["explained"] = explain(names, traces, asked, classifier.thresholds)
    report["data"] = str(data_dir)
    report["overlay_agent"] = overlay_agent
    report["partials"] = {
        "transcript": "labels.csv transcript (the hybrid recognizer where missing)",
        "pocketsphinx": "pocketsphinx's streaming hypothesis",
        "hybrid": "the session's hybrid recognizer (interim and pause finals)",
    }[partials]
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


def require_packages(make_human_set: bool, overlay_agent: bool) -> None:
    """Raise ``MissingPackageError`` naming the Debian packages the chosen task reads
    and this machine lacks (the recognizers' and the classifier's models come in
    wheels; FFmpeg in PyAV's)."""
    if make_human_set:
        option = "--make-human-set"
        packages = {
            "asterisk-core-sounds-en-wav": any(turn_data.ASTERISK_DIR.glob("*.wav")),
            "asterisk-core-sounds-en": turn_data.ASTERISK_TEXT.is_file(),
            "pocketsphinx-testdata": turn_data.POCKETSPHINX_DATA.is_dir(),
        }
    elif overlay_agent:  # the agent's voice comes from the espeak-ng command
        option, packages = "--overlay-agent", {"espeak-ng": shutil.which("espeak-ng") is not None}
    else:
        return
    missing = [name for name, present in packages.items() if not present]
    if missing:
        raise MissingPackageError(
            f"eval turns {option} needs Debian's {', '.join(missing)} "
            f"(sudo apt-get install {' '.join(missing)})"
        )


def _fmt(value: object, percent: bool = False) -> str:
    if value is None:
        return "-"
    if percent:
        return f"{100 * float(value):.1f}%"  # type: ignore[arg-type]
    return f"{float(value):.0f}"  # type: ignore[arg-type]


def format_report(report: dict[str, object]) -> str:
    model, base = report["model"], report["baseline"]
    assert isinstance(model, dict) and isinstance(base, dict)
    lines = [
        f"turn classifier on {report['data']} (overlay agent: {report['overlay_agent']}; "
        f"partials: {report['partials']})",
        f"{'':34}{'policy':>10}{'model':>10}{'baseline':>10}",
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
            f"{key:34}{_fmt(report[key], pct):>10}{_fmt(model[key], pct):>10}"
            f"{_fmt(base[key], pct):>10}"
        )
    policy_classes = report["per_class"]
    assert isinstance(policy_classes, dict)
    for label in LABELS:
        pc, m, b = policy_classes[label], model["per_class"][label], base["per_class"][label]
        lines.append(
            f"{label + ' accuracy (n=' + str(pc['count']) + ')':34}"
            f"{_fmt(pc['accuracy'], True):>10}{_fmt(m['accuracy'], True):>10}"
            f"{_fmt(b['accuracy'], True):>10}"
        )
    lines.append("policy: what a session decides; model: the thresholds alone")
    lines.append(f"baseline: {base['rule']}")
    clips = report.get("clips")
    if isinstance(clips, list):
        lines += _misjudged(clips)
    explained = report.get("explained")
    if isinstance(explained, dict):
        lines += format_explained(explained)
    return "\n".join(lines)


def _misjudged(clips: list[dict[str, object]]) -> list[str]:
    """The clips the policy got wrong, at most ``MISJUDGED_SHOWN`` of them."""
    wrong = [c for c in clips if not c["correct"]]
    lines = ["", f"misjudged by the policy: {len(wrong)} of {len(clips)} clips"]
    shown = wrong[:MISJUDGED_SHOWN]
    width = max([len("path"), *(len(str(c["path"])) for c in shown)])
    if shown:
        lines.append(f"  {'path':{width}}  {'label':13}{'decision':14}{'decision_ms':>11}")
    for c in shown:
        lines.append(
            f"  {c['path']!s:{width}}  {c['label']!s:13}{c['decision']!s:14}"
            f"{_fmt(c['decision_ms']):>11}"
        )
    if len(wrong) > len(shown):
        lines.append(f"  ... and {len(wrong) - len(shown)} more (--json lists every clip)")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omnivox eval turns", description=__doc__.split("\n\n")[0]
    )
    task = parser.add_mutually_exclusive_group(required=True)
    task.add_argument(
        "--data",
        type=Path,
        help="folder with audio files and labels.csv (columns path, label[, transcript])",
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
        choices=PARTIAL_SOURCES,
        default="transcript",
        help="partial transcripts: the transcript column (default; the hybrid recognizer "
        "where it is empty), pocketsphinx alone, or the session's hybrid recognizer",
    )
    parser.add_argument("--model", type=Path, help="ONNX model (default: the committed one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--explain",
        nargs="*",
        metavar="PATH",
        help="show the policy's steps (scores, words, verdicts) on these clips "
        "(labels.csv paths); none named: on the clips it misjudged",
    )
    args = parser.parse_args(argv)
    try:
        require_packages(args.make_human_set is not None, args.overlay_agent)
        if args.make_human_set is not None:
            counts = build_human_set(args.make_human_set, args.seed)
            print(f"wrote {sum(counts.values())} clips to {args.make_human_set}: {counts}")
            return 0
        report = run_eval(
            args.data, args.overlay_agent, args.model, args.seed, args.asr, True, args.explain
        )
    except MissingPackageError as err:
        print(f"omnivox: {err}", file=sys.stderr)
        return 2
    except (OSError, ValueError, RuntimeError) as err:
        print(f"omnivox eval turns: {err}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
