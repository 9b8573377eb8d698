"""The intervention chain between Thinker and Talker (the `on_text` hook point).

Every sentence-sized chunk of Thinker text passes the chain, in order, before it is
spoken: an intervention passes it, rewrites it, or blocks the reply. Each hook has a
latency budget measured on the session clock; a hook that overruns or fails is reported
and skipped, so a broken filter can never stall or end a conversation.

Shipped: `SafetyFilter` (a blocklist, and redaction of phone and payment-card numbers).
`before_think` (RAG) and `on_tool_call` hooks are not implemented yet.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Intervention(Protocol):
    name: str
    budget_ms: float

    async def on_text(self, chunk: str) -> str | None:
        """The chunk to speak (possibly rewritten), or None to block the reply."""
        ...


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# 13-19 digits, optionally grouped by single spaces or dashes.
_CARD = re.compile(r"(?<![\w.,])\d(?:[ -]?\d){12,18}(?![\w]|[.,]\d)")
# A phone number: optional +country code, then 7-15 digits in groups of 2-4 separated by
# a space, dot, dash or parentheses. Times (10:30), prices, years and street numbers have
# too few digits or other separators, so they do not match.
_PHONE = re.compile(
    r"(?<![\w.,:$€£])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?"
    r"\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w]|[.,:]\d)"
)


@dataclass
class SafetyFilter:
    """Blocklist and PII redaction for what the agent is about to say."""

    blocklist: Sequence[str] = ()
    redact: Sequence[str] = ("phone", "card")
    blocked_reply: str = "Sorry, I can't talk about that."
    budget_ms: float = 50.0
    name: str = "safety"
    _blocked: re.Pattern[str] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        unknown = set(self.redact) - {"phone", "card"}
        if unknown:
            raise ValueError(f"redact: unknown kind {sorted(unknown)[0]!r} (use phone, card)")
        words = [w.strip() for w in self.blocklist if w.strip()]
        if words:
            alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
            self._blocked = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)

    async def on_text(self, chunk: str) -> str | None:
        return self.filter(chunk)

    def filter(self, text: str) -> str | None:
        if self._blocked is not None and self._blocked.search(text):
            return None
        if "card" in self.redact:
            text = _CARD.sub(self._card, text)
        if "phone" in self.redact:
            text = _PHONE.sub(self._phone, text)
        return text

    @staticmethod
    def _card(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return "a card number" if _luhn_ok(digits) else m.group(0)

    @staticmethod
    def _phone(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return "a phone number" if 7 <= len(digits) <= 15 else m.group(0)


@dataclass(frozen=True, slots=True)
class Blocked:
    """The chain stopped the reply; `reply` is the line to speak instead."""

    by: str
    reply: str


class InterventionChain:
    def __init__(
        self,
        interventions: Sequence[Intervention],
        now_ms: Callable[[], float],
        report: Callable[[str], None],
        wait_on_overrun: bool = False,
    ) -> None:
        """`report` receives a user-safe message when a hook overruns or fails."""
        self.interventions = list(interventions)
        self._now_ms = now_ms
        self._report = report
        self._wait_on_overrun = wait_on_overrun

    def add(self, intervention: Intervention) -> None:
        self.interventions.append(intervention)

    async def on_text(self, chunk: str, spent_ms: dict[str, float]) -> str | Blocked:
        """Run the chain over one chunk. Time spent per intervention is added to
        `spent_ms` (on the session clock)."""
        text = chunk
        for item in self.interventions:
            start = self._now_ms()
            try:
                hook = item.on_text(text)
                budget = None if self._wait_on_overrun else item.budget_ms / 1000.0
                result = await asyncio.wait_for(hook, budget)
            except TimeoutError:
                self._report(
                    f"intervention {item.name!r} overran its {item.budget_ms:g} ms budget; skipped"
                )
                result = text
            except Exception as err:
                log.exception("intervention %s failed", item.name)
                self._report(f"intervention {item.name!r} failed ({type(err).__name__}); skipped")
                result = text
            spent_ms[item.name] = spent_ms.get(item.name, 0.0) + self._now_ms() - start
            if result is None:
                reply = getattr(item, "blocked_reply", None) or "Sorry, I can't say that."
                return Blocked(item.name, reply)
            text = result
        return text


def build_interventions(specs: Sequence[dict[str, Any]]) -> list[Intervention]:
    """From config: a list of one-key mappings, e.g. [{"safety": {...}}]."""
    built: list[Intervention] = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or len(spec) != 1:
            raise ValueError(f"interventions[{i}]: must be a mapping with one key, e.g. safety")
        ((kind, options),) = spec.items()
        if kind != "safety":
            raise ValueError(
                f"interventions[{i}]: unknown intervention {kind!r} (available: safety)"
            )
        if not isinstance(options, dict):
            raise ValueError(f"interventions[{i}].safety: must be a mapping")
        allowed = {"blocklist", "redact", "blocked_reply", "budget_ms"}
        extra = set(options) - allowed
        if extra:
            raise ValueError(f"interventions[{i}].safety.{sorted(extra)[0]}: unknown key")
        try:
            built.append(SafetyFilter(**options))
        except (TypeError, ValueError) as err:
            raise ValueError(f"interventions[{i}].safety.{err}") from None
    return built
