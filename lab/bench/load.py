"""N real WebRTC callers at once against one `omnivox serve` process (a benchmark).

    omnivox bench load [--clients 1,4,8] [--question-wav PATH] [--json]

For each N in --clients, a real `omnivox serve` (the embedded offline stack, no
greeting) gets N aiortc peers over loopback, all in this process. Each peer's microphone
track is paced at real time in 20 ms, 16 kHz frames: silence while it is connected and
idle, then, at the same moment for every peer, 1 s of silence, one spoken question
("What are your opening hours?" in an eSpeak NG voice unlike the agent's: no recorded
human question fits the shipped knowledge base; --question-wav for your own) and
silence again.

Per N it reports:
- voice-to-voice (v2v), per peer, on the peer's own monotonic clock: from the end of
  the question's speech (when the frame holding its last sample left the microphone
  track, less the part of that frame after it) to the arrival of the first audible agent
  frame (RMS above -50 dBFS) from aiortc's receiving track. It includes loopback UDP
  and Opus coding both ways, the server's receive path and any backlog in it, its
  endpointing silence and whole reply path, and the receive buffers on both sides (the
  server's own, media/webrtc/receive_buffer.py, in place of aiortc's: nothing held back
  on a clean network); not a browser's playout buffer or a sound card.
  `server share`: the server's own turn_metrics voice_to_voice_ms (VAD speech end to
  the reply's first frame leaving the session, on its media clock, which counts the
  samples it has received and so leaves out transport and receive backlog), p50 of it
  and of its stages. `turn end`: from the speech's end until the server's user_turn_end event
  reached the peer (its data channel), on the peer's clock: how late the server knew.
- replies: peers whose first audible reply came within 15 s of their speech's end.
- server CPU in % of one core, from /proc/<pid>/stat (utime + stime over all the
  server's threads), less the server's CPU with no session, divided by the N peers:
  per idle session over a window where every peer is connected and sends silence, per
  active session over the talking window (from the questions' start until every reply
  has been heard or has timed out). The peers run in this process on the same CPUs.
- underruns: reply frames that a listener with a 60 ms playout buffer would have
  lacked in time. Such a buffer plays each frame at its RTP time after the first
  frame's arrival + 60 ms; a frame arriving after its moment is an underrun, and the
  buffer restarts from it, 60 ms later (as a player does after a gap). Counted between
  the first and the last audible frame of each reply; `silent_frames` counts the frames
  below the audible floor in the same span (the talker's own pauses between words and
  sentences included, so compare it with the N = 1 row).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import yaml
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from omnivox.kernels.level import rms_dbfs
from omnivox.lab.bench.idle_cpu import ServerProcess, cpu_seconds, offer, serve
from omnivox.lab.bench.latency import percentile_stats, trim_silence
from omnivox.lab.training.turn_data import progress
from omnivox.media.frames import FRAME_SAMPLES, SAMPLE_RATE, av_mono_frame
from omnivox.media.webrtc import receive_buffer
from omnivox.media.webrtc.liveness import tolerate_late_consent_answers

QUESTION = "What are your opening hours?"
AUDIBLE_DBFS = -50.0
"""A received frame is audible above this RMS level (Opus-decoded silence reads -100)."""
PLAYOUT_BUFFER_S = 0.060
LEAD_S = 1.0
REPLY_TIMEOUT_S = 15.0
"""No audible reply this long after the question's end: no reply."""
REPLY_MAX_S = 45.0
"""A reply still playing this long after the question's end is cut off."""
CONNECT_TIMEOUT_S = 30.0
IDLE_S = 5.0
BASELINE_S = 3.0
RTP_WRAP = 2**32
ARRIVED = "received_s"
"""Added to each event the peer receives: when, on the peer's clock."""
SERVER_STAGES = [
    "voice_to_voice_ms",
    "endpoint_ms",
    "recognizer_final_ms",
    "thinker_first_token_ms",
    "talker_first_audio_ms",
]
FRAME_TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)

Clock = Callable[[], float]


# ---- the pure parts: analysis and the report --------------------------------------------


def first_audible(
    arrival_s: Sequence[float], dbfs: Sequence[float], after_s: float, floor: float = AUDIBLE_DBFS
) -> int | None:
    """Index of the first frame that arrived at or after `after_s` and is louder than
    `floor`, or None."""
    for i, (t, level) in enumerate(zip(arrival_s, dbfs, strict=True)):
        if t >= after_s and level > floor:
            return i
    return None


