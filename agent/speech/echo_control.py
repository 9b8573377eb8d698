"""The agent's own voice kept out of what the session hears, for a call whose far end
does not cancel it (a loudspeaker kiosk, or a browser whose own canceller does harm).

Three parts, all fed what the session sends and what it receives, frame by frame:
- the canceller (AEC3) takes the echo out of the microphone;
- the gate (echo_gate) holds back speech onsets that the echo explains;
- the watch (media/echo_presence) tells whether there is an echo path at all. Until it
  knows, the canceller's output is used. Once it finds none (headphones, a headset),
  what the microphone heard goes on untouched and the gate stands aside: AEC3 with
  nothing to cancel still damps the user's voice while the agent talks, and the gate,
  not knowing the path, would hold back a user quieter than the agent. Once it finds
  one, its delay and gain tune the canceller's hint and the gate. The canceller keeps
  running meanwhile, so it has converged when an echo appears.
A transport that measured its echo path itself (the kiosk's chirp) says so, and the watch
stops: its measurement is the better one.
"""

from __future__ import annotations

import numpy as np

from omnivox.agent.speech.echo_gate import EchoGate, EchoGateSettings, GateVerdict
from omnivox.media.echo_canceller import EchoCanceller
from omnivox.media.echo_presence import EchoPresence, EchoState
from omnivox.media.local_audio.echo_path import EchoPathEstimate
from omnivox.models.vad import VadEvent

RETUNE_MS = 40.0
"""The echo's delay must move this far before the canceller and the gate are retuned."""


class EchoControl:
    def __init__(self, noise_suppression: bool, gate: EchoGateSettings | None) -> None:
        """`gate` None: no gate."""
        self._canceller = EchoCanceller(noise_suppression=noise_suppression)
        self._gate = EchoGate(gate) if gate is not None else None
        self._watch: EchoPresence | None = EchoPresence()
        self._tuned_to: EchoPathEstimate | None = None

    @property
    def state(self) -> EchoState:
        """Whether an echo path was found (PRESENT once a transport measured one)."""
        return EchoState.PRESENT if self._watch is None else self._watch.state

    def sent(self, pcm: np.ndarray) -> None:
        """The frame the agent just sent."""
        self._canceller.reference(pcm)
        if self._gate is not None:
            self._gate.reference(pcm)
        if self._watch is not None:
            self._watch.sent(pcm)

    def clean(self, raw: np.ndarray) -> tuple[np.ndarray, EchoState | None]:
        """The microphone's frame as the session should hear it, and the watch's new
        conclusion if it just reached one (PRESENT: `path` tells the path)."""
        cleaned = self._canceller.process(raw)
        change = None
        if self._watch is not None:
            change = self._watch.heard(raw)
            path = self._watch.estimate
            if self._watch.state is EchoState.PRESENT and path is not None and self._moved(path):
                self._tune(path)
        return (raw if self.state is EchoState.ABSENT else cleaned), change

    @property
    def path(self) -> EchoPathEstimate | None:
        """The echo path the canceller and the gate are tuned to."""
        return self._tuned_to

    def gate(
        self, t_ms: float, raw: np.ndarray, cleaned: np.ndarray, vad_events: list[VadEvent]
    ) -> tuple[list[VadEvent], list[GateVerdict]]:
        """The VAD's events on this frame that are the user's (see EchoGate.process)."""
        if self._gate is None or self.state is EchoState.ABSENT:
            return vad_events, []
        return self._gate.process(t_ms, raw, cleaned, vad_events)

    def playout_delay(self, delay_ms: float) -> None:
        """The far end's report of how long it takes to play what is sent: the
        canceller's hint until the echo's own delay is known."""
        if self.state is not EchoState.PRESENT:
            self._canceller.set_delay_ms(delay_ms)

    def path_measured(self, delay_ms: float, gain_db: float) -> None:
        """The transport measured the echo path: trusted over the watch's."""
        self._watch = None
        self._tune(EchoPathEstimate(delay_ms, gain_db, clarity=float("inf")))

    def _moved(self, path: EchoPathEstimate) -> bool:
        """Whether `path` is news: the gate's arrival window (and the canceller's hint,
        which AEC3 itself ignores) does not follow the watch's window-to-window jitter."""
        tuned = self._tuned_to
        return tuned is None or abs(path.delay_ms - tuned.delay_ms) > RETUNE_MS

    def _tune(self, path: EchoPathEstimate) -> None:
        self._tuned_to = path
        self._canceller.set_delay_ms(path.delay_ms)
        if self._gate is not None:
            self._gate.set_delay_ms(path.delay_ms)
            self._gate.set_path_gain_db(path.gain_db)
