"""The adaptive jitter buffer in virtual time: packets arrive at given instants, the
shell pops every 20 ms (at 10 ms past each 20 ms mark, so no arrival ties a pop)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from omnivox.media.rtp.jitter_buffer import JitterBuffer, JitterConfig, Lost, Payload

FRAME_MS = 20
TS_STEP = 160


@dataclass(frozen=True)
class Packet:
    arrival_ms: float
    seq: int
    ts: int
    ssrc: int = 1

    @property
    def data(self) -> bytes:
        return self.seq.to_bytes(2, "big")  # lets a test see which packet played


def stream(
    count: int, seq0: int = 1000, ts0: int = 50_000, delays: list[float] | None = None
) -> list[Packet]:
    """`count` packets sent every 20 ms from t=0, each arriving after its delay."""
    return [
        Packet(
            i * FRAME_MS + (delays[i] if delays else 1.0),
            (seq0 + i) & 0xFFFF,
            (ts0 + i * TS_STEP) & 0xFFFFFFFF,
        )
        for i in range(count)
    ]


def run(
    buffer: JitterBuffer,
    packets: list[Packet],
    ticks: int,
    start_ms: float = 0.0,
    delays: list[int] | None = None,
) -> list[Payload | Lost | None]:
    """Push each packet at its arrival, pop at start_ms + 10 + 20 k for k < ticks
    (noting in `delays` what was buffered before each pop)."""
    pending = sorted(packets, key=lambda p: p.arrival_ms)
    out: list[Payload | Lost | None] = []
    for k in range(ticks):
        now = start_ms + 10 + FRAME_MS * k
        while pending and pending[0].arrival_ms <= now:
            p = pending.pop(0)
            buffer.push(p.seq, p.ts, p.data, p.arrival_ms, ssrc=p.ssrc)
        if delays is not None:
            delays.append(buffer.stats.delay_ms)
        out.append(buffer.pop(now))
    return out


def played(out: list[Payload | Lost | None]) -> list[int]:
    return [int.from_bytes(o.data, "big") for o in out if isinstance(o, Payload)]


def test_in_order_waits_for_the_target_then_plays_everything() -> None:
    buffer = JitterBuffer()  # initial target 40 ms: two packets
    out = run(buffer, stream(50), 60)
    assert out[0] is None  # one packet buffered: below the target
    assert isinstance(out[1], Payload)
    assert played(out) == list(range(1000, 1050))
    s = buffer.stats
    assert (s.received, s.lost, s.late, s.duplicates, s.discarded) == (50, 0, 0, 0, 0)
    assert s.jitter_ms < 0.01


def test_reordered_packets_play_in_order() -> None:
    packets = stream(40)
    for i in range(2, 38, 4):  # swap neighbours: the later one overtakes by 5 ms
        a, b = packets[i], packets[i + 1]
        packets[i], packets[i + 1] = (
            Packet(b.arrival_ms + 5, a.seq, a.ts),
            Packet(b.arrival_ms - 5, b.seq, b.ts),
        )
    buffer = JitterBuffer()
    assert played(run(buffer, packets, 50)) == list(range(1000, 1040))
    assert buffer.stats.lost == buffer.stats.late == 0


def test_duplicates_are_dropped_and_counted() -> None:
    packets = stream(30)
    copies = [Packet(p.arrival_ms + 2, p.seq, p.ts) for p in packets[::3]]
    replayed = [Packet(p.arrival_ms + 200, p.seq, p.ts) for p in packets[:3]]  # long played
    buffer = JitterBuffer()
    assert played(run(buffer, packets + copies + replayed, 40)) == list(range(1000, 1030))
    assert buffer.stats.duplicates == len(copies) + len(replayed)
    assert buffer.stats.late == 0


def test_lost_packet_is_a_lost_slot() -> None:
    packets = [p for p in stream(30) if p.seq not in (1010, 1020, 1021)]
    buffer = JitterBuffer()
    out = run(buffer, packets, 35)
    assert played(out) == [s for s in range(1000, 1030) if s not in (1010, 1020, 1021)]
    lost = [o.seq for o in out if isinstance(o, Lost) and o.seq is not None]
    assert lost == [1010, 1020, 1021]
    assert buffer.stats.lost == 3


def test_too_late_packet_is_dropped() -> None:
    packets = stream(30)
    packets[10] = Packet(packets[10].arrival_ms + 150, packets[10].seq, packets[10].ts)
    buffer = JitterBuffer(JitterConfig(min_delay_ms=40))
    out = run(buffer, packets, 40)
    assert 1010 not in played(out)
    assert Lost(1010) in out
    assert (buffer.stats.late, buffer.stats.lost) == (1, 1)


def test_burst_jitter_raises_the_target_fast_and_calm_lowers_it_slowly() -> None:
    rng = random.Random(7)
    buffer = JitterBuffer()
    run(buffer, stream(60), 60)
    assert buffer.stats.target_delay_ms == 20  # nothing to absorb: down from 40 after 1 s

    # Two seconds of 0-80 ms jitter: the target rises to match, and the delay with it.
    delays = [rng.uniform(0, 80) for _ in range(100)]
    jittery = stream(100, seq0=1060, ts0=50_000 + 60 * TS_STEP, delays=delays)
    jittery = [Packet(p.arrival_ms + 1200, p.seq, p.ts) for p in jittery]
    buffered: list[int] = []
    out = run(buffer, jittery, 100, start_ms=1200, delays=buffered)
    s = buffer.stats
    assert s.jitter_ms > 20
    assert s.target_delay_ms >= 120
    assert max(buffered[-20:]) >= s.target_delay_ms - FRAME_MS
    assert max(buffered[:20]) <= 100  # it grew with the jitter, not all at once
    assert s.lost + s.late <= 4  # the buffer grew to absorb it
    tail = played(out)[-10:]
    assert tail == list(range(tail[0], tail[0] + 10))
    high = s.target_delay_ms

    # Calm again: a second later the target has hardly moved; ten seconds later it is low.
    quiet = stream(600, seq0=1160, ts0=50_000 + 160 * TS_STEP)
    quiet = [Packet(p.arrival_ms + 3200, p.seq, p.ts) for p in quiet]
    run(buffer, jittery + quiet[:50], 50, start_ms=3200)
    assert buffer.stats.target_delay_ms >= high - FRAME_MS
    out = run(buffer, quiet[50:], 550, start_ms=4200)
    s = buffer.stats
    assert s.target_delay_ms <= 40
    assert s.delay_ms <= s.target_delay_ms  # (after a pop) extra packets were dropped
    assert s.discarded > 0
    assert played(out)[-1] >= 1755


def test_stall_rebuffers_and_plays_the_burst_instead_of_dropping_it() -> None:
    packets = stream(60)
    # Packets 20-24 are held up 100 ms and arrive in a burst with packet 25.
    for i in range(20, 25):
        packets[i] = Packet(25 * FRAME_MS + 1, packets[i].seq, packets[i].ts)
    buffer = JitterBuffer()
    out = run(buffer, packets, 70)
    assert played(out) == list(range(1000, 1060))  # every packet played
    s = buffer.stats
    assert (s.lost, s.late) == (0, 0)
    assert s.underruns == 2  # the stall, and the end of the stream
    assert out.count(Lost()) >= 3  # concealment while it waited


def test_sequence_and_timestamp_wrap_around() -> None:
    packets = stream(40, seq0=65520, ts0=2**32 - 10 * TS_STEP)
    del packets[20]  # lose seq 4 (65540 wrapped): still one lost slot, in order
    buffer = JitterBuffer()
    out = run(buffer, packets, 45)
    expected = [(65520 + i) & 0xFFFF for i in range(40) if i != 20]
    assert played(out) == expected
    assert Lost(4) in out
    s = buffer.stats
    assert (s.lost, s.late, s.resets) == (1, 0, 0)
    assert s.jitter_ms < 0.01  # the timestamp wrap is no jump


def test_reordering_across_the_wrap() -> None:
    packets = stream(20, seq0=65530)
    packets[5], packets[6] = (
        Packet(packets[6].arrival_ms + 3, packets[5].seq, packets[5].ts),
        Packet(packets[6].arrival_ms, packets[6].seq, packets[6].ts),
    )
    assert played(run(JitterBuffer(), packets, 25)) == [(65530 + i) & 0xFFFF for i in range(20)]


def test_ssrc_change_restarts_the_stream() -> None:
    first = stream(20)
    second = [Packet(p.arrival_ms + 600, p.seq, p.ts, ssrc=2) for p in stream(20, seq0=7)]
    buffer = JitterBuffer()
    out = run(buffer, first + second, 55)
    assert played(out) == list(range(1000, 1020)) + list(range(7, 27))
    s = buffer.stats
    assert (s.resets, s.lost, s.late) == (1, 0, 0)


def test_far_sequence_jump_needs_a_second_packet_to_restart() -> None:
    buffer = JitterBuffer()
    first = stream(20)
    stray = Packet(200.5, 30_000, 1, ssrc=1)  # one stray far packet: ignored
    jumped = stream(20, seq0=40_000, ts0=9)
    jumped = [Packet(p.arrival_ms + 500, p.seq, p.ts) for p in jumped]
    out = run(buffer, [*first, stray, *jumped], 50)
    assert played(out) == list(range(1000, 1020)) + list(range(40_000, 40_020))
    assert buffer.stats.resets == 1


def test_gap_slots_are_neither_played_nor_lost() -> None:
    """Telephone-event packets share the audio's sequence numbers."""
    buffer = JitterBuffer()
    for i in range(30):
        seq = 1000 + i
        if 10 <= i < 15:
            buffer.push_gap(seq, i * FRAME_MS + 1.0, ssrc=1)
        else:
            buffer.push(seq, 50_000 + i * TS_STEP, seq.to_bytes(2, "big"), i * FRAME_MS + 1.0)
        buffer.pop(i * FRAME_MS + 10)
    assert buffer.stats.lost == 0
    assert buffer.stats.received == 25


def test_overflowing_sender_loses_its_oldest_packets() -> None:
    buffer = JitterBuffer(JitterConfig(capacity_ms=200))
    for i in range(30):  # pushed without any pop
        buffer.push(i, i * TS_STEP, b"x", 0.0)
    assert buffer.stats.discarded == 20
    assert buffer.stats.delay_ms == 200


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1), st.floats(0, 5000), st.booleans()
        ),
        max_size=200,
    )
)
def test_fuzz_any_arrivals_keep_the_invariants(
    arrivals: list[tuple[int, int, float, bool]],
) -> None:
    buffer = JitterBuffer()
    for k, (seq, ts, at, gap) in enumerate(sorted(arrivals, key=lambda a: a[2])):
        if gap:
            buffer.push_gap(seq, at)
        else:
            buffer.push(seq, ts, b"p", at, ssrc=k % 3 if k % 50 == 0 else None)
        item = buffer.pop(at)
        assert item is None or isinstance(item, Payload | Lost)
    s = buffer.stats
    assert 20 <= s.target_delay_ms <= 200
    assert s.delay_ms <= 400
