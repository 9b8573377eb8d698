"""Choosing sound devices and rates, and reading PortAudio's errors (no sound card)."""

from __future__ import annotations

import pytest

from omnivox.media.local_audio.devices import (
    Device,
    DeviceError,
    Problem,
    choose,
    classify,
    describe,
    from_portaudio,
    pick_rate,
)

MIC = Device(0, "USB Conference Mic", inputs=1, outputs=0, default_rate=16_000)
SPEAKER = Device(1, "USB Speaker", inputs=0, outputs=2, default_rate=48_000)
HEADSET = Device(2, "Jabra Headset", inputs=1, outputs=1, default_rate=44_100)
DEVICES = [MIC, SPEAKER, HEADSET]


def test_by_index_by_name_part_and_default() -> None:
    assert choose(DEVICES, "2", "input", MIC) == HEADSET
    assert choose(DEVICES, 1, "output", None) == SPEAKER
    assert choose(DEVICES, "jabra", "output", SPEAKER) == HEADSET
    assert choose(DEVICES, None, "input", MIC) == MIC


def test_an_exact_name_wins_over_partial_matches() -> None:
    usb = Device(3, "USB", inputs=1, outputs=0, default_rate=48_000)
    assert choose([*DEVICES, usb], "usb", "input", None) == usb


def test_ambiguous_missing_and_wrong_direction_say_what_there_is() -> None:
    with pytest.raises(DeviceError, match="matches several input devices"):
        choose(DEVICES, "e", "input", None)  # the mic and the headset
    with pytest.raises(DeviceError, match=r"no input device matches 'piano'.*0: USB Conference"):
        choose(DEVICES, "piano", "input", None)
    with pytest.raises(DeviceError, match="no output device 0"):
        choose(DEVICES, "0", "output", None)  # the mic has no output channels
    with pytest.raises(DeviceError, match="no default input device"):
        choose(DEVICES, None, "input", SPEAKER)


def test_the_rate_both_support_the_outputs_default_first() -> None:
    assert pick_rate(MIC, SPEAKER, lambda r: True) == 48_000
    assert pick_rate(MIC, SPEAKER, lambda r: r in (16_000, 44_100)) == 16_000
    assert pick_rate(MIC, SPEAKER, lambda r: r == 32_000) == 32_000
    assert pick_rate(MIC, SPEAKER, lambda r: True, wanted=22_050) == 22_050


def test_unsupported_rates_are_clear_errors() -> None:
    with pytest.raises(DeviceError, match="cannot run at 8000 Hz"):
        pick_rate(MIC, SPEAKER, lambda r: r != 8000, wanted=8000)
    with pytest.raises(DeviceError, match="share no sample rate"):
        pick_rate(MIC, SPEAKER, lambda r: False)


class PortAudioError(Exception):
    """Shaped as sounddevice's: args (message, PortAudio error code, host error)."""


def test_portaudio_errors_by_code_then_by_message() -> None:
    assert classify(PortAudioError("Invalid sample rate", -9997)) is Problem.RATE
    assert classify(PortAudioError("Device unavailable", -9985)) is Problem.BUSY
    assert classify(PortAudioError("Unanticipated host error", -9999, ("ALSA", -32))) is (
        Problem.GONE
    )
    assert classify(ValueError("No input device matching 'x'")) is Problem.MISSING
    assert classify(RuntimeError("something else")) is Problem.OTHER


def test_from_portaudio_and_the_listing() -> None:
    info = {
        "index": 4,
        "name": "pulse",
        "hostapi": 0,
        "max_input_channels": 32,
        "max_output_channels": 32,
        "default_samplerate": 44100.0,
    }
    pulse = from_portaudio(info, [{"name": "ALSA"}])
    assert pulse == Device(4, "pulse", 32, 32, 44_100, "ALSA")
    table = describe([MIC, pulse], MIC, pulse)
    assert "<     0    1    0   16000  USB Conference Mic" in table
    assert " >    4   32   32   44100  pulse  (ALSA)" in table
    assert describe([], None, None).startswith("no sound devices")
