"""G.711: table fast path vs per-sample reference, exhaustively, plus known vectors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from omnivox.kernels.g711 import (
    alaw_decode,
    alaw_decode_reference,
    alaw_encode,
    alaw_encode_reference,
    ulaw_decode,
    ulaw_decode_reference,
    ulaw_encode,
    ulaw_encode_reference,
)

ALL_PCM = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = np.arange(256, dtype=np.uint8)
LAWS = {
    "ulaw": (ulaw_encode, ulaw_decode, ulaw_encode_reference, ulaw_decode_reference),
    "alaw": (alaw_encode, alaw_decode, alaw_encode_reference, alaw_decode_reference),
}


@pytest.mark.parametrize("law", LAWS)
def test_encode_equals_reference_for_every_int16(law: str) -> None:
    encode, _, encode_ref, _ = LAWS[law]
    fast = encode(ALL_PCM)
    assert fast.dtype == np.uint8
    np.testing.assert_array_equal(fast, encode_ref(ALL_PCM))


@pytest.mark.parametrize("law", LAWS)
def test_decode_equals_reference_for_every_code(law: str) -> None:
    _, decode, _, decode_ref = LAWS[law]
    fast = decode(ALL_CODES)
    assert fast.dtype == np.int16
    np.testing.assert_array_equal(fast, decode_ref(ALL_CODES))


@pytest.mark.parametrize("law", LAWS)
def test_matches_audioop(law: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    encode, decode, _, _ = LAWS[law]
    lin2x = audioop.lin2ulaw if law == "ulaw" else audioop.lin2alaw
    x2lin = audioop.ulaw2lin if law == "ulaw" else audioop.alaw2lin
    expected_codes = np.frombuffer(lin2x(ALL_PCM.tobytes(), 2), dtype=np.uint8)
    np.testing.assert_array_equal(encode(ALL_PCM), expected_codes)
    expected_pcm = np.frombuffer(x2lin(ALL_CODES.tobytes(), 2), dtype=np.int16)
    np.testing.assert_array_equal(decode(ALL_CODES), expected_pcm)


def test_known_ulaw_vectors() -> None:
    pcm = np.array([0, -1, 32767, -32768, 100, -100], dtype=np.int16)
    assert ulaw_encode(pcm).tolist() == [0xFF, 0x7E, 0x80, 0x00, 0xF2, 0x72]
    assert ulaw_decode(bytes([0xFF, 0x7F, 0x80, 0x00])).tolist() == [0, 0, 32124, -32124]


def test_known_alaw_vectors() -> None:
    pcm = np.array([0, -1, 32767, -32768, 100, -100], dtype=np.int16)
    assert alaw_encode(pcm).tolist() == [0xD5, 0x55, 0xAA, 0x2A, 0xD3, 0x53]
    assert alaw_decode(bytes([0xD5, 0x55, 0xAA, 0x2A])).tolist() == [8, -8, 32256, -32256]


@pytest.mark.parametrize("law", LAWS)
def test_round_trip_error_is_within_half_a_step(law: str) -> None:
    encode, decode, _, _ = LAWS[law]
    x = ALL_PCM.astype(np.int64)
    err = np.abs(decode(encode(ALL_PCM)).astype(np.int64) - x)
    in_range = np.abs(x) <= 32000  # beyond that the top code's value (32124/32256) clips
    # Steps are 1/16 of the segment's lower edge, so half a step is <= |x|/32, plus the
    # truncation of 16-bit input to 14 or 13 bits.
    assert np.all(err[in_range] <= np.abs(x[in_range]) / 32 + 8)
    assert err.max() <= 644


@pytest.mark.parametrize("law", LAWS)
def test_decoded_values_are_fixed_points_and_order_is_kept(law: str) -> None:
    encode, decode, _, _ = LAWS[law]
    levels = decode(ALL_CODES)
    reencoded = encode(levels)
    # Every code survives decode -> encode, except µ-law's second zero (0x7F, "-0").
    mismatched = ALL_CODES[reencoded != ALL_CODES].tolist()
    assert mismatched == ([0x7F] if law == "ulaw" else [])
    assert np.all(np.diff(decode(encode(ALL_PCM)).astype(np.int32)) >= 0)


def test_decode_accepts_bytes_like_and_uint8_arrays() -> None:
    payload = ulaw_encode(np.array([5, -5, 1000], dtype=np.int16)).tobytes()
    expected = ulaw_decode(np.frombuffer(payload, dtype=np.uint8))
    for codes in (payload, bytearray(payload), memoryview(payload)):
        np.testing.assert_array_equal(ulaw_decode(codes), expected)
    assert alaw_decode(b"").shape == (0,)


def test_encode_accepts_non_contiguous_views() -> None:
    pcm = np.arange(-5000, 5000, 7, dtype=np.int16)
    np.testing.assert_array_equal(alaw_encode(pcm[::3]), alaw_encode(pcm[::3].copy()))


def test_bad_input_is_rejected_with_a_message() -> None:
    with pytest.raises(TypeError, match="int16"):
        ulaw_encode(np.zeros(4, dtype=np.float32))
    with pytest.raises(TypeError, match="int16"):
        alaw_encode([0, 1, 2])
    with pytest.raises(ValueError, match="1-D"):
        ulaw_encode(np.zeros((2, 4), dtype=np.int16))
    with pytest.raises(TypeError, match="uint8"):
        ulaw_decode(np.zeros(4, dtype=np.int16))
