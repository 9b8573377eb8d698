"""The default safety intervention: a blocklist, PII redaction, and a seam for a model.

`SafetyFilter.on_text` sees each sentence-sized chunk before it is spoken:

1. blocklist: words and phrases (case-insensitive, whole words only: "pool" does not
   match "whirlpool"; any run of whitespace matches a space) and regular expressions.
   A hit blocks the reply, which then says `blocked_reply` instead;
2. redaction: phone numbers and payment-card numbers are replaced by words a voice can
   say ("a phone number"). Only numbers in phone shapes are phones and only Luhn-valid
   13-19 digit numbers are cards, so times, prices, years, dates, street numbers and
   ZIP codes are left alone;
3. an optional `TextClassifier` (a model, local or remote) judges the redacted text;
   no model ships, the Protocol is the seam. It runs inside this intervention's budget,
   so give a model a budget it can keep (and `on_overrun: wait` if it must never be
   skipped).

Limits: not redacted are numbers spelled out in words ("five five five ..."), phone
numbers written as one run of digits ("5551234567"; "+15551234567" is redacted) and
seven-digit local numbers without an area code ("555-0100": too like "200-1000").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from omnivox.agent.interventions.chain import Blocked, OnOverrun

log = logging.getLogger(__name__)

DEFAULT_BLOCKED_REPLY = "Sorry, I can't talk about that."


@dataclass(frozen=True, slots=True)
class Verdict:
    """A classifier's judgement of one chunk."""

    allowed: bool
    label: str = ""
    """What it found ("self-harm", "medical advice"), for the log; never spoken."""
    score: float | None = None


class TextClassifier(Protocol):
    """A model-based filter: judges one chunk of what the agent is about to say."""

    async def classify(self, text: str) -> Verdict: ...


# ---- PII --------------------------------------------------------------------------

# A number must not be glued to a word, a currency sign, a decimal point, a time's colon
# or a preceding digit group ("2024-2025" must not yield "024-2025").
_START = r"(?<![\w+$€£¥.,:/])(?<!\d[ .-])"
_CARD = re.compile(_START + r"\d(?:[ -]?\d){12,18}(?!\w|[.,:/-]\d)")
_PHONE = re.compile(
    _START
    + r"(?:"
    + r"\+\d{1,3}(?:[ .-]?\(\d{1,4}\)|[ .-]?\d{1,5}){1,6}"  # +44 20 7946 0958, +1 (555) ...
    + r"|(?:1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}"  # (555) 123-4567
    + r"|(?:0\d{1,4}|\(0\d{1,4}\))(?:[ -]?\d{2,4}){2,4}"  # national: (020) 7946 0958
    + r")(?!\w|[.,:/-]\d)"
)


def luhn_ok(digits: str) -> bool:
    """The payment-card checksum (ISO/IEC 7812): catches 9 in 10 random numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _card(m: re.Match[str]) -> str:
    return "a card number" if luhn_ok(_digits(m[0])) else m[0]


def _phone(m: re.Match[str]) -> str:
    n = len(_digits(m[0]))
    # E.164 allows 15 digits; a national number with trunk 0 has at least 9.
    least = 9 if m[0].lstrip("(").startswith("0") else 8
    return "a phone number" if least <= n <= 15 else m[0]


REDACTORS: dict[str, Callable[[str], str]] = {
    # Cards first: a card number contains phone-shaped digit groups.
    "card": lambda text: _CARD.sub(_card, text),
    "phone": lambda text: _PHONE.sub(_phone, text),
}


def redact_pii(text: str, kinds: Sequence[str] = ("phone", "card")) -> str:
    """`text` with the numbers of `kinds` (see REDACTORS) replaced by spoken words."""
    for kind, redactor in REDACTORS.items():
        if kind in kinds:
            text = redactor(text)
    return text


# ---- the blocklist -----------------------------------------------------------------


def compile_blocklist(phrases: Sequence[str]) -> re.Pattern[str] | None:
    """One case-insensitive, whole-word pattern for the phrases (None if there are none)."""
    cleaned = sorted({" ".join(p.split()) for p in phrases if p.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    alternatives = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in cleaned)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A blocklist regular expression; ValueError says why it is not one."""
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as err:
        raise ValueError(f"not a regular expression: {err}") from None


class SafetyFilter:
    """Blocklist, redaction and an optional classifier, as an `on_text` intervention."""

    def __init__(
        self,
        *,
        blocklist: Sequence[str] = (),
        patterns: Sequence[str] = (),
        redact: Sequence[str] = ("phone", "card"),
        blocked_reply: str = DEFAULT_BLOCKED_REPLY,
        classifier: TextClassifier | None = None,
        name: str = "safety",
        budget_ms: float | None = None,
        on_overrun: OnOverrun = "skip",
    ) -> None:
        unknown = [k for k in redact if k not in REDACTORS]
        if unknown:
            raise ValueError(f"redact: unknown kind {unknown[0]!r} (use {', '.join(REDACTORS)})")
        if not blocked_reply.strip():
            raise ValueError("blocked_reply must not be empty")
        self.name = name
        self.budget_ms = budget_ms
        self.on_overrun = on_overrun
        self.blocked_reply = blocked_reply
        self.redact = tuple(redact)
        self.classifier = classifier
        self._blocklist = compile_blocklist(blocklist)
        self._patterns = [compile_pattern(p) for p in patterns]

    def screen(self, text: str) -> str | None:
        """The text to speak (redacted), or None when the blocklist forbids it."""
        if self._blocklist is not None and self._blocklist.search(text):
            return None
        if any(p.search(text) for p in self._patterns):
            return None
        return redact_pii(text, self.redact)

    async def on_text(self, text: str) -> str | Blocked:
        screened = self.screen(text)
        if screened is None:
            log.info("%s: blocklist hit; reply blocked", self.name)
            return Blocked(self.blocked_reply)
        if self.classifier is not None and screened.strip():
            # The model sees the redacted text: no PII leaves for a remote classifier.
            verdict = await self.classifier.classify(screened)
            if not verdict.allowed:
                log.info("%s: classifier said %r; reply blocked", self.name, verdict.label)
                return Blocked(self.blocked_reply)
        return screened
