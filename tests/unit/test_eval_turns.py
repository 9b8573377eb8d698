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
from omnivox.lab.evaluation import eval_turns
from omnivox.lab.evaluation.eval_turns import (
    MISJUDGED_SHOWN,
    EvalDataError,
    build_human_set,
    clip_results,
    decide,
    format_report,
    main,
    read_labels,
    replay_policy,
    run_eval,
    summarize,
)
from omnivox.lab.evaluation.turn_replay import Trace
from omnivox.lab.training import turn_data
from omnivox.lab.training.turn_data import ASTERISK_DIR
from omnivox.media.audio_files import write_wav
from omnivox.models.turn.classifier import TurnClassifier, TurnThresholds

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
        ("file,label\nok.wav,hold\n", "line 1: header has no path column (found: file, label)"),
        ("", "(empty file)"),
        ("path,label,label\nok.wav,hold,hold\n", "line 1: header has two label columns"),
        ("ok.wav,hold,,x\n", "line 1: expected 2 or 3 columns, got 4 (more need a header row"),
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
    assert [c["path"] for c in report["clips"]] == [name for name, _, _ in FIXTURE]


@needs_espeak
def test_cli_explains_the_clips_asked_about(
    tiny_set: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data", str(tiny_set), "--json", "--explain", "int.wav", "bc.wav"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["explained"]) == ["int.wav", "bc.wav"]
    assert all(set(s) >= {"t_ms", "p", "text", "decisions"} for s in report["explained"]["bc.wav"])
    assert main(["--data", str(tiny_set), "--explain", "int.wav"]) == 0
    assert "int.wav (ms, p_takeover or p_finished" in capsys.readouterr().out
    assert main(["--data", str(tiny_set), "--explain", "nope.wav"]) == 2
    assert "no clip nope.wav" in capsys.readouterr().err
    assert main(["--data", str(tiny_set), "--json", "--explain"]) == 0  # the misjudged ones
    report = json.loads(capsys.readouterr().out)
    assert list(report["explained"]) == [c["path"] for c in report["clips"] if not c["correct"]]


def _tones(folder: Path, *names: str) -> None:
    for name in names:
        write_wav(folder / name, (3000 * np.sin(np.arange(8000) / 5)).astype(np.int16))


def test_columns_are_found_by_header_name_in_any_order(tmp_path: Path) -> None:
    _tones(tmp_path, "a.wav", "b.wav")
    _labels(
        tmp_path,
        [
            "speaker, Transcript ,LABEL,notes,Path",
            'ann,"wait, stop",Interruption,loud room,a.wav',
            "bob,,hold,,b.wav",
        ],
    )
    a, b = read_labels(tmp_path)
    assert (a.name, a.label, a.transcript) == ("a.wav", "interruption", "wait, stop")
    assert (b.name, b.label, b.transcript) == ("b.wav", "hold", None)
    # Without a transcript column every clip has none.
    _labels(tmp_path, ["label,path,speaker", "hold,a.wav,ann"])
    [clip] = read_labels(tmp_path)
    assert (clip.name, clip.label, clip.transcript) == ("a.wav", "hold", None)


def test_a_file_without_a_header_reads_by_position(tmp_path: Path) -> None:
    _tones(tmp_path, "a.wav", "b.wav")
    _labels(tmp_path, ["a.wav,end_of_turn,thanks a lot", "b.wav,Backchannel"])
    a, b = read_labels(tmp_path)
    assert (a.name, a.label, a.transcript) == ("a.wav", "end_of_turn", "thanks a lot")
    assert (b.name, b.label, b.transcript) == ("b.wav", "backchannel", None)


def test_a_missing_column_is_one_line_naming_the_file_and_what_it_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _tones(tmp_path, "a.wav")
    _labels(tmp_path, ["File,Label,speaker", "a.wav,hold,ann"])
    assert main(["--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(tmp_path / "labels.csv") in err
    assert "no path column (found: file, label, speaker)" in err
    _labels(tmp_path, ["transcript,notes", "hello,x"])
    with pytest.raises(
        EvalDataError, match=r"no path or label column \(found: transcript, notes\)"
    ):
        read_labels(tmp_path)


def test_json_has_every_clip_with_its_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _tones(tmp_path, "a.wav", "b.wav", "c.wav")
    _labels(
        tmp_path,
        [
            "note,label,path,transcript",
            "x,interruption,a.wav,wait stop that is wrong",
            "x,backchannel,b.wav,uh huh",
            "x,end_of_turn,c.wav,that is all thanks",
        ],
    )
    assert main(["--data", str(tmp_path), "--json"]) == 0
    clips = json.loads(capsys.readouterr().out)["clips"]
    assert [(c["path"], c["label"]) for c in clips] == [
        ("a.wav", "interruption"),
        ("b.wav", "backchannel"),
        ("c.wav", "end_of_turn"),
    ]
    for c in clips:
        assert set(c) == {"path", "label", "decision", "decision_ms", "correct"}
        fired = c["decision"] in ("yielded", "replied")
        allowed = (
            ("replied", "waited") if c["label"] == "end_of_turn" else ("yielded", "kept_talking")
        )
        assert c["decision"] in allowed
        assert (c["decision_ms"] is not None) == fired
        assert c["correct"] == (fired == (c["label"] != "backchannel"))


def test_clip_results_name_what_the_policy_did() -> None:
    traces = [
        _trace("backchannel", [0.1]),
        _trace("interruption", [0.9]),
        _trace("end_of_turn", [0.1]),
        _trace("hold", [0.9]),
    ]
    results = clip_results(["bc", "int", "eot", "hold"], traces, [250.0, 300.0, None, 100.0])
    assert results[0] == {
        "path": "bc",
        "label": "backchannel",
        "decision": "yielded",
        "decision_ms": 250.0,
        "correct": False,
    }
    assert [(r["path"], r["decision"], r["decision_ms"], r["correct"]) for r in results[1:]] == [
        ("int", "yielded", 300.0, True),
        ("eot", "waited", None, False),
        ("hold", "replied", 100.0, False),
    ]
    right = clip_results(["bc", "eot", "hold"], traces[::2] + traces[3:], [None, 120.0, None])
    assert [(r["decision"], r["correct"]) for r in right] == [
        ("kept_talking", True),
        ("replied", True),
        ("waited", True),
    ]


_PAUSE_TIMES = tuple(100.0 * (i + 1) for i in range(8))


def _pause(label: str, p: float, text: str) -> Trace:
    """At a pause: the policy replies at once on a confident score and a finished
    phrase, and waits on a zero score with no words."""
    return Trace(label, _PAUSE_TIMES, (p,) * 8, (len(text.split()),) * 8, (text,) * 8)


def _plain_report(traces: list[Trace]) -> str:
    names = [f"clip{i:02d}.wav" for i in range(len(traces))]
    report = summarize(traces, TurnClassifier.load(), names)
    return format_report({**report, "data": "d", "overlay_agent": False, "partials": "p"})


def test_the_plain_report_lists_the_misjudged_clips() -> None:
    text = _plain_report(
        [
            _pause("end_of_turn", 0.99, "thanks"),  # replied: right
            _pause("hold", 0.99, "thanks"),  # replied: wrong
            _pause("end_of_turn", 0.0, ""),  # waited: wrong
            _pause("hold", 0.0, ""),  # waited: right
        ]
    )
    tables, listing = text.split("\n\nmisjudged by the policy: 2 of 4 clips\n")
    assert "baseline:" in tables
    header, *rows = listing.splitlines()
    assert header.split() == ["path", "label", "decision", "decision_ms"]
    assert [row.split() for row in rows] == [
        ["clip01.wav", "hold", "replied", "100"],
        ["clip02.wav", "end_of_turn", "waited", "-"],
    ]


def test_the_misjudged_list_is_capped() -> None:
    wrong = MISJUDGED_SHOWN + 5
    text = _plain_report([_pause("hold", 0.99, "thanks")] * wrong + [_pause("hold", 0.0, "")])
    assert f"misjudged by the policy: {wrong} of {wrong + 1} clips" in text
    assert sum(" replied " in line for line in text.splitlines()) == MISJUDGED_SHOWN
    assert text.endswith("  ... and 5 more (--json lists every clip)")
    assert "misjudged by the policy: 0 of 1 clips" in _plain_report([_pause("hold", 0.0, "")])


def test_a_missing_debian_package_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(turn_data, "ASTERISK_DIR", tmp_path / "no-sounds")
    out = tmp_path / "human"
    assert main(["--make-human-set", str(out)]) == 2
    assert capsys.readouterr() == (
        "",
        "omnivox: eval turns --make-human-set needs Debian's asterisk-core-sounds-en-wav "
        "(sudo apt-get install asterisk-core-sounds-en-wav)\n",
    )
    assert not out.exists()
    # Every missing one, in one line.
    monkeypatch.setattr(turn_data, "ASTERISK_TEXT", tmp_path / "no-text.gz")
    monkeypatch.setattr(turn_data, "POCKETSPHINX_DATA", tmp_path / "no-data")
    assert main(["--make-human-set", str(out)]) == 2
    assert capsys.readouterr().err == (
        "omnivox: eval turns --make-human-set needs Debian's asterisk-core-sounds-en-wav, "
        "asterisk-core-sounds-en, pocketsphinx-testdata (sudo apt-get install "
        "asterisk-core-sounds-en-wav asterisk-core-sounds-en pocketsphinx-testdata)\n"
    )


def test_overlay_agent_without_espeak_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(eval_turns.shutil, "which", lambda name: None)
    assert main(["--data", str(tmp_path), "--overlay-agent"]) == 2
    assert capsys.readouterr().err == (
        "omnivox: eval turns --overlay-agent needs Debian's espeak-ng "
        "(sudo apt-get install espeak-ng)\n"
    )


@pytest.mark.skipif(not ASTERISK_DIR.exists(), reason="needs asterisk-core-sounds-en-wav")
def test_human_set_is_readable_and_has_every_class(tmp_path: Path) -> None:
    counts = build_human_set(tmp_path / "human")
    assert all(counts[label] > 0 for label in counts)
    clips = read_labels(tmp_path / "human")
    assert len(clips) == sum(counts.values())
