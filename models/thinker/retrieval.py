"""A small lexical retriever for spoken queries: normalised BM25 with fuzzy word matching.

Queries come from speech recognition, so words are often near-misses of the right one
("clothes" for "close", "wear" for "where", "lock her" for "locker") and wrapped in
fillers ("um so uh"). What keeps such a query on its topic:

- a query word missing from the vocabulary is matched to vocabulary words by character
  n-gram similarity of both its spelling and a crude phonetic key (homophones differ in
  spelling, not sound), and credited by that similarity;
- an unknown word that sounds like a function word ("wear") is dropped like one;
- two adjacent words whose concatenation is (nearly) a vocabulary word are joined;
- synonym groups expand the query.

The score blends recall (how much of the query's IDF weight the item matches over all
its phrasings, each match saturated and length-normalised as in BM25) with precision
(how much of the passage's IDF weight the query matches). Both lie in [0, 1], so the
score does too, and one threshold means "no good match" whatever the query's length:
1.0 is an exact match, a query of unknown words scores 0.

Passages that share an `id` are alternative phrasings of one item (a knowledge-base
entry's example questions); `search` returns each id once, with its best passage.
Pure Python and numpy, no I/O: a few hundred passages take well under a millisecond.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

# Function words and the fillers of spontaneous speech. Kept small: IDF already
# down-weights frequent words; this list removes what carries no topic at all.
STOPWORDS = frozenset(
    """a an the and or but of to in on at for from by with about as into than then
    is are was were be been being am do does did doing have has had having get got
    i me my mine we our ours us you your yours it its this that these those there here
    they them their he she him her his hers
    um uh er erm ah eh hmm mm oh so like well okay ok just actually really please hey
    guys guy gonna wanna offer offers provide up out off
    somewhere anywhere something anything stuff thing things
    kind sort basically guess think wondering wonder know tell mean maybe
    can could would will shall should may might must want wanted need
    what which who whom when where why how any some s t d ll re ve m""".split()
)

_CONTRACTIONS = (
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'"), " "),
)
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Passage:
    id: str
    """Passages with the same id are phrasings of one item; search returns it once."""
    text: str


@dataclass(frozen=True, slots=True)
class Hit:
    passage: Passage
    score: float
    """In [0, 1]: 1.0 is an exact match of the passage's content words."""


def words(text: str) -> list[str]:
    """Lower-case ASCII words of `text`, accents folded and contractions split."""
    folded = unicodedata.normalize("NFKD", text.replace("’", "'"))
    folded = folded.encode("ascii", "ignore").decode().lower()
    for pattern, replacement in _CONTRACTIONS:
        folded = pattern.sub(replacement, folded)
    return _WORD.findall(folded)


