"""`omnivox simulate`: a whole session on a recorded user track, on a virtual clock.

The driver feeds 20 ms frames and pulls one agent frame per input frame, as a full-duplex
transport would. While no model work is in flight it runs as fast as the CPU allows;
while work is in flight it paces the virtual clock to real time, so model latency lands
on the media clock exactly as it would live. Decisions are the live session's own.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from omnivox.agent.config import AgentConfig
from omnivox.agent.events import Event
from omnivox.agent.session import Session
from omnivox.agent.stack import ModelStack
from omnivox.kernels._pcm import saturate_int16
from omnivox.kernels.mixing import mix
from omnivox.media.audio_files import write_wav
from omnivox.media.clock import VirtualClock
from omnivox.media.frames import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, AudioFrame, split_frames
from omnivox.models.blocking import BLOCKING_EXECUTOR


@dataclass(frozen=True)
class EchoPath:
    """The far end's loudspeaker heard by its own microphone: the agent's audio comes
    back `delay_ms` later, `gain_db` quieter, through a room that reverberates for
    `rt60_s` (an exponentially decaying noise tail; fixed, so runs repeat)."""

    gain_db: float = -10.0
    delay_ms: float = 120.0
    rt60_s: float = 0.25

    def impulse_response(self) -> np.ndarray:
        n = max(1, round(self.rt60_s * SAMPLE_RATE))
        decay = np.exp(-6.9 * np.arange(n) / n)  # -60 dB over rt60
        ir = np.random.default_rng(0).standard_normal(n) * decay
        ir[0] = 4.0  # the direct sound
        delay = np.zeros(round(self.delay_ms * SAMPLE_RATE / 1000))
        ir = np.concatenate([delay, ir / np.sqrt(np.sum(ir**2))])
        return ir * 10.0 ** (self.gain_db / 20.0)


class _Echo:
    """Streams the agent's frames through an `EchoPath` (overlap-add)."""

    def __init__(self, path: EchoPath) -> None:
        self._ir = path.impulse_response()
        self._tail = np.zeros(len(self._ir) + FRAME_SAMPLES)

    def next(self, agent_pcm: np.ndarray) -> np.ndarray:
        """The echo heard during the next frame, with `agent_pcm` just played."""
        if len(agent_pcm):
            echo = np.convolve(agent_pcm.astype(np.float64), self._ir)
            self._tail[: len(echo)] += echo
        out, self._tail = (
            self._tail[:FRAME_SAMPLES],
            np.concatenate([self._tail[FRAME_SAMPLES:], np.zeros(FRAME_SAMPLES)]),
        )
        return saturate_int16(out)


@dataclass
class SimulationResult:
    events: list[dict[str, Any]] = field(default_factory=list)
    user: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    agent: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    media_s: float = 0.0
    wall_s: float = 0.0

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]

    def stereo(self) -> np.ndarray:
        return np.stack([self.user, self.agent], axis=1)

    def write(self, wav_path: Path | None, events_path: Path | None) -> None:
        if wav_path is not None:
            write_wav(wav_path, self.stereo())
        if events_path is not None:
            with events_path.open("w", encoding="utf-8") as f:
                for e in self.events:
                    f.write(json.dumps(e, ensure_ascii=False) + "\n")


