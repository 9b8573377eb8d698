"""The kiosk's transport: one full-duplex PortAudio stream carrying one conversation.

PortAudio calls the output callback on its own thread once per 20 ms block, which takes
the speaker's block out of the `OutputFifo`, and the input callback, which hands the
microphone's block to the event loop with `call_soon_threadsafe`; nothing else (no
lock, no model, no wait). On the loop
each block is cut into 16 kHz frames; each frame is pushed into the conversation,
stamped with the count of samples heard (the device's clock is the media clock), and
the agent's next frame is pulled and queued for the speaker. Before the conversation
starts, a chirp measures the echo path (echo_path.py).

A device that stops delivering blocks (unplugged, the sound server gone) is reopened a
few times, by the same name or index; then `run` raises `DeviceError` with a message for
the user, and the conversation is closed either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from omnivox.kernels.level import SILENCE_DBFS, frame_dbfs, rms_dbfs
from omnivox.media.clock import MediaClock
from omnivox.media.frames import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, AudioFrame
from omnivox.media.local_audio.devices import (
    Device,
    DeviceError,
    Problem,
    choose,
    classify,
    import_sounddevice,
    pick_rate,
    query_devices,
)
from omnivox.media.local_audio.echo_path import (
    MEASURE_MS,
    EchoPathEstimate,
    chirp,
    estimate_echo_path,
)
from omnivox.media.local_audio.framing import InputFramer, OutputFifo
from omnivox.media.transport import Conversation, ConversationFactory

log = logging.getLogger(__name__)

DELAY_REPORT_FRAMES = 50
"""Report the playout delay once a second (or when it moves by `DELAY_REPORT_STEP_MS`)."""
DELAY_REPORT_STEP_MS = 10.0
RECOVERED_FRAMES = 500
"""A reopened device that then ran this long (10 s) gets its full retries again."""


@dataclass(frozen=True, slots=True)
class SoundCardSettings:
    input: str | None = None
    """A device index or part of its name; None: the default input."""
    output: str | None = None
    rate: int | None = None
    """The device rate; None: what both devices support (their default first)."""
    measure_echo: bool = True
    """Play a chirp at start to measure the echo path."""
    retries: int = 3
    """Times a lost device is reopened before giving up."""
    retry_wait_s: float = 1.0
    stall_s: float = 1.5
    """No block from the device for this long: it is gone."""


@dataclass
class Levels:
    """The latest levels and counts, for a live view (read on the loop)."""

    mic_dbfs: float = SILENCE_DBFS
    speaker_dbfs: float = SILENCE_DBFS
    frames: int = 0
    underruns: int = 0
    reconnects: int = 0
    output_delay_ms: float = 0.0
    echo_path: EchoPathEstimate | None = None
    devices: tuple[str, str] = ("", "")
    rate: int = 0
    glitches: int = 0
    """Blocks PortAudio flagged (input overflow, output underflow)."""


class _Measurement:
    """The chirp going out frame by frame and the microphone coming back."""

    def __init__(self) -> None:
        signal = chirp()
        n = MEASURE_MS * SAMPLE_RATE // 1000 // FRAME_SAMPLES * FRAME_SAMPLES
        self.played = np.concatenate([signal, np.zeros(n - len(signal), np.int16)])
        self.recorded: list[np.ndarray] = []
        self.done: asyncio.Future[EchoPathEstimate | None] = (
            asyncio.get_running_loop().create_future()
        )

    def frame(self, mic: np.ndarray) -> np.ndarray:
        """Record one microphone frame; the chirp's frame to play in exchange."""
        i = len(self.recorded) * FRAME_SAMPLES
        self.recorded.append(mic)
        if i + FRAME_SAMPLES >= len(self.played) and not self.done.done():
            self.done.set_result(estimate_echo_path(self.played, np.concatenate(self.recorded)))
        if i < len(self.played):
            return self.played[i : i + FRAME_SAMPLES]
        return np.zeros(FRAME_SAMPLES, np.int16)


class _Stalled(RuntimeError):
    """No audio from the device for `stall_s`."""


