"""The WebRTC media edges, fed av frames by a scripted aiortc track (no network)."""

from __future__ import annotations

import fractions

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from hypothesis import given, settings
from hypothesis import strategies as st

from omnivox.media.frames import FRAME_SAMPLES, AudioFrame
from omnivox.media.webrtc.tracks import AgentAudioTrack, InboundAudio, InboundVideo, frame_to_rgb


class ScriptedTrack(MediaStreamTrack):
    """Hands out the given frames, then ends like a remote track that hung up."""

    def __init__(self, kind: str, frames: list[av.AudioFrame | av.VideoFrame]) -> None:
        super().__init__()
        self.kind = kind
        self._frames = list(frames)

    async def recv(self) -> av.AudioFrame | av.VideoFrame:
        if not self._frames:
            raise MediaStreamError
        return self._frames.pop(0)


def opus_like_frames(seconds: float, rate: int = 48000) -> list[av.AudioFrame]:
    """20 ms stereo s16 frames of a 440 Hz tone, as aiortc's Opus decoder produces them."""
    n = int(rate * 0.02)
    out = []
    for i in range(int(seconds / 0.02)):
        t = (np.arange(n) + i * n) / rate
        tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(tone, 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = rate
        frame.pts = i * n
        frame.time_base = fractions.Fraction(1, rate)
        out.append(frame)
    return out


def video_frame(width: int = 640, height: int = 480, value: int = 128) -> av.VideoFrame:
    rgb = np.full((height, width, 3), value, np.uint8)
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


async def test_inbound_audio_becomes_16k_mono_frames_on_a_sample_clock() -> None:
    got: list[AudioFrame] = []
    inbound = InboundAudio(got.append)
    await inbound.consume(ScriptedTrack("audio", opus_like_frames(1.0)))
    assert all(len(f.pcm) == FRAME_SAMPLES for f in got)
    assert [f.t_ms for f in got[:3]] == [0.0, 20.0, 40.0]
    assert 45 <= len(got) <= 50  # the resampler holds back a few ms
    pcm = np.concatenate([f.pcm for f in got])
    spectrum = np.abs(np.fft.rfft(pcm[1600:]))
    assert abs(np.argmax(spectrum) * 16000 / len(pcm[1600:]) - 440) < 5


def test_digital_silence_skips_the_resampler_and_gives_the_same_samples() -> None:
    tone = opus_like_frames(0.3)
    silence = opus_like_frames(0.3)
    for frame in silence:
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
    frames = [*tone[:5], *silence[:10], *tone[5:10], *silence[10:], *tone[10:]]
    got: list[AudioFrame] = []
    inbound = InboundAudio(got.append)
    for frame in frames:
        inbound.feed(frame)
    assert inbound.silent_frames == 9 + 4  # all but the first of each silent run
    plain = av.AudioResampler(format="s16", layout="mono", rate=16000)
    outs = [out for frame in frames for out in plain.resample(frame)]
    expected = np.concatenate([out.to_ndarray().reshape(-1) for out in outs])
    pcm = np.concatenate([f.pcm for f in got])
    assert np.array_equal(pcm, expected[: len(pcm)])
    assert len(expected) - len(pcm) < FRAME_SAMPLES  # only the reframer's remainder


async def test_inbound_video_keeps_at_most_max_fps() -> None:
    kept: list[av.VideoFrame] = []
    clock = iter(np.arange(0, 3, 1 / 30))  # 30 fps for 3 s
    inbound = InboundVideo(kept.append, max_fps=2.0)
    track = ScriptedTrack("video", [video_frame(64, 48) for _ in range(90)])
    await inbound.consume(track, monotonic=lambda: float(next(clock)))
    assert len(kept) == 6


async def test_a_frame_the_consumer_rejects_is_dropped_and_the_track_goes_on() -> None:
    seen: list[int] = []

    def consumer(frame: av.VideoFrame) -> None:
        seen.append(frame.width)
        if len(seen) == 1:
            raise ValueError("bad frame")

    clock = iter(range(10))
    inbound = InboundVideo(consumer, max_fps=2.0)
    await inbound.consume(
        ScriptedTrack("video", [video_frame(64, 48) for _ in range(3)]),
        monotonic=lambda: float(next(clock)),
    )
    assert len(seen) == 3 and inbound.dropped == 1


def test_frames_are_scaled_to_640_wide_keeping_the_aspect() -> None:
    assert frame_to_rgb(video_frame(1280, 720)).shape == (360, 640, 3)
    assert frame_to_rgb(video_frame(320, 240)).shape == (240, 320, 3)
    rgb = frame_to_rgb(video_frame(640, 480, value=200))
    assert rgb.dtype == np.uint8 and abs(int(rgb.mean()) - 200) <= 2


async def test_agent_track_pulls_frames_with_continuous_timestamps() -> None:
    pulls = iter(range(1000))
    now = [0.0]
    track = AgentAudioTrack(
        lambda: np.full(FRAME_SAMPLES, next(pulls), np.int16), monotonic=lambda: now[0]
    )
    frames = []
    for _ in range(3):
        frames.append(await track.recv())
        now[0] += 0.02
    assert [f.pts for f in frames] == [0, FRAME_SAMPLES, 2 * FRAME_SAMPLES]
    assert [int(f.to_ndarray()[0, 0]) for f in frames] == [0, 1, 2]
    assert frames[0].sample_rate == 16000 and track.frames_sent == 3


async def test_agent_track_sends_opus_packets_when_the_call_sends_opus() -> None:
    asked = []
    speaking = [True]
    now = [0.0]

    def codec() -> str:
        asked.append(now[0])
        return "audio/opus"

    tone = (3000 * np.sin(np.arange(FRAME_SAMPLES) * 2 * np.pi / 40)).astype(np.int16)

    def source() -> np.ndarray:
        return tone if speaking[0] else np.zeros(FRAME_SAMPLES, np.int16)

    track = AgentAudioTrack(source, codec, monotonic=lambda: now[0])
    sent = []
    for i in range(40):
        speaking[0] = i < 10  # the reply is cancelled at frame 10
        sent.append(await track.recv())
        now[0] += 0.02
    assert all(isinstance(p, av.Packet) for p in sent) and asked == [0.0]
    assert [p.pts for p in sent] == [i * 960 for i in range(40)]
    assert track.opus is not None and track.opus.encoded < 20  # the settled silence is resent
    decoder = av.CodecContext.create("libopus", "r")  # 48 kHz stereo
    heard = np.concatenate([f.to_ndarray()[0, ::2] for p in sent for f in decoder.decode(p)])
    # Nothing queued: the cancel is heard at once, but for the codec's 6.5 ms lookahead
    # and a decaying tail.
    cancel = 10 * 960
    assert np.abs(heard[cancel - 960 : cancel]).max() > 2500
    assert np.abs(heard[cancel + 10 * 48 :]).max() < 300  # a tenth of the tone
    assert not heard[cancel + 2 * 960 :].any()


async def test_agent_track_sends_frames_for_aiortc_to_encode_with_other_codecs() -> None:
    now = [0.0]
    track = AgentAudioTrack(
        lambda: np.zeros(FRAME_SAMPLES, np.int16), lambda: "audio/PCMU", lambda: now[0]
    )
    for _ in range(3):
        frame = await track.recv()
        now[0] += 0.02
    assert isinstance(frame, av.AudioFrame) and frame.pts == 2 * FRAME_SAMPLES
    assert track.opus is None


# ---- fuzzing: frames of any size, rate and layout become 20 ms, 16 kHz mono frames -----

RATES = st.sampled_from([8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 96000])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            RATES,
            st.integers(min_value=1, max_value=4000),
            st.sampled_from(["mono", "stereo"]),
            st.sampled_from(["s16", "fltp"]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_fuzz_odd_inbound_frames_become_whole_16k_frames(
    shapes: list[tuple[int, int, str, str]],
) -> None:
    out: list[AudioFrame] = []
    inbound = InboundAudio(out.append)
    rng = np.random.default_rng(len(shapes))
    for rate, samples, layout, fmt in shapes:
        channels = 2 if layout == "stereo" else 1
        if fmt == "s16":
            data = rng.integers(-32768, 32767, (1, samples * channels), dtype=np.int16)
        else:
            data = rng.uniform(-1, 1, (channels, samples)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(data, format=fmt, layout=layout)
        frame.sample_rate = rate
        inbound.feed(frame)
    for i, frame in enumerate(out):
        assert frame.pcm.shape == (FRAME_SAMPLES,) and frame.pcm.dtype == np.int16
        assert frame.t_ms == i * 20