async def simulate(
    user_pcm: np.ndarray,
    stack: ModelStack,
    config: AgentConfig | None = None,
    *,
    greet: bool = False,
    settle_ms: float = 1500.0,
    max_tail_ms: float = 30_000.0,
    camera: np.ndarray | Callable[[float], np.ndarray | None] | None = None,
    playout_delay_ms: float = 0.0,
    echo: EchoPath | None = None,
    echo_path: tuple[float, float] | None = None,
    cut_in: tuple[float, np.ndarray] | None = None,
) -> SimulationResult:
    """Run a session over `user_pcm` (16 kHz int16), then keep listening to silence until
    the agent has finished (or `max_tail_ms`). `camera` is what the camera shows, sampled
    at `camera.max_fps` of the media clock: an RGB image throughout, or a function of the
    media time in ms giving the image then (None: the camera sends nothing).
    `playout_delay_ms` models a far end whose receive path (network, jitter buffer)
    plays agent audio that much after it is sent, and reports it as a browser does.
    `echo` mixes the agent's audio back into the user's, as a far end that does not
    cancel its own echo sends it (what the session hears, and `user` in the result).
    `echo_path` (delay ms, gain dB) is what a kiosk measures of it at start.
    `cut_in` (ms, pcm): the user says `pcm` that long after the agent's first audio, in
    place of the track's own audio then (an interruption that lands mid-answer however
    long the answer took to begin)."""
    config = config or stack.config
    clock = VirtualClock()
    result = SimulationResult()

    def sink(event: Event) -> None:
        result.events.append(event.to_dict())

    session = Session("sim", config, stack, clock, sink)
    user_frames = split_frames(user_pcm)
    n_user = len(user_frames)
    user_out: list[np.ndarray] = []
    agent_out: list[np.ndarray] = []
    wall_start = time.perf_counter()
    anchor_wall, anchor_media = wall_start, 0.0
    idle_since: float | None = None
    echo_room = _Echo(echo) if echo is not None else None
    video_gap_ms = 1000.0 / config.camera.max_fps
    next_video_ms = 0.0
    await session.start(greet=greet)
    if playout_delay_ms:
        session.report_playout_delay(playout_delay_ms)
    if echo_path is not None:
        session.report_echo_path(*echo_path)
    i = 0
    try:
        while True:
            if cut_in is not None and _cut_in_due(result.events, i * FRAME_MS, cut_in[0]):
                said = split_frames(cut_in[1], start=i * FRAME_SAMPLES)
                user_frames += [
                    AudioFrame.silence(timestamp=k * FRAME_SAMPLES)
                    for k in range(len(user_frames), i)
                ]
                user_frames = user_frames[:i] + said + user_frames[i + len(said) :]
                n_user, cut_in = max(n_user, i + len(said)), None
            if i < n_user:
                frame = user_frames[i]
            else:
                frame = AudioFrame.silence(timestamp=i * FRAME_SAMPLES)
            if echo_room is not None:
                played = agent_out[-1] if agent_out else frame.pcm[:0]
                frame = AudioFrame(
                    mix(frame.pcm, echo_room.next(played)), timestamp=frame.timestamp
                )
            media_ms = (i + 1) * FRAME_MS
            clock.set(media_ms)
            if camera is not None and media_ms >= next_video_ms:
                image = camera(media_ms) if callable(camera) else camera
                if image is not None:
                    session.push_video(image)
                next_video_ms += video_gap_ms
            session.push_audio(frame)
            user_out.append(frame.pcm)
            agent_out.append(session.pull_audio().copy())
            await asyncio.sleep(0)
            if session.busy or BLOCKING_EXECUTOR.busy:
                # Keep media time from running ahead of the real time the work takes.
                ahead = (media_ms - anchor_media) / 1000.0 - (time.perf_counter() - anchor_wall)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            else:
                anchor_wall, anchor_media = time.perf_counter(), media_ms
            i += 1
            if i >= n_user:
                idle = session.idle
                idle_since = (idle_since if idle_since is not None else media_ms) if idle else None
                if idle_since is not None and media_ms - idle_since >= settle_ms:
                    break
                if media_ms - n_user * FRAME_MS >= max_tail_ms:
                    break
    finally:
        await session.close("end_of_input")
    result.user = np.concatenate(user_out) if user_out else result.user
    result.agent = np.concatenate(agent_out) if agent_out else result.agent
    result.media_s = len(user_out) * FRAME_MS / 1000.0
    result.wall_s = time.perf_counter() - wall_start
    return result


def _cut_in_due(events: list[dict[str, Any]], media_ms: float, after_ms: float) -> bool:
    started = next((e for e in events if e["type"] == "reply_audio_start"), None)
    return started is not None and media_ms >= started["t_ms"] + after_ms
