"""The kiosk on a real sound path without a sound card: a private PulseAudio daemon
with two null sinks. The kiosk plays into `speaker` and records `room.monitor`; two
loopbacks carry the speaker into the room 60 ms later at about -18 dB and 160 ms later
at about -42 dB (a direct echo and a reflection, on top of the server's own buffering);
the user is played into the room with paplay.
PortAudio reaches the daemon through ALSA's pulse plugin, as on a desktop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from omnivox.agent.cli import main
from omnivox.agent.config import AgentConfig, parse_config
from omnivox.agent.kiosk.run import Kiosk, KioskOptions, kiosk_config
from omnivox.agent.stack import ModelStack, build_stack
from omnivox.lab.user_track import speech, write_user_wav
from omnivox.media.audio_files import read_audio, write_wav
from omnivox.media.local_audio.devices import DeviceError
from omnivox.media.local_audio.sound_card import SoundCardSettings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("pulseaudio") is None, reason="needs Debian's pulseaudio"),
]

ANSWER = (
    "Welcome to the front desk. The gym opens at six in the morning on weekdays and at "
    "eight on weekends, and it closes at ten every night. A day pass costs fifteen "
    "dollars, a monthly membership is fifty, and students get a discount of twenty "
    "percent with a valid card. The pool is open until nine, and towels are free."
)
"""A long answer (about 20 s): the agent speaks it as its greeting, with no user turn."""

INTERRUPTION = Path("/usr/share/asterisk/sounds/en/one-moment-please.wav")
"""Real human speech (Debian's asterisk-core-sounds-en-wav) cutting in."""

ROOM = """
load-module module-native-protocol-unix
load-module module-null-sink sink_name=speaker rate=48000 channels=1
load-module module-null-sink sink_name=room rate=48000 channels=1
{loopback} latency_msec=60 sink_input_properties=media.name=echo
{loopback} latency_msec=160 sink_input_properties=media.name=reflection
set-default-sink speaker
set-default-source room.monitor
""".format(loopback="load-module module-loopback source=speaker.monitor sink=room")


@contextlib.contextmanager
def pulse_daemon(home: Path) -> Iterator[dict[str, str]]:
    """A private PulseAudio daemon serving the room (its own runtime dir, so others'
    daemons do not collide; works as root in a container too: --system=false), and this
    process pointed at it meanwhile."""
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(home),
        "PULSE_RUNTIME_PATH": str(home / "run"),
        "PULSE_STATE_PATH": str(home / "state"),
        "PULSE_SERVER": f"unix:{home}/run/native",
    }
    (home / "room.pa").write_text(ROOM)
    subprocess.run(
        [
            "pulseaudio",
            "-D",
            "-n",
            "--system=false",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "--use-pid-file=true",
            f"--file={home / 'room.pa'}",
            f"--log-target=file:{home / 'pulse.log'}",
        ],
        env=env,
        check=True,
        timeout=30,
    )
    _wait_for(
        lambda: subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0
    )
    # pactl's percentages are on a cubic scale: 50% is about -18 dB, 20% about -42 dB.
    for name, volume in (("echo", "50%"), ("reflection", "20%")):
        index = _sink_input(env, name)
        subprocess.run(["pactl", "set-sink-input-volume", index, volume], env=env, check=True)
    keys = ("PULSE_SERVER", "PULSE_RUNTIME_PATH", "HOME")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: env[k] for k in keys})
    try:
        yield env
    finally:
        subprocess.run(["pulseaudio", "--kill"], env=env, timeout=30)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def pulse_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with pulse_daemon(tmp_path_factory.mktemp("pulse")) as env:
        yield env