def stem(word: str) -> str:
    """A light suffix stripper: enough to meet "closes", "closing", "closed" at "clos"."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # "swimm" -> "swim"
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


_PHONETIC = [
    (re.compile(p), r)
    for p, r in (
        (r"^(kn|gn|pn)", "n"),
        (r"^wr", "r"),
        (r"^wh", "w"),
        (r"ph", "f"),
        (r"ck", "k"),
        (r"tch|ch|sh", "X"),
        (r"th", "0"),
        (r"dg", "j"),
        (r"gh", ""),
        (r"c(?=[eiy])", "s"),
        (r"g(?=[eiy])", "j"),
        (r"[cq]", "k"),
        (r"x", "ks"),
        (r"z", "s"),
        (r"h", ""),
        (r"(?<=.)[aeiouy]", ""),
        (r"^[aeiouy]", "a"),
        (r"(.)\1+", r"\1"),
    )
]


def phonetic_key(word: str) -> str:
    """A crude sound-alike key (consonant skeleton), so "wear" meets "where"."""
    for pattern, replacement in _PHONETIC:
        word = pattern.sub(replacement, word)
    return word


def _grams(s: str, n: int) -> frozenset[str]:
    padded = f"#{s}#"
    return frozenset(padded[i : i + n] for i in range(len(padded) - n + 1))


def _dice(a: frozenset[str], b: frozenset[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def content_words(text: str) -> list[str]:
    """The words that carry the topic; all words if the text is nothing but stopwords
    ("who are you" must still be matchable)."""
    tokens = words(text)
    kept = [w for w in tokens if w not in STOPWORDS]
    return kept or tokens


@dataclass(frozen=True, slots=True)
class _Term:
    stem: str
    spelling: frozenset[str]
    sound: frozenset[str]


_STOP_SOUNDS = frozenset(k for k in map(phonetic_key, STOPWORDS) if len(k) >= 2)


class Retriever:
    """Ranks passages against a (possibly misrecognised) spoken query."""

    def __init__(
        self,
        documents: Sequence[Passage],
        *,
        synonyms: Iterable[Iterable[str]] = (),
        k1: float = 1.2,
        b: float = 0.75,
        precision_weight: float = 0.15,
        synonym_weight: float = 0.85,
        fuzzy_min: float = 0.5,
        unknown_idf_scale: float = 1.0,
    ) -> None:
        """`synonyms` are groups of interchangeable single words. `b` is BM25's length
        normalisation (0 for short phrasings, where length says nothing). `fuzzy_min`
        is the least similarity at which an unknown query word counts as a near-miss of
        a vocabulary word. `unknown_idf_scale` scales the weight of a query word that
        matches nothing (1.0: the IDF of a word no item has), which is what keeps
        "can I bring my dog to the pool" from matching a pool entry."""
        if not 0 <= precision_weight <= 1:
            raise ValueError("precision_weight must be within [0, 1]")
        self.passages = list(documents)
        self._precision_weight = precision_weight
        self._synonym_weight = synonym_weight
        self._fuzzy_min = fuzzy_min
        docs = [Counter(stem(w) for w in content_words(p.text)) for p in self.passages]
        lengths = np.array([sum(d.values()) for d in docs], dtype=np.float64)
        avgdl = max(float(lengths.mean()), 1.0) if docs else 1.0

        # Recall is judged per item (id), over all its phrasings; document frequency
        # counts items too, so ten questions about the pool do not make "pool" common.
        item_index: dict[str, int] = {}
        self._item_of = np.array(
            [item_index.setdefault(p.id, len(item_index)) for p in self.passages], dtype=np.intp
        )
        self._n_items = max(len(item_index), 1)
        items_with: dict[str, set[int]] = defaultdict(set)
        for i, d in enumerate(docs):
            for s in d:
                items_with[s].add(int(self._item_of[i]))
        self._idf = {s: _idf(len(ix), self._n_items) for s, ix in items_with.items()}
        self._unknown_idf = unknown_idf_scale * _idf(0, self._n_items)

        postings: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        weight_total = np.zeros(len(docs))
        for i, d in enumerate(docs):
            norm = k1 * (1 - b + b * lengths[i] / avgdl)
            for s, tf in d.items():
                postings[s][0].append(i)
                postings[s][1].append(min(1.0, tf * (k1 + 1) / (tf + norm)))
                weight_total[i] += self._idf[s]
        self._postings = {
            s: (np.array(ix, dtype=np.intp), np.array(sat)) for s, (ix, sat) in postings.items()
        }
        self._weight_total = np.maximum(weight_total, 1e-9)

        self._terms: list[_Term] = []
        self._gram_index: dict[str, list[int]] = defaultdict(list)
        surface = {stem(w): w for p in self.passages for w in content_words(p.text)}
        for s in self._postings:
            if surface[s] in STOPWORDS:
                continue  # indexed only for all-stopword phrasings; no near-miss target
            term = _Term(s, _grams(s, 3), _grams(phonetic_key(surface[s]), 2))
            for g in term.spelling | {f"~{g}" for g in term.sound}:
                self._gram_index[g].append(len(self._terms))
            self._terms.append(term)

        self._synonyms: dict[str, set[str]] = defaultdict(set)
        for group in synonyms:
            stems = set()
            for word in group:
                tokens = words(word)
                if len(tokens) != 1:
                    raise ValueError(f"synonym {word!r}: synonyms must be single words")
                stems.add(stem(tokens[0]))
            for s in stems:
                self._synonyms[s] |= stems - {s}
        self._fuzzy_cache: dict[str, dict[str, float]] = {}

    @property
    def vocabulary(self) -> frozenset[str]:
        """The stems the passages contain."""
        return frozenset(self._postings)

    def search(
        self, query: str, k: int = 5, *, context: str = "", context_weight: float = 0.5
    ) -> list[Hit]:
        """The best `k` items for `query`, best first, each id once, scores in [0, 1].

        `context` (e.g. the previous user turn, for a follow-up like "how much is it")
        adds its words at `context_weight` relative to the query's own."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        terms = self._query_terms(query, 1.0)
        for s, (w, expansion) in self._query_terms(context, context_weight).items():
            if w > terms.get(s, (0.0, {}))[0]:
                terms[s] = (w, expansion)
        if not terms or not self.passages:
            return []

        n = len(self.passages)
        recall = np.zeros(n)
        covered: dict[str, float] = {}  # vocabulary stem -> how well the query covers it
        total = 0.0
        for s, (qweight, expansion) in terms.items():
            # A near-miss weighs as the word it probably is; a word matching nothing as
            # a word no item has (scaled).
            best = max(expansion, key=expansion.__getitem__, default=None)
            w = qweight * self._idf.get(s, self._idf[best] if best else self._unknown_idf)
            total += w
            match = np.zeros(n)
            for u, sim in expansion.items():
                ix, sat = self._postings[u]
                np.maximum.at(match, ix, sim * sat)
                covered[u] = max(covered.get(u, 0.0), sim * qweight)
            per_item = np.zeros(self._n_items)
            np.maximum.at(per_item, self._item_of, match)
            recall += w * per_item[self._item_of]
        recall /= total
        precision = np.zeros(n)
        for u, sim in covered.items():
            ix, _ = self._postings[u]
            precision[ix] += self._idf[u] * sim
        precision /= self._weight_total
        pw = self._precision_weight
        scores = np.clip((1 - pw) * recall + pw * precision, 0.0, 1.0)

        hits: list[Hit] = []
        seen: set[str] = set()
        for i in np.argsort(-scores, kind="stable"):
            if scores[i] <= 0 or len(hits) == k:
                break
            passage = self.passages[i]
            if passage.id not in seen:
                seen.add(passage.id)
                hits.append(Hit(passage, round(float(scores[i]), 4)))
        return hits

    def _query_terms(self, text: str, weight: float) -> dict[str, tuple[float, dict[str, float]]]:
        """Query stem -> (weight, vocabulary stems it stands for, with similarity)."""
        tokens = self._join_split_words(words(text))
        kept = [w for w in tokens if w not in STOPWORDS] or tokens
        terms: dict[str, tuple[float, dict[str, float]]] = {}
        for w in kept:
            expansion = self._expand(w)
            if not expansion and phonetic_key(w) in _STOP_SOUNDS and w not in STOPWORDS:
                continue  # a misheard function word ("wear" for "where"), not a topic
            terms[stem(w)] = (weight, expansion)
        return terms

    def _join_split_words(self, tokens: list[str]) -> list[str]:
        """Recognisers split compounds ("wi fi", "member ship", "pi lotties"): join two
        words when neither is a vocabulary word but their concatenation is, or nearly."""
        out: list[str] = []
        i = 0
        while i < len(tokens):
            if i + 1 < len(tokens) and min(len(tokens[i]), len(tokens[i + 1])) > 1:
                a, b = stem(tokens[i]), stem(tokens[i + 1])
                ab = tokens[i] + tokens[i + 1]
                if stem(ab) in self._postings and not (a in self._postings and b in self._postings):
                    out.append(ab)
                    i += 2
                    continue
                pair = {tokens[i], tokens[i + 1]}
                # A fragment is a short non-word ("fi", "pi"), not "to" or "in".
                fragment = any(len(t) <= 2 and t not in STOPWORDS for t in pair)
                if (
                    a not in self._postings
                    and b not in self._postings
                    and ab not in STOPWORDS
                    and (fragment or not pair & STOPWORDS)
                    and max(self._fuzzy(ab).values(), default=0.0) >= self._fuzzy_min + 0.1
                ):
                    out.append(ab)
                    i += 2
                    continue
            out.append(tokens[i])
            i += 1
        return out

    def _expand(self, word: str) -> dict[str, float]:
        """Vocabulary stems standing for query word `word`, with their similarity."""
        s = stem(word)
        out = {s: 1.0} if s in self._postings else dict(self._fuzzy(word))
        for syn in self._synonyms.get(s, ()):
            if syn in self._postings:
                out[syn] = max(out.get(syn, 0.0), self._synonym_weight)
        return out

    def _fuzzy(self, word: str) -> dict[str, float]:
        """Vocabulary stems that `word` (not in the vocabulary) may be a misrecognition of."""
        cached = self._fuzzy_cache.get(word)
        if cached is not None:
            return cached
        s = stem(word)
        out: dict[str, float] = {}
        if len(s) >= 3:
            spelling, sound = _grams(s, 3), _grams(phonetic_key(word), 2)
            candidates: set[int] = set()
            for g in spelling:
                candidates.update(self._gram_index.get(g, ()))
            for g in sound:
                candidates.update(self._gram_index.get(f"~{g}", ()))
            for t in candidates:
                term = self._terms[t]
                # Both must agree somewhat: sound alone confuses short words ("lock" and
                # "talk"), spelling alone misses homophones ("clothes" and "close").
                sim = (_dice(spelling, term.spelling) + _dice(sound, term.sound)) / 2
                if sim >= self._fuzzy_min:
                    out[term.stem] = round(sim, 4)
        if len(self._fuzzy_cache) >= 4096:  # bounded: queries are open-ended
            self._fuzzy_cache.pop(next(iter(self._fuzzy_cache)))
        self._fuzzy_cache[word] = out
        return out


def _idf(df: int, n: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))
