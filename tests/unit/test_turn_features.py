"""Turn classifier inputs: text classes, incremental frame tracks, window layout."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.models.turn.features import (
    EXTRA_DIM,
    FRAME_DIM,
    HOP,
    LAST_WORD_BUCKETS,
    N_MELS,
    STRIDE_PHASES,
    TEXT_BUCKETS,
    TEXT_CLASSES,
    TRACK_FRAMES,
    WINDOW_FRAMES,
    TurnContext,
    compute_track,
    context_features,
    model_inputs,
    n_frames,
    phase_inputs,
    text_features,
    tokens,
)

CTX = TurnContext(agent_speaking=True, ms_since_agent_pause=800.0, agent_asked_question=False)
# Indices of the keyword classes in text_features (see the list in features.py).
N_WORDS, EMPTY, ALL_BACKCHANNEL, STOP, QUESTION_FIRST = 0, 1, 2, 4, 6
DETERMINER, PREPOSITION, CONJUNCTION, AUXILIARY, FILLER_LAST = 8, 9, 10, 11, 12


def _voice(seconds: float, f0: float = 150.0, silence_after: float = 0.0) -> np.ndarray:
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    x = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 4))
    x = x * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    x = x + 0.002 * np.random.default_rng(0).standard_normal(n)
    pcm = (x * 20000).astype(np.int16)
    return np.concatenate([pcm, np.zeros(int(silence_after * 16000), np.int16)])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mm-hmm.", ["uhhuh"]),
        ("uh huh, OK", ["uhhuh", "okay"]),
        ("Aha.", ["uhhuh"]),  # a recognizer's spelling of a murmured uh-huh
        ("a-ha, yeah", ["uhhuh", "yeah"]),
        ("ahead", ["ahead"]),
        ("Ha ha ha", ["haha"]),
        ("never mind", ["nevermind"]),
        ("I’m  DONE!", ["i'm", "done"]),
        ("", []),
    ],
)
def test_tokens_fold_spellings(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


def test_keyword_classes() -> None:
    assert text_features("")[EMPTY] == 1.0
    assert text_features("uh huh yeah")[ALL_BACKCHANNEL] == 1.0
    assert text_features("yeah but wait")[ALL_BACKCHANNEL] == 0.0
    assert text_features("wait stop")[STOP] == 1.0
    assert text_features("what time is it")[QUESTION_FIRST] == 1.0
    assert text_features("I want a room and")[CONJUNCTION] == 1.0
    assert text_features("I want a room")[CONJUNCTION] == 0.0
    assert text_features("book a table for")[PREPOSITION] == 1.0
    assert text_features("change the")[DETERMINER] == 1.0
    assert text_features("the price is")[AUXILIARY] == 1.0
    ends = [
        text_features(t)[TEXT_CLASSES : TEXT_CLASSES + LAST_WORD_BUCKETS]
        for t in ("a table for", "the bill for", "a table")
    ]
    assert np.array_equal(ends[0], ends[1]) and not np.array_equal(ends[0], ends[2])
    assert text_features("my name is um")[FILLER_LAST] == 1.0
    assert text_features("one two three")[N_WORDS] == pytest.approx(np.log1p(3))


def test_hashed_bag_is_stable_and_normalised() -> None:
    a = text_features("no that is wrong")
    assert a.shape == (TEXT_CLASSES + LAST_WORD_BUCKETS + TEXT_BUCKETS,)
    np.testing.assert_array_equal(a, text_features("No, that is wrong."))
    bag = a[-TEXT_BUCKETS:]
    assert np.linalg.norm(bag) == pytest.approx(1.0)
    assert np.count_nonzero(bag) <= 4
    assert not np.array_equal(bag, text_features("yes this is right")[-TEXT_BUCKETS:])


def test_text_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="partial_text"):
        text_features(None)


def test_context_features_and_validation() -> None:
    np.testing.assert_allclose(
        context_features(TurnContext(False, 2000.0, True)), [0.0, np.log1p(2.0), 1.0], rtol=1e-6
    )
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="ms_since_agent_pause"):
            TurnContext(True, bad, False)


def test_incremental_track_equals_one_shot_track() -> None:
    pcm = _voice(3.5)
    track = None
    for n in range(1600, len(pcm) + 1, 1600):
        track = compute_track(pcm[:n], track)
    full = compute_track(pcm)
    assert track is not None and track.n_samples == len(pcm)
    assert track.end == full.end == n_frames(len(pcm))
    assert len(track.voicing) == TRACK_FRAMES  # older frames dropped
    np.testing.assert_allclose(track.mel, full.mel, atol=1e-5)
    np.testing.assert_allclose(track.f0, full.f0, rtol=1e-5)


def test_a_cold_track_computes_only_the_window() -> None:
    pcm = _voice(6.0)
    track = compute_track(pcm)
    assert track.end == n_frames(len(pcm)) and track.first == track.end - TRACK_FRAMES
    full = compute_track(pcm, keep=None)
    np.testing.assert_allclose(track.mel, full.mel[track.first :], atol=1e-5)
    jumped = compute_track(pcm, compute_track(pcm[:16000]))  # a gap longer than the window
    assert jumped.first == track.first
    np.testing.assert_allclose(jumped.voicing, track.voicing, atol=1e-6)


def test_phase_inputs_are_the_query_as_of_its_newest_frames() -> None:
    pcm = _voice(3.0)
    track = compute_track(pcm)
    inputs = phase_inputs(track, len(pcm), "so", CTX)
    assert len(inputs) == STRIDE_PHASES
    for k, got in enumerate(inputs):
        want = model_inputs(track, len(pcm) - k * HOP, "so", CTX)
        np.testing.assert_array_equal(got.frames, want.frames)
        np.testing.assert_array_equal(got.extra, want.extra)
    assert len(phase_inputs(compute_track(pcm[:800]), 800, "", CTX)) == STRIDE_PHASES
    assert len(phase_inputs(compute_track(pcm[:100]), 100, "", CTX)) == 1


def test_inputs_are_right_aligned_and_masked() -> None:
    pcm = _voice(0.5)
    inputs = model_inputs(compute_track(pcm), len(pcm), "hello", CTX)
    count = n_frames(len(pcm))
    assert inputs.frames.shape == (WINDOW_FRAMES, FRAME_DIM)
    assert inputs.extra.shape == (EXTRA_DIM,)
    assert inputs.mask.sum() == count and inputs.mask[-count:].all()
    assert not inputs.frames[: WINDOW_FRAMES - count].any()
    # Bands are relative to the loudest frame's mean band power: none exceeds it by more
    # than the number of bands.
    assert 0.0 < inputs.frames[-count:, :N_MELS].max() <= np.log(N_MELS) + 1e-5


def test_window_is_capped_at_two_seconds_but_duration_counts_all() -> None:
    pcm = _voice(5.0)
    inputs = model_inputs(compute_track(pcm), len(pcm), "", CTX)
    assert inputs.mask.all()
    assert inputs.extra[0] == pytest.approx(np.log1p(5.0))


def test_trailing_silence_and_speech_fraction() -> None:
    pcm = _voice(1.0, silence_after=0.6)
    scalars = model_inputs(compute_track(pcm), len(pcm), "", CTX).extra[:3]
    assert scalars[1] == pytest.approx(0.6, abs=0.05)
    assert scalars[2] == pytest.approx(1.0 / 1.56, abs=0.05)
    speaking = model_inputs(compute_track(_voice(1.0)), 16000, "", CTX).extra[:3]
    assert speaking[1] < 0.05


def test_training_track_serves_every_prefix_like_inference() -> None:
    pcm = _voice(3.0, silence_after=0.5)
    whole = compute_track(pcm, keep=None)
    for n in (800, 16000, len(pcm)):
        a = model_inputs(whole, n, "so", CTX)
        b = model_inputs(compute_track(pcm[:n]), n, "so", CTX)
        np.testing.assert_allclose(a.frames, b.frames, atol=1e-4)
        np.testing.assert_allclose(a.extra, b.extra, atol=1e-5)


def test_track_that_does_not_cover_the_query_is_refused() -> None:
    pcm = _voice(4.0)
    with pytest.raises(ValueError, match="does not cover"):
        model_inputs(compute_track(pcm[:16000]), 32000, "", CTX)
    with pytest.raises(ValueError, match="does not cover"):
        model_inputs(compute_track(pcm), 8000, "", CTX)  # old frames were dropped


def test_empty_audio_gives_an_all_masked_window() -> None:
    inputs = model_inputs(compute_track(np.zeros(0, np.int16)), 0, "", CTX)
    assert not inputs.mask.any() and not inputs.frames.any()


@pytest.mark.parametrize(
    "audio", [np.zeros(100, np.float32), np.zeros((2, 100), np.int16), b"\x00\x00"]
)
def test_bad_audio_is_named(audio: object) -> None:
    with pytest.raises(TypeError, match="int16"):
        compute_track(audio)
