"""The token bucket and the per-client limiter, on a fake clock."""

from __future__ import annotations

from omnivox.agent.api.access.rate_limit import RateLimiter, TokenBucket


def test_a_full_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    bucket = TokenBucket.full(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == 0.5  # one token comes every 0.5 s
    assert bucket.take(0.25) == 0.25
    assert bucket.take(0.5) == 0.0
    assert bucket.take(0.5) > 0


def test_refill_is_capped_at_the_burst_and_ignores_a_clock_stepping_back() -> None:
    bucket = TokenBucket.full(rate=10.0, burst=2, now=0.0)
    assert bucket.take(0.0) == 0.0 and bucket.take(0.0) == 0.0
    assert bucket.take(100.0) == 0.0 and bucket.take(100.0) == 0.0
    assert bucket.take(100.0) > 0  # a long idle gives back `burst`, not 1000 tokens
    assert bucket.take(50.0) > 0  # time going backwards adds nothing


def test_clients_have_their_own_buckets() -> None:
    limiter = RateLimiter(rate=1.0, burst=1)
    assert limiter.check("a", 0.0) == 0.0
    assert limiter.check("a", 0.0) == 1.0
    assert limiter.check("b", 0.0) == 0.0
    assert limiter.check("a", 1.0) == 0.0


def test_the_table_stays_bounded_under_many_addresses() -> None:
    limiter = RateLimiter(rate=1.0, burst=2, max_keys=100)
    for i in range(1000):
        limiter.check(f"10.0.{i // 256}.{i % 256}", float(i) * 0.001)
    assert len(limiter) <= 100
    # a busy client is not the one dropped while idle ones can be
    limiter = RateLimiter(rate=0.001, burst=2, max_keys=3)
    limiter.check("busy", 0.0)
    limiter.check("idle1", 0.0)
    limiter.check("idle2", 0.0)
    limiter.check("new", 10_000.0)  # everyone but... all refilled by now: pruned
    assert len(limiter) <= 3 and "new" in limiter._buckets
