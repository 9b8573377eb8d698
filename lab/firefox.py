"""Drive Debian's Firefox ESR headless over WebDriver BiDi, the W3C protocol it speaks
natively (`--remote-debugging-port`): the omnivox page in a second browser engine.

Why a small client of our own: Playwright drives stock Firefox only through its BiDi
channel, and 1.65 sends `emulation.setMediaFeaturesOverride` on every new context, a
command Firefox ESR 153 does not know, so no context ever opens; Selenium needs
geckodriver, which Debian does not package; puppeteer-core would put a Node process
between the tests and the browser. The page is only ever asked to run scripts, so the
subset needed is small: open a session, navigate, call a function, hear console errors.

The microphone is a private PulseAudio daemon playing a WAV (lab/pulse_mic.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from omnivox.lab.pulse_mic import pulse_microphone

FIREFOX = Path("/usr/bin/firefox-esr")
START_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 60.0

PREFS: dict[str, object] = {
    "media.navigator.permission.disabled": True,  # no getUserMedia prompt
    "media.autoplay.default": 0,  # the agent's voice plays without a click
    "media.autoplay.block-webaudio": False,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "browser.aboutwelcome.enabled": False,
    "app.update.disabledForTesting": True,
}
_LISTENING = re.compile(rb"WebDriver BiDi listening on (ws://\S+)")


class BidiError(RuntimeError):
    pass


class FirefoxPage:
    """One tab, with the few operations tests use on a page (Playwright's names)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._context = ""
        self.console_errors: list[str] = []
        self._reader = asyncio.create_task(self._read(), name="bidi-reader")

    async def _read(self) -> None:
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            future = self._pending.pop(data.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(data)
            elif data.get("method") == "log.entryAdded":
                entry = data["params"]
                if entry.get("level") == "error":
                    self.console_errors.append(str(entry.get("text")))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(BidiError("Firefox closed the connection"))

    async def send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if self._reader.done():
            raise BidiError("Firefox closed the connection")
        command_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = future
        await self._ws.send_json({"id": command_id, "method": method, "params": params})
        reply = await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
        if reply.get("type") == "error":
            raise BidiError(f"{method}: {reply.get('error')}: {reply.get('message')}")
        result: dict[str, Any] = reply["result"]
        return result

    async def open(self) -> None:
        await self.send("session.new", {"capabilities": {}})
        await self.send("session.subscribe", {"events": ["log.entryAdded"]})
        tree = await self.send("browsingContext.getTree", {})
        self._context = tree["contexts"][0]["context"]

    async def goto(self, url: str) -> None:
        await self.send(
            "browsingContext.navigate", {"context": self._context, "url": url, "wait": "complete"}
        )

    async def evaluate(self, expression: str, arg: Any = None) -> Any:
        """Playwright's `page.evaluate`: `expression` is a function (called with `arg`) or
        an expression; its (awaited) value comes back through JSON."""
        wrapper = (
            "async (arg) => { const f = (" + expression + ");"
            " const v = await (typeof f === 'function' ? f(JSON.parse(arg)) : f);"
            " return v === undefined ? 'null' : JSON.stringify(v); }"
        )
        result = await self.send(
            "script.callFunction",
            {
                "functionDeclaration": wrapper,
                "target": {"context": self._context},
                "arguments": [{"type": "string", "value": json.dumps(arg)}],
                "awaitPromise": True,
            },
        )
        if result.get("type") == "exception":
            details = result.get("exceptionDetails", {})
            raise BidiError(f"page script failed: {details.get('text', details)}")
        return json.loads(result["result"]["value"])

    async def close(self) -> None:
        """Close the tab (like a user closing it: the page's `pagehide` runs)."""
        await self.send("browsingContext.close", {"context": self._context, "promptUnload": False})

    async def shutdown(self) -> None:
        with contextlib.suppress(BidiError, TimeoutError, ConnectionError):
            await self.send("session.end", {})
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def _check_files(fake_audio_wav: Path | None) -> Path | None:
    """The WAV's full path; raises when Firefox or the WAV is missing."""
    if not FIREFOX.exists():
        raise FileNotFoundError(f"{FIREFOX} is missing: apt-get install firefox-esr")
    if fake_audio_wav is None:
        return None
    wav = Path(fake_audio_wav).resolve()
    if not wav.is_file():
        raise FileNotFoundError(f"fake audio capture file not found: {wav}")
    return wav


def _user_js(prefs: dict[str, object]) -> str:
    return "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items())


@contextlib.asynccontextmanager
async def launch_firefox(
    fake_audio_wav: Path | None = None,
    loop_audio: bool = False,
    prefs: dict[str, object] | None = None,
    echo_delay_ms: int | None = None,
) -> AsyncIterator[FirefoxPage]:
    """Yield a page in headless Firefox ESR whose microphone plays `fake_audio_wav` (from
    the moment the page opens the mic; again and again if `loop_audio`), and hears what
    the page plays `echo_delay_ms` later if given. Without a WAV Firefox's fake devices
    (a beep) stand in for the mic and camera."""
    wav = _check_files(fake_audio_wav)
    all_prefs = {**PREFS, "media.navigator.streams.fake": fake_audio_wav is None, **(prefs or {})}
    async with contextlib.AsyncExitStack() as stack:
        env = None
        if wav is not None:
            mic = await stack.enter_async_context(pulse_microphone(echo_delay_ms))
            await mic.play_when_recorded(wav, loop_audio)
            env = mic.env
        profile = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="omnivox-ff-")))
        (profile / "user.js").write_text(_user_js(all_prefs))
        proc = await asyncio.create_subprocess_exec(
            str(FIREFOX),
            "--headless",
            "--no-remote",
            "--profile",
            str(profile),
            "--remote-debugging-port=0",
            "about:blank",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        stack.push_async_callback(_stop, proc)
        url = await asyncio.wait_for(_bidi_url(proc), START_TIMEOUT_S)
        session = await stack.enter_async_context(aiohttp.ClientSession())
        ws = await session.ws_connect(url + "/session", max_msg_size=0)
        page = FirefoxPage(ws)
        stack.push_async_callback(page.shutdown)
        await page.open()
        yield page


async def _bidi_url(proc: asyncio.subprocess.Process) -> str:
    assert proc.stderr is not None
    while line := await proc.stderr.readline():
        if match := _LISTENING.search(line):
            # Keep reading stderr, or a chatty Firefox blocks on a full pipe.
            asyncio.create_task(_drain(proc.stderr), name="firefox-stderr")  # noqa: RUF006
            return match.group(1).decode()
    raise RuntimeError(f"Firefox exited (code {await proc.wait()}) before WebDriver BiDi started")


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
