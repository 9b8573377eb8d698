"""WebRTC media edges on aiortc: the agent's outgoing track and the inbound consumers.

The outgoing track is pull-based and just-in-time: it sleeps until a frame is due, then
asks the session for it. Nothing sits in a transport-side buffer, so when a reply is
cancelled the very next frame sent is already silence. When the call sends Opus it hands
aiortc Opus packets it encodes itself (opus_packets: silence costs next to nothing).
"""

from __future__ import annotations

import fractions
import logging
import time
from collections.abc import Callable

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from omnivox.media.frames import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame, Reframer, av_mono_frame
from omnivox.media.pacing import FrameSchedule
from omnivox.media.webrtc.opus_packets import OPUS_MIME_TYPE, OpusPackets

log = logging.getLogger(__name__)

_TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)


class AgentAudioTrack(MediaStreamTrack):
    """Outgoing agent audio: 20 ms, 16 kHz mono frames pulled from `source` when due.

    They go to aiortc as Opus packets if `codec` (the MIME type of the codec the call
    sends with, asked once, at the first frame: aiortc pulls only once the call is
    negotiated) is Opus, else as frames for aiortc to encode. Never a mix: aiortc times
    packets and frames by different clocks."""

    kind = "audio"

    def __init__(
        self,
        source: Callable[[], np.ndarray],
        codec: Callable[[], str | None] = lambda: None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._source = source
        self._codec = codec
        self._schedule = FrameSchedule(FRAME_SAMPLES / SAMPLE_RATE, monotonic)
        self.opus: OpusPackets | None = None
        self.frames_sent = 0

    async def recv(self) -> av.AudioFrame | av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        index = await self._schedule.wait()
        if index == 0 and (self._codec() or "").lower() == OPUS_MIME_TYPE:
            self.opus = OpusPackets()
        pcm = self._source()
        self.frames_sent += 1
        if self.opus is not None:
            return self.opus.packet(pcm, index)
        frame = av_mono_frame(pcm)
        frame.pts = index * FRAME_SAMPLES
        frame.time_base = _TIME_BASE
        return frame


class InboundAudio:
    """Turns a remote audio track into 16 kHz mono 20 ms `AudioFrame`s on a media clock
    that counts received samples.

    Digital silence (a muted or noise-suppressed microphone: most of an idle call) skips
    the resampler once the resampler holds nothing but silence: its output would be
    zeros, as many as the frame is long at 16 kHz, which is what is passed on."""

    def __init__(self, on_frame: Callable[[AudioFrame], None]) -> None:
        self._on_frame = on_frame
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self._input: tuple[str, str, int] | None = None
        self._reframer = Reframer()
        self._holds_silence = False  # the resampler's last input was all zeros
        self.samples = 0
        self.silent_frames = 0
        """Frames passed on as silence without the resampler."""

    def feed(self, frame: av.AudioFrame) -> None:
        shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        # Only a frame that is a whole number of 16 kHz samples long may skip the
        # resampler: else the resampler carries a fraction of a sample over.
        silent = (
            frame.samples * SAMPLE_RATE % frame.sample_rate == 0 and not frame.to_ndarray().any()
        )
        if silent and self._holds_silence and shape == self._input:
            self.silent_frames += 1
            self._pass_on(np.zeros(frame.samples * SAMPLE_RATE // frame.sample_rate, np.int16))
            return
        self._holds_silence = silent
        resampled = []
        if self._input is not None and shape != self._input:
            # A resampler is set up by its first frame and refuses others: a far end
            # that switches codec or rate mid-call (renegotiation) gets a fresh one,
            # after what the old one holds.
            resampled = self._resampler.resample(None)
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self._input = shape
        for out in [*resampled, *self._resampler.resample(frame)]:
            self._pass_on(out.to_ndarray().reshape(-1).astype(np.int16, copy=False))

    def _pass_on(self, pcm: np.ndarray) -> None:
        for chunk in self._reframer.push(pcm):
            self._on_frame(AudioFrame(chunk, SAMPLE_RATE, self.samples))
            self.samples += FRAME_SAMPLES

    async def consume(self, track: MediaStreamTrack) -> None:
        """Read the track until it ends."""
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, av.AudioFrame):
                    self.feed(frame)
        except MediaStreamError:
            return


MAX_SNAPSHOT_WIDTH = 640
"""Sampled frames are scaled down to this width: enough for a face detector and for a
vision model's snapshot, and it bounds the cost of an HD camera."""


def frame_to_rgb(frame: av.VideoFrame, max_width: int = MAX_SNAPSHOT_WIDTH) -> np.ndarray:
    """An RGB (H, W, 3) uint8 array of the frame, no wider than `max_width`."""
    width, height = frame.width, frame.height
    if width > max_width:
        width, height = max_width, max(2, round(height * max_width / width / 2) * 2)
    return frame.to_ndarray(format="rgb24", width=width, height=height)


class InboundVideo:
    """Samples a remote video track at most `max_fps`, handing on the frames it keeps.

    Every frame must be read (aiortc queues undecoded frames without bound otherwise);
    only the sampled ones are converted, which keeps an idle camera cheap.
    """

    def __init__(self, on_frame: Callable[[av.VideoFrame], None], max_fps: float = 2.0) -> None:
        self._on_frame = on_frame
        self._min_gap = 1.0 / max_fps if max_fps > 0 else float("inf")
        self._last: float | None = None
        self.dropped = 0

    async def consume(
        self, track: MediaStreamTrack, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        try:
            while True:
                frame = await track.recv()
                now = monotonic()
                if isinstance(frame, av.VideoFrame) and (
                    self._last is None or now - self._last >= self._min_gap
                ):
                    self._last = now
                    self._hand_on(frame)
        except MediaStreamError:
            return

    def _hand_on(self, frame: av.VideoFrame) -> None:
        """A frame the consumer cannot use is dropped; the call goes on."""
        try:
            self._on_frame(frame)
        except Exception as err:
            self.dropped += 1
            if self.dropped == 1:  # once, not twice a second
                log.warning("video frame %dx%d dropped: %s", frame.width, frame.height, err)
