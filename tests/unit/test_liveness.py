"""A connected peer that stops sending audio is found out after the timeout."""

from __future__ import annotations

from omnivox.media.webrtc.liveness import Liveness


def test_audio_flowing_keeps_the_peer_alive() -> None:
    live = Liveness(3.0)
    for i in range(100):
        assert not live.vanished(i * 0.25, i * 320, connected=True)


def test_no_new_samples_for_the_timeout_means_vanished() -> None:
    live = Liveness(3.0)
    assert not live.vanished(0.0, 320, connected=True)
    assert not live.vanished(2.9, 320, connected=True)
    assert live.vanished(3.0, 320, connected=True)


def test_the_wait_before_connecting_does_not_count() -> None:
    live = Liveness(3.0)
    assert not live.vanished(0.0, 0, connected=False)
    assert not live.vanished(10.0, 0, connected=False)
    assert not live.vanished(10.5, 0, connected=True)  # the clock starts at connection
    assert not live.vanished(13.0, 0, connected=True)
    assert live.vanished(13.5, 0, connected=True)
