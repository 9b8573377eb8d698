"""`omnivox bench kiosk`'s own parts: the chirp through a room and ERLE."""

from __future__ import annotations

import numpy as np

from omnivox.lab.bench.kiosk import ROOMS, erle, format_table, measure
from omnivox.lab.simulate import EchoPath
from omnivox.models.talker.espeak import EspeakTalker


def test_the_chirp_finds_each_room_one_frame_behind_as_the_session_hears_it() -> None:
    for room in ROOMS.values():
        est = measure(room)
        assert est is not None
        assert est.delay_ms == room.delay_ms + 20.0
        assert abs(est.gain_db - room.gain_db) < 1.0


def test_erle_is_the_echo_taken_out() -> None:
    voice = EspeakTalker().synthesize_pcm("Our opening hours are nine to five on weekdays.")
    room = EchoPath(gain_db=-10.0, delay_ms=120.0)
    figures = erle(room, measure(room), np.concatenate([voice, voice]))
    assert figures["after_db"] is not None and figures["after_db"] > 10.0


def test_the_table() -> None:
    result = {
        "gate": True,
        "talker": "espeak",
        "turns": "learned",
        "rooms": {
            "near": {
                "delay_ms": 120.0,
                "gain_db": -10.0,
                "measured_delay_ms": 140.0,
                "measured_gain_db": -10.1,
                "erle": {"first_2s_db": 23.0, "after_db": 46.3},
            }
        },
        "agent_speech_min": 10.2,
        "self_interruptions_per_10min": 0.0,
        "overlaps_per_10min": 0.0,
        "gate_dropped_per_10min": 31.5,
        "barge_in_stop_ms": {"n": 5, "p50": 340.0, "p95": 988.0, "missed": 1},
        "barge_in_stop_ms_no_room": {"n": 6, "p50": 300.0, "p95": 400.0, "missed": 0},
    }
    text = format_table(result)
    assert "ERLE first 2 s 23.0 dB, after 46.3 dB" in text
    assert "self-interruptions 0.0 per 10 min" in text
    assert "through the rooms (scripted onset -> cancel): p50 340.0 ms" in text
    assert "no room, no canceller (scripted onset -> cancel): p50 300.0 ms" in text
