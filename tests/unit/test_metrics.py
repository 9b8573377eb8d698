"""Prometheus metrics fed by session events, read back through prometheus-client's own
text parser."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from omnivox.agent.api.metrics import SessionMetrics
from omnivox.agent.events import Event, EventType
from omnivox.media.sessions import SessionRegistry


@dataclass
class FakeTransportSession:
    id: str
    transport: str
    running_tasks: int = 0

    async def close(self, reason: str) -> None:
        pass


def samples(metrics: SessionMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def feed(metrics: SessionMetrics, *events: tuple[EventType, dict[str, object]]) -> None:
    for type_, data in events:
        metrics.observe(Event(type_, 0.0, data))


def test_a_turn_and_a_barge_in_are_counted() -> None:
    metrics = SessionMetrics(SessionRegistry(4))
    feed(
        metrics,
        (EventType.SESSION_STARTED, {"session_id": "a"}),
        (EventType.TURN_DECISION, {"kind": "finished", "decision_ms": 120.0}),
        (EventType.USER_TURN_END, {"speech_end_ms": 1000.0}),
        (EventType.TURN_METRICS, {"voice_to_voice_ms": 640.0, "endpoint_ms": 400.0}),
        (EventType.TURN_DECISION, {"kind": "interruption"}),
        (
            EventType.REPLY_CANCELLED,
            {"reason": "barge_in", "stop_ms": 180.0, "underrun_frames": 2},
        ),
        (EventType.REPLY_AUDIO_END, {"played_ms": 900.0, "underrun_frames": 3}),
    )
    got = samples(metrics)
    assert got[("omnivox_sessions_total", ())] == 1
    assert got[("omnivox_turns_total", ())] == 1
    assert got[("omnivox_turn_decisions_total", (("kind", "finished"),))] == 1
    assert got[("omnivox_turn_decisions_total", (("kind", "interruption"),))] == 1
    assert got[("omnivox_voice_to_voice_seconds_count", ())] == 1
    assert got[("omnivox_voice_to_voice_seconds_sum", ())] == 0.64
    assert got[("omnivox_voice_to_voice_seconds_bucket", (("le", "0.5"),))] == 0
    assert got[("omnivox_voice_to_voice_seconds_bucket", (("le", "0.75"),))] == 1
    assert got[("omnivox_barge_in_stop_seconds_sum", ())] == 0.18
    assert got[("omnivox_replies_cancelled_total", (("reason", "barge_in"),))] == 1
    assert got[("omnivox_playout_underrun_frames_total", ())] == 5


def test_only_barge_ins_time_the_stop() -> None:
    metrics = SessionMetrics(SessionRegistry(4))
    feed(metrics, (EventType.REPLY_CANCELLED, {"reason": "user_resumed", "stop_ms": 50.0}))
    got = samples(metrics)
    assert got[("omnivox_barge_in_stop_seconds_count", ())] == 0
    assert got[("omnivox_replies_cancelled_total", (("reason", "user_resumed"),))] == 1


def test_thinker_errors_by_kind_and_errors_by_source() -> None:
    metrics = SessionMetrics(SessionRegistry(4))
    feed(
        metrics,
        (EventType.ERROR, {"source": "thinker", "message": "x", "timeout": True}),
        (EventType.ERROR, {"source": "thinker", "message": "y", "timeout": False}),
        (EventType.ERROR, {"source": "recognizer", "message": "z"}),
    )
    got = samples(metrics)
    assert got[("omnivox_thinker_errors_total", (("kind", "timeout"),))] == 1
    assert got[("omnivox_thinker_errors_total", (("kind", "error"),))] == 1
    assert got[("omnivox_session_errors_total", (("source", "thinker"),))] == 2
    assert got[("omnivox_session_errors_total", (("source", "recognizer"),))] == 1


def test_missing_or_odd_figures_are_not_observed() -> None:
    metrics = SessionMetrics(SessionRegistry(4))
    feed(
        metrics,
        (EventType.TURN_METRICS, {"voice_to_voice_ms": None}),
        (EventType.TURN_METRICS, {"voice_to_voice_ms": True}),
        (EventType.TURN_METRICS, {"voice_to_voice_ms": -5}),
        (EventType.REPLY_AUDIO_END, {"underrun_frames": "many"}),
    )
    got = samples(metrics)
    assert got[("omnivox_voice_to_voice_seconds_count", ())] == 0
    assert got[("omnivox_playout_underrun_frames_total", ())] == 0


def test_live_sessions_are_read_by_transport_at_scrape_time() -> None:
    registry = SessionRegistry(8)
    metrics = SessionMetrics(registry)
    for sid, transport in (("a", "webrtc"), ("b", "whip"), ("c", "webrtc")):
        registry.add(FakeTransportSession(sid, transport))
    got = samples(metrics)
    assert got[("omnivox_active_sessions", (("transport", "webrtc"),))] == 2
    assert got[("omnivox_active_sessions", (("transport", "whip"),))] == 1
    registry.sessions.clear()
    assert not any(name == "omnivox_active_sessions" for name, _ in samples(metrics))


def test_process_cpu_is_exported_and_apps_do_not_share_counts() -> None:
    one, two = SessionMetrics(SessionRegistry(1)), SessionMetrics(SessionRegistry(1))
    feed(one, (EventType.USER_TURN_END, {}))
    assert ("process_cpu_seconds_total", ()) in samples(one)
    assert samples(two)[("omnivox_turns_total", ())] == 0


def test_closed_sessions_are_counted_by_reason() -> None:
    metrics = SessionMetrics(SessionRegistry(4))
    feed(
        metrics,
        (EventType.SESSION_ENDED, {"reason": "hangup"}),
        (EventType.SESSION_ENDED, {"reason": "media_timeout"}),
        (EventType.SESSION_ENDED, {"reason": "hangup"}),
    )
    got = samples(metrics)
    assert got[("omnivox_sessions_ended_total", (("reason", "hangup"),))] == 2
    assert got[("omnivox_sessions_ended_total", (("reason", "media_timeout"),))] == 1
