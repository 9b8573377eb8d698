"""The per-call RTP state: packetising, source latching, routing audio and DTMF."""

from __future__ import annotations

import struct
from dataclasses import replace

import numpy as np
import pytest
from aiortc.rtp import RtpPacket
from hypothesis import given, settings
from hypothesis import strategies as st

from omnivox.media.frames import FRAME_SAMPLES
from omnivox.media.rtp.dtmf import DtmfReceiver
from omnivox.media.rtp.sdp import Negotiated, negotiate
from omnivox.media.rtp.session import MalformedPacket, RtpSession, parse_packet

FAR_IP, FAR_PORT = "198.51.100.20", 7078
OFFER = f"""v=0
o=- 1 1 IN IP4 {FAR_IP}
s=-
c=IN IP4 {FAR_IP}
t=0 0
m=audio {FAR_PORT} RTP/AVP 0 8 101
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
"""
FAR = (FAR_IP, FAR_PORT)


def negotiated(offer: str = OFFER) -> Negotiated:
    return negotiate(offer, "203.0.113.5", 40000, 99)


def session(latch_any_source: bool = False) -> RtpSession:
    return RtpSession(
        negotiated(), ssrc=0x1234, sequence=100, timestamp=5000, latch_any_source=latch_any_source
    )


def rtp(
    seq: int, ts: int, payload: bytes, pt: int = 0, ssrc: int = 0xABCD, marker: int = 0
) -> bytes:
    return RtpPacket(pt, marker, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc, payload).serialize()


