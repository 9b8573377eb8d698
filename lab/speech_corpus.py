"""Real recorded speech with transcripts, from Debian packages, for recognizer evaluation.

Two corpora:
- `asterisk`: the Asterisk PBX's English prompts (one professional voice, 8 kHz telephone
  audio), packages asterisk-core-sounds-en-wav (audio) and asterisk-core-sounds-en
  (transcripts, `name: text` lines).
- `librivox`: five read sentences from "Sense and Sensibility" (16 kHz, noisier MP3
  source), package pocketsphinx-testdata.

A prompt is kept only if its transcript is plain speech that any recognizer could write
down, decided by rules rather than by hand:
1. it is a top-level prompt (the digits/, letters/, phonetic/ ... folders hold single
   words and spelled letters, not speech);
2. it has no annotation in brackets: `[tones]`, `<beep>`, `(note: ...)` describe sounds
   or how the speaker deviated from the text;
3. it has no acronym (a word of two or more capitals: "DAHDI", "PBX"), which a speaker
   may spell or say as a word;
4. it spells nothing out (no one-letter word besides "a" and "I");
5. every word, numbers written as words, is in the CMU Pronouncing Dictionary bundled
   with pocketsphinx's en-US model: this drops product names, URLs and invented words.
Order is by file name; `limit` picks clips evenly spread over that order, so a small
sample still covers every prompt family.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np

from omnivox.lab.evaluation.wer import normalize
from omnivox.media.audio_files import AudioFileError, read_audio

SAMPLE_RATE = 16000
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en")
ASTERISK_TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")

CorpusName = Literal["asterisk", "librivox"]

_ANNOTATION = re.compile(r"[\[\]<>()]")
_ACRONYM = re.compile(r"\b[A-Z]{2,}\b")
_LIBRIVOX_LINE = re.compile(r"^<s>\s*(?P<text>.*?)\s*</s>\s*\((?P<name>[^)]+)\)\s*$")


class CorpusError(RuntimeError):
    """A corpus that cannot be loaded; the message says which package to install."""


@dataclass(frozen=True)
class Clip:
    path: Path
    text: str
    pcm: np.ndarray  # int16 mono, 16 kHz

    @property
    def seconds(self) -> float:
        return len(self.pcm) / SAMPLE_RATE


@cache
def _dictionary() -> frozenset[str]:
    from pocketsphinx import get_model_path

    path = Path(get_model_path()) / "en-us" / "cmudict-en-us.dict"
    with path.open(encoding="utf-8") as f:
        # Alternate pronunciations are listed as "word(2)"; only the word matters here.
        return frozenset(line.split(" ", 1)[0].split("(", 1)[0] for line in f if line.strip())


def is_plain_speech(text: str) -> bool:
    """Rules 2-5 of the module docstring."""
    if not text.strip() or _ANNOTATION.search(text) or _ACRONYM.search(text):
        return False
    words = normalize(text).split()
    if not words or any(len(w) == 1 and w not in ("a", "i") for w in words):
        return False
    known = _dictionary()
    return all(w in known for w in words)


def _require(path: Path, package: str) -> None:
    if not path.exists():
        raise CorpusError(f"{path} not found: install the Debian package {package}")


def _asterisk_transcripts() -> dict[str, str]:
    _require(ASTERISK_TRANSCRIPTS, "asterisk-core-sounds-en")
    _require(ASTERISK_SOUNDS, "asterisk-core-sounds-en-wav")
    texts: dict[str, str] = {}
    with gzip.open(ASTERISK_TRANSCRIPTS, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            name, sep, text = line.partition(":")
            if sep and not name.startswith(";") and "/" not in name and " " not in name:
                texts[name.strip()] = text.strip()
    return texts


def _librivox_transcripts() -> dict[str, str]:
    listing = LIBRIVOX / "transcription"
    _require(listing, "pocketsphinx-testdata")
    texts: dict[str, str] = {}
    for line in listing.read_text(encoding="utf-8").splitlines():
        m = _LIBRIVOX_LINE.match(line.strip())
        if m:
            texts[m.group("name")] = m.group("text")
    return texts


def _spread(items: list[str], limit: int | None) -> list[str]:
    if limit is None or limit >= len(items):
        return items
    if limit < 0:
        raise ValueError(f"limit must be >= 0 or None, got {limit}")
    return [items[i * len(items) // limit] for i in range(limit)]


def load_corpus(name: CorpusName, limit: int | None = None) -> list[Clip]:
    """The corpus's plain-speech clips, ordered by file name, at most `limit` of them."""
    if name == "asterisk":
        texts, folder = _asterisk_transcripts(), ASTERISK_SOUNDS
    elif name == "librivox":
        texts, folder = _librivox_transcripts(), LIBRIVOX
    else:
        raise ValueError(f"unknown corpus {name!r}; choose asterisk or librivox")
    names = sorted(
        n for n, t in texts.items() if (folder / f"{n}.wav").is_file() and is_plain_speech(t)
    )
    if not names:
        raise CorpusError(f"no usable clips in {folder}")
    try:
        return [
            Clip(path=folder / f"{n}.wav", text=texts[n], pcm=read_audio(folder / f"{n}.wav"))
            for n in _spread(names, limit)
        ]
    except AudioFileError as err:
        raise CorpusError(str(err)) from None
