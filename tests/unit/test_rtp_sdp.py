"""SDP offer/answer for SIP calls, against offers as real user agents write them."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnivox.media.rtp.sdp import (
    Negotiated,
    NoCommonCodec,
    RtpMap,
    SdpError,
    make_offer,
    negotiate,
    parse_sdp,
)

LOCAL_IP = "203.0.113.5"
LOCAL_PORT = 40000

# sipp's built-in uac scenario: one bare static payload type, no a=rtpmap at all.
SIPP_UAC = """v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 0
"""

# sipp's uac_pcap scenario (plays a G.711 A-law pcap and DTMF).
SIPP_UAC_PCAP = """v=0
o=user1 53655765 2353687637 IN IP4 10.0.0.2
s=-
c=IN IP4 10.0.0.2
t=0 0
m=audio 6002 RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-11,16
"""

BARESIP = (
    "v=0\r\n"
    "o=- 1683206367 3285735428 IN IP4 192.168.1.10\r\n"
    "s=-\r\n"
    "c=IN IP4 192.168.1.10\r\n"
    "t=0 0\r\n"
    "m=audio 10128 RTP/AVP 96 9 0 8 101\r\n"
    "b=AS:128\r\n"
    "a=rtpmap:96 opus/48000/2\r\n"
    "a=fmtp:96 stereo=1;sprop-stereo=1\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=rtcp-rsize\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n"
    "a=label:1\r\n"
    "a=ssrc:2473956121 cname:9c3e2f8a-4f55-4f7e-9d4a-1f4e3b2a1c0d\r\n"
)

# Linphone: many codecs, telephone-event at three rates, static 0/8 without rtpmap,
# a=fmtp for G.729 (18) without its rtpmap, session-level attributes, and video.
LINPHONE = """v=0
o=alice 2126 3484 IN IP4 192.168.0.5
s=Talk
c=IN IP4 192.168.0.5
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
a=record:off
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 speex/16000
a=fmtp:97 vbr=on
a=rtpmap:98 speex/8000
a=fmtp:98 vbr=on
a=fmtp:18 annexb=yes
a=rtpmap:101 telephone-event/48000
a=rtpmap:99 telephone-event/16000
a=rtpmap:100 telephone-event/8000
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm tmmbr
m=video 9078 RTP/AVP 96 97
a=rtpmap:96 VP8/90000
a=rtpmap:97 H264/90000
a=fmtp:97 profile-level-id=42801F
a=rtcp-fb:* ccm fir
"""

REAL_OFFERS = [SIPP_UAC, SIPP_UAC_PCAP, BARESIP, LINPHONE]


def answer(
    offer: str, prefer: Sequence[str] = ("PCMU", "PCMA"), session_version: int = 0
) -> Negotiated:
    return negotiate(offer, LOCAL_IP, LOCAL_PORT, 42, prefer, session_version=session_version)


def test_sipp_default_offer_bare_static_pcmu() -> None:
    n = answer(SIPP_UAC)
    assert (n.codec, n.payload_type, n.clock_rate) == ("PCMU", 0, 8000)
    assert n.telephone_event is None
    assert n.remote_address == ("127.0.0.1", 6000)
    assert (n.ptime_ms, n.direction, n.sends, n.receives) == (20, "sendrecv", True, True)
    a = parse_sdp(n.answer_sdp)
    (m,) = a.media
    assert (m.kind, m.port, m.proto, m.formats) == ("audio", LOCAL_PORT, "RTP/AVP", ("0",))
    assert a.connection == LOCAL_IP
    assert m.direction == "sendrecv" and m.ptime_ms == 20


def test_sipp_pcap_offer_pcma_with_telephone_event() -> None:
    n = answer(SIPP_UAC_PCAP)
    assert (n.codec, n.payload_type, n.telephone_event) == ("PCMA", 8, 101)
    assert n.remote_address == ("10.0.0.2", 6002)
    (m,) = parse_sdp(n.answer_sdp).media
    assert m.formats == ("8", "101")
    assert m.rtpmaps[101].encoding == "TELEPHONE-EVENT"
    assert "a=fmtp:101 0-15\r\n" in n.answer_sdp


def test_baresip_offer_picks_our_preference_not_opus() -> None:
    n = answer(BARESIP)
    assert (n.codec, n.payload_type, n.telephone_event) == ("PCMU", 0, 101)
    assert n.remote_address == ("192.168.1.10", 10128)
    assert answer(BARESIP, prefer=("PCMA", "PCMU")).codec == "PCMA"


def test_linphone_offer_telephone_event_at_8k_and_video_rejected() -> None:
    n = answer(LINPHONE)
    assert (n.codec, n.payload_type) == ("PCMU", 0)
    assert n.telephone_event == 100  # 101 and 99 are telephone-event at 48 and 16 kHz
    a = parse_sdp(n.answer_sdp)
    assert [(m.kind, m.port) for m in a.media] == [("audio", LOCAL_PORT), ("video", 0)]
    assert a.media[1].formats == ("96",)  # a rejected stream still names one format


def test_answer_is_well_formed_crlf_sdp() -> None:
    text = answer(BARESIP).answer_sdp
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")[:-1]
    assert lines[:5] == [
        "v=0",
        f"o=- 42 0 IN IP4 {LOCAL_IP}",
        "s=omnivox",
        f"c=IN IP4 {LOCAL_IP}",
        "t=0 0",
    ]
    assert lines[5:] == [
        f"m=audio {LOCAL_PORT} RTP/AVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=ptime:20",
        "a=sendrecv",
    ]
    assert f"o=- 42 7 IN IP4 {LOCAL_IP}" in answer(BARESIP, session_version=7).answer_sdp


def test_pcma_only_offer() -> None:
    offer = SIPP_UAC.replace("RTP/AVP 0", "RTP/AVP 8")
    n = answer(offer)
    assert (n.codec, n.payload_type) == ("PCMA", 8)


@pytest.mark.parametrize(
    "media",
    [
        "m=audio 6000 RTP/AVP 18 9\na=rtpmap:18 G729/8000\na=rtpmap:9 G722/8000\n",
        "m=audio 6000 RTP/SAVP 0 8\n",  # SRTP only: we have no keys
        "m=audio 0 RTP/AVP 0\n",  # a disabled stream
        "m=video 6000 RTP/AVP 0\n",
        "m=audio 6000 RTP/AVP 96\na=rtpmap:96 PCMU/16000\n",  # wrong clock rate
    ],
)
def test_no_common_codec(media: str) -> None:
    offer = SIPP_UAC.replace("m=audio 6000 RTP/AVP 0\n", media)
    with pytest.raises(NoCommonCodec):
        answer(offer)


def test_pcmu_under_a_dynamic_payload_type_keeps_its_number() -> None:
    offer = SIPP_UAC.replace("RTP/AVP 0\n", "RTP/AVP 97\na=rtpmap:97 pcmu/8000\n")
    assert (answer(offer).codec, answer(offer).payload_type) == ("PCMU", 97)


@pytest.mark.parametrize(
    "offer",
    [
        SIPP_UAC[: SIPP_UAC.index("m=")],  # cut before the media line
        SIPP_UAC[: SIPP_UAC.index("RTP/AVP 0")] + "RTP/AVP",  # m= without formats
        SIPP_UAC[: SIPP_UAC.index("m=")] + "m=audio 60",
        SIPP_UAC[: SIPP_UAC.index("127.0.0.1\nt=") + 6],  # c=IN IP4 127.0.
        SIPP_UAC_PCAP[: SIPP_UAC_PCAP.index("event/8000")],  # a=rtpmap:101 telephone-
        SIPP_UAC_PCAP.replace("a=rtpmap:8 PCMA/8000", "a=rtpmap:8 PCMA/"),
        SIPP_UAC[: SIPP_UAC.index("IN IP4 127")],  # cut inside o=
        "",
        "v=0\n",
        "hello",
        "INVITE sip:bob@example.com SIP/2.0\r\n",
    ],
)
def test_truncated_or_malformed_is_sdp_error(offer: str) -> None:
    with pytest.raises(SdpError):
        answer(offer)


@pytest.mark.parametrize(
    ("bad", "good"),
    [
        ("m=audio 6000 RTP/AVP 0", "m=audio 70000 RTP/AVP 0"),
        ("m=audio 6000 RTP/AVP 0", "m=audio 6000 RTP/AVP zero"),
        ("m=audio 6000 RTP/AVP 0", "m=audio 6000 RTP/AVP 0\na=ptime:soon"),
        ("c=IN IP4 127.0.0.1", "c=IN IP6 127.0.0.1"),
        ("c=IN IP4 127.0.0.1", "c=IN IP4 pbx.example.com"),
        ("c=IN IP4 127.0.0.1", "c=IN IP4"),
        ("c=IN IP4 127.0.0.1\n", ""),  # no connection address anywhere
        ("s=-", "s=-\nnot a line"),
    ],
)
def test_bad_fields_are_sdp_errors(bad: str, good: str) -> None:
    with pytest.raises(SdpError):
        answer(SIPP_UAC.replace(bad, good))


@pytest.mark.parametrize(
    ("attribute", "ours", "sends"),
    [
        ("a=sendonly", "recvonly", False),  # the far end holds the call (music on hold)
        ("a=inactive", "inactive", False),
        ("a=recvonly", "sendonly", True),
        ("a=sendrecv", "sendrecv", True),
    ],
)
def test_direction_and_hold(attribute: str, ours: str, sends: bool) -> None:
    media_level = answer(SIPP_UAC + attribute + "\n")
    session_level = answer(SIPP_UAC.replace("t=0 0\n", f"t=0 0\n{attribute}\n"))
    for n in (media_level, session_level):
        assert n.direction == ours and n.sends is sends
        assert f"a={ours}\r\n" in n.answer_sdp


def test_media_direction_overrides_session_direction() -> None:
    offer = SIPP_UAC.replace("t=0 0\n", "t=0 0\na=sendonly\n") + "a=sendrecv\n"
    assert answer(offer).direction == "sendrecv"


def test_rfc2543_hold_with_zero_address() -> None:
    n = answer(SIPP_UAC.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0"))
    assert (n.direction, n.sends, n.receives) == ("recvonly", False, True)


def test_ipv6_offer_and_answer() -> None:
    offer = SIPP_UAC.replace("c=IN IP4 127.0.0.1", "c=IN IP6 2001:DB8:0:0::1")
    n = negotiate(offer, "2001:db8::5", LOCAL_PORT, 1)
    assert n.remote_address == ("2001:db8::1", 6000)
    assert "c=IN IP6 2001:db8::5\r\n" in n.answer_sdp
    assert "o=- 1 0 IN IP6 2001:db8::5\r\n" in n.answer_sdp


def test_media_level_connection_overrides_session_level() -> None:
    offer = SIPP_UAC + "c=IN IP4 198.51.100.7\n"
    assert answer(offer).remote_ip == "198.51.100.7"
    no_session_c = SIPP_UAC.replace("c=IN IP4 127.0.0.1\n", "") + "c=IN IP4 198.51.100.7\n"
    assert answer(no_session_c).remote_ip == "198.51.100.7"


def test_ptime_port_count_and_ttl() -> None:
    offer = SIPP_UAC.replace("6000 RTP/AVP 0", "6000/2 RTP/AVP 0\na=ptime:30")
    offer = offer.replace("127.0.0.1\nt=", "127.0.0.1/127\nt=")
    n = answer(offer)
    assert (n.remote_address, n.ptime_ms) == (("127.0.0.1", 6000), 30)
    assert "a=ptime:20\r\n" in n.answer_sdp  # we still ask for 20 ms packets


def test_second_audio_stream_rejected_first_taken() -> None:
    offer = SIPP_UAC + "m=audio 6100 RTP/AVP 8\n"
    n = answer(offer)
    assert n.remote_port == 6000
    assert [m.port for m in parse_sdp(n.answer_sdp).media] == [LOCAL_PORT, 0]


def test_first_usable_stream_wins_over_an_srtp_one() -> None:
    offer = SIPP_UAC.replace("m=audio 6000 RTP/AVP 0", "m=audio 5000 RTP/SAVP 0") + (
        "m=audio 6100 RTP/AVP 8\n"
    )
    n = answer(offer)
    assert (n.remote_port, n.codec) == (6100, "PCMA")
    assert [m.port for m in parse_sdp(n.answer_sdp).media] == [0, LOCAL_PORT]


@pytest.mark.parametrize(
    ("local_ip", "port", "prefer"),
    [("not-an-ip", LOCAL_PORT, ("PCMU",)), (LOCAL_IP, 0, ("PCMU",)), (LOCAL_IP, 4000, ("G722",))],
)
def test_our_own_bad_settings_are_not_blamed_on_the_offer(
    local_ip: str, port: int, prefer: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError) as raised:
        negotiate(SIPP_UAC, local_ip, port, 1, prefer)
    assert not isinstance(raised.value, SdpError | NoCommonCodec)


# --- fuzzing: only the module's own errors come out ------------------------------------


def _negotiate_or_refuse(text: str) -> None:
    try:
        n = answer(text)
    except (SdpError, NoCommonCodec):
        return
    assert n.codec in ("PCMU", "PCMA")
    parse_sdp(n.answer_sdp)  # what we write, we can read


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fuzz_any_text(text: str) -> None:
    _negotiate_or_refuse(text)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(REAL_OFFERS), st.data())
def test_fuzz_every_prefix_and_mangled_line(offer: str, data: st.DataObject) -> None:
    _negotiate_or_refuse(offer[: data.draw(st.integers(0, len(offer)))])
    lines = offer.splitlines()
    index = data.draw(st.integers(0, len(lines) - 1))
    kind = lines[index][:2]
    junk = data.draw(st.text(st.characters(codec="utf-8"), max_size=30))
    lines[index] = kind + junk
    _negotiate_or_refuse("\n".join(lines))


def test_our_late_offer_and_the_answer_to_it() -> None:
    offer = make_offer("203.0.113.5", 40000, 7, ("PCMA", "PCMU"))
    assert "m=audio 40000 RTP/AVP 8 0 101\r\n" in offer and offer.endswith("\r\n")
    parsed = parse_sdp(offer)
    assert parsed.connection == "203.0.113.5"
    assert parsed.media[0].rtpmaps[101] == RtpMap("TELEPHONE-EVENT", 8000)
    # The caller's answer (in its ACK) picks one codec of ours; read like an offer.
    answer = (
        "v=0\r\no=- 1 1 IN IP4 198.51.100.9\r\ns=-\r\nc=IN IP4 198.51.100.9\r\nt=0 0\r\n"
        "m=audio 7078 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    )
    got = negotiate(answer, "203.0.113.5", 40000, 7)
    assert (got.codec, got.telephone_event, got.remote_address) == (
        "PCMU",
        101,
        ("198.51.100.9", 7078),
    )
    assert negotiate(offer, "203.0.113.5", 40000, 7, prefer=("PCMA",)).codec == "PCMA"
    with pytest.raises(ValueError):
        make_offer("203.0.113.5", 40000, 7, ("OPUS",))
