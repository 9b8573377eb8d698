"""The call tools: what the Thinker may do to a phone call (hang up, transfer, press
keys), for a session whose transport gave it a `CallControl`.

Sessions of other transports never see these tools. `hang_up` waits for the answer that
asked for it: the caller hears the goodbye, then the line closes; a barge-in over that
answer keeps the call (the caller had more to say). `transfer` offers only the
configured targets, by name: a Thinker must not dial numbers of its own choosing.
"""

# No `from __future__ import annotations`: the transfer tool's Literal of target names
# is built at run time, and the schema is read from the evaluated annotation.

import asyncio
from typing import Any, Literal

from omnivox.media.call_control import CallControl, CallControlError
from omnivox.media.clock import Clock
from omnivox.models.thinker.tools import ToolRegistry

HANG_UP_GRACE_MS = 400.0
"""After the last frame of the goodbye is sent: time for it to play out of the caller's
jitter buffer before the BYE."""


class CallTools:
    """The call tools of one session (`registry`), and the hang-up they may leave
    pending until the current answer ends."""

    def __init__(self, call: CallControl, clock: Clock) -> None:
        self._call = call
        self._clock = clock
        self._hang_up_pending = False
        self._alarm: asyncio.Future[None] | None = None
        self.registry = ToolRegistry()
        self.registry.tool(self._hang_up_tool(), name="hang_up")
        self.registry.tool(self._send_dtmf_tool(), name="send_dtmf")
        if call.transfer_targets:
            self.registry.tool(self._transfer_tool(call.transfer_targets), name="transfer")

    def reply_ended(self) -> None:
        """The current answer was played to its end (or cut short: `barged_in` first)."""
        if self._hang_up_pending and self._alarm is None:
            self._alarm = self._clock.alarm(self._clock.now_ms() + HANG_UP_GRACE_MS)
            self._alarm.add_done_callback(self._hang_up_now)

    def barged_in(self) -> None:
        """The caller spoke over the answer: a hang-up it asked for is dropped."""
        self._hang_up_pending = False

    def close(self) -> None:
        if self._alarm is not None:
            self._alarm.cancel()

    def _hang_up_now(self, alarm: asyncio.Future[None]) -> None:
        if not alarm.cancelled():
            self._call.hang_up()

    def _hang_up_tool(self) -> Any:
        def hang_up() -> dict[str, str]:
            """End the phone call once this answer has been spoken. Use it when the caller
            says goodbye or asks you to hang up, and say goodbye in the same answer."""
            self._hang_up_pending = True
            return {"status": "the call ends after this answer"}

        return hang_up

    def _send_dtmf_tool(self) -> Any:
        def send_dtmf(digits: str) -> dict[str, str]:
            """Press keys on the phone line, e.g. to pick an option in a phone menu.

            Args:
                digits: The keys to press, in order: 0-9, *, # (and A-D).
            """
            try:
                self._call.send_dtmf(digits)
            except (CallControlError, ValueError) as err:
                return {"error": str(err)}
            return {"pressed": digits}

        return send_dtmf

    def _transfer_tool(self, targets: dict[str, str]) -> Any:
        names = tuple(targets)
        call = self._call

        async def transfer(to: Literal[names] = names[0]) -> dict[str, str]:  # type: ignore[valid-type]
            try:
                outcome = await call.transfer(targets[to])
            except CallControlError as err:
                return {"error": str(err)}
            return {"transfer": outcome, "to": to}

        transfer.__doc__ = (
            "Transfer the caller to a person or department; tell them so in the same "
            "answer. The call with you ends when the transfer succeeds.\n\n"
            "Args:\n"
            f"    to: Who to transfer to: one of {', '.join(names)}.\n"
        )
        return transfer