def late_frames(
    arrival_s: Sequence[float], rtp_s: Sequence[float], buffer_s: float = PLAYOUT_BUFFER_S
) -> list[bool]:
    """Per frame: would a player with a `buffer_s` playout buffer have lacked it in time
    (module docstring)? `rtp_s`: each frame's RTP time in seconds, unwrapped."""
    late: list[bool] = []
    offset: float | None = None  # playout moment - RTP time
    for arrived, rtp in zip(arrival_s, rtp_s, strict=True):
        if offset is None:
            offset = arrived + buffer_s - rtp
        is_late = arrived > rtp + offset
        if is_late:
            offset = arrived + buffer_s - rtp
        late.append(is_late)
    return late


@dataclass
class Received:
    """What came out of one peer's receiving track, a row per frame."""

    arrival_s: list[float] = field(default_factory=list)
    rtp_s: list[float] = field(default_factory=list)
    dbfs: list[float] = field(default_factory=list)


@dataclass
class ClientResult:
    connected: bool
    v2v_ms: float | None = None
    server_ms: dict[str, float] = field(default_factory=dict)
    """The server's turn_metrics stages (voice_to_voice_ms, endpoint_ms, ...)."""
    underruns: int = 0
    reply_frames: int = 0
    silent_frames: int = 0
    heard: str = ""  # the server's transcript of the question
    turn_end_ms: float | None = None
    """From the speech's end until the server's user_turn_end event reached the peer."""


def analyse(
    received: Received,
    speech_end_s: float | None,
    events: Sequence[dict[str, Any]],
    timeout_s: float = REPLY_TIMEOUT_S,
) -> ClientResult:
    """One connected peer's figures (module docstring) from what it sent and received."""
    metrics = [e for e in events if e.get("type") == "turn_metrics"]
    result = ClientResult(
        connected=True,
        server_ms={
            k: float(metrics[0][k])
            for k in SERVER_STAGES
            if metrics and isinstance(metrics[0].get(k), int | float)
        },
        heard=" / ".join(e["text"] for e in events if e.get("type") == "transcript_final"),
    )
    if speech_end_s is None:
        return result
    ends = [e[ARRIVED] for e in events if e.get("type") == "user_turn_end" and ARRIVED in e]
    if ends:
        result.turn_end_ms = round(1000 * (ends[0] - speech_end_s), 1)
    onset = first_audible(received.arrival_s, received.dbfs, speech_end_s)
    if onset is None or received.arrival_s[onset] - speech_end_s > timeout_s:
        return result
    result.v2v_ms = round(1000 * (received.arrival_s[onset] - speech_end_s), 1)
    loud = np.flatnonzero(np.asarray(received.dbfs[onset:]) > AUDIBLE_DBFS)
    end = onset + int(loud[-1]) + 1
    late = late_frames(received.arrival_s, received.rtp_s)
    result.underruns = sum(late[onset:end])
    result.reply_frames = end - onset
    result.silent_frames = int(sum(level <= AUDIBLE_DBFS for level in received.dbfs[onset:end]))
    return result


@dataclass(frozen=True)
class CpuWindow:
    """CPU seconds used by the server and by this process (the peers) over `wall_s`."""

    server_s: float
    client_s: float
    wall_s: float

    def server_pct(self) -> float:
        return 100 * self.server_s / self.wall_s if self.wall_s > 0 else 0.0

    def per_session_pct(self, baseline_pct: float, sessions: int) -> float | None:
        """The server's CPU above its no-session baseline, per session."""
        if sessions == 0 or self.wall_s <= 0:
            return None
        return round((self.server_pct() - baseline_pct) / sessions, 2)


