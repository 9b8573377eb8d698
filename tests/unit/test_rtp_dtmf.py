"""RFC 4733 telephone-events: payload parsing and one digit per key press."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnivox.media.rtp.dtmf import DtmfDigit, DtmfError, DtmfReceiver, TelephoneEvent, parse_event


def event(digit: int, duration: int, end: bool = False, volume: int = 10) -> bytes:
    return struct.pack("!BBH", digit, (0x80 if end else 0) | volume, duration)


def press(
    digit: int, timestamp: int, start_ms: float, steps: int = 5, step: int = 400
) -> list[tuple[int, bytes, float]]:
    """A key press as a sender writes it: a packet every 50 ms with the duration so
    far, then the end packet three times (RFC 4733 section 2.5.1.4)."""
    packets = [(timestamp, event(digit, step * (i + 1)), start_ms + 50 * i) for i in range(steps)]
    end_ms = start_ms + 50 * steps
    packets += [(timestamp, event(digit, step * steps, end=True), end_ms + 5 * i) for i in range(3)]
    return packets


def feed(receiver: DtmfReceiver, packets: list[tuple[int, bytes, float]]) -> list[DtmfDigit]:
    return [d for ts, payload, at in packets for d in receiver.push(ts, payload, at)]


def test_parse_event_fields() -> None:
    # RFC 4733 section 2.3: event 9, E bit, volume 10 (-10 dBm0), duration 1600 (200 ms).
    assert parse_event(bytes([9, 0x8A, 0x06, 0x40])) == TelephoneEvent(9, True, 10, 1600)
    assert parse_event(bytes([0, 0x40 | 0x3F, 0, 0])) == TelephoneEvent(0, False, 63, 0)  # R bit
    with pytest.raises(DtmfError):
        parse_event(b"\x01\x02\x03")


def test_one_digit_per_press_despite_triple_end_packets() -> None:
    receiver = DtmfReceiver()
    digits = feed(receiver, press(5, timestamp=8000, start_ms=1000.0))
    assert digits == [DtmfDigit("5", 250.0, 1000.0)]  # 2000 / 8000 s


def test_a_sequence_of_keys_including_repeats() -> None:
    receiver = DtmfReceiver()
    packets = []
    for i, key in enumerate([1, 1, 10, 11, 0, 12, 15]):
        packets += press(key, timestamp=1000 + 4000 * i, start_ms=500.0 * i)
    assert [d.digit for d in feed(receiver, packets)] == list("11*#0AD")


def test_reordered_and_duplicated_packets() -> None:
    packets = press(3, timestamp=160, start_ms=0.0)
    packets[1], packets[2] = packets[2], packets[1]
    packets.insert(3, packets[3])
    receiver = DtmfReceiver()
    assert [d.digit for d in feed(receiver, packets)] == ["3"]


def test_lost_end_packets_finish_the_press_when_the_next_begins() -> None:
    first = [p for p in press(7, timestamp=0, start_ms=0.0) if not parse_event(p[1]).end]
    second = press(8, timestamp=8000, start_ms=1000.0)
    receiver = DtmfReceiver()
    digits = feed(receiver, first + second)
    assert [(d.digit, d.duration_ms) for d in digits] == [("7", 250.0), ("8", 250.0)]


def test_lost_end_packets_finish_the_press_on_poll_after_a_silence() -> None:
    packets = [p for p in press(2, timestamp=0, start_ms=0.0) if not parse_event(p[1]).end]
    receiver = DtmfReceiver(timeout_ms=500)
    assert feed(receiver, packets) == []
    assert receiver.poll(300.0) is None  # last packet at 200 ms
    digit = receiver.poll(700.0)
    assert digit is not None and digit.digit == "2"
    assert receiver.poll(2000.0) is None  # reported once


def test_end_retransmission_after_the_next_press_started_is_ignored() -> None:
    first = press(4, timestamp=0, start_ms=0.0)
    second = press(6, timestamp=8000, start_ms=400.0)
    late_end = first.pop()
    receiver = DtmfReceiver()
    digits = feed(receiver, [*first, second[0], late_end, *second[1:]])
    assert [d.digit for d in digits] == ["4", "6"]


def test_a_press_whose_only_packet_is_the_end_still_counts() -> None:
    receiver = DtmfReceiver()
    first = [p for p in press(1, timestamp=0, start_ms=0.0) if not parse_event(p[1]).end]
    lone_end = press(9, timestamp=8000, start_ms=900.0)[-1]
    assert [d.digit for d in feed(receiver, [*first, lone_end])] == ["1", "9"]


def test_non_dtmf_events_and_short_payloads_are_ignored() -> None:
    receiver = DtmfReceiver()
    assert receiver.push(0, event(16, 800, end=True), 0.0) == []  # flash
    assert receiver.push(1, b"\x05", 0.0) == []
    assert receiver.ignored == 2


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=16))
def test_fuzz_parse_event_raises_only_dtmf_error(payload: bytes) -> None:
    try:
        parsed = parse_event(payload)
    except DtmfError:
        assert len(payload) < 4
        return
    assert 0 <= parsed.event <= 255 and 0 <= parsed.volume <= 63


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.binary(max_size=8)), max_size=50))
def test_fuzz_receiver_never_raises(packets: list[tuple[int, bytes]]) -> None:
    receiver = DtmfReceiver()
    for i, (ts, payload) in enumerate(packets):
        for digit in receiver.push(ts, payload, float(i)):
            assert digit.digit in "0123456789*#ABCD"
    receiver.poll(1e9)
