"""Drive Debian's Chromium with Playwright (and Firefox ESR, lab/firefox.py): the omnivox
page in a headless browser.

The browser is /usr/bin/chromium (never `playwright install`: no downloaded browsers).
Chromium's fake media devices replace the mic and camera with files, so a test or
benchmark can "speak" a WAV into the page and read back what the agent said through the
page's `window.omnivox` hooks (see web/app.js). Playwright comes with the `dev` extra
(`pip install -e '.[dev]'`); it is imported when a browser is launched.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import cv2
import numpy as np

if TYPE_CHECKING:
    from playwright.async_api import Page

CHROMIUM = Path("/usr/bin/chromium")
Browser = Literal["chromium", "firefox"]
BROWSERS: tuple[Browser, ...] = ("chromium", "firefox")


class ScriptedPage(Protocol):
    """What tests and benchmarks do with a page in either browser (Playwright's names)."""

    async def goto(self, url: str) -> Any: ...

    async def evaluate(self, expression: str, arg: Any = None) -> Any: ...

    async def close(self) -> None: ...


BASE_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
)


def missing_prerequisites(browser: Browser = "chromium") -> list[str]:
    """What driving `browser` needs and this machine lacks, each with its fix."""
    if browser == "firefox":
        from omnivox.lab import firefox, pulse_mic

        ff = firefox.FIREFOX
        missing_ff = [] if ff.exists() else [f"{ff} (apt-get install firefox-esr)"]
        return missing_ff + pulse_mic.missing_prerequisites()
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (pip install -e '.[dev]')")
    return missing


def chromium_args(
    fake_audio_wav: Path | None = None,
    fake_video_y4m: Path | None = None,
    loop_audio: bool = False,
) -> list[str]:
    """Command-line flags for Chromium; checks the browser and the media files exist
    (Chromium would otherwise silently fall back to its beep and test pattern)."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing: apt-get install chromium")
    args = list(BASE_ARGS)
    if fake_audio_wav is not None:
        wav = Path(fake_audio_wav).resolve()
        if not wav.is_file():
            raise FileNotFoundError(f"fake audio capture file not found: {wav}")
        args.append(f"--use-file-for-fake-audio-capture={wav}{'' if loop_audio else '%noloop'}")
    if fake_video_y4m is not None:
        y4m = Path(fake_video_y4m).resolve()
        if not y4m.is_file():
            raise FileNotFoundError(f"fake video capture file not found: {y4m}")
        args.append(f"--use-file-for-fake-video-capture={y4m}")
    return args


@asynccontextmanager
async def launch_chromium(
    fake_audio_wav: Path | None = None,
    fake_video_y4m: Path | None = None,
    loop_audio: bool = False,
) -> AsyncIterator[Page]:
    """Yield a fresh Page in headless Chromium with fake mic/camera devices.

    `fake_audio_wav` plays as the microphone (16-bit PCM WAV), once unless `loop_audio`;
    without it Chromium's fake mic beeps. `fake_video_y4m` is the camera.
    """
    args = chromium_args(fake_audio_wav, fake_video_y4m, loop_audio)
    try:
        from playwright.async_api import async_playwright
    except ImportError as err:
        raise ImportError(
            "driving Chromium needs Playwright, in the dev extra: pip install -e '.[dev]'"
        ) from err
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        try:
            context = await browser.new_context()
            yield await context.new_page()
        finally:
            await browser.close()


@asynccontextmanager
async def launch_browser(
    browser: Browser,
    fake_audio_wav: Path | None = None,
    loop_audio: bool = False,
    echo_delay_ms: int | None = None,
) -> AsyncIterator[ScriptedPage]:
    """A fresh headless page in `browser` whose microphone plays `fake_audio_wav` (from
    the moment the page opens the mic; again and again if `loop_audio`), and with
    `echo_delay_ms` also what the page plays, that late (Firefox only: headless Chromium
    plays nothing into a sound server)."""
    if browser == "firefox":
        from omnivox.lab.firefox import launch_firefox

        async with launch_firefox(
            fake_audio_wav, loop_audio, echo_delay_ms=echo_delay_ms
        ) as ff_page:
            yield ff_page
    elif echo_delay_ms is not None:
        raise ValueError("a room echo needs Firefox: headless Chromium plays no audio")
    else:
        async with launch_chromium(fake_audio_wav, loop_audio=loop_audio) as page:
            yield page


def collect_console_errors(page: Page) -> list[str]:
    """Start recording console errors and uncaught exceptions; returns the live list."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    return errors


async def wait_for_event(
    page: ScriptedPage,
    type: str,
    timeout_s: float,
    predicate: Callable[[dict[str, Any]], bool] | None = None,
    *,
    since: int = 0,
) -> dict[str, Any]:
    """The first event of `type` (matching `predicate`) in `window.omnivox.events[since:]`,
    polled until `timeout_s`; raises TimeoutError naming the types that did arrive and
    the wanted-type events the predicate refused."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    seen: list[str] = []
    rejected: list[dict[str, Any]] = []  # of the wanted type, refused by the predicate
    index = since
    while True:
        new: list[dict[str, Any]] = await page.evaluate(
            "(i) => window.omnivox.events.slice(i)", index
        )
        index += len(new)
        for event in new:
            kind = event.get("type", "?")
            seen.append(f"{kind} ({event['reason']})" if "reason" in event else kind)
            if kind == type:
                if predicate is None or predicate(event):
                    return event
                rejected.append(event)
        if loop.time() >= deadline:
            tail = ", ".join(seen[-20:]) or "none"
            refused = f"; {type!r} events refused: {rejected[-3:]}" if rejected else ""
            raise TimeoutError(
                f"no {type!r} event within {timeout_s} s; last events seen: {tail}{refused}"
            )
        await asyncio.sleep(0.05)


async def fetch_agent_audio(page: ScriptedPage) -> tuple[np.ndarray, int]:
    """What the agent's track played since connect: (mono float32 samples, sample rate)."""
    result = await page.evaluate("() => window.omnivox.agentAudio()")
    raw = base64.b64decode(result["samples"])
    samples = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    return samples, int(result["sampleRate"])


def write_y4m(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    """RGB frames as a YUV4MPEG2 (4:2:0) file, the format Chromium's fake camera plays
    (in a loop, at the file's frame rate)."""
    h, w = frames[0].shape[:2]
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path