def tone_frame(k: int, hz: float = 440.0) -> np.ndarray:
    t = (np.arange(FRAME_SAMPLES) + k * FRAME_SAMPLES) / 16_000
    return np.round(8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


# --- outbound -------------------------------------------------------------------------


def test_packetiser_header_fields_advance() -> None:
    s = session()
    packets = [RtpPacket.parse(s.next_packet(tone_frame(k))) for k in range(3)]
    assert [p.sequence_number for p in packets] == [100, 101, 102]
    assert [p.timestamp for p in packets] == [5000, 5160, 5320]
    assert [p.marker for p in packets] == [1, 0, 0]  # the first starts a talkspurt
    assert {(p.payload_type, p.ssrc, len(p.payload)) for p in packets} == {(0, 0x1234, 160)}
    assert (s.samples_sent, s.stats.packets_sent, s.stats.octets_sent) == (960, 3, 480)


def test_keys_pressed_go_out_as_telephone_events_in_place_of_audio() -> None:
    s = session()
    s.next_packet(tone_frame(0))
    s.send_dtmf("5#")
    packets = [RtpPacket.parse(s.next_packet(tone_frame(k))) for k in range(1, 24)]
    assert [p.sequence_number for p in packets] == list(range(101, 124))  # one numbering
    kinds = "".join("e" if p.payload_type == 101 else "a" for p in packets)
    assert kinds == "eeeeeeeaaa" + "eeeeeeeaaa" + "aaa"  # 5 updates + 2 end copies, gap
    five, hash_ = packets[0:7], packets[10:17]
    assert {p.timestamp for p in five} == {5160}  # the event's start, on every packet
    assert {p.timestamp for p in hash_} == {5160 + 10 * 160}
    assert [p.marker for p in five] == [1, 0, 0, 0, 0, 0, 0]
    assert packets[7].timestamp == 5160 + 7 * 160  # the audio's clock ran on meanwhile
    receiver = DtmfReceiver()  # what the far end makes of them
    digits = [
        d.digit
        for k, p in enumerate(packets)
        if p.payload_type == 101
        for d in receiver.push(p.timestamp, p.payload, 20.0 * k)
    ]
    assert digits == ["5", "#"]


def test_dtmf_needs_telephone_events_and_real_keys() -> None:
    s = session()
    with pytest.raises(ValueError, match="keys"):
        s.send_dtmf("12x")
    no_events = RtpSession(
        negotiated(OFFER.replace(" 101", "").replace("a=rtpmap:101 telephone-event/8000\n", ""))
    )
    with pytest.raises(ValueError, match="telephone-event"):
        no_events.send_dtmf("1")
    assert RtpPacket.parse(s.next_packet(tone_frame(0))).payload_type == 0  # nothing queued


def test_skipped_frames_advance_the_timestamp_and_mark_the_next_packet() -> None:
    s = session()
    s.next_packet(tone_frame(0))
    s.skip_frame()
    s.skip_frame()
    p = RtpPacket.parse(s.next_packet(tone_frame(3)))
    assert (p.sequence_number, p.timestamp, p.marker) == (101, 5000 + 3 * 160, 1)
    assert s.samples_sent == 2 * FRAME_SAMPLES  # skipped time was not sent


def test_outbound_sequence_and_timestamp_wrap() -> None:
    s = RtpSession(negotiated(), ssrc=1, sequence=0xFFFF, timestamp=2**32 - 160)
    a, b = (RtpPacket.parse(s.next_packet(tone_frame(k))) for k in range(2))
    assert (a.sequence_number, b.sequence_number) == (0xFFFF, 0)
    assert (a.timestamp, b.timestamp) == (2**32 - 160, 0)


def test_random_ssrc_sequence_and_timestamp_by_default() -> None:
    ssrcs = {RtpSession(negotiated()).ssrc for _ in range(8)}
    assert len(ssrcs) > 1


def test_pcma_payload_type() -> None:
    s = RtpSession(negotiate(OFFER.replace("RTP/AVP 0 8", "RTP/AVP 8"), "203.0.113.5", 4, 1))
    assert RtpPacket.parse(s.next_packet(tone_frame(0))).payload_type == 8


# --- inbound: who is heard ------------------------------------------------------------


def test_latches_onto_the_first_source_with_the_sdp_ip() -> None:
    s = session()
    assert s.remote_address == FAR  # until something arrives: the SDP's address
    s.accept(rtp(1, 0, b"\xff" * 160), ("192.0.2.66", FAR_PORT), 0.0)  # another host
    assert s.remote_address == FAR
    s.accept(rtp(1, 0, b"\xff" * 160), (FAR_IP, 40123), 0.0)  # the far end behind a NAT port
    assert s.remote_address == (FAR_IP, 40123)
    s.accept(rtp(2, 160, b"\xff" * 160), (FAR_IP, FAR_PORT), 20.0)  # not the latched port
    s.accept(rtp(2, 160, b"\xff" * 160), ("192.0.2.66", FAR_PORT), 20.0)
    stats = s.stats
    assert (stats.packets_received, stats.ignored_source) == (1, 3)
    assert stats.jitter.received == 1


def test_malformed_packets_do_not_latch() -> None:
    s = session()
    s.accept(b"\x80\x00", (FAR_IP, 1), 0.0)  # too short
    s.accept(b"\x40" + bytes(20), (FAR_IP, 1), 0.0)  # RTP version 1
    s.accept(rtp(1, 0, b""), (FAR_IP, 1), 0.0)  # audio without a payload
    assert s.remote_address == FAR
    assert s.stats.malformed == 3


def test_muxed_rtcp_is_counted_not_parsed() -> None:
    s = session()
    receiver_report = struct.pack("!BBHI", 0x80, 201, 1, 0xABCD)
    s.accept(receiver_report, FAR, 0.0)
    assert (s.stats.rtcp, s.stats.malformed, s.stats.packets_received) == (1, 0, 0)


def test_latch_any_source_for_nat_without_a_media_relay() -> None:
    s = session(latch_any_source=True)
    s.accept(rtp(1, 0, b"\xff" * 160), ("192.0.2.66", 5555), 0.0)
    assert s.remote_address == ("192.0.2.66", 5555)
    s.accept(rtp(2, 160, b"\xff" * 160), FAR, 20.0)
    assert s.stats.ignored_source == 1


def test_ipv4_mapped_source_from_a_dual_stack_socket() -> None:
    s = session()
    s.accept(rtp(1, 0, b"\xff" * 160), (f"::ffff:{FAR_IP}", FAR_PORT, 0, 0), 0.0)
    assert s.remote_address == FAR
    assert s.stats.packets_received == 1


def test_ipv6_far_end() -> None:
    offer = OFFER.replace(f"IN IP4 {FAR_IP}", "IN IP6 2001:db8::20")
    s = RtpSession(negotiate(offer, "2001:db8::5", 40000, 1))
    s.accept(rtp(1, 0, b"\xff" * 160), ("2001:0db8:0:0::20", 9000, 0, 0), 0.0)
    assert s.remote_address == ("2001:db8::20", 9000)


def test_a_new_address_in_a_reinvite_latches_anew_and_hold_stops_sending() -> None:
    s = session()
    s.accept(rtp(1, 0, b"\xff" * 160), FAR, 0.0)
    held = negotiated(OFFER + "a=sendonly\n")
    s.update(held)
    assert s.remote_address == FAR and not s.negotiated.sends
    moved = negotiated(OFFER.replace(FAR_IP, "198.51.100.99"))
    s.update(moved)
    assert s.remote_address == ("198.51.100.99", FAR_PORT)
    s.accept(rtp(2, 160, b"\xff" * 160), FAR, 20.0)  # the old address is not heard now
    assert s.stats.ignored_source == 1


# --- inbound: what is heard -----------------------------------------------------------


def test_audio_round_trip_between_two_sessions() -> None:
    ours, theirs = session(), session()
    heard = []
    for k in range(50):
        theirs.accept(ours.next_packet(tone_frame(k)), FAR, 20.0 * k + 1)
        frame = theirs.playout(20.0 * k + 10)
        if frame is not None:
            assert frame.shape == (FRAME_SAMPLES,) and frame.dtype == np.int16
            heard.append(frame)
    assert len(heard) == 49  # from the second tick: the 40 ms target was reached
    received = np.concatenate(heard).astype(np.float64)
    sent = np.concatenate([tone_frame(k) for k in range(50)]).astype(np.float64)
    best = max(
        10
        * np.log10(
            np.sum(sent[1000:9000] ** 2)
            / np.sum((received[1000 - lag : 9000 - lag] - sent[1000:9000]) ** 2)
        )
        for lag in range(0, 200)
    )
    assert best > 30.0
    assert theirs.stats.jitter.lost == 0


def test_loss_is_concealed_with_a_full_frame() -> None:
    ours, theirs = session(), session()
    frames = []
    for k in range(20):
        packet = ours.next_packet(tone_frame(k))
        if k != 10:
            theirs.accept(packet, FAR, 20.0 * k + 1)
        frames.append(theirs.playout(20.0 * k + 10))
    assert all(f is not None and f.shape == (FRAME_SAMPLES,) for f in frames[1:])
    assert theirs.stats.jitter.lost == 1
    concealed = frames[11]
    assert concealed is not None and np.abs(concealed).max() > 1000  # not a hole of silence


def test_dtmf_comes_back_and_its_packets_are_no_audio_loss() -> None:
    s = session()
    digits = []
    seq = 0
    for k in range(30):
        now = 20.0 * k + 1
        if 10 <= k < 16:  # the sender replaces audio by events for the key press
            end = k >= 13
            payload = struct.pack("!BBH", 5, 0x80 * end | 10, 160 * min(k - 9, 4))
            digits += s.accept(rtp(seq, 1600, payload, pt=101, marker=k == 10), FAR, now)
        else:
            s.accept(rtp(seq, 160 * k, b"\xff" * 160), FAR, now)
        seq += 1
        s.playout(20.0 * k + 10)
    assert [(d.digit, d.duration_ms, d.at_ms) for d in digits] == [("5", 80.0, 201.0)]
    assert s.stats.jitter.lost == 0
    assert s.poll_dtmf(10_000.0) is None


def test_comfort_noise_and_unknown_payload_types_are_counted() -> None:
    s = session()
    s.accept(rtp(1, 0, b"\x40", pt=13), FAR, 0.0)
    s.accept(rtp(2, 160, b"\xd5" * 160, pt=8), FAR, 20.0)  # PCMA was offered, PCMU chosen
    assert s.stats.unknown_payload == 2
    assert s.stats.jitter.received == 0


def test_far_end_restarting_its_stream_resets_the_jitter_buffer() -> None:
    s = session()
    for k in range(10):
        s.accept(rtp(500 + k, 160 * k, b"\xff" * 160, ssrc=1), FAR, 20.0 * k)
        s.playout(20.0 * k + 10)
    for k in range(10, 20):
        s.accept(rtp(9 + k, 777 + 160 * k, b"\xff" * 160, ssrc=2), FAR, 20.0 * k)
        s.playout(20.0 * k + 10)
    assert s.stats.jitter.resets == 1
    assert s.stats.jitter.lost == 0


def test_playout_is_none_before_anything_arrives() -> None:
    assert session().playout(0.0) is None


# --- fuzzing --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_fuzz_parse_packet_raises_only_malformed(data: bytes) -> None:
    try:
        parse_packet(data)
    except MalformedPacket:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=12, max_size=200), st.integers(0, 127), st.booleans())
def test_fuzz_accept_never_raises(data: bytes, pt: int, valid_header: bool) -> None:
    s = session()
    if valid_header:  # a well-formed header in front of anything: reach the payload paths
        data = bytes([0x80, pt | (data[1] & 0x80)]) + data[2:]
    s.accept(data, FAR, 0.0)
    s.accept(data, (FAR_IP, 1), 20.0)
    out = s.playout(30.0)
    assert out is None or out.shape[0] % 2 == 0
    stats = s.stats
    assert stats.packets_received + stats.malformed + stats.rtcp + stats.ignored_source == 2


def test_negotiated_with_dynamic_payload_type_routes_audio() -> None:
    n = replace(negotiated(), payload_type=97)
    s = RtpSession(n, ssrc=1)
    s.accept(rtp(1, 0, b"\xff" * 160, pt=97), FAR, 0.0)
    assert s.stats.jitter.received == 1