def round_report(
    clients: int,
    results: Sequence[ClientResult],
    idle: CpuWindow | None,
    talking: CpuWindow | None,
    baseline_pct: float,
) -> dict[str, Any]:
    """One N's row of the report."""
    connected = [r for r in results if r.connected]
    v2v = [r.v2v_ms for r in connected if r.v2v_ms is not None]
    stages = [k for k in SERVER_STAGES if any(k in r.server_ms for r in connected)]

    def cpu(window: CpuWindow | None) -> dict[str, float | None]:
        if window is None:
            return {"server_pct": None, "per_session_pct": None, "peers_pct": None, "wall_s": None}
        return {
            "server_pct": round(window.server_pct(), 1),
            "per_session_pct": window.per_session_pct(baseline_pct, len(connected)),
            "peers_pct": round(100 * window.client_s / window.wall_s, 1) if window.wall_s else None,
            "wall_s": round(window.wall_s, 1),
        }

    return {
        "clients": clients,
        "connected": len(connected),
        "replies": len(v2v),
        "v2v_ms": percentile_stats(v2v),
        "turn_end_seen_ms": percentile_stats(
            [r.turn_end_ms for r in connected if r.turn_end_ms is not None]
        ),
        "server_ms": {
            k: percentile_stats([r.server_ms[k] for r in connected if k in r.server_ms])
            for k in stages
        },
        "cpu_idle": cpu(idle),
        "cpu_talking": cpu(talking),
        "underruns": sum(r.underruns for r in connected),
        "reply_frames": sum(r.reply_frames for r in connected),
        "silent_frames": sum(r.silent_frames for r in connected),
        "heard": sorted({r.heard for r in connected}),
    }


def format_table(report: dict[str, Any]) -> str:
    lines = [
        f"question: {report['question']}  ({report['cpus']} CPUs; server alone "
        f"{report['server_baseline_cpu_pct']}% of a core)",
        f"{'N':>3} {'replies':>8} {'v2v p50':>8} {'p95':>7} {'turn end':>8} {'server':>7} "
        f"{'CPU/active':>10} {'CPU/idle':>9} {'server%':>8} {'peers%':>7} "
        f"{'underruns':>9} {'silent':>7}",
    ]
    for r in report["rounds"]:
        v2v, talk, idle = r["v2v_ms"], r["cpu_talking"], r["cpu_idle"]
        server = r["server_ms"].get("voice_to_voice_ms", {})
        lines.append(
            f"{r['clients']:>3} {r['replies']:>4}/{r['clients']:<3} {v2v['p50']!s:>8} "
            f"{v2v['p95']!s:>7} {r['turn_end_seen_ms']['p50']!s:>8} {server.get('p50')!s:>7} "
            f"{talk['per_session_pct']!s:>9}% {idle['per_session_pct']!s:>8}% "
            f"{talk['server_pct']!s:>8} {talk['peers_pct']!s:>7} "
            f"{r['underruns']:>4}/{r['reply_frames']:<4} {r['silent_frames']:>7}"
        )
    for r in report["rounds"]:
        stages = ", ".join(f"{k[:-3]} {v['p50']}" for k, v in r["server_ms"].items())
        lines.append(f"  N={r['clients']} server turn_metrics p50 (ms): {stages or '-'}")
    lines.append(
        "v2v, turn end (the server's user_turn_end event seen by the peer) and server (its "
        "own turn_metrics v2v) p50 in ms; CPU in % of one core per session above "
        "the idle server; server% and peers% while talking; underruns / reply frames."
    )
    return "\n".join(lines)


# ---- the peers --------------------------------------------------------------------------


