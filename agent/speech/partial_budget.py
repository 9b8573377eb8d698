"""How much of the process's time streaming partials may take, across all sessions.

pocketsphinx's streaming decoding (the hybrid recognizer's partials) holds the GIL for
the whole of each call: 10-40 ms per 100 ms of speech on a loaded 2-core machine. With
eight people talking at once that is more than the one interpreter has, so the event
loop waits for the GIL, received audio queues in the server, and every turn ends late:
`bench load` with 8 callers heard each speech end 1.3-2.2 s late (v2v 2.2-3.2 s), and
1.2 s with no streaming partials at all. Partials are the first thing to give up: calls
that yield them may take `share` of wall time (a token bucket, `burst_s` deep); past
that, sessions feed the recognizer without partials (`catch_up`) until the bucket
refills. Finals are unchanged, and a lone talker never notices.
"""

from __future__ import annotations


class PartialBudget:
    def __init__(self, share: float = 0.3, burst_s: float = 0.2) -> None:
        if not 0.0 < share <= 1.0 or burst_s <= 0.0:
            raise ValueError("share must be in (0, 1] and burst_s positive")
        self.share = share
        self.burst_s = burst_s
        self._level = burst_s
        self._at: float | None = None

    def allows(self, now: float) -> bool:
        """May a call that yields partials run now?"""
        self._refill(now)
        return self._level > 0.0

    def spend(self, now: float, seconds: float) -> None:
        """A call that yielded partials took `seconds`."""
        self._refill(now)
        self._level -= seconds

    def _refill(self, now: float) -> None:
        if self._at is not None:
            self._level = min(self.burst_s, self._level + (now - self._at) * self.share)
        self._at = now


STREAMING_PARTIALS = PartialBudget()
"""The process's budget, shared by every session's transcription worker."""
