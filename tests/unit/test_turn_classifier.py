"""The committed turn classifier: loads, runs on onnxruntime, caches streams safely."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from omnivox.models.talker.espeak import EspeakTalker
from omnivox.models.turn.classifier import (
    MODEL_FILE,
    TurnClassifier,
    TurnContext,
    TurnScores,
    TurnThresholds,
)
from omnivox.models.turn.features import FEATURE_VERSION

SPEAKING = TurnContext(agent_speaking=True, ms_since_agent_pause=1200.0, agent_asked_question=False)
SILENT = TurnContext(agent_speaking=False, ms_since_agent_pause=3000.0, agent_asked_question=False)


@pytest.fixture(scope="module")
def classifier() -> TurnClassifier:
    return TurnClassifier.load()


def _voice(seconds: float, f0: float, seed: int) -> np.ndarray:
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    x = sum(
        0.3 / k * np.sin(2 * np.pi * k * f0 * (1 + 0.05 * np.sin(2 * np.pi * t)) * t)
        for k in range(1, 4)
    )
    x = x * (0.5 + 0.5 * np.abs(np.sin(2 * np.pi * 3 * t)))
    x = x + 0.003 * np.random.default_rng(seed).standard_normal(n)
    return (x * 15000).astype(np.int16)


def _espeak(text: str, tmp: Path) -> np.ndarray:
    from omnivox.lab.training.turn_data import load_16k

    out = tmp / "say.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(out), text], check=True)
    return load_16k(out)


def test_committed_model_loads_with_its_metadata(classifier: TurnClassifier) -> None:
    assert classifier.metadata["feature_version"] == str(FEATURE_VERSION)
    th = classifier.thresholds
    assert isinstance(th, TurnThresholds) and 0 < th.takeover < 1 and 0 < th.finished < 1
    assert classifier.training_info["train_examples"] > 0
    assert (Path(__file__).parents[2] / "models" / "turn" / MODEL_FILE).stat().st_size < 2e6


def test_scores_are_probabilities(classifier: TurnClassifier) -> None:
    for n in (0, 100, 1600, 16000, 48000):
        scores = classifier.score(_voice(n / 16000, 140.0, 0), "okay", SPEAKING)
        assert isinstance(scores, TurnScores)
        assert 0.0 <= scores.p_takeover <= 1.0 and 0.0 <= scores.p_finished <= 1.0


def test_incremental_queries_equal_a_fresh_classifier(classifier: TurnClassifier) -> None:
    pcm = _voice(3.0, 160.0, 1)
    for n in range(1600, len(pcm) + 1, 1600):
        cached = classifier.score(pcm[:n], "I want", SPEAKING)
    fresh = TurnClassifier.load().score(pcm, "I want", SPEAKING)
    assert cached == pytest.approx(fresh, abs=1e-5)


def test_a_growing_pause_scores_smoothly(classifier: TurnClassifier) -> None:
    """Each 100 ms query moves the speech 10 frames along the model's 4-frame stride
    grid; without averaging the alignments, scores swung by ~0.1 between queries. The
    pause stays short enough for the whole question to stay in the model's window (the
    eSpeak NG library carries random state between syntheses, so the speech differs a
    little with what was spoken before)."""
    voice = EspeakTalker(voice="en-us+m1", rate_wpm=165).synthesize_pcm("Do you have a pool?")
    speech = np.concatenate([np.zeros(1600, np.int16), voice])
    scores = [
        classifier.score(
            np.concatenate([speech, np.zeros(1600 * k, np.int16)]), "do you have a pool", SILENT
        )
        for k in range(2, 6)
    ]
    steps = np.abs(np.diff([s.p_finished for s in scores]))
    assert steps.max() < 0.03


def test_streams_that_start_alike_do_not_share_frames(classifier: TurnClassifier) -> None:
    head = np.zeros(3200, np.int16)  # both streams open with the same 200 ms of silence
    a = np.concatenate([head, _voice(1.5, 120.0, 2)])
    b = np.concatenate([head, _voice(1.5, 260.0, 3)])
    classifier.score(a[:16000], "", SPEAKING)
    got = classifier.score(b, "", SPEAKING)
    assert got == pytest.approx(TurnClassifier.load().score(b, "", SPEAKING), abs=1e-5)


def test_threads_share_one_classifier(classifier: TurnClassifier) -> None:
    streams = [_voice(2.0, 110.0 + 30 * i, i) for i in range(4)]
    expected = [TurnClassifier.load().score(s, "so", SILENT) for s in streams]
    results: dict[int, TurnScores] = {}

    def run(i: int) -> None:
        for n in range(1600, len(streams[i]) + 1, 1600):
            results[i] = classifier.score(streams[i][:n], "so", SILENT)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        assert results[i] == pytest.approx(expected[i], abs=1e-5)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs the espeak-ng CLI")
def test_a_long_correction_outscores_a_backchannel(
    classifier: TurnClassifier, tmp_path: Path
) -> None:
    takeover = _espeak("No no, that's wrong. I said Tuesday, not Thursday.", tmp_path)
    backchannel = _espeak("uh huh", tmp_path)
    p_take = classifier.score(takeover, "no no that's wrong i said tuesday", SPEAKING)
    p_back = classifier.score(backchannel, "uh huh", SPEAKING)
    assert p_take.p_takeover > p_back.p_takeover


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs the espeak-ng CLI")
def test_a_dangling_and_is_less_finished_than_a_full_request(
    classifier: TurnClassifier, tmp_path: Path
) -> None:
    pause = np.zeros(8000, np.int16)
    done = np.concatenate([_espeak("What time do you close today?", tmp_path), pause])
    held = np.concatenate([_espeak("I would like to book a table for two and,", tmp_path), pause])
    p_done = classifier.score(done, "what time do you close today", SILENT)
    p_held = classifier.score(held, "i would like to book a table for two and", SILENT)
    assert p_done.p_finished > p_held.p_finished


def test_missing_and_broken_models_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        TurnClassifier.load(tmp_path / "nope.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a loadable ONNX model"):
        TurnClassifier.load(broken)


def test_a_model_for_other_features_is_refused(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    graph = onnx.load(str(Path(__file__).parents[2] / "models" / "turn" / MODEL_FILE))
    for prop in graph.metadata_props:
        if prop.key == "feature_version":
            prop.value = "999"
    path = tmp_path / "old.onnx"
    onnx.save(graph, str(path))
    with pytest.raises(ValueError, match="version '999'"):
        TurnClassifier.load(path)


def test_bad_arguments_are_named(classifier: TurnClassifier) -> None:
    with pytest.raises(TypeError, match="int16"):
        classifier.score(np.zeros(1600, np.float32), "", SPEAKING)
    with pytest.raises(TypeError, match="TurnContext"):
        classifier.score(np.zeros(1600, np.int16), "", {"agent_speaking": True})
    with pytest.raises(TypeError, match="partial_text"):
        classifier.score(np.zeros(1600, np.int16), None, SPEAKING)
