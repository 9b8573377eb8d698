"""Streaming text -> speakable chunks, for the Talker.

A pure, incremental chunker: `push(delta)` returns the chunks completed so far, `flush()`
the rest. The first chunk may end at a clause mark (comma, semicolon, colon, dash,
ellipsis) once it is long enough to sound natural, so speech starts early; later chunks
end at sentence ends, with a length cap as a safety valve.

Decisions depend only on the text, never on how it was split into deltas: a boundary
that needs lookahead ("3." could become "3.5"; "Dr. Smith" or "Hello. Then") waits for
the next characters, so token-by-token streaming gives exactly the chunks of the whole
text. Conservative by design: when unsure, it merges (a chunk that ends a little later)
rather than splits (a pause in the middle of "Dr. | Smith").

Never split: inside numbers ("3.5", "1,000", "10:30"), after abbreviations ("Dr.", "e.g.",
"U.S.", "a.m.") and initials, inside URLs and e-mail addresses (no space after the dot),
between the dots of an ellipsis, inside quotes, before a lower-case word ("Then he said
"stop." and left"), after a list marker ("1. First"), or (German) after an ordinal ("3.").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SENTENCE_END = ".!?…‼⁇⁈⁉。！？"
FULLWIDTH_END = "。！？"
"""Ends a sentence with nothing after it: CJK text has no space between sentences."""
CLAUSE_NOSPACE = "，；：、"
CLAUSE_SPACED = ",;:"
DASHES = "—–"
CLOSERS = ")]}）】」』”’'»*"
"""Absorbed into the chunk after sentence-final punctuation (`"Stop!" he said`)."""
OPENERS = "\"'“‘„«(（[「『*¿¡"
SPACES_BEFORE_CLOSER = " \u00a0\u202f"
"""French puts a (narrow) no-break space inside « »."""
_INITIALISM = re.compile(r"(?:[^\W\d_]\.){2,}")  # U.S. e.g. a.m. z.B.

_EN_ABBREVIATIONS = (
    "mr. mrs. ms. mx. dr. prof. sr. jr. st. mt. ft. vs. etc. approx. inc. ltd. corp. "
    "dept. gen. gov. capt. col. lt. sgt. rev. hon. ave. blvd. rd. jan. feb. aug. sept. "
    "oct. nov. dec. tel. ext. cf. al. ph.d. nos. vol. pp. esp."
)


@dataclass(frozen=True, slots=True)
class LanguageRules:
    abbreviations: frozenset[str]
    """Lower-case, with the final dot; never a sentence end. Initialisms ("U.S.", "e.g.")
    are recognised by shape in every language; a single letter ("plan A.", "so do I.")
    ends a sentence, so a middle initial ("John F. Kennedy") gets a pause."""
    min_first_chars: int = 15
    cased: bool = True
    """A new sentence never starts with a lower-case letter."""
    spaced: bool = True
    """Words are separated by spaces (False for Chinese and Japanese)."""
    ordinal_dot: bool = False
    """"3. Oktober": a number with a dot is an ordinal, not a sentence end."""
    quotes: tuple[tuple[str, str], ...] = (("“", "”"),)
    """(open, close) pairs besides ASCII '"'; no boundary is placed inside a quote."""
    quote_particles: str = ""
    """Characters that continue a sentence right after a closing quote (Japanese
    「…。」と言った)."""


def _abbr(words: str) -> frozenset[str]:
    return frozenset(words.split())


LANGUAGES: dict[str, LanguageRules] = {
    "en": LanguageRules(_abbr(_EN_ABBREVIATIONS)),
    "de": LanguageRules(
        _abbr(
            "dr. prof. hr. fr. str. nr. bzw. usw. ca. evtl. ggf. inkl. vgl. zzgl. bspw. tel. abs."
        ),
        ordinal_dot=True,
        quotes=(("„", "“"), ("»", "«")),
    ),
    "fr": LanguageRules(
        _abbr("mme. mlle. mm. dr. pr. etc. cf. env. av. apr. tél. vol. chap. p.ex."),
        quotes=(("«", "»"), ("“", "”")),
    ),
    "es": LanguageRules(
        _abbr("sr. sra. srta. dr. dra. ud. uds. etc. ej. av. tel. núm. pág. aprox."),
        quotes=(("«", "»"), ("“", "”")),
    ),
    "it": LanguageRules(
        _abbr("sig. sigg. dott. prof. ing. avv. ecc. es. pag. tel. n. ca."),
        quotes=(("«", "»"), ("“", "”")),
    ),
    "pt": LanguageRules(
        _abbr("sr. sra. dr. dra. prof. etc. ex. pág. tel. av. nº."),
        quotes=(("«", "»"), ("“", "”")),
    ),
    "nl": LanguageRules(
        _abbr("dhr. mevr. dr. prof. bijv. enz. ca. nr. tel. blz. zgn."),
        quotes=(("“", "”"), ("„", "”")),
    ),
    "zh": LanguageRules(
        frozenset(),
        min_first_chars=6,
        cased=False,
        spaced=False,
        quotes=(("“", "”"), ("「", "」"), ("『", "』")),
    ),
    "ja": LanguageRules(
        frozenset(),
        min_first_chars=6,
        cased=False,
        spaced=False,
        quotes=(("「", "」"), ("『", "』")),
        quote_particles="とっ",
    ),
    "ko": LanguageRules(frozenset(), min_first_chars=8, cased=False),
}


def rules_for(language: str) -> LanguageRules:
    """Rules for a language tag ("en", "en-US", "zh_Hans"); ValueError when unknown."""
    base = language.replace("_", "-").split("-")[0].lower()
    if base not in LANGUAGES:
        raise ValueError(
            f"sentence chunker: unknown language {language!r} (known: {', '.join(LANGUAGES)})"
        )
    return LANGUAGES[base]


@dataclass(slots=True)
class _Quotes:
    """Which quotes are open at a position of the text."""

    ascii_open: bool = False
    depth: int = 0

    @property
    def inside(self) -> bool:
        return self.ascii_open or self.depth > 0

    def copy(self) -> _Quotes:
        return _Quotes(self.ascii_open, self.depth)


_SETTLED = re.compile(r"[.!?…,;:。！？]['\"”’)\]]*\s*$")
"""Text that ends on a sentence's or clause's closing mark (and its closing quotes)."""


class _NeedMore(Exception):
    """The characters that decide a boundary have not arrived yet."""


class SentenceChunker:
    """Incremental sentence chunker; see the module docstring."""

    def __init__(
        self,
        language: str = "en",
        *,
        min_first_chars: int | None = None,
        max_first_chars: int = 120,
        max_chars: int = 300,
    ) -> None:
        self.rules = rules_for(language)
        self.min_first_chars = (
            self.rules.min_first_chars if min_first_chars is None else min_first_chars
        )
        if not 0 <= self.min_first_chars < max_first_chars <= max_chars:
            raise ValueError(
                "sentence chunker: need 0 <= min_first_chars < max_first_chars <= max_chars"
            )
        self.max_first_chars = max_first_chars
        self.max_chars = max_chars
        self._open = {o: c for o, c in self.rules.quotes}
        self._close = {c for _, c in self.rules.quotes}
        self._reset()

    def _reset(self) -> None:
        self._buf = ""
        self._first = True
        self._quotes = _Quotes()

    def push(self, delta: str) -> list[str]:
        """Add streamed text; return the chunks it completed (possibly none)."""
        self._buf += delta
        return self._drain(final=False)

    def settle(self) -> list[str]:
        """The text paused on a closing mark (its Thinker is quiet): what it completed,
        without waiting for the next word to confirm the end; nothing if it paused in
        the middle of a sentence. (A speaking model's transcript may come a sentence at
        a time, seconds apart.)"""
        if not _SETTLED.search(self._buf):
            return []
        return self._drain(final=True)

    def flush(self) -> list[str]:
        """End of the text: return what is left, and start afresh for a new text."""
        chunks = self._drain(final=True)
        self._reset()
        return chunks

    def _drain(self, final: bool) -> list[str]:
        chunks: list[str] = []
        while self._buf:
            found = self._find_end(final)
            if found is None:
                break
            end, self._quotes = found
            chunk, self._buf = self._buf[:end].strip(), self._buf[end:]
            if chunk:
                chunks.append(chunk)
                self._first = False
        return chunks

    # ---- the scan ----------------------------------------------------------------------

    def _find_end(self, final: bool) -> tuple[int, _Quotes] | None:
        """End of the next chunk in the buffer and the quote state there; None if more
        text is needed to decide."""
        try:
            return self._scan(final)
        except _NeedMore:
            return None

    def _scan(self, final: bool) -> tuple[int, _Quotes] | None:
        buf, n = self._buf, len(self._buf)
        q = self._quotes.copy()
        limit = self.max_first_chars if self._first else self.max_chars
        content = False  # a letter or digit seen: punctuation alone is not a chunk
        fallback: tuple[int, _Quotes] | None = None  # last clause mark, for the cap
        space: tuple[int, _Quotes] | None = None  # last space, for the cap
        i = 0
        while i < n:
            if i >= limit and content:
                return fallback or space or (i, q)
            c = buf[i]
            if c == "\n" and content:
                return i, q  # a line break (list item, paragraph) always ends a chunk
            if c in SENTENCE_END:
                kind, j, q = self._sentence_end(i, q, final)
                if content and kind == "sentence":
                    return j, q
                if content and kind == "clause":
                    if self._long_enough(j):
                        return j, q
                    fallback = (j, q.copy())
                i = j
                continue
            if c in CLAUSE_SPACED or c in CLAUSE_NOSPACE or c in DASHES or c == "-":
                end = self._clause_end(i, final)
                if end is not None and content and not q.inside:
                    if self._long_enough(end):
                        return end, q
                    fallback = (end, q.copy())
            elif c.isspace():
                if content:
                    space = (i, q.copy())
            elif c.isalnum():
                content = True
            else:
                self._track_quote(c, q)
            i += 1
        if final and n:
            return n, q
        return None

    def _long_enough(self, end: int) -> bool:
        return self._first and len(self._buf[:end].strip()) >= self.min_first_chars

    def _track_quote(self, c: str, q: _Quotes) -> None:
        if c == '"':
            q.ascii_open = not q.ascii_open
        elif c in self._open:
            q.depth += 1
        elif c in self._close and q.depth:
            q.depth -= 1

    def _is_closer(self, c: str, q: _Quotes) -> bool:
        if c == '"':
            return q.ascii_open
        return c in CLOSERS or c in self._close

    def _sentence_end(self, i: int, q: _Quotes, final: bool) -> tuple[str | None, int, _Quotes]:
        """Classify the punctuation run at i: ("sentence" | "clause" | None, index after
        the run and its closing quotes/brackets, quote state there)."""
        buf, n, r = self._buf, len(self._buf), self.rules
        j = i + 1
        while j < n and buf[j] in SENTENCE_END:
            j += 1
        run = buf[i:j]
        q = q.copy()
        after_run = j
        while j < n:
            if self._is_closer(buf[j], q):
                self._track_quote(buf[j], q)
                j += 1
            elif buf[j] in SPACES_BEFORE_CLOSER and j + 1 < n and self._is_closer(buf[j + 1], q):
                j += 1
            else:
                break
        if not final and (j == n or (j == n - 1 and buf[j] in SPACES_BEFORE_CLOSER)):
            raise _NeedMore  # a closing quote may still come
        if q.inside:
            return None, j, q
        fullwidth = any(ch in FULLWIDTH_END for ch in run)
        if j > after_run and j < n and buf[j] in r.quote_particles:
            return None, j, q
        if j < n and not fullwidth:
            nxt = buf[j]
            if not (nxt.isspace() or (not r.spaced and not nxt.isascii())):
                return None, j, q  # "3.5", "e.g.x", "example.com", "?q=1"
        if set(run) <= {".", "…"} and (len(run) > 1 or run == "…"):
            return "clause", j, q  # an ellipsis: a pause in the thought, not its end
        k = j
        while k < n and buf[k].isspace():
            k += 1
        if k == n and not final and not fullwidth and r.cased:
            raise _NeedMore  # is the next word lower-case?
        line_break = "\n" in buf[j:k]
        if r.cased and not line_break and k < n and buf[k].islower():
            return None, j, q
        if run == "." and self._dot_is_not_an_end(i):
            return None, j, q
        return "sentence", j, q

    def _dot_is_not_an_end(self, i: int) -> bool:
        buf = self._buf
        s = i
        while s > 0 and not buf[s - 1].isspace():
            s -= 1
        token = buf[s : i + 1].lstrip(OPENERS)
        if token.lower() in self.rules.abbreviations or _INITIALISM.fullmatch(token):
            return True
        if token[:-1].isdigit():
            # An ordinal ("3. Oktober"), or a list marker opening the chunk ("1. Mix").
            return self.rules.ordinal_dot or not buf[:s].strip()
        return False

    def _clause_end(self, i: int, final: bool) -> int | None:
        """Index after a clause mark at i, or None when it is not one."""
        buf, n = self._buf, len(self._buf)
        c = buf[i]
        if c in CLAUSE_NOSPACE:
            return i + 1
        if i + 1 >= n:
            if not final:
                raise _NeedMore
            return i + 1
        nxt = buf[i + 1]
        if c in DASHES:
            if nxt in DASHES or (c == "–" and i and buf[i - 1].isdigit() and nxt.isdigit()):
                return None  # a longer dash, or a range ("10–20")
            return i + 1
        if c == "-":
            return i + 1 if i and buf[i - 1].isspace() and nxt.isspace() else None
        if nxt.isspace() or (not self.rules.spaced and not nxt.isascii()):
            return i + 1
        return None  # "1,000", "10:30", "https://"
