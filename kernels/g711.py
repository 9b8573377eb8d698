"""G.711 µ-law and A-law companding (ITU-T G.711), as used by PCMU/PCMA over RTP.

The fast path is table lookup: each 16-bit sample indexes a 65536-entry encode table and
each code a 256-entry decode table. The tables are built once at import with vectorised
bit arithmetic; the ``*_reference`` functions are an independent, per-sample transcription
of the G.711 segment formulas, and the tests check the two agree on every input.

16-bit input is reduced to the 14-bit (µ-law) or 13-bit (A-law) range G.711 specifies by
an arithmetic right shift, as the classic Sun/CCITT code and Python's ``audioop`` do, so
the encoders match ``audioop.lin2ulaw``/``lin2alaw`` bit for bit (e.g. -1 encodes as 0x7E
in µ-law: the shift floors -1/4 to -1, not to 0).
"""

from __future__ import annotations

import numpy as np

from omnivox.kernels._pcm import require_pcm

_ULAW_BIAS = 33  # added to the 14-bit magnitude so segment edges fall on powers of two
_ULAW_CLIP = 8159  # largest 14-bit magnitude that still fits after the bias
# Upper edge of each µ-law segment on the biased 14-bit magnitude, and of each A-law
# segment on the 13-bit magnitude (G.711 tables 2a/1a).
_ULAW_SEG_END = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_ALAW_SEG_END = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)

Codes = bytes | bytearray | memoryview | np.ndarray


def _bit_length(x: np.ndarray) -> np.ndarray:
    """Vectorised ``int.bit_length`` for non-negative integers below 2**24."""
    return np.frexp(x.astype(np.float64))[1].astype(np.int32)


def _build_ulaw_encode() -> np.ndarray:
    pcm = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32) >> 2
    negative = pcm < 0
    magnitude = np.minimum(np.abs(pcm), _ULAW_CLIP) + _ULAW_BIAS
    segment = _bit_length(magnitude) - 6  # biased magnitude is >= 33, so segment >= 0
    code = (segment << 4) | ((magnitude >> (segment + 1)) & 0x0F)
    # Magnitudes at the clip (8159 + 33 = 0x2000) fall past the last segment and take
    # its top code, 0x7F, as G.711 specifies for overload.
    code = np.where(segment >= 8, 0x7F, code)
    return (code ^ np.where(negative, 0x7F, 0xFF)).astype(np.uint8)


def _build_ulaw_decode() -> np.ndarray:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((code & 0x0F) << 3) + (_ULAW_BIAS << 2)) << ((code & 0x70) >> 4)
    return np.where(code & 0x80, (_ULAW_BIAS << 2) - t, t - (_ULAW_BIAS << 2)).astype(np.int16)


def _build_alaw_encode() -> np.ndarray:
    pcm = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32) >> 3
    positive = pcm >= 0
    magnitude = np.where(positive, pcm, -pcm - 1)  # 0..4095: one's complement for negatives
    segment = np.maximum(_bit_length(magnitude) - 5, 0)  # at most 7, as magnitude <= 0xFFF
    mantissa = np.where(segment < 2, magnitude >> 1, magnitude >> segment) & 0x0F
    return (((segment << 4) | mantissa) ^ np.where(positive, 0xD5, 0x55)).astype(np.uint8)


def _build_alaw_decode() -> np.ndarray:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    mantissa = (code & 0x0F) << 4
    segment = (code & 0x70) >> 4
    t = np.where(segment == 0, mantissa + 8, (mantissa + 0x108) << np.maximum(segment - 1, 0))
    return np.where(code & 0x80, t, -t).astype(np.int16)


_ULAW_ENCODE = _build_ulaw_encode()
_ULAW_DECODE = _build_ulaw_decode()
_ALAW_ENCODE = _build_alaw_encode()
_ALAW_DECODE = _build_alaw_decode()


def _as_codes(codes: Codes) -> np.ndarray:
    """View RTP payload bytes (or a uint8 array) as a 1-D uint8 array without copying."""
    if isinstance(codes, bytes | bytearray | memoryview):
        return np.frombuffer(codes, dtype=np.uint8)
    return require_pcm(codes, "G.711 codes", np.uint8)