def _wait_for(ready: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError("the PulseAudio daemon did not come up")
        time.sleep(0.1)


def _sink_input(env: dict[str, str], media_name: str) -> str:
    listing = subprocess.run(
        ["pactl", "list", "sink-inputs"], env=env, capture_output=True, text=True, check=True
    ).stdout
    for block in listing.split("Sink Input #")[1:]:
        if f'media.name = "{media_name}"' in block:
            return block.split()[0]
    raise AssertionError(f"no loopback {media_name!r} in {listing}")


@functools.cache
def _setup() -> tuple[AgentConfig, ModelStack]:
    # eSpeak speaks the answer: a real-time kiosk and its models share two noisy cores.
    config = kiosk_config(
        parse_config({"greeting": ANSWER, "talker": {"backend": "espeak"}}, "kiosk test")
    )
    return config, build_stack(config)


async def _run_kiosk(
    env: dict[str, str], user: Path | None, user_after_s: float, limit_s: float = 60.0
) -> tuple[list[dict[str, Any]], Kiosk]:
    """Run the kiosk until its answer ends (or is cut); play `user` into the room
    `user_after_s` after the answer's audio starts."""
    config, stack = _setup()
    events: list[dict[str, Any]] = []
    kiosk = Kiosk(
        config,
        stack,
        KioskOptions(SoundCardSettings(), camera=None, view=False),
        on_event=lambda line: events.append(json.loads(line)),
    )
    runner = asyncio.create_task(kiosk.run())
    player = None
    try:
        deadline = time.monotonic() + limit_s
        started = None
        while time.monotonic() < deadline and not runner.done():
            await asyncio.sleep(0.1)
            kinds = {e["type"] for e in events}
            if started is None and "reply_audio_start" in kinds:
                started = time.monotonic()
            if user is not None and player is None and started is not None:
                if time.monotonic() - started >= user_after_s:
                    player = await asyncio.create_subprocess_exec(
                        "paplay", "--device=room", str(user), env=env
                    )
            if "reply_done" in kinds:
                await asyncio.sleep(1.0)  # what the gate says of the echo's tail
                break
    finally:
        kiosk.stop.set()
        await runner
        if player is not None:
            await player.wait()
    return events, kiosk


def _barge_ins(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "reply_cancelled" and e.get("reason") == "barge_in"]


TRIES = 2
"""A call through a real sound server is one sample of its timing: the AEC3 residual and
the classifier's reading of a voice through the room vary from call to call with the
machine's load (one call in ~20 has gone either way in a loaded suite). Each claim here is
tried twice and must hold in one; `bench kiosk` measures how often it holds."""


async def _run_kiosk_until(
    env: dict[str, str],
    user: Path | None,
    user_after_s: float,
    holds: Callable[[list[dict[str, Any]]], bool],
) -> tuple[list[dict[str, Any]], Kiosk]:
    """`_run_kiosk` until `holds` is true of its events, at most TRIES times; the last
    call's events either way (the test's assertions then say what failed)."""
    for attempt in range(1, TRIES + 1):
        events, kiosk = await _run_kiosk(env, user, user_after_s)
        if holds(events) or attempt == TRIES:
            break
        decisions = [e for e in events if e["type"] in ("turn_decision", "echo_gate")]
        print(f"kiosk call {attempt} of {TRIES} did not hold: {decisions}")
    return events, kiosk


def _not_cut(events: list[dict[str, Any]]) -> bool:
    return not _barge_ins(events) and any(e["type"] == "reply_done" for e in events)


async def test_a_long_answer_through_speaker_and_room_does_not_interrupt_itself(
    pulse_room: dict[str, str],
) -> None:
    events, kiosk = await _run_kiosk_until(pulse_room, None, 0.0, _not_cut)
    done = [e for e in events if e["type"] == "reply_done"]
    assert done, [e["type"] for e in events]
    # How often our own voice still reaches the turn policy as an overlap (and ducks the
    # agent until the classifier rules) depends on the machine's load: `bench kiosk`
    # counts it; here the answer must simply never be cut.
    assert _barge_ins(events) == [], [e for e in events if e["type"] == "echo_gate"]
    path = kiosk.card.levels.echo_path
    assert path is not None and path.delay_ms > 60.0  # the room's 60 ms and the buffers
    assert kiosk.card.levels.frames > 500


async def test_a_person_cutting_in_stops_the_agent(
    pulse_room: dict[str, str], tmp_path: Path
) -> None:
    user = tmp_path / "cut_in.wav"
    write_wav(user, read_audio(INTERRUPTION))
    events, _ = await _run_kiosk_until(pulse_room, user, 4.0, lambda e: bool(_barge_ins(e)))
    assert _barge_ins(events), [e for e in events if e["type"] in ("turn_decision", "echo_gate")]
    gate = [e for e in events if e["type"] == "echo_gate" and e["verdict"] == "user"]
    assert gate, "the decision's data is in the events"


async def test_a_backchannel_lets_the_agent_go_on(
    pulse_room: dict[str, str], tmp_path: Path
) -> None:
    user = write_user_wav(tmp_path / "yeah.wav", speech("yeah"))
    events, _ = await _run_kiosk_until(pulse_room, user, 4.0, _not_cut)
    assert _barge_ins(events) == [], [e for e in events if e["type"] == "turn_decision"]
    assert [e for e in events if e["type"] == "reply_done"]


def test_a_missing_device_is_a_clear_error(
    pulse_room: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kiosk", "--input", "no such microphone", "--camera", "off"]) == 2
    err = capsys.readouterr().err
    assert "no input device matches 'no such microphone'" in err
    assert "pulse" in err  # the devices there are, to choose from
    assert "Traceback" not in err


async def test_a_device_that_goes_away_is_reopened_then_the_kiosk_ends_cleanly(
    tmp_path: Path,
) -> None:
    """The sound server dies mid-session (as an unplugged card): the kiosk retries, then
    ends with a message for the user, the conversation closed."""
    config, stack = _setup()
    events: list[dict[str, Any]] = []
    settings = SoundCardSettings(retries=2, retry_wait_s=0.2, stall_s=1.0)
    with pulse_daemon(tmp_path) as env:
        kiosk = Kiosk(
            config,
            stack,
            KioskOptions(settings, camera=None, view=False),
            on_event=lambda line: events.append(json.loads(line)),
        )
        runner = asyncio.create_task(kiosk.run())
        while not any(e["type"] == "reply_audio_start" for e in events):
            assert not runner.done()
            await asyncio.sleep(0.1)
        killer = await asyncio.create_subprocess_exec("pulseaudio", "--kill", env=env)
        await killer.wait()
        with pytest.raises(DeviceError, match="stopped working and did not come back"):
            await asyncio.wait_for(runner, 60)
    assert kiosk.card.levels.reconnects == 2
    assert events[-1]["type"] == "session_ended" and events[-1]["reason"] == "device_lost"
