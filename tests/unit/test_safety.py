"""The safety intervention: PII redaction, the blocklist, and the classifier seam."""

from __future__ import annotations

import pytest

from omnivox.agent.interventions.chain import Blocked
from omnivox.agent.interventions.safety import SafetyFilter, Verdict, luhn_ok, redact_pii

PHONE, CARD = "a phone number", "a card number"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Phone numbers: US, international, national (trunk 0) formats.
        ("Call us on 555-123-4567 today.", f"Call us on {PHONE} today."),
        ("Call 555.123.4567 or 555 123 4567.", f"Call {PHONE} or {PHONE}."),
        ("Call (555) 123-4567 now.", f"Call {PHONE} now."),
        ("Toll free: 1-800-555-0199.", f"Toll free: {PHONE}."),
        ("Our number is +44 20 7946 0958.", f"Our number is {PHONE}."),
        ("Call +1 (555) 123-4567.", f"Call {PHONE}."),
        ("Berlin: +49 30 1234567, Paris: +33 1 23 45 67 89.", f"Berlin: {PHONE}, Paris: {PHONE}."),
        ("Text +15551234567 please.", f"Text {PHONE} please."),
        ("Ring 020 7946 0958 or (020) 7946 0958.", f"Ring {PHONE} or {PHONE}."),
        ("Mobile 07700 900123.", f"Mobile {PHONE}."),
        ("Call 555-123-4567 24 hours a day.", f"Call {PHONE} 24 hours a day."),
        # Card numbers: Luhn-valid, grouped by spaces or dashes, or in one run.
        ("Pay with 4111 1111 1111 1111 now.", f"Pay with {CARD} now."),
        ("Card 4111-1111-1111-1111.", f"Card {CARD}."),
        ("Amex 3782 822463 10005.", f"Amex {CARD}."),
        ("Mastercard 5555555555554444.", f"Mastercard {CARD}."),
        # Not PII: the same shapes failing Luhn, and everyday numbers.
        ("Order 4111 1111 1111 1112 shipped.", "Order 4111 1111 1111 1112 shipped."),
        ("We open at 10:30 and close at 22:00.", "We open at 10:30 and close at 22:00."),
        ("Between 9.30 and 17.45 on weekdays.", "Between 9.30 and 17.45 on weekdays."),
        ("A day pass is $12.50 in 2025.", "A day pass is $12.50 in 2025."),
        ("The total is $1,299.99, or €1 250 a year.", "The total is $1,299.99, or €1 250 a year."),
        ("We are at 1200 Harbor Road, Room 101.", "We are at 1200 Harbor Road, Room 101."),
        ("Chicago, IL 60601-1234.", "Chicago, IL 60601-1234."),
        ("Founded in 1998, renovated 2019-2020.", "Founded in 1998, renovated 2019-2020."),
        ("Closed on 2025-11-27 and 27.11.2025.", "Closed on 2025-11-27 and 27.11.2025."),
        ("Open 24/7, 11/27/2025 at 10:30 am.", "Open 24/7, 11/27/2025 at 10:30 am."),
        ("A population of 1 200 000.", "A population of 1 200 000."),
        ("We get 200-1000 visitors.", "We get 200-1000 visitors."),
        ("Pi is 3.14159265358979.", "Pi is 3.14159265358979."),
    ],
)
def test_redaction(text: str, expected: str) -> None:
    assert redact_pii(text) == expected


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and luhn_ok("378282246310005")
    assert not luhn_ok("4111111111111112")


def test_only_the_configured_kinds_are_redacted() -> None:
    text = "Call 555-123-4567 or pay with 4111 1111 1111 1111."
    assert SafetyFilter(redact=["card"]).screen(text) == f"Call 555-123-4567 or pay with {CARD}."
    assert SafetyFilter(redact=[]).screen(text) == text


def test_blocklist_is_case_insensitive_and_whole_words() -> None:
    f = SafetyFilter(blocklist=["secret  sauce", "pool"])
    assert f.screen("The Secret\nSauce is ...") is None
    assert f.screen("Our POOL is open.") is None
    assert f.screen("The whirlpool is open.") == "The whirlpool is open."
    assert f.screen("Pools are fun.") == "Pools are fun."


def test_patterns_are_regular_expressions() -> None:
    f = SafetyFilter(patterns=[r"\bpass ?words?\b"])
    assert f.screen("The PASSWORD is hunter2.") is None
    assert f.screen("A day pass is cheap.") == "A day pass is cheap."
    with pytest.raises(ValueError, match="not a regular expression"):
        SafetyFilter(patterns=["(unclosed"])


def test_bad_options_are_named() -> None:
    with pytest.raises(ValueError, match="redact: unknown kind 'email'"):
        SafetyFilter(redact=["email"])
    with pytest.raises(ValueError, match="blocked_reply"):
        SafetyFilter(blocked_reply="  ")


async def test_on_text_blocks_with_the_configured_line() -> None:
    f = SafetyFilter(blocklist=["competitor"], blocked_reply="Let's talk about us.")
    assert await f.on_text("Our competitor is cheaper.") == Blocked("Let's talk about us.")
    assert await f.on_text("Call 555-123-4567.") == f"Call {PHONE}."


class KeywordModel:
    """Stands in for a moderation model (a remote service in production)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def classify(self, text: str) -> Verdict:
        self.seen.append(text)
        return Verdict(allowed="diagnosis" not in text, label="medical advice")


async def test_a_classifier_judges_the_redacted_text() -> None:
    model = KeywordModel()
    f = SafetyFilter(classifier=model, blocked_reply="Please ask a doctor.")
    assert await f.on_text("My diagnosis is flu.") == Blocked("Please ask a doctor.")
    assert await f.on_text("Call 555-123-4567.") == f"Call {PHONE}."
    assert model.seen == ["My diagnosis is flu.", f"Call {PHONE}."]  # no PII leaves
