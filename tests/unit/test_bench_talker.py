"""bench talker's listening side: the recognizer hears each sentence after a pause."""

from __future__ import annotations

import numpy as np

from omnivox.lab.bench.talker import PAUSE_MS, SAMPLE_RATE, format_talker_table, hear


class RecordingStream:
    def __init__(self) -> None:
        self.audio: list[np.ndarray] = []

    def accept(self, pcm: np.ndarray) -> str | None:
        self.audio.append(pcm.copy())
        return None

    def final(self) -> str:
        return "heard"

    def prepare(self) -> None: ...

    def close(self) -> None: ...


class RecordingRecognizer:
    name = "recording"
    interim_finals = False

    def __init__(self) -> None:
        self.stream = RecordingStream()

    def new_stream(self) -> RecordingStream:
        return self.stream


def test_a_sentence_is_heard_between_pauses() -> None:
    recognizer = RecordingRecognizer()
    speech = np.full(SAMPLE_RATE // 2, 1000, np.int16)
    assert hear(recognizer, speech) == "heard"
    audio = np.concatenate(recognizer.stream.audio)
    pause = SAMPLE_RATE * PAUSE_MS // 1000
    assert PAUSE_MS > 0 and len(audio) == pause + len(speech) + pause
    assert not audio[:pause].any() and not audio[pause + len(speech) :].any()
    np.testing.assert_array_equal(audio[pause : pause + len(speech)], speech)


def test_the_table_shows_syntheses_at_once() -> None:
    pct = {"p50": 70.0, "p95": 90.0}
    result = {
        "setup": {"sentences": 30, "cpus": 2, "dnsmos": False},
        "results": {
            "piper": {
                "load_s": 1.0,
                "first_audio_ms": pct,
                "rtf": 0.12,
                "wer_16k": 0.04,
                "wer_8k_ulaw": 0.05,
                "dnsmos": None,
                "word_position_ms": {**pct, "words": 10},
                "at_once": {"n": 8, "first_audio_ms": pct, "rtf": {"p50": 0.45, "p95": 0.5}},
            }
        },
    }
    table = format_talker_table(result)
    assert "piper: 8 at once: first audio 70 / 90 ms, real-time factor 0.45 / 0.50" in table
