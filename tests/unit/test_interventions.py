"""The on_text intervention chain: redaction, blocking, ordering, budgets, failures."""

from __future__ import annotations

import asyncio

import pytest

from omnivox.agent.clock import VirtualClock
from omnivox.agent.config import ConfigError, parse_config
from omnivox.agent.interventions import (
    Blocked,
    InterventionChain,
    SafetyFilter,
    build_interventions,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call us on 555-123-4567 today.", "Call us on a phone number today."),
        ("Our number is +44 20 7946 0958.", "Our number is a phone number."),
        ("Ring (020) 7946 0958 please", "Ring a phone number please"),
        ("Pay with 4111 1111 1111 1111 now.", "Pay with a card number now."),
        ("Card 4111-1111-1111-1111.", "Card a card number."),
        # Not PII: times, prices, years, street numbers, a number failing Luhn.
        ("We open at 10:30 and close at 22:00.", "We open at 10:30 and close at 22:00."),
        ("A day pass is $12.50 in 2025.", "A day pass is $12.50 in 2025."),
        ("We are at 1200 Harbor Road.", "We are at 1200 Harbor Road."),
        ("Order 4111 1111 1111 1112 shipped.", "Order 4111 1111 1111 1112 shipped."),
    ],
)
def test_redaction(text: str, expected: str) -> None:
    assert SafetyFilter().filter(text) == expected


def test_blocklist_is_case_insensitive_and_word_bounded() -> None:
    f = SafetyFilter(blocklist=["secret sauce", "pool"])
    assert f.filter("The Secret Sauce is ...") is None
    assert f.filter("Our pool is open.") is None
    assert f.filter("The whirlpool is open.") == "The whirlpool is open."


class Upper:
    name = "upper"
    budget_ms = 50.0

    async def on_text(self, chunk: str) -> str | None:
        return chunk.upper()


class Hangs:
    name = "hangs"
    budget_ms = 20.0

    async def on_text(self, chunk: str) -> str | None:
        await asyncio.sleep(3600)
        return chunk


class Raises:
    name = "raises"
    budget_ms = 50.0

    async def on_text(self, chunk: str) -> str | None:
        raise RuntimeError("boom")


def chain(*items: object) -> tuple[InterventionChain, list[str]]:
    reports: list[str] = []
    return InterventionChain(list(items), VirtualClock().now_ms, reports.append), reports  # type: ignore[arg-type]


async def test_ordered_rewrite_then_block() -> None:
    c, _ = chain(Upper(), SafetyFilter(blocklist=["HELLO"], blocked_reply="No."))
    spent: dict[str, float] = {}
    assert await c.on_text("hello there", spent) == Blocked("safety", "No.")
    c2, _ = chain(SafetyFilter(blocklist=["HELLO"]), Upper())
    assert await c2.on_text("hi 555-123-4567", spent) == "HI A PHONE NUMBER"
    assert set(spent) == {"upper", "safety"}


async def test_hanging_and_raising_hooks_are_skipped_and_reported() -> None:
    c, reports = chain(Hangs(), Raises(), Upper())
    assert await asyncio.wait_for(c.on_text("go on", {}), 5) == "GO ON"
    assert any("hangs" in r and "budget" in r for r in reports)
    assert any("raises" in r and "RuntimeError" in r for r in reports)


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"interventions\[0\]: unknown intervention 'rag'"):
        parse_config({"interventions": [{"rag": {}}]})
    with pytest.raises(ConfigError, match=r"interventions\[1\]\.safety\.colour: unknown key"):
        parse_config({"interventions": [{"safety": {}}, {"safety": {"colour": 1}}]})
    with pytest.raises(ConfigError, match=r"redact: unknown kind 'email'"):
        parse_config({"interventions": [{"safety": {"redact": ["email"]}}]})
    assert len(build_interventions([{"safety": {"blocklist": ["x"]}}])) == 1
