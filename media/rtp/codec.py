"""G.711 RTP payloads <-> the 16 kHz int16 frames omnivox runs on, with loss concealment.

Companding is kernels/g711.py. The 8 <-> 16 kHz step is libswresample through PyAV (as
in media/webrtc/tracks.py), not kernels/resample.py's StreamResampler: soxr filters in
DFT blocks and hands 8 -> 16 kHz output back in bursts every ~100 ms (60 ms at "LQ"),
which would add that much delay to every phone call in each direction, while
libswresample returns every 20 ms chunk's worth at once with about 2 ms of filter delay
and alias-free (a 6 kHz tone at 16 kHz does not fold into the 8 kHz output).
"""

from __future__ import annotations

import numpy as np

from omnivox.kernels._pcm import require_pcm
from omnivox.kernels.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from omnivox.media.resampler import PcmResampler

SAMPLE_RATE = 16_000
"""omnivox's internal rate (media/frames.py)."""
G711_RATE = 8_000
CONCEAL_FRAMES = 3
"""Lost packets in a row that repeat the last one, fading out; silence after that."""

_LAWS = {
    "PCMU": (0, ulaw_encode, ulaw_decode),
    "PCMA": (8, alaw_encode, alaw_decode),
}


class _Resampler:
    """A libswresample stream that returns exactly `len(chunk) * dst / src` samples for
    each chunk, so one 20 ms payload always gives one 20 ms frame.

    libswresample keeps its filter's delay (32 samples at 16 kHz) back from the first
    chunk and is exact from then on: the first output is padded in front with that many
    zeros, which is the same as the stream starting 2 ms later.
    """

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        self._src_rate = src_rate
        self._dst_rate = dst_rate
        self._stream = PcmResampler(src_rate, dst_rate)
        self._held = np.zeros(0, dtype=np.int16)

    def process(self, pcm: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self._held, self._stream.process(pcm)])
        need = len(pcm) * self._dst_rate // self._src_rate
        if len(buf) < need:
            buf = np.concatenate([np.zeros(need - len(buf), dtype=np.int16), buf])
        self._held = buf[need:]
        return buf[:need]


class G711Codec:
    """PCMU or PCMA for one call: `decode`/`conceal` for what the caller says, `encode`
    for what we say. Each direction keeps its own resampler state, so one instance can
    serve both directions of one call, but never two calls (nor two streams in a row:
    make a new one when the far end restarts its stream).
    """

    def __init__(self, name: str) -> None:
        upper = name.upper()
        if upper not in _LAWS:
            raise ValueError(f"G711Codec speaks PCMU or PCMA, not {name!r}")
        self.name = upper
        self.payload_type, self._encode, self._decode = _LAWS[upper]
        self._up: _Resampler | None = None
        self._down: _Resampler | None = None
        self._last = np.zeros(0, dtype=np.int16)  # the last payload decoded, at 8 kHz
        self._concealed = 0  # lost packets since it

    def decode(self, payload: bytes) -> np.ndarray:
        """One payload (160 bytes for 20 ms) -> 16 kHz int16 PCM (320 samples)."""
        pcm = self._decode(payload)
        self._last = pcm
        self._concealed = 0
        return self._upsample(pcm)

    def conceal(self, samples: int = 160) -> np.ndarray:
        """16 kHz PCM standing in for one lost payload of `samples` at 8 kHz.

        The last payload again, fading linearly to silence over CONCEAL_FRAMES losses in a
        row (so the first repeats it almost whole, and no step is heard at its edges),
        then silence. It goes through the same resampler, so the filter state stays
        continuous and the next real payload joins without a click.
        """
        self._concealed += 1
        if self._concealed > CONCEAL_FRAMES or len(self._last) == 0:
            pcm = np.zeros(samples, dtype=np.int16)
        else:
            last = np.resize(self._last, samples)  # repeats it if it was shorter
            start = 1.0 - (self._concealed - 1) / CONCEAL_FRAMES
            fade = np.linspace(start, start - 1.0 / CONCEAL_FRAMES, samples, dtype=np.float32)
            pcm = np.round(last * fade).astype(np.int16)
        return self._upsample(pcm)

    def encode(self, pcm: np.ndarray) -> bytes:
        """16 kHz int16 PCM of even length (320 samples for 20 ms) -> one payload."""
        require_pcm(pcm, "pcm", np.int16)
        if len(pcm) % 2:
            raise ValueError(f"16 kHz PCM must have an even length to halve, got {len(pcm)}")
        if self._down is None:
            self._down = _Resampler(SAMPLE_RATE, G711_RATE)
        return bytes(self._encode(self._down.process(pcm)).tobytes())

    def _upsample(self, pcm: np.ndarray) -> np.ndarray:
        if self._up is None:
            self._up = _Resampler(G711_RATE, SAMPLE_RATE)
        return self._up.process(pcm)
