"""Has the far end vanished? A peer that stops sending audio without hanging up (a
closed laptop, a dropped network) is only noticed by ICE consent after ~30 s; audio
flows every 20 ms, so its absence says it much sooner. Pure: fed the time and the
count of samples received."""

from __future__ import annotations

import aioice.ice

FIRST_AUDIO_S = 10.0
"""How long a connected peer may take to send its first audio: a browser's capture can
start seconds after ICE connects on a loaded client, and until it does there is no
reply to free."""


class Liveness:
    def __init__(self, timeout_s: float, first_audio_s: float = FIRST_AUDIO_S) -> None:
        self.timeout_s = timeout_s
        self.first_audio_s = max(first_audio_s, timeout_s)
        self._samples = 0
        self._since = 0.0
        """When the count last moved (or the connection came up)."""
        self._polled = 0.0
        self._connected = False

    def vanished(self, now: float, samples: int, connected: bool) -> bool:
        """True once `timeout_s` has passed on a connected peer with no new samples.

        A poll that comes a large part of the timeout late says the event loop itself
        stalled: the audio that arrived meanwhile is still queued behind it, undecoded,
        so the stall does not count as silence."""
        stalled = now - self._polled > self.timeout_s / 2
        self._polled = now
        if not (connected and self._connected) or samples != self._samples or stalled:
            self._samples, self._since, self._connected = samples, now, connected
            return False
        limit = self.timeout_s if samples else self.first_audio_s
        return now - self._since >= limit


LATE_CONSENT_CHECKS = 1_000_000
"""How many consent checks in a row may go unanswered within aioice's 0.5 s before it
drops the call: in effect, never."""


def tolerate_late_consent_answers() -> None:
    """Keep calls whose far end answers ICE consent checks late (process-wide).

    aioice sends a consent check every ~5 s, gives each one try of 0.5 s, and closes the
    connection after six in a row without an answer in time. A client on a congested
    link, or a server or client whose event loop lags under load, answers late but is
    there: in an 8-caller soak on 2 cores, both ends dropped live calls this way. RFC 7675
    only expires consent after 30 s with no answer at all. A peer that is really gone
    stops sending audio, and `Liveness` closes its session within seconds."""
    aioice.ice.CONSENT_FAILURES = LATE_CONSENT_CHECKS
