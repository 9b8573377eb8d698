"""The one contract between a transport and the conversation it carries.

A transport (WebRTC, SIP/RTP, a WebSocket media stream, a sound card) owns the media
clock and the far end. It pushes the user's 20 ms frames in, pulls the agent's 20 ms
frames out (pull-based: nothing waits in a transport buffer, so a cancel is heard at the
next frame), reports how far the far end's playout trails what was sent, and closes.
Events for the far end arrive as JSON lines through the `send` it gives the factory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import numpy as np

from omnivox.media.call_control import CallControl
from omnivox.media.clock import Clock
from omnivox.media.frames import AudioFrame


class Conversation(Protocol):
    async def start(self) -> None: ...

    def push_audio(self, frame: AudioFrame) -> None:
        """One 16 kHz mono 20 ms frame of the user's audio, stamped on the media clock."""
        ...

    def pull_audio(self) -> np.ndarray:
        """The agent's next 20 ms (16 kHz mono int16; silence when it says nothing)."""
        ...

    def push_video(self, rgb: np.ndarray) -> None:
        """One sampled camera frame, RGB (H, W, 3) uint8."""
        ...

    def push_dtmf(self, digit: str) -> None:
        """A key the caller pressed on a phone: 0-9, *, # or A-D."""
        ...

    def report_playout_delay(self, delay_ms: float) -> None:
        """The far end plays agent audio `delay_ms` after it was sent."""
        ...

    def cancel_echo(self) -> None:
        """The far end does not cancel its own echo: take the agent's voice out of the
        user's audio here."""
        ...

    def report_mouth_to_ear(self, reply_id: str, ms: float) -> None:
        """The far end measured, on its own clock, `ms` from the end of the user's speech
        to the first sound of reply `reply_id`."""
        ...

    def report_error(self, message: str, source: str) -> None:
        """Something the far end sent could not be used (the call goes on)."""
        ...

    async def close(self, reason: str) -> None: ...


C_co = TypeVar("C_co", bound=Conversation, covariant=True)


class ConversationFactory(Protocol[C_co]):
    """Opens the conversation of one call (`ConversationFactory[Session]`: the agent's
    own, for transports that use more than the contract)."""

    def __call__(
        self,
        session_id: str,
        clock: Clock,
        send: Callable[[str], None],
        /,
        call: CallControl | None = None,
    ) -> C_co:
        """(session id, the transport's media clock, send one JSON event line to the far
        end, and for a phone call what the conversation may do to it) -> the
        conversation, not yet started."""
        ...
