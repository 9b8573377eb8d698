"""The camera's part in a conversation: who is in view (`presence` events), a greeting
for someone who walks up, and on a kiosk forgetting the conversation once they leave."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from omnivox.agent.config import CameraConfig
from omnivox.agent.events import Emitter, EventType
from omnivox.agent.vision.camera import Camera
from omnivox.agent.vision.presence import (
    Forget,
    Greet,
    Presence,
    PresenceConfig,
    VisitorConfig,
    VisitorPolicy,
)
from omnivox.media.clock import Clock
from omnivox.models.vision.face_detector import FaceDetector


class Visitors:
    def __init__(
        self,
        config: CameraConfig,
        greeting: str,
        detector: FaceDetector | None,
        clock: Clock,
        emit: Emitter,
        *,
        idle: Callable[[], bool],
        greet: Callable[[str], None],
        forget: Callable[[], None],
    ) -> None:
        """`idle`: nobody speaks and nothing is being answered (only then is a visitor
        greeted or forgotten). `greet(text)`, `forget()`: carry that out."""
        self._clock = clock
        self._emit = emit
        self._idle = idle
        self._greet = greet
        self._forget = forget
        self._max_age_ms = config.snapshot_max_age_ms
        self.camera = Camera(
            detector if config.presence else None,
            clock.now_ms,
            self._on_presence,
            lambda msg: emit.error(msg, source="camera"),
            PresenceConfig(arrive_frames=config.arrive_frames, leave_ms=config.leave_ms),
        )
        self.policy = VisitorPolicy(
            VisitorConfig(
                greeting=(config.arrival_greeting or greeting) if config.greet_on_arrival else "",
                greet_after_quiet_ms=config.greet_after_quiet_s * 1000,
                forget_on_leave=config.forget_on_leave,
            )
        )

    @property
    def busy(self) -> bool:
        return self.camera.busy

    def push(self, rgb: np.ndarray) -> None:
        self.camera.push(rgb)

    def tick(self) -> None:
        """Every input frame: a visitor is gone when frames stop showing them."""
        if self.camera.frames:
            self.camera.tick()
            if (forget := self.policy.tick(idle=self._idle())) is not None:
                self._act(forget)

    def activity(self) -> None:
        """Someone (user or agent) started speaking."""
        self.policy.activity(self._clock.now_ms())

    async def snapshot(self) -> bytes | None:
        """The newest frame as JPEG, if fresh enough for the Thinker."""
        return await self.camera.snapshot(self._max_age_ms)

    async def close(self) -> None:
        await self.camera.close()

    def _on_presence(self, p: Presence) -> None:
        self._emit(EventType.PRESENCE, present=p.present, facing=p.facing, faces=p.faces)
        for action in self.policy.presence(p, idle=self._idle()):
            self._act(action)

    def _act(self, action: Greet | Forget) -> None:
        if isinstance(action, Greet):
            self._greet(action.text)
        else:
            self._forget()
