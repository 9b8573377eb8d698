"""The kiosk's live terminal view: turn state, captions, levels and per-turn latency.

`KioskView` is the state, fed the session's events (the JSON lines a page would get)
and drawn by `render` with rich; the drawing reads only that state and the sound
card's `Levels`, so what it shows is tested without a terminal.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from omnivox.kernels.level import SILENCE_DBFS
from omnivox.media.local_audio.sound_card import Levels

CAPTION_LINES = 8
METER_DB = 60.0
"""A level meter spans this many dB below full scale."""


@dataclass
class KioskView:
    state: str = "starting"
    partial: str = ""
    captions: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=CAPTION_LINES))
    """(who, text), newest last."""
    turns: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=5))
    """The latest `turn_metrics` events."""
    last_decision: str = ""
    last_gate: str = ""
    presence: str = ""
    errors: deque[str] = field(default_factory=lambda: deque(maxlen=3))
    interruptions: int = 0
    echo_dropped: int = 0

    def feed_line(self, line: str) -> None:
        self.feed(json.loads(line))

    def feed(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "turn_state":
            self.state = str(event.get("state", ""))
        elif kind == "transcript_partial":
            self.partial = str(event.get("text", ""))
        elif kind == "transcript_final":
            self.partial = ""
            if text := str(event.get("text", "")).strip():
                self.captions.append(("you", text))
        elif kind == "reply_text":
            self._agent_says(str(event.get("text", "")))
        elif kind == "turn_metrics":
            self.turns.append(event)
        elif kind == "turn_decision":
            self.last_decision = f"{event.get('kind')} in {event.get('decision_ms')} ms"
            self.interruptions += event.get("kind") == "interruption"
        elif kind == "echo_gate":
            self.last_gate = (
                f"{event.get('verdict')}: mic {event.get('mic_db')} dBFS "
                f"vs echo {event.get('echo_db')} dBFS"
            )
            self.echo_dropped += event.get("verdict") == "echo"
        elif kind == "reply_cancelled":
            self._agent_says("—")
        elif kind == "presence":
            self.presence = "someone is here" if event.get("present") else "nobody"
        elif kind == "conversation_reset":
            self.captions.clear()
        elif kind == "error":
            self.errors.append(f"{event.get('source')}: {event.get('message')}")

    def _agent_says(self, text: str) -> None:
        if not text:
            return
        if self.captions and self.captions[-1][0] == "agent":
            self.captions[-1] = ("agent", f"{self.captions[-1][1]} {text}".strip())
        else:
            self.captions.append(("agent", text))

    def render(self, levels: Levels) -> Group:
        head = Table.grid(padding=(0, 2))
        head.add_row(
            Text(self.state.replace("_", " "), style="bold cyan"),
            _meter("mic", levels.mic_dbfs),
            _meter("speaker", levels.speaker_dbfs),
            Text(self.presence, style="magenta"),
        )
        captions = Text()
        for who, text in self.captions:
            captions.append(f"{who:>5}: ", style="bold green" if who == "you" else "bold blue")
            captions.append(text + "\n")
        if self.partial:
            captions.append("  you: ", style="green")
            captions.append(self.partial + " …\n", style="dim")
        latency = Table("voice to voice", "endpoint", "final", "first token", "first audio")
        for t in self.turns:
            latency.add_row(
                *(
                    _ms(t.get(k))
                    for k in (
                        "voice_to_voice_ms",
                        "endpoint_ms",
                        "recognizer_final_ms",
                        "thinker_first_token_ms",
                        "talker_first_audio_ms",
                    )
                )
            )
        path = levels.echo_path
        echo = (
            f"echo path {path.delay_ms:.0f} ms, {path.gain_db:+.0f} dB"
            if path is not None
            else "echo path not measured"
        )
        status = Text(
            f"{levels.devices[0]} -> {levels.devices[1]} @ {levels.rate} Hz · {echo} · "
            f"output delay {levels.output_delay_ms:.0f} ms · underruns {levels.underruns} · "
            f"glitches {levels.glitches} · reconnects {levels.reconnects} · "
            f"interruptions {self.interruptions} · echo onsets dropped {self.echo_dropped}",
            style="dim",
        )
        parts: list[Any] = [head, Panel(captions, title="conversation"), latency, status]
        if self.last_decision or self.last_gate:
            parts.append(Text(f"last decision: {self.last_decision}  ·  gate: {self.last_gate}"))
        parts += [Text(e, style="red") for e in self.errors]
        parts.append(Text("Ctrl-C to stop", style="dim"))
        return Group(*parts)


def _meter(label: str, dbfs: float, width: int = 12) -> Text:
    filled = round(width * max(0.0, min(1.0, (dbfs + METER_DB) / METER_DB)))
    shown = "-∞" if dbfs <= SILENCE_DBFS else f"{dbfs:.0f}"
    return Text(f"{label} {'█' * filled}{'·' * (width - filled)} {shown:>4}", no_wrap=True)


def _ms(value: object) -> str:
    return "-" if value is None else f"{value} ms"
