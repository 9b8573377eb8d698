"""The kiosk's live view, fed events and drawn to a recording console."""

from __future__ import annotations

import io
import json

from rich.console import Console

from omnivox.agent.kiosk.view import KioskView
from omnivox.media.local_audio.echo_path import EchoPathEstimate
from omnivox.media.local_audio.sound_card import Levels


def drawn(view: KioskView, levels: Levels) -> str:
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(view.render(levels))
    return console.export_text()


def test_state_captions_latency_and_gate_decisions() -> None:
    view = KioskView()
    for event in (
        {"type": "turn_state", "state": "user_speaking"},
        {"type": "transcript_partial", "text": "what are your"},
        {"type": "transcript_final", "text": "What are your opening hours?"},
        {"type": "reply_text", "text": "We open at nine."},
        {"type": "reply_text", "text": "We close at five."},
        {"type": "turn_metrics", "voice_to_voice_ms": 812.5, "endpoint_ms": 400.0},
        {"type": "echo_gate", "verdict": "echo", "mic_db": -41.0, "echo_db": -38.5},
        {"type": "turn_decision", "kind": "interruption", "decision_ms": 320.0},
        {"type": "turn_state", "state": "agent_speaking"},
    ):
        view.feed_line(json.dumps(event))
    levels = Levels(mic_dbfs=-30.0, speaker_dbfs=-100.0, devices=("mic", "spk"), rate=48_000)
    levels.echo_path = EchoPathEstimate(183.0, -19.0, 60.0)
    text = drawn(view, levels)
    assert "agent speaking" in text
    assert "you: What are your opening hours?" in text
    assert "agent: We open at nine. We close at five." in text
    assert "812.5 ms" in text and "400.0 ms" in text
    assert "echo: mic -41.0 dBFS vs echo -38.5 dBFS" in text
    assert "interruption in 320.0 ms" in text
    assert "echo path 183 ms, -19 dB" in text
    assert "mic 0 @ 48000 Hz" not in text and "mic -> spk @ 48000 Hz" in text
    assert view.interruptions == 1 and view.echo_dropped == 1


def test_a_new_visitor_clears_the_captions_and_errors_show() -> None:
    view = KioskView()
    view.feed({"type": "transcript_final", "text": "hello"})
    view.feed({"type": "presence", "present": False})
    view.feed({"type": "conversation_reset", "reason": "visitor_left"})
    view.feed({"type": "error", "source": "recognizer", "message": "model failed"})
    text = drawn(view, Levels())
    assert "hello" not in text
    assert "nobody" in text
    assert "recognizer: model failed" in text
    assert "echo path not measured" in text