class SoundCard:
    def __init__(
        self,
        settings: SoundCardSettings,
        open_conversation: ConversationFactory,
        send: Callable[[str], None],
        on_echo_path: Callable[[EchoPathEstimate | None], None] | None = None,
        session_id: str = "kiosk",
    ) -> None:
        self.settings = settings
        self.clock = MediaClock()
        self._open = open_conversation
        self._send = send
        self._on_echo_path = on_echo_path
        self.session_id = session_id
        self.levels = Levels()
        self.conversation: Conversation | None = None
        self._samples = 0
        self._framer: InputFramer | None = None
        self._fifo: OutputFifo | None = None
        self._measurement: _Measurement | None = None
        self._talking = False
        self._last_block = time.monotonic()
        self._reported_delay_ms: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Written by the output thread, read by the input thread (single floats and ints:
        # a stale value is harmless).
        self._output_delay_s = 0.0
        self._output_glitch = False

    async def run(self, stop: asyncio.Event) -> None:
        """Carry the conversation until `stop` is set; DeviceError when the devices
        cannot be used (the message is for the user)."""
        sd = import_sounddevice()
        self._loop = asyncio.get_running_loop()
        inp, out, rate = self._open_devices()
        self.conversation = self._open(self.session_id, self.clock, self._send)
        reason = "kiosk_stopped"
        try:
            attempt, frames_then = 0, 0
            while True:
                try:
                    await self._stream(sd, inp, out, rate, stop)
                    return
                except (_Stalled, sd.PortAudioError) as err:
                    if self.levels.frames - frames_then > RECOVERED_FRAMES:
                        attempt = 0  # it had come back for good: a new loss, new tries
                    frames_then = self.levels.frames
                    problem = classify(err)
                    if problem in (Problem.RATE, Problem.BUSY) or attempt >= self.settings.retries:
                        reason = "device_lost"
                        raise _user_error(err, problem, inp, out) from None
                    attempt += 1
                    self.levels.reconnects += 1
                    log.warning("sound device lost (%s); reopening (%d)", err, attempt)
                    await asyncio.sleep(self.settings.retry_wait_s)
                    with contextlib.suppress(DeviceError):
                        inp, out, rate = self._open_devices()
        finally:
            await self.conversation.close(reason)

    def _open_devices(self) -> tuple[Device, Device, int]:
        inp, out, rate = resolve_devices(self.settings)
        self.levels.devices, self.levels.rate = (inp.name, out.name), rate
        return inp, out, rate

    async def _stream(
        self, sd: Any, inp: Device, out: Device, rate: int, stop: asyncio.Event
    ) -> None:
        self._framer = InputFramer(rate)
        self._fifo = OutputFifo(rate)
        self._last_block = time.monotonic()
        common = {"samplerate": rate, "blocksize": rate * FRAME_MS // 1000, "dtype": "int16"}
        # Two streams rather than PortAudio's duplex one: through ALSA's pulse plugin a
        # duplex stream stalls under load (it waits for both directions in one poll).
        with (
            sd.OutputStream(device=out.index, channels=1, callback=self._play, **common),
            sd.InputStream(device=inp.index, channels=1, callback=self._record, **common),
        ):
            if not self._talking:
                await self._start_conversation(stop)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.25)
                if time.monotonic() - self._last_block > self.settings.stall_s:
                    raise _Stalled("the sound device stopped delivering audio")

    async def _start_conversation(self, stop: asyncio.Event) -> None:
        assert self.conversation is not None
        if self.settings.measure_echo:
            self._measurement = _Measurement()
            stopped = asyncio.ensure_future(stop.wait())
            waiters: set[asyncio.Future[Any]] = {self._measurement.done, stopped}
            await asyncio.wait(
                waiters, timeout=MEASURE_MS / 1000 + 3.0, return_when=asyncio.FIRST_COMPLETED
            )
            stopped.cancel()
            done = self._measurement.done
            self._measurement = None
            estimate = done.result() if done.done() else None
            self.levels.echo_path = estimate
            if self._on_echo_path is not None:
                self._on_echo_path(estimate)
        await self.conversation.start()
        self._talking = True

    def _play(self, outdata: np.ndarray, frames: int, t: Any, status: Any) -> None:
        """PortAudio's output thread: the next block, and how late it will sound."""
        fifo = self._fifo
        outdata[:, 0] = fifo.take(frames) if fifo is not None else 0
        self._output_delay_s = max(0.0, float(t.outputBufferDacTime - t.currentTime))
        self._output_glitch = bool(status)

    def _record(self, indata: np.ndarray, frames: int, t: Any, status: Any) -> None:
        """PortAudio's input thread: hand the block to the loop, nothing more."""
        with contextlib.suppress(RuntimeError):  # the loop is closing
            assert self._loop is not None
            self._loop.call_soon_threadsafe(
                self._on_block,
                indata[:, 0].copy(),
                self._output_delay_s,
                bool(status) or self._output_glitch,
            )

    def _on_block(self, block: np.ndarray, delay_s: float, glitch: bool) -> None:
        self._last_block = time.monotonic()
        if self._framer is None or self._fifo is None:
            return
        self.levels.glitches += glitch
        for mic in self._framer.push(block):
            if self._measurement is not None:
                self._fifo.put(self._measurement.frame(mic))
            elif self._talking and self.conversation is not None:
                self._carry(mic, delay_s)
            else:
                self._fifo.put(np.zeros(FRAME_SAMPLES, np.int16))

    def _carry(self, mic: np.ndarray, delay_s: float) -> None:
        assert self.conversation is not None and self._fifo is not None
        frame = AudioFrame(mic, SAMPLE_RATE, self._samples)
        self._samples += len(mic)
        self.clock.on_audio(frame.t_ms + frame.duration_ms)
        self.conversation.push_audio(frame)
        agent = self.conversation.pull_audio()
        self._fifo.put(agent)
        levels = self.levels
        levels.frames += 1
        levels.mic_dbfs = rms_dbfs(mic)
        levels.speaker_dbfs = frame_dbfs(agent)
        levels.underruns = self._fifo.underruns
        # Queued chunks wait their turn before PortAudio's own output latency.
        delay_ms = 1000.0 * delay_s + FRAME_MS * self._fifo.queued_chunks
        levels.output_delay_ms = delay_ms
        last = self._reported_delay_ms
        if (
            last is None
            or abs(delay_ms - last) >= DELAY_REPORT_STEP_MS
            or levels.frames % DELAY_REPORT_FRAMES == 0
        ):
            self._reported_delay_ms = delay_ms
            self.conversation.report_playout_delay(delay_ms)


def resolve_devices(settings: SoundCardSettings) -> tuple[Device, Device, int]:
    """The input and output `settings` name and the rate to run them at, or DeviceError."""
    sd = import_sounddevice()
    # PortAudio lists the devices there were when it started: rescan (no stream is open
    # here), so a device plugged in since, or a sound server started since, is found.
    sd._terminate()
    sd._initialize()
    devices, default_in, default_out = query_devices()
    inp = choose(devices, settings.input, "input", default_in)
    out = choose(devices, settings.output, "output", default_out)

    def supports(rate: int) -> bool:
        try:
            sd.check_input_settings(inp.index, channels=1, dtype="int16", samplerate=rate)
            sd.check_output_settings(out.index, channels=1, dtype="int16", samplerate=rate)
        except Exception:
            return False
        return True

    return inp, out, pick_rate(inp, out, supports, settings.rate)


def _user_error(err: BaseException, problem: Problem, inp: Device, out: Device) -> DeviceError:
    names = f"input {inp.name!r}, output {out.name!r}"
    if problem is Problem.RATE:
        return DeviceError(f"the sound devices ({names}) refused the sample rate: {err}")
    if problem is Problem.BUSY:
        return DeviceError(f"the sound devices ({names}) are busy (another program uses them?)")
    return DeviceError(f"the sound devices ({names}) stopped working and did not come back: {err}")
