"""`omnivox bench kiosk`: the kiosk's echo path, measured in simulated rooms.

Each room (lab/simulate.py's `EchoPath`: a delay, a level and a reverberant tail) is
measured as the kiosk does at start, with its chirp, and the session gets the estimate.
Three figures, all on the media clock:

- ERLE: echo return loss enhancement of the kiosk's canceller (AEC3 with the measured
  delay) on the agent's recorded voice and its echo, echo-only frames, dB; the first
  two seconds (converging) apart from the rest.
- self-interruptions per 10 minutes of agent speech: long answers spoken into the room
  with nobody talking; every barge-in is one. Overlaps (our own voice reaching the
  turn policy as speech, which ducks the agent until the classifier rules) are counted
  too, and so are the onsets the echo gate dropped.
- barge-in stop: a user cuts in during an answer; from the scripted onset to the
  reply's cancel, p50 / p95, and how many were missed; and the same with no room at
  all, which tells the echo path's share of the misses from the turn policy's.

Run: omnivox bench kiosk [--quick] [--minutes M] [--talker espeak|piper] [--no-gate] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import numpy as np

from omnivox.agent.config import AgentConfig, load_config
from omnivox.agent.stack import build_stack
from omnivox.kernels._pcm import saturate_int16
from omnivox.kernels.level import frame_levels
from omnivox.lab.bench.latency import percentile_stats, silence_pcm, trim_silence
from omnivox.lab.bench.turns import INTERRUPTIONS, VOICES
from omnivox.lab.simulate import EchoPath, SimulationResult, simulate
from omnivox.lab.training.turn_data import progress
from omnivox.media.echo_canceller import EchoCanceller
from omnivox.media.frames import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE
from omnivox.media.local_audio.echo_path import (
    MEASURE_MS,
    EchoPathEstimate,
    chirp,
    estimate_echo_path,
)
from omnivox.models.talker.espeak import EspeakTalker

ROOMS = {
    "near, quiet": EchoPath(gain_db=-10.0, delay_ms=120.0, rt60_s=0.25),
    "loud speaker": EchoPath(gain_db=-3.0, delay_ms=200.0, rt60_s=0.4),
    "louder than the user": EchoPath(gain_db=0.0, delay_ms=300.0, rt60_s=0.3),
}

ANSWERS = [
    "Welcome to the front desk. The gym opens at six in the morning on weekdays and at "
    "eight on weekends, and it closes at ten every night.",
    "A day pass costs fifteen dollars, a monthly membership is fifty, and students get a "
    "discount of twenty percent with a valid card from their school.",
    "The pool is open until nine, towels are free, and lockers take a coin that you get "
    "back when you leave. Parking is behind the building.",
]

CUT_IN_AFTER_MS = 3000.0
"""The user cuts in this long into the answer."""


def heard_in(room: EchoPath, played: np.ndarray) -> np.ndarray:
    """What the microphone hears of `played` (16 kHz int16) in `room`, plus a little
    noise: as `simulate` exchanges frames, a frame sent now is heard from the next on."""
    n = len(played)
    echo = np.convolve(played.astype(np.float64), room.impulse_response())[:n]
    echo = np.concatenate([np.zeros(FRAME_SAMPLES), echo])[:n]
    noise = np.random.default_rng(0).standard_normal(n) * 3.0  # ~ -80 dBFS
    return saturate_int16(echo + noise)


def measure(room: EchoPath) -> EchoPathEstimate | None:
    """The kiosk's start-up chirp through `room`."""
    signal = chirp()
    n = MEASURE_MS * SAMPLE_RATE // 1000 // FRAME_SAMPLES * FRAME_SAMPLES
    played = np.concatenate([signal, np.zeros(n - len(signal), np.int16)])
    return estimate_echo_path(played, heard_in(room, played))


