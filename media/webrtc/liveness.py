"""Has the far end vanished? A peer that stops sending audio without hanging up (a
closed laptop, a dropped network) is only noticed by ICE consent after ~30 s; audio
flows every 20 ms, so its absence says it much sooner. Pure: fed the time and the
count of samples received."""

from __future__ import annotations


class Liveness:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._samples = 0
        self._since = 0.0
        """When the count last moved (or the connection came up)."""
        self._connected = False

    def vanished(self, now: float, samples: int, connected: bool) -> bool:
        """True once `timeout_s` has passed on a connected peer with no new samples."""
        if not (connected and self._connected) or samples != self._samples:
            self._samples, self._since, self._connected = samples, now, connected
            return False
        return now - self._since >= self.timeout_s
