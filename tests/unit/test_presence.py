"""The presence tracker in virtual time: debounced arrival, attention and departure."""

from __future__ import annotations

from omnivox.agent.vision.presence import (
    Forget,
    Greet,
    Presence,
    PresenceConfig,
    PresenceTracker,
    VisitorConfig,
    VisitorPolicy,
)
from omnivox.models.vision.face_detector import FaceObservation

FACING = FaceObservation(1, True, (0.4, 0.2, 0.2, 0.25))
AWAY = FaceObservation(1, False, (0.4, 0.2, 0.2, 0.25))
NOBODY = FaceObservation(0, False)


def feed(tracker: PresenceTracker, observations: list[FaceObservation], start_ms: float = 0.0):
    """Observations 500 ms apart (2 fps); the changes they cause, with their times."""
    changes = []
    for i, obs in enumerate(observations):
        change = tracker.observe(start_ms + i * 500, obs)
        if change is not None:
            changes.append(change)
    return changes


def test_arrival_needs_consecutive_facing_frames() -> None:
    t = PresenceTracker(PresenceConfig(arrive_frames=2))
    assert feed(t, [FACING, NOBODY, FACING, AWAY]) == []
    [arrived] = feed(t, [FACING, FACING], start_ms=2000)
    assert arrived.present and arrived.facing and arrived.arrived
    assert arrived.t_ms == 2500 and arrived.faces == 1


def test_a_face_looking_away_does_not_count_as_arriving() -> None:
    t = PresenceTracker()
    assert feed(t, [AWAY] * 10) == []
    assert not t.present


def test_attention_changes_after_agreeing_frames() -> None:
    t = PresenceTracker(PresenceConfig(arrive_frames=1, attention_frames=2))
    feed(t, [FACING])
    assert feed(t, [AWAY, FACING, AWAY], start_ms=500) == []  # flicker: no change
    [away] = feed(t, [AWAY, AWAY], start_ms=2000)
    assert away.present and not away.facing and not away.arrived
    [back] = feed(t, [FACING, FACING], start_ms=3000)
    assert back.facing


def test_departure_after_leave_ms_without_a_face() -> None:
    t = PresenceTracker(PresenceConfig(arrive_frames=1, leave_ms=3000))
    feed(t, [FACING])  # last face at 0 ms
    assert feed(t, [NOBODY] * 5, start_ms=500) == []  # up to 2500 ms
    [gone] = feed(t, [NOBODY], start_ms=3000)
    assert not gone.present and not gone.facing and gone.faces == 0


def test_a_single_detection_keeps_the_person_present() -> None:
    t = PresenceTracker(PresenceConfig(arrive_frames=1, leave_ms=3000))
    feed(t, [FACING])
    feed(t, [NOBODY, NOBODY, NOBODY, AWAY], start_ms=500)  # a face at 2000 ms
    assert feed(t, [NOBODY] * 5, start_ms=2500) == []  # up to 4500 < 2000 + 3000
    assert t.present


def test_tick_ends_presence_when_frames_stop() -> None:
    t = PresenceTracker(PresenceConfig(arrive_frames=1, leave_ms=1000))
    feed(t, [FACING])
    assert t.tick(999) is None
    gone = t.tick(1000)
    assert gone is not None and not gone.present
    assert t.tick(5000) is None  # reported once


def test_tick_before_anyone_arrived_is_quiet() -> None:
    assert PresenceTracker().tick(10_000) is None


def test_a_returning_visitor_arrives_again() -> None:
    t = PresenceTracker(PresenceConfig(arrive_frames=1, leave_ms=1000))
    feed(t, [FACING])
    assert t.tick(1500) is not None
    [again] = feed(t, [FACING], start_ms=2000)
    assert again.arrived


def arrived(t_ms: float) -> Presence:
    return Presence(t_ms, present=True, facing=True, faces=1, arrived=True)


def left(t_ms: float) -> Presence:
    return Presence(t_ms, present=False, facing=False, faces=0)


def test_an_arrival_after_a_quiet_spell_is_greeted() -> None:
    v = VisitorPolicy(VisitorConfig(greeting="Hi!", greet_after_quiet_ms=30_000))
    assert v.presence(arrived(1000), idle=True) == [Greet("Hi!")]  # nobody spoke yet
    v.activity(5000)
    assert v.presence(arrived(20_000), idle=True) == []  # 15 s after someone spoke
    assert v.presence(arrived(35_000), idle=True) == [Greet("Hi!")]


def test_no_greeting_while_busy_or_without_a_line() -> None:
    assert VisitorPolicy(VisitorConfig(greeting="Hi!")).presence(arrived(0), idle=False) == []
    assert VisitorPolicy(VisitorConfig(greeting="")).presence(arrived(0), idle=True) == []


def test_forgetting_waits_for_the_reply_to_end() -> None:
    v = VisitorPolicy(VisitorConfig(forget_on_leave=True))
    assert v.presence(left(1000), idle=False) == []
    assert v.tick(idle=False) is None
    assert v.tick(idle=True) == Forget()
    assert v.tick(idle=True) is None  # once


def test_a_visitor_back_before_the_reply_ended_is_not_forgotten() -> None:
    v = VisitorPolicy(VisitorConfig(forget_on_leave=True))
    v.presence(left(1000), idle=False)
    v.presence(arrived(2000), idle=False)
    assert v.tick(idle=True) is None


def test_without_forget_on_leave_nothing_is_forgotten() -> None:
    v = VisitorPolicy(VisitorConfig())
    assert v.presence(left(1000), idle=True) == []
    assert v.tick(idle=True) is None
