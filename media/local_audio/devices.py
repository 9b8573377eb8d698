"""Sound devices: listing them, choosing one by name or index, picking a rate both
directions support, and telling what a PortAudio error means for the user.

The choices are pure functions over `Device` lists and PortAudio error codes, so they
are tested without a sound card; `query_devices` is the one call into PortAudio.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

Direction = Literal["input", "output"]

RATES = (48_000, 44_100, 32_000, 16_000)
"""Rates tried, after the devices' own default, when opening a duplex stream."""


class DeviceError(OSError):
    """A sound device problem the user can fix: the message says what and how."""


class Problem(StrEnum):
    MISSING = "missing"
    """No such device (or the sound server is not running)."""
    GONE = "gone"
    """The device went away while in use (unplugged, server restarted)."""
    RATE = "unsupported_rate"
    BUSY = "busy"
    OTHER = "other"


# PortAudio's error codes (portaudio.h) that say something specific.
_PA_CODES = {
    -9996: Problem.MISSING,  # paInvalidDevice
    -9997: Problem.RATE,  # paInvalidSampleRate
    -9985: Problem.BUSY,  # paDeviceUnavailable
    -9988: Problem.GONE,  # paStreamIsStopped
    -9999: Problem.GONE,  # paUnanticipatedHostError (ALSA/Pulse errors mid-stream)
    -9986: Problem.GONE,  # paInternalError
    -9987: Problem.GONE,  # paTimedOut
}


def classify(err: BaseException) -> Problem:
    """What a sounddevice / PortAudio exception means. Its args are (message, code,
    host error) for a PortAudioError; a ValueError from sounddevice names a device that
    does not exist."""
    args: tuple[Any, ...] = getattr(err, "args", ())
    code = args[1] if len(args) > 1 and isinstance(args[1], int) else None
    if code in _PA_CODES:
        return _PA_CODES[code]
    text = str(args[0] if args else err).lower()
    if "no input device matching" in text or "no output device matching" in text:
        return Problem.MISSING
    if "sample rate" in text:
        return Problem.RATE
    if "device unavailable" in text or "busy" in text:
        return Problem.BUSY
    return Problem.OTHER


@dataclass(frozen=True, slots=True)
class Device:
    index: int
    name: str
    inputs: int
    outputs: int
    default_rate: int
    host_api: str = ""

    def channels(self, direction: Direction) -> int:
        return self.inputs if direction == "input" else self.outputs


def from_portaudio(info: dict[str, Any], host_apis: Sequence[dict[str, Any]]) -> Device:
    """A `Device` from one of sounddevice.query_devices()'s dicts."""
    api = int(info.get("hostapi", -1))
    return Device(
        index=int(info["index"]),
        name=str(info["name"]),
        inputs=int(info["max_input_channels"]),
        outputs=int(info["max_output_channels"]),
        default_rate=round(float(info["default_samplerate"])),
        host_api=str(host_apis[api]["name"]) if 0 <= api < len(host_apis) else "",
    )


def query_devices() -> tuple[list[Device], Device | None, Device | None]:
    """Every device PortAudio sees, and the default input and output (None: no default)."""
    sd = import_sounddevice()
    host_apis = list(sd.query_hostapis())
    devices = [from_portaudio(dict(d), host_apis) for d in sd.query_devices()]
    by_index = {d.index: d for d in devices}
    default_in, default_out = (int(i) for i in sd.default.device)
    return devices, by_index.get(default_in), by_index.get(default_out)


def import_sounddevice() -> Any:
    """sounddevice, or a DeviceError that says how to get PortAudio."""
    try:
        import sounddevice
    except OSError as err:  # it raises OSError when libportaudio is missing
        raise DeviceError(
            f"PortAudio is not available ({err}); on Debian or Ubuntu install it with "
            "`apt-get install libportaudio2`"
        ) from None
    return sounddevice


def choose(
    devices: Sequence[Device], spec: str | int | None, direction: Direction, default: Device | None
) -> Device:
    """The device `spec` names for `direction`: an index, or a case-insensitive part of
    the name (an exact name wins over partial matches); None: the default."""
    usable = [d for d in devices if d.channels(direction) > 0]
    names = ", ".join(f"{d.index}: {d.name}" for d in usable) or "none"
    if spec is None or spec == "":
        if default is None or default.channels(direction) == 0:
            raise DeviceError(f"no default {direction} device; the {direction}s are: {names}")
        return default
    if isinstance(spec, int) or spec.strip().isdigit():
        index = int(spec)
        for d in usable:
            if d.index == index:
                return d
        raise DeviceError(f"no {direction} device {index}; the {direction}s are: {names}")
    wanted = spec.strip().lower()
    exact = [d for d in usable if d.name.lower() == wanted]
    partial = [d for d in usable if wanted in d.name.lower()]
    matches = exact or partial
    if not matches:
        raise DeviceError(f"no {direction} device matches {spec!r}; the {direction}s are: {names}")
    if len(matches) > 1:
        listed = ", ".join(f"{d.index}: {d.name}" for d in matches)
        raise DeviceError(f"{spec!r} matches several {direction} devices ({listed}): pick one")
    return matches[0]


def pick_rate(
    input_device: Device,
    output_device: Device,
    supports: Callable[[int], bool],
    wanted: int | None = None,
) -> int:
    """The rate to open both devices at: `wanted` if given (and supported), else the
    output's default, the input's, then the common rates in `RATES`."""
    if wanted is not None:
        if supports(wanted):
            return wanted
        raise DeviceError(
            f"{input_device.name!r} / {output_device.name!r} cannot run at {wanted} Hz; "
            "leave the rate out to use what they support"
        )
    tried: list[int] = []
    for rate in (output_device.default_rate, input_device.default_rate, *RATES):
        if rate in tried or rate <= 0:
            continue
        tried.append(rate)
        if supports(rate):
            return rate
    raise DeviceError(
        f"{input_device.name!r} and {output_device.name!r} share no sample rate "
        f"(tried {', '.join(map(str, tried))} Hz); choose devices on the same card"
    )


def describe(
    devices: Sequence[Device], default_in: Device | None, default_out: Device | None
) -> str:
    """The `omnivox devices` table."""
    if not devices:
        return (
            "no sound devices: PortAudio found none (no sound card, or no sound server "
            "such as PulseAudio or PipeWire running for this user)"
        )
    lines = [f"{'':2}{'index':>5}  {'in':>3}  {'out':>3}  {'rate':>6}  name"]
    for d in devices:
        mark = ("<" if d == default_in else " ") + (">" if d == default_out else " ")
        api = f"  ({d.host_api})" if d.host_api else ""
        lines.append(
            f"{mark}{d.index:>5}  {d.inputs:>3}  {d.outputs:>3}  {d.default_rate:>6}  {d.name}{api}"
        )
    lines.append("< default input, > default output")
    return "\n".join(lines)
