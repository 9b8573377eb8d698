"""`omnivox train turns` in miniature: a few clips, one short training, a real export."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from omnivox.lab.training.train_turns import (
    Plan,
    main,
    make_examples,
    missing_prerequisites,
    real_clips,
    synthetic_clips,
    tune,
)
from omnivox.lab.training.turn_data import AGENT_VOICE, LABELS, PAUSE_LABELS, synthesize
from omnivox.lab.training.turn_fit import export, train
from omnivox.models.turn.classifier import TurnClassifier
from omnivox.models.turn.features import EXTRA_DIM, FEATURE_VERSION, FRAME_DIM, WINDOW_FRAMES

TINY = Plan(
    backchannel=1,
    takeover=1,
    finished=1,
    unfinished=1,
    evaluation=1,
    phrase_stride=1000,
    real_stride=1000,
    epochs=1,
    max_train_s=30.0,
)


@pytest.fixture(scope="module")
def clips() -> list:
    if shutil.which("espeak-ng") is None or shutil.which("flite") is None:
        pytest.skip("needs the espeak-ng and flite CLIs")
    return synthetic_clips(False, TINY, np.random.default_rng(0))


def test_missing_tools_are_named_with_their_fix_before_any_work(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda exe: None)
    assert "the flite command (apt-get install -y flite)" in missing_prerequisites()
    assert main(["--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "espeak-ng" in err and "./dev train" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_clips_cover_both_tasks_with_a_silent_tail(clips: list) -> None:
    assert {c.label for c in clips} >= {"backchannel", "interruption", "end_of_turn", "hold"}
    for clip in clips:
        assert clip.label in LABELS and clip.audio.dtype == np.int16
        assert 0 < clip.speech_end < len(clip.audio)  # the pause/tail follows the speech
        assert not clip.source.endswith(("slt", "scotland+f3"))  # held-out voices unused


def test_real_speech_trains_only_the_pause_task() -> None:
    """With no real backchannel, real voices over the agent would teach "real voice =
    take-over"."""
    real = real_clips(TINY, np.random.default_rng(0))
    if not real:
        pytest.skip("no Asterisk prompts or LibriVox recordings installed")
    assert {c.label for c in real} <= set(PAUSE_LABELS)
    assert any(c.label == "end_of_turn" for c in real)


def test_examples_are_shaped_for_the_graph_and_deterministic(clips: list) -> None:
    agent = [
        synthesize(AGENT_VOICE, "Our opening hours are nine to five.", np.random.default_rng(1))
    ]
    a = make_examples(clips, agent, np.random.default_rng(2))
    b = make_examples(clips, agent, np.random.default_rng(2))
    n = len(a.target)
    assert n >= len(clips)
    assert a.frames.shape == (n, WINDOW_FRAMES, FRAME_DIM) and a.extra.shape == (n, EXTRA_DIM)
    assert set(a.task.tolist()) == {0, 1} and set(a.target.tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.extra, b.extra)


def test_train_export_and_tune_round_trip(clips: list, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    agent = [synthesize(AGENT_VOICE, "Sure, I can help.", np.random.default_rng(1))]
    data = make_examples(clips, agent, np.random.default_rng(3))
    model = train(data, data, TINY.epochs, TINY.max_train_s, seed=0)
    path = tmp_path / "turn.onnx"
    metadata = {"feature_version": str(FEATURE_VERSION), "training": "{}"}
    export(model, path, data, metadata)  # checks ORT == torch
    metadata = tune(path, clips, seed=0)
    assert 0 < float(metadata["threshold_takeover"]) < 1
    assert int(metadata["baseline_takeover_words"]) >= 1
    classifier = TurnClassifier.load(path)
    probs = classifier.score_inputs([])
    assert probs.shape == (0, 2)