def ulaw_encode(pcm: np.ndarray) -> np.ndarray:
    """Encode int16 PCM to µ-law codes (uint8; ``.tobytes()`` gives the RTP payload)."""
    return _ULAW_ENCODE[require_pcm(pcm, "pcm", np.int16).view(np.uint16)]


def ulaw_decode(codes: Codes) -> np.ndarray:
    """Decode µ-law codes (bytes or uint8 array) to int16 PCM."""
    return _ULAW_DECODE[_as_codes(codes)]


def alaw_encode(pcm: np.ndarray) -> np.ndarray:
    """Encode int16 PCM to A-law codes (uint8; ``.tobytes()`` gives the RTP payload)."""
    return _ALAW_ENCODE[require_pcm(pcm, "pcm", np.int16).view(np.uint16)]


def alaw_decode(codes: Codes) -> np.ndarray:
    """Decode A-law codes (bytes or uint8 array) to int16 PCM."""
    return _ALAW_DECODE[_as_codes(codes)]


# --- reference: one sample at a time, following the text of G.711 -----------------------


def _segment(magnitude: int, ends: tuple[int, ...]) -> int:
    """Index of the first segment whose upper edge is >= magnitude (len(ends) if none)."""
    for seg, end in enumerate(ends):
        if magnitude <= end:
            return seg
    return len(ends)


def _ulaw_encode_sample(sample: int) -> int:
    value = sample >> 2  # 16-bit to 14-bit
    sign = 0x80 if value < 0 else 0x00
    magnitude = min(abs(value), _ULAW_CLIP) + _ULAW_BIAS
    seg = _segment(magnitude, _ULAW_SEG_END)
    if seg >= 8:
        return 0x7F ^ (0x7F if sign else 0xFF)
    mantissa = (magnitude >> (seg + 1)) & 0x0F
    return ~(sign | (seg << 4) | mantissa) & 0xFF  # µ-law transmits all bits inverted


def _ulaw_decode_code(code: int) -> int:
    code = ~code & 0xFF
    seg = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = ((2 * mantissa + _ULAW_BIAS) << seg) - _ULAW_BIAS  # 14-bit, mid-riser
    return -4 * magnitude if code & 0x80 else 4 * magnitude


def _alaw_encode_sample(sample: int) -> int:
    value = sample >> 3  # 16-bit to 13-bit
    if value >= 0:
        sign, magnitude = 0x80, value
    else:
        sign, magnitude = 0x00, -value - 1
    seg = _segment(magnitude, _ALAW_SEG_END)  # at most 7: a 13-bit magnitude is <= 0xFFF
    mantissa = (magnitude >> (1 if seg < 2 else seg)) & 0x0F
    return (sign | (seg << 4) | mantissa) ^ 0x55  # A-law inverts the even bits


def _alaw_decode_code(code: int) -> int:
    code ^= 0x55
    seg = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (2 * mantissa + 1) * 8 if seg == 0 else (2 * mantissa + 33) << (seg + 2)
    return magnitude if code & 0x80 else -magnitude


def ulaw_encode_reference(pcm: np.ndarray) -> np.ndarray:
    """Per-sample µ-law encoder; slow, for tests and benchmarks."""
    samples = require_pcm(pcm, "pcm", np.int16).tolist()
    return np.array([_ulaw_encode_sample(s) for s in samples], dtype=np.uint8)


def ulaw_decode_reference(codes: Codes) -> np.ndarray:
    """Per-code µ-law decoder; slow, for tests and benchmarks."""
    return np.array([_ulaw_decode_code(c) for c in _as_codes(codes).tolist()], dtype=np.int16)


def alaw_encode_reference(pcm: np.ndarray) -> np.ndarray:
    """Per-sample A-law encoder; slow, for tests and benchmarks."""
    samples = require_pcm(pcm, "pcm", np.int16).tolist()
    return np.array([_alaw_encode_sample(s) for s in samples], dtype=np.uint8)


def alaw_decode_reference(codes: Codes) -> np.ndarray:
    """Per-code A-law decoder; slow, for tests and benchmarks."""
    return np.array([_alaw_decode_code(c) for c in _as_codes(codes).tolist()], dtype=np.int16)
