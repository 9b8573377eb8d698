"""One WebRTC call: an aiortc peer connection carrying one conversation.

Mic audio in, optional camera video in, agent audio out, and an `events` data channel:
events go to the page as JSON lines, the page's playout reports come back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Coroutine
from typing import Any, TypeGuard

from aiortc import RTCPeerConnection, sdp
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcdatachannel import RTCDataChannel

from omnivox.media.clock import MediaClock
from omnivox.media.frames import AudioFrame
from omnivox.media.sessions import SessionTasks
from omnivox.media.transport import Conversation, ConversationFactory
from omnivox.media.webrtc import receive_buffer
from omnivox.media.webrtc.tracks import (
    AgentAudioTrack,
    InboundAudio,
    InboundVideo,
    frame_to_rgb,
)

MAX_BACKLOG = 500
"""Events kept for the page until its data channel opens."""
MAX_MESSAGE_CHARS = 4096

log = logging.getLogger(__name__)


class WebRTCPeer:
    def __init__(
        self,
        session_id: str,
        pc: RTCPeerConnection,
        open_conversation: ConversationFactory,
        video_max_fps: float,
    ) -> None:
        self.id = session_id
        self.transport = "webrtc"
        self.pc = pc
        self.clock = MediaClock()
        self.conversation: Conversation = open_conversation(session_id, self.clock, self._send)
        self.channel: RTCDataChannel | None = None
        self._backlog: list[str] = []
        self.tasks = SessionTasks(session_id)
        self.audio_in = InboundAudio(self._on_audio)
        self.video_in = InboundVideo(
            lambda frame: self.conversation.push_video(frame_to_rgb(frame)), video_max_fps
        )
        self.closed = asyncio.Event()
        self._bad_message_reported = False
        pc.on("track", self._on_track)
        pc.on("datachannel", self._attach_channel)

    def agent_track(self) -> AgentAudioTrack:
        track = AgentAudioTrack(self.conversation.pull_audio, lambda: sent_codec(self.pc, track))
        return track

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        self.tasks.spawn(coro, name)

    @property
    def running_tasks(self) -> int:
        return self.tasks.running

    async def close(self, reason: str) -> None:
        self.closed.set()
        await self.conversation.close(reason)
        # Not the task running this close (a connection-state handler may be).
        await self.tasks.cancel_all()
        await self.pc.close()

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            receive_buffer.install(self.pc, track)
            self.spawn(self.audio_in.consume(track), "audio-in")
        elif track.kind == "video":
            self.spawn(self.video_in.consume(track), "video-in")

    def _on_audio(self, frame: AudioFrame) -> None:
        self.clock.on_audio(frame.t_ms + frame.duration_ms)
        self.conversation.push_audio(frame)

    def _attach_channel(self, channel: RTCDataChannel) -> None:
        if channel.label != "events":
            return
        self.channel = channel
        channel.on("message", self._on_message)
        backlog, self._backlog = self._backlog, []
        for line in backlog:
            channel.send(line)

    def _on_message(self, message: object) -> None:
        """Messages from the page: playout reports (other types are for newer servers).
        An unreadable one is reported once and ignored: a foreign page must not break
        the call."""
        data = _page_message(message)
        if data is None:
            if not self._bad_message_reported:
                self._bad_message_reported = True
                self.conversation.report_error(
                    "unreadable message from the page: expected a JSON object with a "
                    '"type", like {"type": "playout", "delay_ms": 40}',
                    source="data_channel",
                )
            return
        try:
            self._dispatch(data)
        except Exception:  # raised into aiortc's SCTP handler it would end the call
            log.exception("session %s: the page's %r message failed", self.id, data["type"])

    def _dispatch(self, data: dict[str, Any]) -> None:
        delay = data.get("delay_ms")
        if data["type"] == "playout" and _is_real(delay) and delay >= 0:
            self.conversation.report_playout_delay(float(delay))
        elif data["type"] == "mouth_to_ear":
            ms, reply_id = data.get("ms"), data.get("reply_id")
            if _is_real(ms) and ms >= 0 and isinstance(reply_id, str):
                self.conversation.report_mouth_to_ear(reply_id, float(ms))

    def _send(self, line: str) -> None:
        ch = self.channel
        if ch is not None and ch.readyState == "open":
            ch.send(line)
        elif ch is None and len(self._backlog) < MAX_BACKLOG:
            self._backlog.append(line)


def sent_codec(pc: RTCPeerConnection, track: MediaStreamTrack) -> str | None:
    """The MIME type ("audio/opus") of the codec `pc` sends `track` with; None before
    the call is negotiated. aiortc sends with the first codec its local description (its
    offer or answer) lists in the track's m-line."""
    local = pc.localDescription
    mid = next((t.mid for t in pc.getTransceivers() if t.sender.track is track), None)
    if local is None or mid is None:
        return None
    for media in sdp.SessionDescription.parse(local.sdp).media:
        if media.rtp.muxId == mid and media.rtp.codecs:
            return media.rtp.codecs[0].mimeType
    return None


def _page_message(message: object) -> dict[str, Any] | None:
    """A data channel message as a JSON object with a string `type`, else None."""
    if not isinstance(message, str) or len(message) > MAX_MESSAGE_CHARS:
        return None
    try:
        data = json.loads(message)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return None
    return data


def _is_real(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
