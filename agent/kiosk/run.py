"""`omnivox kiosk`: assemble the session, the sound card, the camera and the live view,
and run them until Ctrl-C (or until the sound devices are gone for good)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.logging import RichHandler

from omnivox.agent.api.app import session_factory
from omnivox.agent.config import AgentConfig, parse_config
from omnivox.agent.kiosk.camera_capture import CameraCapture, CameraError, open_camera
from omnivox.agent.kiosk.view import KioskView
from omnivox.agent.session import Session
from omnivox.agent.stack import ModelStack, build_stack
from omnivox.media.local_audio.echo_path import EchoPathEstimate
from omnivox.media.local_audio.sound_card import SoundCard, SoundCardSettings, resolve_devices


def kiosk_config(config: AgentConfig) -> AgentConfig:
    """`config` with the kiosk's own defaults under what it set: a loudspeaker needs
    echo cancelling, and each visitor starts a new conversation."""
    data = config.model_dump(exclude_unset=True)
    echo = {"cancel": True, **data.get("echo", {})}
    camera = {"forget_on_leave": True, **data.get("camera", {})}
    return parse_config({**data, "echo": echo, "camera": camera}, "kiosk config")


@dataclass(frozen=True, slots=True)
class KioskOptions:
    sound: SoundCardSettings
    camera: int | None
    """OpenCV camera index; None: no camera."""
    view: bool = True
    """The live terminal view (off: events only, e.g. for tests and logs)."""


class Kiosk:
    def __init__(
        self,
        config: AgentConfig,
        stack: ModelStack,
        options: KioskOptions,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.options = options
        self.view = KioskView()
        self._on_event = on_event
        self.session: Session | None = None
        self.card = SoundCard(
            options.sound,
            session_factory(config, stack, opened=self._opened),
            self._event,
            on_echo_path=self._echo_path,
        )
        self.stop = asyncio.Event()

    def _opened(self, session: Session) -> None:
        self.session = session

    def _event(self, line: str) -> None:
        self.view.feed_line(line)
        if self._on_event is not None:
            self._on_event(line)

    def _echo_path(self, estimate: EchoPathEstimate | None) -> None:
        if estimate is not None and self.session is not None:
            self.session.report_echo_path(estimate.delay_ms, estimate.gain_db)

    def _push_video(self, rgb: Any) -> None:
        if self.session is not None:
            self.session.push_video(rgb)

    async def run(self, console: Console | None = None) -> None:
        """Until `stop` is set (Ctrl-C does) or the devices fail (DeviceError)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop.set)
        camera_task = None
        if self.options.camera is not None:
            capture = CameraCapture(
                open_camera(self.options.camera), self._push_video, self.config.camera.max_fps
            )
            camera_task = asyncio.create_task(capture.run(), name="kiosk:camera")
        try:
            if self.options.view:
                with (
                    _logging_to(console or Console(stderr=True)),
                    Live(
                        self.view.render(self.card.levels),
                        console=console,
                        refresh_per_second=4,
                        get_renderable=lambda: self.view.render(self.card.levels),
                    ),
                ):
                    await self.card.run(self.stop)
            else:
                await self.card.run(self.stop)
        finally:
            if camera_task is not None:
                camera_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await camera_task
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)


@contextlib.contextmanager
def _logging_to(console: Console) -> Iterator[None]:
    """Log records printed above the live view rather than through it."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [RichHandler(console=console, show_path=False)]
    try:
        yield
    finally:
        root.handlers = saved


def run_command(
    config: AgentConfig,
    sound: SoundCardSettings,
    camera: str,
    *,
    view: bool = True,
    events: Path | None = None,
) -> int:
    """The `omnivox kiosk` command: 0 after Ctrl-C; DeviceError / CameraError (exit 2
    through the CLI) when a device cannot be used."""
    config = kiosk_config(config)
    console = Console(stderr=True)
    index = _camera_index(camera)
    # A wrong device: say so before loading models for a minute.
    resolve_devices(sound)
    if index is not None:
        try:
            open_camera(index).release()
        except CameraError as err:
            if camera != "auto":
                raise
            console.print(f"omnivox: {err}; going on without a camera")
            index = None
    console.print("omnivox: loading models ...")
    stack = build_stack(config)
    with contextlib.ExitStack() as files:
        out = files.enter_context(events.open("a", encoding="utf-8")) if events else None

        def write(line: str) -> None:
            if out is not None:
                out.write(line + "\n")
                out.flush()

        kiosk = Kiosk(config, stack, KioskOptions(sound, index, view=view), on_event=write)
        asyncio.run(kiosk.run(console))
    console.print("omnivox: kiosk stopped")
    return 0


def _camera_index(camera: str) -> int | None:
    if camera == "off":
        return None
    if camera == "auto":
        return 0
    if not camera.isdigit():
        raise ValueError(f"--camera takes an index, auto or off, not {camera!r}")
    return int(camera)
