"""The page's data-channel messages reach the conversation only as sane playout reports;
anything else is reported once and ignored (fuzzed). The agent's track learns the codec
the call sends it with."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCRtpSender
from hypothesis import given, settings
from hypothesis import strategies as st

from omnivox.agent.reply.playout import ClientPlayout
from omnivox.media.clock import Clock
from omnivox.media.frames import FRAME_SAMPLES
from omnivox.media.webrtc.peer import WebRTCPeer, sent_codec
from omnivox.media.webrtc.tracks import AgentAudioTrack


class Listener:
    """The conversation's side of the peer: playout reports into the real ClientPlayout."""

    def __init__(self) -> None:
        self.playout = ClientPlayout()
        self.errors: list[str] = []
        self.mouth_to_ear: list[tuple[str, float]] = []

    def open(self, _sid: str, _clock: Clock, _send: Callable[[str], None]) -> Listener:
        return self

    def report_playout_delay(self, delay_ms: float) -> None:
        assert math.isfinite(delay_ms) and delay_ms >= 0
        self.playout.report(delay_ms)

    def report_error(self, message: str, source: str) -> None:
        self.errors.append(message)

    def report_mouth_to_ear(self, reply_id: str, ms: float) -> None:
        assert math.isfinite(ms) and ms >= 0
        self.mouth_to_ear.append((reply_id, ms))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
PAGE_LIKE = st.fixed_dictionaries(
    {"type": st.sampled_from(["playout", "mouth_to_ear", "hello", ""]) | JSON_VALUES},
    optional={
        "delay_ms": JSON_VALUES | st.floats(min_value=-1e308, max_value=1e308),
        "ms": JSON_VALUES | st.floats(min_value=-1e308, max_value=1e308),
        "reply_id": JSON_VALUES,
    },
).map(json.dumps)
MESSAGES = st.one_of(
    st.text(max_size=100), st.binary(max_size=100), PAGE_LIKE, JSON_VALUES.map(json.dumps)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(MESSAGES, max_size=8), st.integers(min_value=4000, max_value=9000))
def test_fuzz_page_messages_never_break_the_call(messages: list[Any], big: int) -> None:
    listener = Listener()
    peer = WebRTCPeer("s1", RTCPeerConnection(), listener.open, video_max_fps=2.0)
    for message in [*messages, "x" * big]:
        peer._on_message(message)
    assert len(listener.errors) <= 1  # reported once, not once per message
    assert math.isfinite(listener.playout.lag_ms)


def test_a_playout_report_reaches_the_conversation() -> None:
    listener = Listener()
    peer = WebRTCPeer("s1", RTCPeerConnection(), listener.open, video_max_fps=2.0)
    peer._on_message('{"type": "playout", "delay_ms": 80}')
    assert listener.playout.lag_ms > 0 and listener.errors == []


def test_the_pages_mouth_to_ear_reaches_the_conversation() -> None:
    listener = Listener()
    peer = WebRTCPeer("s1", RTCPeerConnection(), listener.open, video_max_fps=2.0)
    peer._on_message('{"type": "mouth_to_ear", "reply_id": "r2", "ms": 412.5}')
    # Without a reply id, or with a time that is not one, it is not a measurement.
    peer._on_message('{"type": "mouth_to_ear", "ms": 400}')
    peer._on_message('{"type": "mouth_to_ear", "reply_id": "r3", "ms": -1}')
    assert listener.mouth_to_ear == [("r2", 412.5)] and listener.errors == []


def test_a_conversation_that_fails_on_a_message_does_not_end_the_call() -> None:
    """An exception raised into aiortc's SCTP handler would close the data channel."""

    class Broken(Listener):
        def report_playout_delay(self, delay_ms: float) -> None:
            raise RuntimeError("bug behind the message")

    listener = Broken()
    peer = WebRTCPeer("s1", RTCPeerConnection(), listener.open, video_max_fps=2.0)
    peer._on_message('{"type": "playout", "delay_ms": 80}')  # logged, not raised
    peer._on_message('{"type": "mouth_to_ear", "reply_id": "r1", "ms": 300}')
    assert listener.mouth_to_ear == [("r1", 300.0)]


class Speaker(Listener):
    def pull_audio(self) -> np.ndarray:
        return np.zeros(FRAME_SAMPLES, np.int16)


async def answered_peer(codecs: list[str] | None) -> tuple[WebRTCPeer, AgentAudioTrack]:
    """A peer that answered, with the agent's track, an offer preferring `codecs` (MIME
    types; None: aiortc's own order, Opus first, as browsers offer)."""
    caller = RTCPeerConnection()
    transceiver = caller.addTransceiver("audio")
    if codecs is not None:
        known = RTCRtpSender.getCapabilities("audio").codecs
        transceiver.setCodecPreferences([c for m in codecs for c in known if c.mimeType == m])
    await caller.setLocalDescription(await caller.createOffer())
    offer = caller.localDescription
    await caller.close()
    peer = WebRTCPeer("s1", RTCPeerConnection(), Speaker().open, video_max_fps=2.0)
    await peer.pc.setRemoteDescription(offer)
    track = peer.agent_track()
    peer.pc.addTrack(track)
    assert sent_codec(peer.pc, track) is None  # not negotiated yet
    await peer.pc.setLocalDescription(await peer.pc.createAnswer())
    return peer, track


async def test_the_agent_track_learns_the_codec_the_answer_sends_with() -> None:
    for offered, sent, kind in [
        (None, "audio/opus", av.Packet),
        (["audio/PCMU", "audio/opus"], "audio/PCMU", av.AudioFrame),
        (["audio/PCMA"], "audio/PCMA", av.AudioFrame),
    ]:
        peer, track = await answered_peer(offered)
        try:
            assert sent_codec(peer.pc, track) == sent
            assert sent_codec(peer.pc, peer.agent_track()) is None  # not this call's track
            assert isinstance(await track.recv(), kind)
        finally:
            await peer.pc.close()
