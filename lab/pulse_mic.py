"""A private PulseAudio daemon whose default source plays a WAV: a browser's microphone.

Firefox has no "file as fake microphone" switch (its fake device only beeps), so real
speech reaches it the way it reaches a person's browser: through the sound server. The
daemon here is private (its own runtime folder and socket, no system or user daemon
touched) and two null sinks: `mic`, whose monitor is the default source, and `speaker`,
the default sink, where the browser plays the agent (headless Firefox does play into
PulseAudio). The WAV starts when a recording stream first opens on that source, i.e. when
the page asks for the mic, as Chromium's `--use-file-for-fake-audio-capture` does. With
`echo_delay_ms` the speaker is also looped into the microphone that late, at full level: a
room's echo path. Needs Debian's `pulseaudio` and `pulseaudio-utils` (./dev test installs
them).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

PULSEAUDIO = "pulseaudio"
START_TIMEOUT_S = 10.0


def missing_prerequisites() -> list[str]:
    return [
        f"{tool} (apt-get install {pkg})"
        for tool, pkg in ((PULSEAUDIO, "pulseaudio"), ("pactl", "pulseaudio-utils"))
        if shutil.which(tool) is None
    ]


async def _run(env: dict[str, str], *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {err.decode(errors='replace').strip()}")
    return out.decode()


class PulseMicrophone:
    """A running private daemon; `env` points a client (the browser) at it."""

    def __init__(self, runtime: Path, echo_delay_ms: int | None = None) -> None:
        socket = runtime / "native"
        self.env = {
            **os.environ,
            "PULSE_SERVER": f"unix:{socket}",
            "PULSE_RUNTIME_PATH": str(runtime),
        }
        self._runtime = runtime
        self._echo_delay_ms = echo_delay_ms
        self._daemon: asyncio.subprocess.Process | None = None
        self._player: asyncio.Task[None] | None = None

    async def start(self) -> None:
        socket = self._runtime / "native"
        self._daemon = await asyncio.create_subprocess_exec(
            PULSEAUDIO,
            "-n",  # no default.pa: exactly the modules below
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--use-pid-file=no",
            "--disable-shm=yes",
            "-L",
            "module-null-sink sink_name=mic rate=48000 channels=1",
            "-L",
            "module-null-sink sink_name=speaker rate=48000 channels=1",
            *(
                ["-L", f"module-loopback source=speaker.monitor sink=mic latency_msec={ms}"]
                if (ms := self._echo_delay_ms) is not None
                else []
            ),
            "-L",
            f"module-native-protocol-unix socket={socket} auth-anonymous=1",
            env={**self.env, "HOME": str(self._runtime)},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while True:
            try:
                await _run(self.env, "pactl", "set-default-source", "mic.monitor")
                await _run(self.env, "pactl", "set-default-sink", "speaker")
                return
            except RuntimeError:
                if self._daemon.returncode is not None or loop.time() > deadline:
                    raise RuntimeError("the private PulseAudio daemon did not start") from None
                await asyncio.sleep(0.1)

    async def play_when_recorded(self, wav: Path, loop: bool = False) -> None:
        """Play `wav` into the source once something records from it (again and again
        if `loop`)."""
        watch = await asyncio.create_subprocess_exec(
            "pactl", "subscribe", env=self.env, stdout=asyncio.subprocess.PIPE
        )
        self._player = asyncio.create_task(self._play(watch, wav, loop), name="pulse-mic")

    async def _play(self, watch: asyncio.subprocess.Process, wav: Path, loop: bool) -> None:
        assert watch.stdout is not None
        try:
            while line := await watch.stdout.readline():
                if b"'new' on source-output" in line:
                    break
        finally:
            watch.kill()
            await watch.wait()
        while True:
            await _run(self.env, "paplay", "--device=mic", str(wav))
            if not loop:
                return

    async def stop(self) -> None:
        if self._player is not None:
            self._player.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await self._player
        if self._daemon is not None and self._daemon.returncode is None:
            self._daemon.terminate()
            await self._daemon.wait()


@contextlib.asynccontextmanager
async def pulse_microphone(echo_delay_ms: int | None = None) -> AsyncIterator[PulseMicrophone]:
    if missing := missing_prerequisites():
        raise FileNotFoundError(f"a PulseAudio microphone needs {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="omnivox-pulse-") as tmp:
        mic = PulseMicrophone(Path(tmp), echo_delay_ms)
        try:
            await mic.start()
            yield mic
        finally:
            await mic.stop()
