"""The WebRTC inbound audio buffer: order kept, gaps skipped, depth following the network."""

from __future__ import annotations

from omnivox.media.webrtc.receive_buffer import MAX_DEPTH, ReorderWindow


def feed(window: ReorderWindow[int], seqs: list[int]) -> list[int | None]:
    return [window.add(s % 65536, s) for s in seqs]


def test_packets_in_order_go_straight_through() -> None:
    window: ReorderWindow[int] = ReorderWindow()
    assert feed(window, list(range(100, 110))) == list(range(100, 110))


def test_a_swapped_pair_is_put_back_in_order_one_arrival_late() -> None:
    window: ReorderWindow[int] = ReorderWindow(depth=1)
    assert feed(window, [1, 3, 2, 4, 5]) == [1, None, 2, 3, 4]
    assert window.skipped == 0 and window.late == 0


def test_a_lost_packet_is_skipped_after_depth_later_ones_not_sixteen() -> None:
    window: ReorderWindow[int] = ReorderWindow(depth=2)
    out = feed(window, [1, 2, 4, 5, 6, 7])
    assert out == [1, 2, None, None, 4, 5]  # 3 given up once 4, 5 and 6 were held
    assert window.skipped == 1


def test_a_packet_after_its_gap_was_skipped_deepens_the_window() -> None:
    window: ReorderWindow[int] = ReorderWindow(depth=1)
    feed(window, [1, 3, 4])  # 2 skipped at 4
    assert window.add(2, 2) is None  # too late: dropped
    assert window.late == 1 and window.depth == 3  # 3 and 4 had come: depth 3 waits
    assert window.add(3, 3) is None and window.late == 1  # a duplicate is not "late"


def test_depth_is_bounded_and_comes_back_down_when_calm() -> None:
    window: ReorderWindow[int] = ReorderWindow(depth=1)
    feed(window, [1, *range(400, 420)])  # the jump is a new stream, not 398 losses
    assert window.skipped == 0
    window = ReorderWindow(depth=MAX_DEPTH)
    feed(window, list(range(0, 1600)))
    assert window.depth == MAX_DEPTH - 1


def test_sequence_numbers_wrap() -> None:
    window: ReorderWindow[int] = ReorderWindow()
    seqs = list(range(65530, 65542))
    assert feed(window, seqs) == seqs


async def test_installed_in_a_real_aiortc_receiver_packets_decode_on_arrival() -> None:
    from aiortc import RTCPeerConnection
    from aiortc.mediastreams import MediaStreamTrack
    from aiortc.rtp import RtpPacket

    from omnivox.media.webrtc.receive_buffer import install

    pc = RTCPeerConnection()
    try:
        receiver = pc.addTransceiver("audio").receiver
        track: MediaStreamTrack = receiver.track
        assert install(pc, track) is not None
        buffer = receiver._RTCRtpReceiver__jitter_buffer  # type: ignore[attr-defined]

        def add(seq: int) -> int | None:
            packet = RtpPacket(sequence_number=seq, timestamp=seq * 960)
            packet._data = b"opus"  # type: ignore[attr-defined]  # depayloaded, as aiortc leaves it
            frame = buffer.add(packet)[1]
            return None if frame is None else frame.timestamp // 960

        # aiortc's own buffer would hold packet 0 until packet 4 came (80 ms).
        assert [add(0), add(1)] == [0, 1]
        # 3 overtakes 2: nothing skips ahead, 2 then goes out, 3 on the next arrival.
        assert [add(3), add(2), add(4)] == [None, 2, 3]
    finally:
        await pc.close()