def erle(room: EchoPath, estimate: EchoPathEstimate | None, voice: np.ndarray) -> dict[str, Any]:
    """ERLE (dB) of the canceller on `voice` played into `room`, echo-only frames."""
    canceller = EchoCanceller()
    if estimate is not None:
        canceller.set_delay_ms(estimate.delay_ms)
    voice = voice[: len(voice) // FRAME_SAMPLES * FRAME_SAMPLES]
    mic = heard_in(room, voice)
    out_frames = []
    for i in range(0, len(voice), FRAME_SAMPLES):
        out_frames.append(canceller.process(mic[i : i + FRAME_SAMPLES]))
        canceller.reference(voice[i : i + FRAME_SAMPLES])
    mic_db = frame_levels(mic, FRAME_SAMPLES)
    out_db = frame_levels(np.concatenate(out_frames), FRAME_SAMPLES)
    active = mic_db > -50.0
    split = 2000 // FRAME_MS

    def db(frames: slice) -> float | None:
        m, o, a = mic_db[frames], out_db[frames], active[frames]
        if not a.any():
            return None
        power = lambda d: float(np.mean(10 ** (d[a] / 10)))  # noqa: E731
        return round(10 * np.log10(power(m) / power(o)), 1)

    return {"first_2s_db": db(slice(0, split)), "after_db": db(slice(split, None))}


def _answer_config(config: AgentConfig, answer: str, gate: bool, talker: str) -> AgentConfig:
    echo = config.echo.model_copy(update={"cancel": True, "gate": gate})
    return config.model_copy(
        update={
            "greeting": answer,
            "echo": echo,
            "talker": config.talker.model_copy(update={"backend": talker}),
        }
    )


def with_turns(config: AgentConfig, classifier: str) -> AgentConfig:
    return config.model_copy(
        update={"turns": config.turns.model_copy(update={"classifier": classifier})}
    )


def _agent_speech_s(res: SimulationResult) -> float:
    frames = res.agent[: len(res.agent) // FRAME_SAMPLES * FRAME_SAMPLES]
    loud = np.abs(frames.reshape(-1, FRAME_SAMPLES)).max(axis=1) > 0
    return float(loud.sum()) * FRAME_MS / 1000.0


def _count(res: SimulationResult) -> dict[str, int]:
    return {
        "barge_ins": sum(e["reason"] == "barge_in" for e in res.of_type("reply_cancelled")),
        "overlaps": sum(e["state"] == "overlap" for e in res.of_type("turn_state")),
        "gate_dropped": sum(e["verdict"] == "echo" for e in res.of_type("echo_gate")),
    }


async def run_kiosk_bench(
    config: AgentConfig, *, minutes: float, interruptions: int, gate: bool, talker: str
) -> dict[str, Any]:
    stack = build_stack(_answer_config(config, ANSWERS[0], gate, talker))
    rooms = list(ROOMS.items())
    estimates = {name: measure(room) for name, room in rooms}
    voice = EspeakTalker().synthesize_pcm(" ".join(ANSWERS))
    result: dict[str, Any] = {
        "gate": gate,
        "talker": talker,
        "turns": config.turns.classifier,
        "rooms": {
            name: {
                "delay_ms": room.delay_ms,
                "gain_db": room.gain_db,
                "measured_delay_ms": None if est is None else round(est.delay_ms, 1),
                "measured_gain_db": None if est is None else round(est.gain_db, 1),
                "erle": erle(room, est, voice),
            }
            for (name, room), est in zip(rooms, estimates.values(), strict=True)
        },
    }

    async def answer(i: int, user: np.ndarray, room: EchoPath | None) -> SimulationResult:
        """Answer `i` spoken into `room` (None: no loudspeaker at all, and no canceller),
        over the user's track."""
        est = estimates[rooms[i % len(rooms)][0]] if room is not None else None
        cfg = _answer_config(config, ANSWERS[i % len(ANSWERS)], gate, talker)
        if room is None:
            cfg = cfg.model_copy(update={"echo": cfg.echo.model_copy(update={"cancel": False})})
        return await simulate(
            user,
            stack,
            cfg,
            greet=True,
            echo=room,
            echo_path=None if est is None else (est.delay_ms, est.gain_db),
        )

    # Long answers into each room in turn, nobody talking, until `minutes` of speech.
    spoken_s, counts = 0.0, {"barge_ins": 0, "overlaps": 0, "gate_dropped": 0}
    runs = max(1, round(minutes * 60 / 7))  # an answer is about 7 s
    i = 0
    for i in progress(range(runs), runs, "bench kiosk: answers"):
        res = await answer(i, silence_pcm(500), rooms[i % len(rooms)][1])
        spoken_s += _agent_speech_s(res)
        for k, v in _count(res).items():
            counts[k] += v
    while spoken_s < minutes * 60:  # answers ran shorter than guessed
        i += 1
        res = await answer(i, silence_pcm(500), rooms[i % len(rooms)][1])
        spoken_s += _agent_speech_s(res)
        for k, v in _count(res).items():
            counts[k] += v
    per_10 = 600.0 / max(spoken_s, 1e-9)
    result["agent_speech_min"] = round(spoken_s / 60, 2)
    result["self_interruptions_per_10min"] = round(counts["barge_ins"] * per_10, 2)
    result["overlaps_per_10min"] = round(counts["overlaps"] * per_10, 2)
    result["gate_dropped_per_10min"] = round(counts["gate_dropped"] * per_10, 2)
    # Real interruptions during an answer, through the same rooms; and, to tell the echo
    # path's share of the misses from the turn policy's, the same without any room.
    for key, through_room in (("barge_in_stop_ms", True), ("barge_in_stop_ms_no_room", False)):
        stops: list[float] = []
        missed = 0
        for i in progress(range(interruptions), interruptions, f"bench kiosk: {key}"):
            words = trim_silence(
                EspeakTalker(voice=VOICES[i % len(VOICES)], rate_wpm=165).synthesize_pcm(
                    INTERRUPTIONS[i % len(INTERRUPTIONS)]
                )
            )
            lead = silence_pcm(CUT_IN_AFTER_MS)
            user = np.concatenate([lead, words, silence_pcm(1500)])
            res = await answer(i, user, rooms[i % len(rooms)][1] if through_room else None)
            onset = 1000.0 * len(lead) / SAMPLE_RATE
            cancels = [
                e["t_ms"] - onset
                for e in res.of_type("reply_cancelled")
                if e["reason"] == "barge_in" and e["t_ms"] >= onset
            ]
            if cancels:
                stops.append(cancels[0])
            else:
                missed += 1
        result[key] = {**percentile_stats(stops), "missed": missed}
    return result


def format_table(r: dict[str, Any]) -> str:
    lines = [
        f"kiosk echo path (talker {r['talker']}, echo gate {'on' if r['gate'] else 'off'}, "
        f"turn classifier {r['turns']})"
    ]
    for name, room in r["rooms"].items():
        e = room["erle"]
        lines.append(
            f"  {name:22} echo {room['gain_db']:+.0f} dB at {room['delay_ms']:.0f} ms "
            f"(measured {room['measured_gain_db']} dB at {room['measured_delay_ms']} ms)  "
            f"ERLE first 2 s {e['first_2s_db']} dB, after {e['after_db']} dB"
        )
    lines += [
        f"agent speech {r['agent_speech_min']} min: self-interruptions "
        f"{r['self_interruptions_per_10min']} per 10 min, overlaps {r['overlaps_per_10min']}, "
        f"echo onsets dropped by the gate {r['gate_dropped_per_10min']}",
    ]
    for key, label in (
        ("barge_in_stop_ms", "through the rooms"),
        ("barge_in_stop_ms_no_room", "no room, no canceller"),
    ):
        b = r[key]
        lines.append(
            f"barge-in stop {label} (scripted onset -> cancel): p50 {b['p50']} ms, "
            f"p95 {b['p95']} ms, n {b['n']}, missed {b['missed']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omnivox bench kiosk", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    parser.add_argument("--config", help="agent YAML (default: embedded offline stack)")
    parser.add_argument("--quick", action="store_true", help="2 minutes, 6 barge-ins")
    parser.add_argument("--minutes", type=float, default=10.0, help="agent speech to listen to")
    parser.add_argument("--interruptions", type=int, default=18)
    parser.add_argument("--talker", choices=["espeak", "piper"], default="espeak")
    parser.add_argument("--no-gate", action="store_true", help="the echo gate off (to compare)")
    parser.add_argument(
        "--turns",
        choices=["learned", "none"],
        help="the turn classifier, or none (timing rules); default: the config's",
    )
    args = parser.parse_args(argv)
    config = load_config(args.config)
    if args.turns is not None:
        config = with_turns(config, args.turns)
    minutes, interruptions = (2.0, 6) if args.quick else (args.minutes, args.interruptions)
    result = asyncio.run(
        run_kiosk_bench(
            config,
            minutes=minutes,
            interruptions=interruptions,
            gate=not args.no_gate,
            talker=args.talker,
        )
    )
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0
