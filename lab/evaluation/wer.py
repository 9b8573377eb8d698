"""Word error rate, with the text normalisation that makes recognizers comparable.

Recognizers and reference transcripts disagree on form, not words: Moonshine writes
"Press 5." and "Mr. Dashwood", pocketsphinx writes "press five" and the LibriVox
transcript "mister dashwood". `normalize` maps both to one spoken form:

- Unicode NFKC, lower case.
- Numbers become the words a speaker says: cardinals ("105" -> "one hundred five",
  "2,000" -> "two thousand"), ordinals ("3rd" -> "third"), decimals ("2.5" -> "two point
  five"); a number stuck to letters is split off ("3D" -> "three d"). Digits become words
  rather than words digits because the reference prompts mostly spell numbers out, and
  the mapping from digits to words is unambiguous while the reverse is not. "and" inside
  a number is dropped ("four hundred and ninety" -> "four hundred ninety").
- Times read as times: "9:30" -> "nine thirty", "9:05" -> "nine oh five", "10:00" ->
  "ten o'clock"; so does "10.30", as recognizers write it: a number under 25 with two
  decimals in 00-59 is taken for a time, not a decimal ("2.5" stays "two point five");
  "a.m." and "p.m." -> "am", "pm".
- Amounts of money: "$49" -> "forty nine dollars", "$4.50" -> "four dollars fifty
  cents" (likewise pounds and euros).
- Titles "mr", "mrs", "dr" become "mister", "missus", "doctor"; "&" -> "and",
  "%" -> "percent".
- Hyphens and slashes separate words ("call-forward" -> "call forward"); apostrophes
  inside words stay ("party's"); all other punctuation is removed.
- Compounds spelled open, hyphenated or closed score as one word where seen in the
  corpora ("good-bye" and "good bye" -> "goodbye").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip
_TITLES = {"mr": "mister", "mrs": "missus", "dr": "doctor"}
_COMPOUNDS = {"good bye": "goodbye", "up front": "upfront", "wi fi": "wifi", "to day": "today"}

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th)?")
_CURRENCIES = {"$": ("dollar", "cent"), "£": ("pound", "penny"), "€": ("euro", "cent")}
_MONEY = re.compile(r"([$£€])\s?(\d[\d,]*)(?:\.(\d\d))?(?!\d)")
_CLOCK = re.compile(r"(?<![\d.,])([01]?\d|2[0-4]):([0-5]\d)(?![\d:])")
# "10.30": an hour and two-digit minutes, not part of a longer number or an amount.
_DOTTED_TIME = re.compile(r"(?<![\d.,$£€])([01]?\d|2[0-4])\.([0-5]\d)(?!\d|\.\d)")
_MERIDIEM = re.compile(r"\b([ap])\.\s?m\b\.?")
_NUMBER_AND = re.compile(
    r"\b(hundred|thousand|million|billion|trillion) and (?=(?:"
    + "|".join(_ONES[1:] + _TENS[2:])
    + r")\b)"
)


def number_words(n: int) -> str:
    """Cardinal number in words, American style without "and" (105 -> one hundred five)."""
    if n < 0:
        return "minus " + number_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (" " + _ONES[ones] if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + (" " + number_words(rest) if rest else "")
    for scale, name in _SCALES:
        if n >= scale:
            head, rest = divmod(n, scale)
            return number_words(head) + " " + name + (" " + number_words(rest) if rest else "")
    raise AssertionError("unreachable")


def _ordinal(words: str) -> str:
    head, _, last = words.rpartition(" ")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head} {last}".strip()


def _spell_number(match: re.Match[str]) -> str:
    token = match.group(0)
    suffix = token[-2:] if token[-2:] in ("st", "nd", "rd", "th") else ""
    body = token[: len(token) - len(suffix)].rstrip(",")
    if "," in body and not re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", body):
        # "1,2,3" is a list, not a thousands separator
        return " ".join(number_words(int(p)) for p in body.split(",") if p)
    body = body.replace(",", "")
    whole, _, fraction = body.partition(".")
    words = number_words(int(whole))
    if suffix:
        return " " + _ordinal(words) + " "
    if fraction:
        words += " point " + " ".join(_ONES[int(d)] for d in fraction)
    return " " + words + " "


def _money(match: re.Match[str]) -> str:
    unit, cent = _CURRENCIES[match.group(1)]
    whole = int(match.group(2).replace(",", ""))
    words = f" {number_words(whole)} {unit}{'' if whole == 1 else 's'} "
    cents = int(match.group(3) or 0)
    if cents:
        words += f"{number_words(cents)} {cent if cents == 1 else _plural(cent)} "
    return words


def _plural(unit: str) -> str:
    return "pence" if unit == "penny" else unit + "s"


def _time(match: re.Match[str]) -> str:
    hour, minute = (g for g in match.groups() if g is not None)
    m = int(minute)
    spoken = "o'clock" if m == 0 else ("oh " if m < 10 else "") + number_words(m)
    return f" {number_words(int(hour))} {spoken} "


def normalize(text: str) -> str:
    """Spoken-form text for scoring: see the module docstring for the rules."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("&", " and ").replace("%", " percent ")
    text = _MERIDIEM.sub(r"\1m", text)
    text = _MONEY.sub(_money, text)
    text = _CLOCK.sub(_time, text)
    text = _DOTTED_TIME.sub(_time, text)
    text = _NUMBER.sub(_spell_number, text)
    text = _NUMBER_AND.sub(r"\1 ", text)
    text = re.sub(r"[-/\u2010-\u2015]", " ", text)
    text = re.sub(r"[^\w\s']", " ", text)
    words = []
    for word in text.split():
        word = word.strip("'_")
        if word:
            words.append(_TITLES.get(word, word))
    text = " ".join(words)
    for open_form, closed in _COMPOUNDS.items():
        text = re.sub(rf"\b{open_form}\b", closed, text)
    return text


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance over words (substitutions, deletions, insertions)."""
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class WordErrors:
    edits: int
    ref_words: int


def word_errors(ref: str, hyp: str) -> WordErrors:
    """Word edits between normalised `ref` and `hyp`, and the reference length."""
    r, h = normalize(ref).split(), normalize(hyp).split()
    return WordErrors(edit_distance(r, h), len(r))


def word_error_rate(ref: str, hyp: str) -> float:
    """Edits / reference words after normalisation. An empty reference scores the number
    of inserted words (so silence recognised as silence is 0.0)."""
    e = word_errors(ref, hyp)
    return e.edits / max(e.ref_words, 1)


def corpus_wer(pairs: Iterable[tuple[str, str]]) -> float:
    """Corpus-level WER of (reference, hypothesis) pairs: total edits / total ref words,
    so long clips weigh by their length rather than each clip counting once."""
    edits = words = 0
    for ref, hyp in pairs:
        e = word_errors(ref, hyp)
        edits += e.edits
        words += e.ref_words
    return edits / max(words, 1)
