"""Prometheus metrics for operators, served at `/metrics` (outside `/v1`: scrapers need
no API key).

Everything but the live session count is fed by session events, which every transport's
sessions emit through the app's one sink: turns, voice-to-voice and barge-in stop times
(measured on each session's media clock, as the events carry them), turn decisions,
errors, and agent audio underruns. Each app has its own `CollectorRegistry`, so several
apps in one process (tests, benchmarks) keep separate counts.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from omnivox.agent.events import Event, EventType
from omnivox.media.sessions import SessionRegistry

VOICE_TO_VOICE_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0)
BARGE_IN_STOP_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


class _LiveSessions(Collector):
    """Live sessions by transport, read from the registry at scrape time (a gauge kept
    by events would drift whenever a session ends without one)."""

    def __init__(self, sessions: SessionRegistry) -> None:
        self._sessions = sessions

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily(
            "omnivox_active_sessions", "Live sessions by transport", labels=["transport"]
        )
        for transport, n in sorted(
            Tally(s.transport for s in self._sessions.sessions.values()).items()
        ):
            gauge.add_metric([transport], n)
        yield gauge


class SessionMetrics:
    def __init__(self, sessions: SessionRegistry) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # CPU seconds, memory, open files (Linux)
        r.register(_LiveSessions(sessions))
        self.sessions_started = Counter(
            "omnivox_sessions", "Sessions opened (all transports)", registry=r
        )
        self.sessions_ended = Counter(
            "omnivox_sessions_ended",
            "Sessions closed, by reason (hangup, media_timeout, server_shutdown, ...)",
            ["reason"],
            registry=r,
        )
        self.turns = Counter("omnivox_turns", "User turns the agent took up", registry=r)
        self.voice_to_voice = Histogram(
            "omnivox_voice_to_voice_seconds",
            "From the end of the user's speech to the first agent audio sent (media clock)",
            buckets=VOICE_TO_VOICE_BUCKETS,
            registry=r,
        )
        self.barge_in_stop = Histogram(
            "omnivox_barge_in_stop_seconds",
            "From the onset of the user's interrupting speech to the agent's stop (media clock)",
            buckets=BARGE_IN_STOP_BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "omnivox_turn_decisions", "Turn-taking decisions by kind", ["kind"], registry=r
        )
        self.cancelled = Counter(
            "omnivox_replies_cancelled", "Replies cut short, by reason", ["reason"], registry=r
        )
        self.thinker_errors = Counter(
            "omnivox_thinker_errors",
            "Thinker failures (the fallback line was spoken), by kind: timeout or error",
            ["kind"],
            registry=r,
        )
        self.errors = Counter(
            "omnivox_session_errors", "Error events by the part that failed", ["source"], registry=r
        )
        self.underruns = Counter(
            "omnivox_playout_underrun_frames",
            "20 ms frames of agent audio due mid-reply that the Talker had not produced yet",
            registry=r,
        )

    def observe(self, event: Event) -> None:
        """Count one session event."""
        d = event.data
        match event.type:
            case EventType.SESSION_STARTED:
                self.sessions_started.inc()
            case EventType.SESSION_ENDED:
                self.sessions_ended.labels(str(d.get("reason"))).inc()
            case EventType.USER_TURN_END:
                self.turns.inc()
            case EventType.TURN_METRICS:
                _observe_ms(self.voice_to_voice, d.get("voice_to_voice_ms"))
            case EventType.TURN_DECISION:
                self.decisions.labels(str(d.get("kind"))).inc()
            case EventType.REPLY_CANCELLED:
                reason = str(d.get("reason"))
                self.cancelled.labels(reason).inc()
                if reason == "barge_in":
                    _observe_ms(self.barge_in_stop, d.get("stop_ms"))
                self._underruns(d.get("underrun_frames"))
            case EventType.REPLY_AUDIO_END:
                self._underruns(d.get("underrun_frames"))
            case EventType.ERROR:
                source = str(d.get("source"))
                self.errors.labels(source).inc()
                if source == "thinker":
                    self.thinker_errors.labels("timeout" if d.get("timeout") else "error").inc()

    def _underruns(self, frames: object) -> None:
        if isinstance(frames, int) and frames > 0:
            self.underruns.inc(frames)

    async def handle(self, _request: web.Request) -> web.Response:
        resp = web.Response(body=generate_latest(self.registry))
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp


def _observe_ms(histogram: Histogram, ms: object) -> None:
    if isinstance(ms, int | float) and not isinstance(ms, bool) and ms >= 0:
        histogram.observe(ms / 1000.0)
