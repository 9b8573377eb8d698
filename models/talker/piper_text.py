"""Text work for the Piper Talker: pieces to synthesize one at a time, and where each
word's phonemes start.

Pieces: a VITS voice makes a whole input at once, in about a tenth of its duration on one
core, so a 25-word sentence would keep the listener waiting most of a second. The text is
cut where a speaker may pause anyway: at a sentence end inside the chunk, after commas,
semicolons, colons and dashes, and, in a run of more than `max_words` words with no
punctuation, before a conjunction, preposition or auxiliary verb (else evenly). The
first piece is the first-audio latency: it ends at the first clause mark, and is held
to `first_max_words` where such a word gives a place to cut (a first clause of up to
`max_words` words with none stays whole rather than be cut mid-phrase). Later pieces
pack clauses ending in commas (or dashes) up to `max_words`: the voice reads a comma
better within one input. Semicolons and colons always end a piece.

Word starts: the phonemes of a piece come from eSpeak NG clause by clause, where "in the"
becomes one word "ɪnðə" and "9:30" two ("nˈaɪn θˈɜːɾi"), so phoneme words cannot simply
be counted off against the text's. Each text word is phonemized alone as well and the two
phoneme strings are aligned (edit distance, ignoring stress and spaces): where a word's
own first phoneme lands in the piece's phonemes is where that word starts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Boundary = Literal["phrase", "clause", "sentence"]
"""What ends a piece: a cut inside a run of words, a clause mark (, ; : dash), or the
end of a sentence (. ! ? or the end of the text)."""

FIRST_MAX_WORDS = 9
"""A cut inside the first clause costs intelligibility: the voice reads the word after it
at the start of an input, so "a guest | for six dollars" was heard as "$4.6" and "twelve
dollars | for adults" as "four adults"; a longer first piece costs its prior's time
(~0.3 ms an id) in first audio."""
MAX_WORDS = 12
MIN_WORDS = 3

# Where a cut in a run of words sounds like a phrase boundary: before a conjunction
# (best), a preposition or an auxiliary verb.
_CONJUNCTIONS = frozenset(
    "and but or nor so because although though while whereas unless until if when where "
    "whether which who whose since after before then".split()
)
_PREPOSITIONS = frozenset(
    "to for with from in on at of by about into onto over under through during without "
    "between near along across around behind past per via like".split()
)
# Between a subject and its verb is a place to breathe too ("The closest station | is").
_VERBS = frozenset(
    "is are was were will would can could should may might must has have had does do did".split()
)
_ABBREVIATIONS = frozenset("mr mrs ms dr st jr sr vs etc no approx dept est".split())
_CLAUSE_MARKS = ",;:"
_SENTENCE_MARKS = ".!?"
_DASHES = frozenset({"-", "--", "–", "—"})
_CLOSERS = "\"')]}»”’"
_IGNORED = frozenset("ˈˌ ,.;:!?-—")  # stress, spaces, punctuation: not aligned


@dataclass(frozen=True, slots=True)
class Piece:
    start: int
    end: int
    """Characters of the text; pieces cover it from the first word to the last."""
    boundary: Boundary
    mark: str
    """The punctuation the voice reads at the end: the text's own (. ! ? , ; :), or ","
    after a cut inside a run of words (a continuation, not a full stop)."""


def word_tokens(text: str) -> list[tuple[int, str]]:
    """Whitespace-separated words with a letter or digit in them: (start char, word)."""
    return [(m.start(), m.group()) for m in re.finditer(r"\S+", text) if _has_alnum(m.group())]


def _has_alnum(token: str) -> bool:
    return any(c.isalnum() for c in token)


def _clause_end(token: str, is_last: bool) -> tuple[Boundary, str] | None:
    """Whether the text may be cut after `token`, and how it ends there."""
    if token in _DASHES:
        return "clause", ","
    bare = token.rstrip(_CLOSERS)
    if not bare:
        return None
    mark = bare[-1]
    if mark in _CLAUSE_MARKS:
        return "clause", mark
    if mark in _SENTENCE_MARKS:
        word = bare.rstrip(_SENTENCE_MARKS).lower()
        if mark == "." and not is_last and (word in _ABBREVIATIONS or len(word) == 1):
            return None  # "Mr. Smith", "J. Smith": not an end
        return "sentence", mark
    return None


def _cut_score(word: str) -> int:
    word = word.lower().strip(_CLOSERS + "\"'(")
    return 2 if word in _CONJUNCTIONS else 1 if word in _PREPOSITIONS | _VERBS else 0


def _split_run(words: list[str], caps: tuple[int, int]) -> list[int]:
    """Indices (in `words`) where a run with no punctuation is cut: the first part has at
    most caps[0] words, the others at most caps[1], each at least MIN_WORDS where the
    run allows; cut before a conjunction, preposition or auxiliary verb if there is one
    nearby, else as evenly as the limits allow. A run within caps[1] is cut for caps[0]
    only before such a word."""
    cuts: list[int] = []
    start = 0
    while True:
        left = len(words) - start
        cap = caps[0] if not cuts else caps[1]
        if left <= cap:
            return cuts
        ideal = left / math.ceil(left / cap)
        lo = min(MIN_WORDS, cap)
        hi = max(lo, min(cap, left - MIN_WORDS))
        best = max(
            range(lo, hi + 1),
            key=lambda k: (2 * _cut_score(words[start + k]) - abs(k - ideal), k),
        )
        if left <= caps[1] and not _cut_score(words[start + best]):
            return cuts  # over the first piece's cap only: not worth a cut mid-phrase
        start += best
        cuts.append(start)


def split_pieces(
    text: str, *, max_words: int = MAX_WORDS, first_max_words: int = FIRST_MAX_WORDS
) -> list[Piece]:
    """Cut `text` into pieces to synthesize one after another (see the module doc)."""
    tokens = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", text)]
    if not any(_has_alnum(t) for _, _, t in tokens):
        return []
    # Runs of tokens between clause or sentence marks: token range [i, j), how it ends.
    runs: list[tuple[int, int, Boundary, str]] = []
    begin = 0
    for i, (_, _, token) in enumerate(tokens):
        last = i == len(tokens) - 1
        end = _clause_end(token, last)
        if last:  # the end of the text is a sentence end, read with its own mark
            end = ("sentence", end[1] if end is not None and end[1] != "," else ".")
            if token.rstrip(_CLOSERS).endswith(","):
                end = ("sentence", ",")
        if end is not None:
            runs.append((begin, i + 1, *end))
            begin = i + 1
    pieces: list[Piece] = []
    words_in: list[int] = []  # words of each piece
    for i, j, boundary, mark in runs:
        words = [t for _, _, t in tokens[i:j]]
        caps = (first_max_words if not pieces else max_words, max_words)
        edges = [0, *_split_run(words, caps), len(words)]
        for k in range(len(edges) - 1):
            a, b = i + edges[k], i + edges[k + 1]
            last = k == len(edges) - 2
            piece = Piece(
                tokens[a][0],
                tokens[b - 1][1],
                boundary if last else "phrase",
                mark if last else ",",
            )
            n = sum(_has_alnum(t) for _, _, t in tokens[a:b])
            prev = pieces[-1] if pieces else None
            # After the first piece (kept short: it is the first-audio latency), clauses
            # are packed up to max_words: the voice reads a comma better inside one
            # input than across two, and a later piece only has to be ready by the time
            # the one before it has played. A lone dash or symbol joins the piece before.
            packs = (
                len(pieces) > 1
                and prev is not None
                and prev.mark == ","
                and prev.boundary == "clause"
                and words_in[-1] + n <= max_words
            )
            if prev is not None and (n == 0 or packs):
                pieces[-1] = Piece(prev.start, piece.end, piece.boundary, piece.mark)
                words_in[-1] += n
            elif n:
                pieces.append(piece)
                words_in.append(n)
    return pieces


def piece_phonemes(text: str, clauses: Sequence[tuple[str, int]], mark: str) -> str:
    """The phonemes a Piper voice reads for one piece: eSpeak's clauses joined with the
    punctuation that ended each (Piper's convention; eSpeak's plain API drops it), and
    `mark` at the end."""
    parts: list[str] = []
    prev = 0
    for n, (ipa, end) in enumerate(clauses):
        ipa = ipa.strip()
        if n == len(clauses) - 1:
            parts.append(ipa + mark)
            break
        bare = text[prev:end].rstrip().rstrip(_CLOSERS)
        prev = end
        # A "." inside a piece is an abbreviation or an initial, not a full stop.
        inner = bare[-1] if bare and bare[-1] in _CLAUSE_MARKS + "!?" else ""
        if ipa:
            parts.append(ipa + inner)
    return " ".join(p for p in parts if p)


def align_words(words: Sequence[str], phonemes: str) -> list[int]:
    """For each word's own phonemes (the word phonemized alone), the index in `phonemes`
    (a whole piece's) where that word starts: the best edit-distance alignment of the
    two, ignoring stress marks, spaces and punctuation. Non-decreasing; a stress mark
    right before the start belongs to the word."""
    a = [(c, w) for w, ph in enumerate(words) for c in ph if c not in _IGNORED]
    b = [j for j, c in enumerate(phonemes) if c not in _IGNORED]
    if not b:
        return [0] * len(words)
    n, m = len(a), len(b)
    bc = np.array([ord(phonemes[j]) for j in b])
    # dist[i, j]: edit distance between a[:i] and b[:j]; a row at a time, the insertion
    # chain as a running minimum.
    dist = np.empty((n + 1, m + 1), dtype=np.int32)
    dist[0] = np.arange(m + 1)
    steps = np.arange(m + 1)
    for i in range(1, n + 1):
        prev = dist[i - 1]
        cand = np.empty(m + 1, dtype=np.int32)
        cand[0] = i
        cand[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (bc != ord(a[i - 1][0])))
        dist[i] = np.minimum.accumulate(cand - steps) + steps
    # Backtrace: at[i] = the position in b that a[i] matched, or where it would go.
    at = [m] * n
    i, j = n, m
    while i > 0:
        if j > 0 and dist[i, j] == dist[i - 1, j - 1] + (a[i - 1][0] != phonemes[b[j - 1]]):
            at[i - 1] = j - 1
            i, j = i - 1, j - 1
        elif dist[i, j] == dist[i - 1, j] + 1:
            at[i - 1] = j
            i -= 1
        else:
            j -= 1
    first: dict[int, int] = {}
    for i, (_, w) in enumerate(a):
        first.setdefault(w, i)
    starts: list[int] = []
    for w in range(len(words)):
        k = first.get(w)
        # A word with no phonemes of its own starts where the next one does.
        k = next((first[v] for v in range(w, len(words)) if v in first), None) if k is None else k
        j = len(phonemes) if k is None or at[k] >= m else b[at[k]]
        while 0 < j <= len(phonemes) and phonemes[j - 1] in "ˈˌ":
            j -= 1
        starts.append(max(j, starts[-1]) if starts else j)
    return starts
