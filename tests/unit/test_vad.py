"""VAD: the pure gate on synthetic probabilities, Silero on real recorded speech."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import soxr

from omnivox.models.vad import (
    QUIET_SETTLE_WINDOWS,
    WINDOW_MS,
    SileroVad,
    StreamingVad,
    VadEvent,
    VadGate,
)

SR = 16_000
SOUNDS = Path("/usr/share/asterisk/sounds/en")


def speech(name: str, pad_ms: int = 1000) -> tuple[np.ndarray, float, float]:
    """An 8 kHz Asterisk prompt at 16 kHz, padded with silence; and its energy on/offset."""
    path = SOUNDS / name
    if not path.exists():
        pytest.skip(f"{path} not installed (Debian package asterisk-core-sounds-en-wav)")
    with wave.open(str(path)) as w:
        assert w.getframerate() == 8000 and w.getsampwidth() == 2
        x = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    y = soxr.resample(x.astype(np.float32) / 32768, 8000, SR)
    pad = np.zeros(pad_ms * SR // 1000, np.float32)
    pcm = (np.clip(np.concatenate((pad, y, pad)), -1, 1) * 32767).astype(np.int16)
    loud = np.nonzero(np.abs(pcm) > 1000)[0]
    return pcm, 1000 * loud[0] / SR, 1000 * loud[-1] / SR


def run_frames(
    vad: StreamingVad, pcm: np.ndarray, t0_ms: float = 0.0, frame: int = 320
) -> list[VadEvent]:
    events: list[VadEvent] = []
    for i in range(0, len(pcm), frame):
        events += vad.process(pcm[i : i + frame], t0_ms + 1000 * i / SR)
    return events


def feed(gate: VadGate, probs: list[float], window_ms: float = 32.0) -> list[VadEvent]:
    events = []
    for i, p in enumerate(probs, start=1):
        event = gate.update(i * window_ms, window_ms, p)
        if event is not None:
            events.append(event)
    return events


# --- VadGate: pure state machine --------------------------------------------------------


def test_gate_starts_only_after_start_ms_of_speech() -> None:
    gate = VadGate(threshold=0.5, start_ms=64, stop_ms=160)
    assert gate.update(32, 32, 0.1) is None
    assert gate.update(64, 32, 0.9) is None  # 32 ms of speech: not yet
    assert gate.update(96, 32, 0.8) == VadEvent("start", 96, 32)
    assert gate.speaking


def test_gate_ignores_a_click_shorter_than_start_ms() -> None:
    gate = VadGate(threshold=0.5, start_ms=96, stop_ms=160)
    assert feed(gate, [0.0, 0.9, 0.9, 0.1, 0.9, 0.9, 0.1]) == []
    assert not gate.speaking


def test_gate_start_ms_zero_starts_on_the_first_speech_window() -> None:
    assert feed(VadGate(start_ms=0), [0.0, 0.0, 0.7]) == [VadEvent("start", 96, 64)]


def test_gate_onset_run_survives_a_dip_into_the_hysteresis_band() -> None:
    # 0.4 is between neg_threshold (0.35) and threshold: it neither adds nor resets.
    events = feed(VadGate(threshold=0.5, start_ms=64), [0.0, 0.9, 0.4, 0.9])
    assert events == [VadEvent("start", 128, 32)]
    # A window below neg_threshold resets the onset.
    events = feed(VadGate(threshold=0.5, start_ms=64), [0.0, 0.9, 0.2, 0.9, 0.9])
    assert events == [VadEvent("start", 160, 96)]


def test_gate_stops_after_stop_ms_of_silence_with_the_end_of_speech() -> None:
    gate = VadGate(threshold=0.5, start_ms=64, stop_ms=160)
    probs = [0.9, 0.9, 0.9, 0.9] + [0.1] * 4
    assert feed(gate, probs) == [VadEvent("start", 64, 0)]
    # 4 silent windows = 128 ms < 160 ms; the fifth decides; speech ended at 128 ms.
    assert gate.update(9 * 32, 32, 0.1) == VadEvent("stop", 288, 128)
    assert not gate.speaking


def test_gate_silence_ms_counts_the_silence_that_may_end_the_speech() -> None:
    gate = VadGate(threshold=0.5, start_ms=64, stop_ms=160)
    feed(gate, [0.1, 0.1])
    assert gate.silence_ms == 0.0  # not speaking: no pause to count
    feed(gate, [0.9, 0.9, 0.1, 0.1])
    assert gate.speaking and gate.silence_ms == 64.0
    gate.update(1000, 32, 0.9)
    assert gate.silence_ms == 0.0  # speech again
    for t in range(1032, 1200, 32):
        gate.update(t, 32, 0.1)
    assert not gate.speaking and gate.silence_ms == 0.0


def test_gate_hysteresis_keeps_speech_through_the_band() -> None:
    gate = VadGate(threshold=0.5, start_ms=32, stop_ms=96)
    # While speaking, 0.4 (above 0.35) is still speech: no stop however long it lasts.
    events = feed(gate, [0.9] + [0.4] * 20)
    assert events == [VadEvent("start", 32, 0)]
    # Silence interrupted by a band window starts counting again.
    events = [
        gate.update(t, 32, p)
        for t, p in [(704, 0.1), (736, 0.1), (768, 0.4), (800, 0.1), (832, 0.1), (864, 0.1)]
    ]
    assert events[:5] == [None] * 5
    assert events[5] == VadEvent("stop", 864, 768)


def test_gate_custom_neg_threshold_and_restart() -> None:
    gate = VadGate(threshold=0.6, start_ms=32, stop_ms=64, neg_threshold=0.55)
    events = feed(gate, [0.7, 0.5, 0.5, 0.7])
    assert events == [
        VadEvent("start", 32, 0),
        VadEvent("stop", 96, 32),
        VadEvent("start", 128, 96),
    ]


def test_gate_reset_and_bad_config() -> None:
    gate = VadGate(start_ms=32)
    feed(gate, [0.9])
    assert gate.speaking
    gate.reset()
    assert not gate.speaking
    with pytest.raises(ValueError, match="neg_threshold"):
        VadGate(threshold=0.3, neg_threshold=0.4)
    with pytest.raises(ValueError, match="threshold"):
        VadGate(threshold=1.5)
    with pytest.raises(ValueError, match="start_ms"):
        VadGate(start_ms=-1)


# --- SileroVad: the model --------------------------------------------------------------


def test_probabilities_one_per_window_whatever_the_chunking() -> None:
    pcm, _, _ = speech("agent-pass.wav", pad_ms=200)
    whole = SileroVad().probabilities(pcm)
    assert len(whole) == len(pcm) // 512
    vad = SileroVad()
    pieces: list[float] = []
    for i in range(0, len(pcm), 333):  # odd sizes exercise the remainder
        pieces += vad.probabilities(pcm[i : i + 333])
    assert pieces == whole
    assert vad.buffered == len(pcm) % 512
    assert max(whole) > 0.9 and min(whole) < 0.1


def test_each_instance_has_its_own_state_and_reset_forgets_it() -> None:
    pcm, _, _ = speech("all-circuits-busy-now.wav", pad_ms=100)
    expected = SileroVad().probabilities(pcm)
    a, b = SileroVad(), SileroVad()
    got_a: list[float] = []
    got_b: list[float] = []
    for i in range(0, len(pcm), 320):  # interleaved, as two sessions would be
        got_a += a.probabilities(pcm[i : i + 320])
        got_b += b.probabilities(pcm[i : i + 320])
    assert got_a == expected and got_b == expected
    a.reset()
    assert a.buffered == 0
    assert a.probabilities(pcm) == expected


def test_digital_silence_is_not_run_through_the_model_once_settled() -> None:
    vad = SileroVad()
    probs = vad.probabilities(np.zeros(100 * 512, np.int16))
    assert vad.skipped == 100 - QUIET_SETTLE_WINDOWS
    assert probs[QUIET_SETTLE_WINDOWS:] == [0.0] * (100 - QUIET_SETTLE_WINDOWS)
    pcm, _, _ = speech("agent-pass.wav", pad_ms=0)
    assert max(vad.probabilities(pcm)) > 0.9  # speech after it is scored again
    assert SileroVad(quiet_dbfs=None).probabilities(np.zeros(100 * 512, np.int16)) != probs


@pytest.mark.parametrize("noise_rms", [0.0, 10.0, 300.0])
def test_the_energy_floor_leaves_the_events_on_speech_as_they_were(noise_rms: float) -> None:
    rng = np.random.default_rng(1)
    a, _, _ = speech("agent-pass.wav", pad_ms=2000)
    b, _, _ = speech("all-circuits-busy-now.wav", pad_ms=2000)
    pcm = np.concatenate((a, b)).astype(np.float64) + rng.normal(0, noise_rms, len(a) + len(b))
    pcm = np.clip(pcm, -32768, 32767).astype(np.int16)
    floored = StreamingVad()
    events = run_frames(floored, pcm)
    assert len([e for e in events if e.kind == "start"]) >= 2  # both prompts heard
    unfloored = run_frames(StreamingVad(quiet_dbfs=None), pcm)
    if noise_rms == 0.0:
        assert events == unfloored
    else:  # the model skipped some noise, so its state differs: by a window at most
        assert [e.kind for e in events] == [e.kind for e in unfloored]
        for e, u in zip(events, unfloored, strict=True):
            assert abs(e.speech_t_ms - u.speech_t_ms) <= WINDOW_MS
            assert abs(e.t_ms - u.t_ms) <= WINDOW_MS
    skipped = floored._vad.skipped
    assert skipped > 0 if noise_rms < 30 else skipped == 0  # -60 dBFS is ~33 LSB RMS


def test_bad_pcm_is_refused_with_a_clear_message() -> None:
    vad = SileroVad()
    for bad, problem in [
        (np.zeros(512, np.float32), "dtype int16, got float32"),
        (np.zeros((2, 512), np.int16), r"1-D \(mono\) int16, got shape \(2, 512\)"),
        ([0] * 512, "numpy array of int16, got list"),
    ]:
        with pytest.raises(ValueError, match=problem):
            vad.probabilities(bad)


# --- StreamingVad: model + gate on the media clock ------------------------------------


@pytest.mark.parametrize("name", ["agent-pass.wav", "all-circuits-busy-now.wav"])
def test_real_speech_gives_start_then_stop_around_it(name: str) -> None:
    pcm, onset_ms, offset_ms = speech(name)
    vad = StreamingVad(threshold=0.5, start_ms=64, stop_ms=160)
    events = run_frames(vad, pcm)
    assert [e.kind for e in events] == ["start", "stop"]
    start, stop = events
    assert abs(start.speech_t_ms - onset_ms) < 150
    assert start.t_ms - start.speech_t_ms >= 64
    assert offset_ms - 100 < stop.speech_t_ms < offset_ms + 400
    assert stop.t_ms - stop.speech_t_ms >= 160
    assert stop.t_ms < 1000 * len(pcm) / SR
    assert not vad.speaking


def test_events_follow_the_media_clock() -> None:
    pcm, _, _ = speech("agent-pass.wav")
    base = run_frames(StreamingVad(), pcm)
    shifted = run_frames(StreamingVad(), pcm, t0_ms=60_000.0)
    assert [(e.kind, e.t_ms + 60_000, e.speech_t_ms + 60_000) for e in base] == [
        (e.kind, e.t_ms, e.speech_t_ms) for e in shifted
    ]
    # Decisions fall on window ends, whatever the frame size.
    assert all(e.t_ms % WINDOW_MS == 0 for e in base)
    assert run_frames(StreamingVad(), pcm, frame=160) == base


def test_silence_and_low_noise_give_no_events() -> None:
    rng = np.random.default_rng(0)
    for pcm in (np.zeros(3 * SR, np.int16), rng.normal(0, 300, 5 * SR).astype(np.int16)):
        vad = StreamingVad()
        assert run_frames(vad, pcm) == []
        assert vad.last_probability < 0.2


def test_reset_clears_speaking_state() -> None:
    pcm, _, _ = speech("agent-pass.wav")
    vad = StreamingVad()
    run_frames(vad, pcm[: len(pcm) // 2])
    assert vad.speaking and vad.last_probability > 0
    vad.reset()
    assert not vad.speaking and vad.last_probability == 0.0
