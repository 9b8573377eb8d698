"""The echo gate when the echo's delay moves, and when a person talks over the agent.

Run: omnivox bench echo_leak [--json]
The agent (the Piper voice) talks; its echo comes back at full level, 260 ms late, and
after a few seconds it comes sooner or later (a sound server re-buffering). The whole
chain a session runs (AEC3, the echo watch, Silero VAD, the echo gate) hears it, with
the gate's likeness check (media/echo_likeness) and without it:
- leaks: onsets let through while nobody talks (each would be a self-interruption
  under the timing rules, and a question to the classifier under the learned ones);
- people: real voices (the Asterisk prompts) over the agent through two rooms, with no
  jump: whether the first onset of each is let through, and how much later than without
  the check (what the check costs a real interruption).
Counts from simulation, not a test. Piper's voice draws noise, so the agent's audio and
the counts vary a little from run to run.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from omnivox.agent.speech.echo_control import EchoControl
from omnivox.agent.speech.echo_gate import EchoGateSettings
from omnivox.lab.bench.latency import percentile_stats
from omnivox.lab.simulate import EchoPath
from omnivox.lab.speech_corpus import load_corpus
from omnivox.lab.training.turn_data import progress
from omnivox.media.frames import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE
from omnivox.models.talker.piper import PiperTalker
from omnivox.models.vad import StreamingVad

AGENT = (
    "Sorry, I don't know that, but I can help with opening hours, prices, classes, or our "
    "facilities. We are open from nine to five on weekdays, and from ten to four on "
    "Saturdays. A day pass costs twelve dollars, and a month is forty."
)
DELAY_MS = 260
JUMPS_MS = (-150, -100, 100, 200)
JUMP_AT_S = (4.0, 8.0)
ROOMS = {
    "room -10 dB, reverberant": EchoPath(gain_db=-10.0, delay_ms=DELAY_MS, rt60_s=0.25),
    "room +1 dB, dry": EchoPath(gain_db=1.0, delay_ms=DELAY_MS, rt60_s=0.05),
}
PERSON_AT_S = 5.0
PERSON_DB = -6.0
"""The person's level against the agent's (RMS over speech)."""
NO_CHECK = EchoGateSettings(leak_share=1e9)
"""A leak share no speech reaches: the gate as it was before the likeness check."""


def passed_onsets(
    agent: np.ndarray, heard: np.ndarray, gate: EchoGateSettings
) -> list[tuple[float, float]]:
    """(onset, when let through) of every onset the echo gate passes, the agent saying
    `agent` and the microphone hearing `heard`: frame by frame in the session's order
    (clean, VAD on the cleaned audio, gate)."""
    control = EchoControl(False, gate)
    vad = StreamingVad()
    passed = []
    for i in range(0, len(agent), FRAME_SAMPLES):
        t_ms = i * FRAME_MS / FRAME_SAMPLES
        control.sent(agent[i : i + FRAME_SAMPLES])
        raw = heard[i : i + FRAME_SAMPLES]
        cleaned, _ = control.clean(raw)
        events, _ = control.gate(t_ms, raw, cleaned, vad.process(cleaned, t_ms))
        passed += [(e.speech_t_ms, t_ms) for e in events if e.kind == "start"]
    return passed


def _jumped(agent: np.ndarray, jump_ms: int, at_s: float) -> np.ndarray:
    """The agent at full level (+1 dB), DELAY_MS late, then `jump_ms` later from `at_s`."""
    echo = np.concatenate([np.zeros(DELAY_MS * SAMPLE_RATE // 1000), agent]).astype(np.float64)
    echo *= 10 ** (1.0 / 20)
    at, moved = int(at_s * SAMPLE_RATE), abs(jump_ms) * SAMPLE_RATE // 1000
    if jump_ms > 0:
        echo = np.concatenate([echo[:at], np.zeros(moved), echo[at:]])
    else:
        echo = np.concatenate([echo[:at], echo[at + moved :]])
    heard = np.zeros(len(agent))
    heard[: min(len(agent), len(echo))] = echo[: len(agent)]
    return np.clip(np.rint(heard), -32768, 32767).astype(np.int16)


def _speech_rms(pcm: np.ndarray) -> float:
    """RMS over the samples that are speech (above a low floor), not the pauses."""
    loud = pcm[np.abs(pcm) > 300].astype(np.float64)
    return float(np.sqrt(np.mean(loud**2)))


def _with_person(agent: np.ndarray, room: EchoPath, voice: np.ndarray) -> np.ndarray:
    echo = np.convolve(agent.astype(np.float64), room.impulse_response())[: len(agent)]
    at = int(PERSON_AT_S * SAMPLE_RATE)
    scale = _speech_rms(agent) / _speech_rms(voice) * 10 ** (PERSON_DB / 20)
    part = voice[: len(agent) - at].astype(np.float64) * scale
    echo[at : at + len(part)] += part
    return np.clip(np.rint(echo), -32768, 32767).astype(np.int16)


def run_bench(people: int) -> dict[str, Any]:
    agent = PiperTalker().synthesize_with_words(AGENT)[0]
    agent = np.concatenate([agent, np.zeros(-len(agent) % FRAME_SAMPLES, np.int16)])
    cases = [(j, s) for j in JUMPS_MS for s in JUMP_AT_S]
    leaks = {"with_check": 0, "without": 0}
    for jump_ms, at_s in progress(cases, len(cases), "bench echo_leak: jumps"):
        heard = _jumped(agent, jump_ms, at_s)
        leaks["with_check"] += len(passed_onsets(agent, heard, EchoGateSettings()))
        leaks["without"] += len(passed_onsets(agent, heard, NO_CHECK))
    voices = load_corpus("asterisk", limit=people)
    trials = [(name, room, v.pcm) for name, room in ROOMS.items() for v in voices]
    heard_people = {"with_check": 0, "without": 0}
    later: list[float] = []
    start_ms = PERSON_AT_S * 1000 - FRAME_MS
    for _name, room, voice in progress(trials, len(trials), "bench echo_leak: people"):
        heard = _with_person(agent, room, voice)
        firsts = []
        for key, gate in (("with_check", EchoGateSettings()), ("without", NO_CHECK)):
            passed = [t for onset, t in passed_onsets(agent, heard, gate) if onset >= start_ms]
            heard_people[key] += bool(passed)
            firsts.append(passed[0] if passed else None)
        if firsts[0] is not None and firsts[1] is not None:
            later.append(firsts[0] - firsts[1])
    return {
        "jump_cases": len(cases),
        "leaked_onsets": leaks,
        "people": len(trials),
        "people_heard": heard_people,
        "check_delay_ms": {**percentile_stats(later), "max": max(later, default=None)},
    }


def format_table(r: dict[str, Any]) -> str:
    leaks, heard, delay = r["leaked_onsets"], r["people_heard"], r["check_delay_ms"]
    return "\n".join(
        [
            f"echo delay jumps ({r['jump_cases']} cases, full-level echo): onsets let through "
            f"{leaks['with_check']} with the likeness check, {leaks['without']} without",
            f"people over the agent ({r['people']}): heard {heard['with_check']} with the "
            f"check, {heard['without']} without; the check's added wait p50 {delay['p50']} "
            f"ms, p95 {delay['p95']} ms, max {delay['max']} ms",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omnivox bench echo_leak", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--people", type=int, default=24, help="Asterisk prompts over the agent")
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    args = parser.parse_args(argv)
    if args.people < 0:
        parser.error(f"--people must be 0 or more (got {args.people})")
    result = run_bench(args.people)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0