class MicTrack(MediaStreamTrack):
    """A microphone paced at real time: 20 ms frames of silence, then what `say` queued.
    Like a sound card, a frame is delivered when its last sample has been 'recorded'."""

    kind = "audio"

    def __init__(self, clock: Clock = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._start: float | None = None
        self._queued = np.zeros(0, np.int16)
        self.sent_samples = 0
        self._speech_end: int | None = None  # in samples sent
        self.speech_end_s: float | None = None
        """On `clock`: when the speech queued by `say` ended."""
        self.spoken = asyncio.Event()

    def say(self, pcm: np.ndarray, lead_s: float = LEAD_S) -> None:
        self._queued = np.concatenate([np.zeros(int(lead_s * SAMPLE_RATE), np.int16), pcm])
        self._speech_end = self.sent_samples + len(self._queued)
        self.speech_end_s = None
        self.spoken.clear()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = self._clock()
        due = self._start + (self.sent_samples + FRAME_SAMPLES) / SAMPLE_RATE
        wait = due - self._clock()
        if wait > 0:
            await asyncio.sleep(wait)
        pcm = np.zeros(FRAME_SAMPLES, np.int16)
        chunk, self._queued = self._queued[:FRAME_SAMPLES], self._queued[FRAME_SAMPLES:]
        pcm[: len(chunk)] = chunk
        frame = av_mono_frame(pcm)
        frame.pts = self.sent_samples
        frame.time_base = FRAME_TIME_BASE
        self.sent_samples += FRAME_SAMPLES
        ended = self._speech_end
        if ended is not None and self.speech_end_s is None and self.sent_samples >= ended:
            self.speech_end_s = self._clock() - (self.sent_samples - ended) / SAMPLE_RATE
            self.spoken.set()
        return frame


class Caller:
    """One aiortc peer: the microphone, the agent's audio as received, the events."""

    def __init__(
        self, clock: Clock = time.monotonic, configuration: RTCConfiguration | None = None
    ) -> None:
        self.clock = clock
        tolerate_late_consent_answers()  # as a browser does (RFC 7675)
        self.pc = RTCPeerConnection(configuration)
        self.mic = MicTrack(clock)
        self.pc.addTrack(self.mic)
        channel = self.pc.createDataChannel("events")
        channel.on("message", self._on_message)
        self.pc.on("track", self._on_track)
        self.events: list[dict[str, Any]] = []
        self.received = Received()
        self.session_id: str | None = None
        self.connected = False
        self._reader: asyncio.Task[None] | None = None
        self._started, self._first_frame = asyncio.Event(), asyncio.Event()
        self._audible, self._reply_over = asyncio.Event(), asyncio.Event()

    def _on_message(self, message: str | bytes) -> None:
        with contextlib.suppress(ValueError, TypeError):
            event = json.loads(message)
            if isinstance(event, dict):
                event[ARRIVED] = self.clock()
                self.events.append(event)
                kind = event.get("type")
                if kind == "session_started":
                    self._started.set()
                elif kind in ("reply_done", "reply_cancelled"):
                    self._reply_over.set()

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self._reader is None:
            # The server's receive buffer, not aiortc's (80 ms held back, 320 ms stalls
            # on a loss): a browser's jitter buffer does not hold audio that long either.
            receive_buffer.install(self.pc, track)
            self._reader = asyncio.ensure_future(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        first: int | None = None
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                arrived = self.clock()
                if not isinstance(frame, av.AudioFrame) or frame.pts is None:
                    continue
                first = frame.pts if first is None else first
                rtp = ((frame.pts - first) % RTP_WRAP) / frame.sample_rate
                self.received.arrival_s.append(arrived)
                self.received.rtp_s.append(rtp)
                level = rms_dbfs(frame.to_ndarray().reshape(-1))
                self.received.dbfs.append(level)
                self._first_frame.set()
                end = self.mic.speech_end_s
                if end is not None and arrived >= end and level > AUDIBLE_DBFS:
                    self._audible.set()

    async def connect(self, url: str) -> None:
        """Offer, answer, and wait for the session's first event and audio frame."""
        answer = await offer(url, self.pc)
        self.session_id = answer.get("session_id")
        await self._started.wait()
        await self._first_frame.wait()
        self.connected = True

    def expect_reply(self) -> None:
        """Before the next question: what marked the last reply as heard is reset."""
        self._audible.clear()
        self._reply_over.clear()

    async def heard_audible(self) -> None:
        """Until an audible agent frame arrives after the question's end."""
        await self._audible.wait()

    async def hear_reply(self) -> None:
        """Until the reply to the question has been heard out, or nothing audible came
        REPLY_TIMEOUT_S after the question, or REPLY_MAX_S passed."""
        await self.mic.spoken.wait()
        end = self.mic.speech_end_s or self.clock()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._audible.wait(), end + REPLY_TIMEOUT_S - self.clock())
            await asyncio.wait_for(self._reply_over.wait(), end + REPLY_MAX_S - self.clock())

    def result(self) -> ClientResult:
        if not self.connected:
            return ClientResult(connected=False)
        return analyse(self.received, self.mic.speech_end_s, self.events)

    async def close(self, url: str) -> None:
        if self.session_id is not None:
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with (
                    aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
                    http.delete(f"{url}/v1/sessions/{self.session_id}"),
                ):
                    pass
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


# ---- a round: N peers -------------------------------------------------------------------


async def cpu_window(pid: int, during: Callable[[], Any]) -> CpuWindow:
    """The CPU the server `pid` and this process use while `during()` is awaited."""
    me = os.getpid()
    s0, c0, t0 = cpu_seconds(pid), cpu_seconds(me), time.monotonic()
    await during()
    return CpuWindow(cpu_seconds(pid) - s0, cpu_seconds(me) - c0, time.monotonic() - t0)


async def _sessions(url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(url + "/v1/health") as resp:
        return int((await resp.json()).get("sessions", 0))


async def run_round(
    server: ServerProcess, n: int, question: np.ndarray, baseline_pct: float, idle_s: float
) -> dict[str, Any]:
    callers = [Caller() for _ in range(n)]
    idle = talking = None
    try:
        await asyncio.gather(
            *(asyncio.wait_for(c.connect(server.url), CONNECT_TIMEOUT_S) for c in callers),
            return_exceptions=True,
        )
        live = [c for c in callers if c.connected]
        if live:
            await asyncio.sleep(1.0)  # connection set-up out of the way
            idle = await cpu_window(server.pid, lambda: asyncio.sleep(idle_s))

            async def talk() -> None:
                for c in live:
                    c.mic.say(question)
                bound = LEAD_S + len(question) / SAMPLE_RATE + REPLY_MAX_S + 10
                hearing = [asyncio.ensure_future(c.hear_reply()) for c in live]
                try:
                    await asyncio.wait(hearing, timeout=bound)  # bound: a peer's track stalled
                finally:
                    for task in hearing:
                        task.cancel()
                await asyncio.sleep(0.3)  # the last frames of the replies in flight

            talking = await cpu_window(server.pid, talk)
    finally:
        await asyncio.gather(*(c.close(server.url) for c in callers), return_exceptions=True)
    for _ in range(100):  # the next round starts on an empty server
        if await _sessions(server.url) == 0:
            break
        await asyncio.sleep(0.1)
    return round_report(n, [c.result() for c in callers], idle, talking, baseline_pct)


async def run_load(
    server: ServerProcess, clients: list[int], question: np.ndarray, idle_s: float = IDLE_S
) -> tuple[float, list[dict[str, Any]]]:
    """The server's CPU % with no session, and a report row per N in `clients`."""
    s0, t0 = cpu_seconds(server.pid), time.monotonic()
    await asyncio.sleep(BASELINE_S)
    baseline = 100 * (cpu_seconds(server.pid) - s0) / (time.monotonic() - t0)
    rounds = []
    for n in progress(clients, len(clients), "bench load"):
        rounds.append(await run_round(server, n, question, baseline, idle_s))
    return baseline, rounds


def load_question(path: str | None) -> tuple[np.ndarray, str]:
    """The spoken question, 16 kHz int16 trimmed to its speech, and where it came from."""
    if path is not None:
        from omnivox.media.audio_files import read_audio

        return trim_silence(read_audio(path)), path
    from omnivox.lab.user_track import speech

    return trim_silence(speech(QUESTION)), f"eSpeak NG en-us+m3: {QUESTION!r}"


def parse_clients(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("--clients wants positive numbers, e.g. 1,4,8")
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="omnivox bench load",
        description=(__doc__ or "").splitlines()[0],
        epilog="See lab/bench/load.py for what each figure includes.",
    )
    ap.add_argument("--clients", type=parse_clients, default=[1, 4, 8], help="e.g. 1,4,8")
    ap.add_argument("--question-wav", help="the spoken question (default: eSpeak NG)")
    ap.add_argument("--idle-seconds", type=float, default=IDLE_S, help="idle CPU window")
    ap.add_argument(
        "--config", type=Path, help="agent YAML for the server (its greeting is turned off)"
    )
    ap.add_argument("--json", action="store_true", help="the JSON report")
    args = ap.parse_args(argv)
    settings = yaml.safe_load(args.config.read_text()) if args.config else {}
    server_yaml = yaml.safe_dump({**(settings or {}), "greeting": ""})
    logging.getLogger("aioice").setLevel(logging.WARNING)  # per-candidate lines: the bar's
    question, source = load_question(args.question_wav)
    with serve(server_yaml) as server:
        baseline, rounds = asyncio.run(run_load(server, args.clients, question, args.idle_seconds))
    report = {
        "question": source,
        "question_s": round(len(question) / SAMPLE_RATE, 2),
        "cpus": os.cpu_count(),
        "server_baseline_cpu_pct": round(baseline, 2),
        "rounds": rounds,
    }
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
