"""The call tools on a provider's media stream, and what the provider's call does once
the stream has ended.

A media stream carries a call that the provider keeps: ending the stream hands the call
back to the provider's call flow. Twilio runs the TwiML verb after <Connect>, or asks the
<Connect action="..."> URL what to do next; the server answers that request: a
<Dial> to the target of the agent's transfer, else <Hangup/>. So a hang-up ends the
stream and the call, and a transfer ends the stream and dials the configured target.
Keys cannot be sent on a stream (the protocol has no outbound DTMF).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from xml.sax.saxutils import escape

from aiohttp import web

from omnivox.media.call_control import CallControlError

REMEMBERED = 1000
"""Transfers whose TwiML has not been asked for yet, at most (the oldest are dropped)."""


class AfterStream:
    """Transfers by the provider's call id (`callSid`), until its TwiML is asked for."""

    def __init__(self) -> None:
        self._targets: OrderedDict[str, str] = OrderedDict()

    def transfer(self, call_sid: str, target: str) -> None:
        self._targets[call_sid] = target
        while len(self._targets) > REMEMBERED:
            self._targets.popitem(last=False)

    def twiml(self, call_sid: str) -> str:
        """What the call does now that its stream has ended (once: the entry goes)."""
        target = self._targets.pop(call_sid, None)
        if target is None:
            return "<Response><Hangup/></Response>"
        scheme, _, address = target.partition(":")
        if scheme.lower() == "tel":
            noun = f"<Number>{escape(address)}</Number>"
        else:
            noun = f"<Sip>{escape(target)}</Sip>"
        return f"<Response><Dial>{noun}</Dial></Response>"

    async def handle(self, request: web.Request) -> web.Response:
        """POST from the provider (Twilio's <Connect action>): form field CallSid."""
        form = await request.post()
        call_sid = form.get("CallSid")
        twiml = self.twiml(call_sid if isinstance(call_sid, str) else "")
        return web.Response(text=twiml, content_type="application/xml")


class StreamCallControl:
    """A media stream call's `CallControl` (see the module docstring)."""

    def __init__(
        self,
        end: Callable[[str], None],
        call_sid: str | None,
        targets: Mapping[str, str],
        after: AfterStream,
    ) -> None:
        """`end(reason)` ends the stream."""
        self._end = end
        self._call_sid = call_sid
        self._after = after
        self.transfer_targets = dict(targets) if call_sid else {}

    def hang_up(self) -> None:
        self._end("agent_hangup")

    async def transfer(self, target: str) -> str:
        if not self._call_sid:
            raise CallControlError("the provider did not say which call this stream is")
        self._after.transfer(self._call_sid, target)
        self._end("transferred")
        return "accepted"

    def send_dtmf(self, digits: str) -> None:
        raise CallControlError("a provider's media stream cannot send key presses")
