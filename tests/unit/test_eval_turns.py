"""`omnivox eval turns`: replay, decisions, metrics, and clear errors on bad data."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from omnivox.agent.config import TurnsConfig
from omnivox.lab.evaluation.eval_turns import (
    EvalDataError,
    build_human_set,
    decide,
    main,
    read_labels,
    replay_policy,
    run_eval,
)
from omnivox.lab.evaluation.turn_replay import Trace
from omnivox.lab.training.turn_data import ASTERISK_DIR
from omnivox.media.audio_files import write_wav
from omnivox.models.turn.classifier import TurnThresholds

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="needs the espeak-ng CLI"
)

FIXTURE = [
    ("bc.wav", "backchannel", "uh huh"),
    ("int.wav", "interruption", "wait, stop, that's wrong"),
    ("eot.wav", "end_of_turn", "what time do you close today"),
    ("hold.wav", "hold", "I want to book a table for,"),
]


def _labels(folder: Path, rows: list[str]) -> None:
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny")
    for name, _, text in FIXTURE:
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(folder / name), text], check=True)
    # One clip as an 8 kHz stereo file, to exercise resampling and mix-down.
    with wave.open(str(folder / "bc.wav")) as w:
        rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), np.int16)
    narrow = pcm[:: max(1, rate // 8000)]
    with wave.open(str(folder / "bc.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate // max(1, rate // 8000))
        w.writeframes(np.repeat(narrow, 2).tobytes())
    _labels(folder, ["path,label,transcript"] + [f'{n},{label},"{t}"' for n, label, t in FIXTURE])
    return folder


@needs_espeak
@pytest.mark.parametrize("overlay", [False, True])
def test_tiny_set_counts_every_class_once(tiny_set: Path, overlay: bool) -> None:
    report = run_eval(tiny_set, overlay_agent=overlay)
    for key in (
        "backchannel_false_stop_rate",
        "interruption_recall",
        "decision_ms_p50",
        "decision_ms_p95",
        "per_class",
        "baseline",
    ):
        assert key in report
    per_class = report["per_class"]
    assert isinstance(per_class, dict)
    assert {k: v["count"] for k, v in per_class.items()} == {
        "backchannel": 1,
        "interruption": 1,
        "end_of_turn": 1,
        "hold": 1,
    }
    assert report["backchannel_false_stop_rate"] in (0.0, 1.0)
    baseline = report["baseline"]
    assert isinstance(baseline, dict) and "words" in baseline["rule"]
    # The fixed-silence rule ends every pause within the window: holds are all wrong.
    assert baseline["per_class"]["hold"]["accuracy"] == 0.0
    assert baseline["per_class"]["end_of_turn"]["accuracy"] == 1.0
    model = report["model"]
    assert isinstance(model, dict) and "takeover" in model["thresholds"]
    assert sum(c["count"] for c in model["per_class"].values()) == 4
    assert "policy" in str(report["decided_by"])


def _trace(label: str, probs: list[float], words: list[int] | None = None) -> Trace:
    times = tuple(100.0 * (i + 1) for i in range(len(probs)))
    return Trace(label, times, tuple(probs), tuple(words or [0] * len(probs)))


def test_decide_counts_decisions_and_latencies() -> None:
    traces = [
        _trace("backchannel", [0.1, 0.2, 0.1]),  # kept talking: right
        _trace("backchannel", [0.1, 0.7, 0.2]),  # stopped: a false stop
        _trace("interruption", [0.2, 0.4, 0.9, 0.95]),  # stopped at 300 ms
        _trace("interruption", [0.1, 0.8]),  # stopped at 200 ms
        _trace("interruption", [0.1, 0.2]),  # missed
        _trace("end_of_turn", [0.3, 0.6]),  # ended 200 ms into the pause
        _trace("hold", [0.2, 0.3, 0.4]),  # held: right
    ]
    report = decide(traces, takeover=0.5, finished=0.5)
    assert report["backchannel_false_stop_rate"] == 0.5
    assert report["interruption_recall"] == pytest.approx(2 / 3)
    assert report["decision_ms_p50"] == 250.0
    assert report["end_of_turn_decision_ms_p50"] == 200.0
    table = report["per_class"]
    assert isinstance(table, dict)
    assert table["hold"] == {"count": 1, "correct": 1, "accuracy": 1.0}


def test_decide_word_count_and_silence_rule() -> None:
    traces = [
        _trace("backchannel", [0.9, 0.9], [1, 2]),
        _trace("interruption", [0.0, 0.0, 0.0], [0, 2, 3]),
        _trace("hold", [0.0] * 8),
        _trace("end_of_turn", [0.0] * 8),
    ]
    report = decide(traces, 0.5, 0.5, takeover_words=3, silence_ms=400.0)
    assert report["backchannel_false_stop_rate"] == 0.0
    assert report["decision_ms_p50"] == 300.0
    assert report["end_of_turn_decision_ms_p50"] == 400.0
    assert report["per_class"]["hold"]["accuracy"] == 0.0


def test_policy_replay_applies_the_policy_rules() -> None:
    config = TurnsConfig(hold_threshold=0.2)
    tuned = TurnThresholds(takeover=0.5, finished=0.5)
    texts = ("", "", "wait no")
    traces = [
        Trace("interruption", (100.0, 200.0, 300.0), (0.6, 0.7, 0.9), (0, 0, 2), texts, 900.0),
        # One spike with nothing to support it, then the VAD says the speech is over.
        Trace("backchannel", (100.0, 200.0, 300.0), (0.1, 0.8, 0.8), (0, 0, 0), (), 100.0),
        Trace("end_of_turn", (100.0, 200.0), (0.9, 0.9), (1, 1), ("thanks", "thanks")),
        # The model says finished, the words say otherwise.
        Trace("hold", (100.0,) * 8, (0.9,) * 8, (3,) * 8, ("I want the",) * 8),
    ]
    report = replay_policy(traces, config, tuned)
    table = report["per_class"]
    assert isinstance(table, dict)
    assert {label: c["correct"] for label, c in table.items()} == {
        "backchannel": 1,
        "interruption": 1,
        "end_of_turn": 1,
        "hold": 1,
    }
    assert report["decision_ms_p50"] == 200.0
    assert report["end_of_turn_decision_ms_p50"] == 100.0


def test_no_clips_of_a_class_reads_none() -> None:
    report = decide([_trace("hold", [0.1])], 0.5, 0.5)
    assert report["backchannel_false_stop_rate"] is None
    assert report["decision_ms_p50"] is None


def test_bad_rows_are_all_reported_by_line(tmp_path: Path) -> None:
    write_wav(tmp_path / "ok.wav", (3000 * np.sin(np.arange(8000) / 5)).astype(np.int16))
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF....WAVEjunk")
    write_wav(tmp_path / "silent.wav", np.zeros(8000, np.int16))
    _labels(
        tmp_path,
        [
            "path,label",
            "missing.wav,hold",
            "ok.wav,maybe",
            "corrupt.wav,hold",
            "silent.wav,end_of_turn",
            "ok.wav",
            "ok.wav,hold",
        ],
    )
    with pytest.raises(EvalDataError) as err:
        read_labels(tmp_path)
    message = str(err.value)
    assert "labels.csv line 2: file not found: missing.wav" in message
    assert "labels.csv line 3: unknown label 'maybe'" in message
    assert "labels.csv line 4:" in message and "corrupt.wav: not a readable audio file" in message
    assert "labels.csv line 5: silent.wav holds no speech" in message
    assert "labels.csv line 6: expected 2 columns, got 1" in message
    assert "line 7" not in message


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ("file,label\nok.wav,hold\n", "line 1: header must be path,label[,transcript]"),
        ("", "(empty file)"),
        ("path,label\n", "no clips listed"),
    ],
)
def test_bad_files_are_named(tmp_path: Path, content: str, text: str) -> None:
    (tmp_path / "labels.csv").write_text(content)
    with pytest.raises(EvalDataError, match=re.escape(text)):
        read_labels(tmp_path)


def test_a_spreadsheet_export_reads(tmp_path: Path) -> None:
    """A byte-order mark, CRLF line ends, a capitalised label, a float WAV at 44.1 kHz."""
    tone = (0.1 * np.sin(np.arange(22050) / 5)).astype(np.float32)
    with av.open(str(tmp_path / "f.wav"), "w") as out:
        stream = out.add_stream("pcm_f32le", rate=44100, layout="mono")
        frame = av.AudioFrame.from_ndarray(tone[None, :], format="flt", layout="mono")
        frame.sample_rate = 44100
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    (tmp_path / "labels.csv").write_bytes(b"\xef\xbb\xbfPath,Label\r\nf.wav,Hold\r\n")
    [clip] = read_labels(tmp_path)
    assert clip.label == "hold" and abs(len(clip.audio) - 8000) <= 1


def test_a_labels_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_bytes(b"path,label,transcript\na.wav,hold,caf\xe9\n")
    with pytest.raises(EvalDataError, match=r"labels\.csv: not UTF-8 text"):
        read_labels(tmp_path)


def test_missing_labels_file(tmp_path: Path) -> None:
    with pytest.raises(EvalDataError, match=r"labels\.csv: not found"):
        read_labels(tmp_path)


def test_cli_exits_2_with_the_message_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _labels(tmp_path, ["path,label", "gone.wav,backchannel"])
    assert main(["--data", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "labels.csv line 2: file not found: gone.wav" in err and "Traceback" not in err


@needs_espeak
def test_cli_prints_json(tiny_set: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data", str(tiny_set), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["per_class"]["hold"]["count"] == 1


@pytest.mark.skipif(not ASTERISK_DIR.exists(), reason="needs asterisk-core-sounds-en-wav")
def test_human_set_is_readable_and_has_every_class(tmp_path: Path) -> None:
    counts = build_human_set(tmp_path / "human")
    assert all(counts[label] > 0 for label in counts)
    clips = read_labels(tmp_path / "human")
    assert len(clips) == sum(counts.values())
