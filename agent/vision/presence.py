"""Presence and attention from per-frame face observations: a pure state machine.

Single frames lie (a detector misses a face in one frame, or finds one in a poster for
one frame), so arriving needs a facing face in `arrive_frames` observations in a row,
and leaving needs no face at all for `leave_ms`. Attention (facing the camera or not)
changes only when `attention_frames` observations in a row agree. Time comes from the
caller, so tests run without sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass

from omnivox.models.vision.face_detector import FaceObservation


@dataclass(frozen=True, slots=True)
class PresenceConfig:
    arrive_frames: int = 2
    leave_ms: float = 3000.0
    attention_frames: int = 2


@dataclass(frozen=True, slots=True)
class Presence:
    """The presence state after a change; `t_ms` is when it was decided."""

    t_ms: float
    present: bool
    facing: bool
    faces: int
    arrived: bool = False
    """True on the change that brought someone into view."""


class PresenceTracker:
    def __init__(self, config: PresenceConfig | None = None) -> None:
        self.config = config or PresenceConfig()
        self.present = False
        self.facing = False
        self._streak = 0
        """Consecutive observations disagreeing with the current attention (or, while
        absent, consecutive facing observations)."""
        self._last_face_ms: float | None = None

    def observe(self, t_ms: float, obs: FaceObservation) -> Presence | None:
        """Feed one frame's observation; returns the new state when it changed."""
        if obs.faces:
            self._last_face_ms = t_ms
        if not self.present:
            self._streak = self._streak + 1 if obs.facing else 0
            if self._streak >= self.config.arrive_frames:
                self._streak = 0
                return self._change(t_ms, present=True, facing=True, faces=obs.faces, arrived=True)
            return None
        left = self.tick(t_ms)
        if left is not None or not obs.faces:
            return left
        self._streak = self._streak + 1 if obs.facing != self.facing else 0
        if self._streak >= self.config.attention_frames:
            self._streak = 0
            return self._change(t_ms, present=True, facing=obs.facing, faces=obs.faces)
        return None

    def tick(self, t_ms: float) -> Presence | None:
        """Advance time without a frame (the camera may have stopped sending)."""
        if not self.present or self._last_face_ms is None:
            return None
        if t_ms - self._last_face_ms < self.config.leave_ms:
            return None
        self._streak = 0
        return self._change(t_ms, present=False, facing=False, faces=0)

    def _change(
        self, t_ms: float, *, present: bool, facing: bool, faces: int, arrived: bool = False
    ) -> Presence:
        self.present, self.facing = present, facing
        return Presence(t_ms, present, facing, faces, arrived)


@dataclass(frozen=True, slots=True)
class Greet:
    text: str


@dataclass(frozen=True, slots=True)
class Forget:
    """Clear the conversation: the visitor it was with has gone."""


VisitorAction = Greet | Forget


@dataclass(frozen=True, slots=True)
class VisitorConfig:
    greeting: str = ""
    """Said to someone who walks up; empty: nothing."""
    greet_after_quiet_ms: float = 30_000.0
    forget_on_leave: bool = False


class VisitorPolicy:
    """What the agent does about people coming and going: greet an arrival after a quiet
    spell (not someone stepping back into view mid-conversation), and on a kiosk forget
    the conversation once its visitor has left and the agent is idle. Pure: the session
    says when someone last spoke and whether it is idle."""

    def __init__(self, config: VisitorConfig) -> None:
        self.config = config
        self._last_activity_ms = float("-inf")
        self._forget_pending = False

    def activity(self, t_ms: float) -> None:
        """Someone (user or agent) started speaking."""
        self._last_activity_ms = t_ms

    def presence(self, p: Presence, *, idle: bool) -> list[VisitorAction]:
        self._forget_pending = not p.present and self.config.forget_on_leave
        actions: list[VisitorAction] = []
        forget = self.tick(idle=idle)
        if forget is not None:
            actions.append(forget)
        quiet = p.t_ms - self._last_activity_ms >= self.config.greet_after_quiet_ms
        if p.arrived and idle and quiet and self.config.greeting:
            actions.append(Greet(self.config.greeting))
        return actions

    def tick(self, *, idle: bool) -> Forget | None:
        """A pending forget happens once the agent is idle (not mid-reply)."""
        if self._forget_pending and idle:
            self._forget_pending = False
            return Forget()
        return None
