"""What a phone conversation may do to its call: the interface the call tools use.

A transport that carries a phone call (SIP, a provider's media stream) hands one of these
to the conversation it opens; the agent's call tools (hang up, transfer, press keys)
act through it, so the agent never learns SIP and media never imports the agent.
"""

from __future__ import annotations

from typing import Protocol


class CallControlError(Exception):
    """The call cannot do that now; the message says why, fit for the Thinker."""


class CallControl(Protocol):
    transfer_targets: dict[str, str]
    """Where `transfer` may send the caller: name -> address (a SIP URI for SIP calls).
    Only configured targets: a Thinker must not dial numbers of its own choosing."""

    def hang_up(self) -> None:
        """End the call now (BYE over SIP)."""
        ...

    async def transfer(self, target: str) -> str:
        """Hand the caller to the address `target` (one of `transfer_targets`' values):
        what the far end answered ("accepted"); CallControlError when refused, not
        answered, or not possible on this call. A transfer that succeeds ends the call."""
        ...

    def send_dtmf(self, digits: str) -> None:
        """Press keys (0-9, *, #, A-D) towards the far end, e.g. an IVR menu.
        CallControlError when the call cannot carry them."""
        ...
