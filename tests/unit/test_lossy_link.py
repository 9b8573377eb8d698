"""The user-space bad network: its impairment model and candidate rewriting."""

from __future__ import annotations

import pytest

from omnivox.lab.lossy_link import Impairment, only_candidate

SDP = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 96",
        "c=IN IP4 0.0.0.0",
        "a=candidate:1 1 udp 2130706431 fe80::1 5000 typ host",
        "a=candidate:2 1 udp 2130706431 10.0.0.2 5001 typ host",
        "a=candidate:3 1 udp 1694498815 1.2.3.4 5002 typ srflx raddr 10.0.0.2 rport 5001",
        "a=end-of-candidates",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "a=candidate:2 1 udp 2130706431 10.0.0.2 5001 typ host",
        "",
    ]
)


def test_loss_and_jitter_follow_the_settings_and_repeat_with_the_seed() -> None:
    link = Impairment(loss=0.1, delay_ms=10, jitter_ms=50, seed=7)
    delays = [link.delay_s() for _ in range(5000)]
    kept = [d for d in delays if d is not None]
    assert 0.08 < 1 - len(kept) / len(delays) < 0.12
    assert min(kept) >= 0.010 and max(kept) <= 0.060
    again = Impairment(loss=0.1, delay_ms=10, jitter_ms=50, seed=7)
    assert [again.delay_s() for _ in range(5000)] == delays


def test_settings_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError):
        Impairment(loss=1.0)
    with pytest.raises(ValueError):
        Impairment(jitter_ms=-1)


def test_candidates_become_the_relay_and_the_first_ipv4_host_is_returned() -> None:
    sdp, original = only_candidate(SDP, ("127.0.0.1", 9999))
    assert original == ("10.0.0.2", 5001)
    candidates = [line for line in sdp.split("\r\n") if line.startswith("a=candidate:")]
    assert candidates == ["a=candidate:relay 1 udp 2130706431 127.0.0.1 9999 typ host"] * 2
    assert "a=end-of-candidates" in sdp and sdp.index("m=application") > sdp.index("9999")


def test_a_description_without_a_usable_candidate_is_an_error() -> None:
    with pytest.raises(ValueError, match="no IPv4 UDP host candidate"):
        only_candidate("v=0\r\nm=audio 9 RTP/AVP 0\r\n", ("127.0.0.1", 1))
