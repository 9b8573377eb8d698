"""Speech for the turn classifier: voices, real recordings, labels, cuts, WAV I/O.

Shared by training (agent/train_turns) and evaluation (agent/eval_turns); the channel
they both put it through is agent/speech_channel.

Sources:
- synthetic: the Debian ``espeak-ng`` and ``flite`` command-line engines, many voices,
  rates and pitches; voices are split into a training and a held-out set;
- real human speech shipped in Debian packages: Asterisk's prompts (one professional
  speaker, 8 kHz, transcripts in core-sounds-en.txt.gz), LibriVox sentences and a few
  other speakers in pocketsphinx's test data.
"""

from __future__ import annotations

import csv
import gzip
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import yaml

from omnivox.kernels.level import frame_levels
from omnivox.kernels.resample import resample
from omnivox.lab.training.word_alignment import shared_aligner
from omnivox.media.audio_files import AudioFileError, decode_audio, write_wav

SAMPLE_RATE = 16_000
PHRASES_FILE = Path(__file__).parent / "turn_phrases.yaml"
ASTERISK_DIR = Path("/usr/share/asterisk/sounds/en")
ASTERISK_TEXT = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
POCKETSPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")
OVERLAP_LABELS = ("backchannel", "interruption")
PAUSE_LABELS = ("end_of_turn", "hold")
LABELS = OVERLAP_LABELS + PAUSE_LABELS
LEVEL_FRAME = 160  # 10 ms at 16 kHz
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Voice:
    engine: str  # "espeak" or "flite"
    name: str
    held_out: bool


VOICES = (
    Voice("espeak", "en-us", False),
    Voice("espeak", "en-gb", False),
    Voice("espeak", "en-us+m3", False),
    Voice("espeak", "en-us+f2", False),
    Voice("espeak", "en+f4", False),
    Voice("espeak", "en-gb-x-rp+m5", False),
    Voice("espeak", "en-029+m2", False),
    Voice("espeak", "en-gb-x-gbclan+f5", False),
    Voice("espeak", "en-us+klatt3", False),
    Voice("espeak", "en+steph", False),
    Voice("espeak", "en-us+max", False),
    Voice("flite", "kal16", False),
    Voice("flite", "awb", False),
    Voice("flite", "rms", False),
    Voice("flite", "kal", False),
    # Held out: never trained on, only in the synthetic evaluation set.
    Voice("espeak", "en-gb-scotland+f3", True),
    Voice("espeak", "en-us-nyc+m6", True),
    Voice("espeak", "en-gb-x-gbcwmd+annie", True),
    Voice("flite", "slt", True),
)
AGENT_VOICE = Voice("espeak", "en-us", False)  # the embedded Talker's default voice


@dataclass(frozen=True, slots=True)
class Recording:
    """A real human utterance on disk with its transcript."""

    name: str
    path: Path
    text: str
    sample_rate: int | None = None  # set for headerless .raw files


def progress(items: Iterable[T], total: int, label: str) -> Iterator[T]:
    """A plain progress bar on stderr (no dependency), redrawn at most ~50 times."""
    step = max(1, total // 50)
    for i, item in enumerate(items):
        if i % step == 0:
            done = int(30 * i / max(total, 1))
            print(
                f"\r{label:<28} [{'#' * done}{'.' * (30 - done)}] {i}/{total}",
                end="",
                file=sys.stderr,
                flush=True,
            )
        yield item
    print(f"\r{label:<28} [{'#' * 30}] {total}/{total}", file=sys.stderr, flush=True)


def phrase_fold(key: str) -> int:
    """Which fifth (0-4) a phrase falls in, by a stable hash of its words.

    Fold 0 is held out for evaluation, fold 1 validates training (early stopping and
    thresholds), so both measure phrases the model has not heard.
    """
    normal = " ".join(re.sub(r"[^a-z0-9 ]", " ", key.lower()).split())
    return zlib.crc32(normal.encode()) % 5


def held_out(key: str) -> bool:
    """Is this phrase (or recording transcript) kept for evaluation only?"""
    return phrase_fold(key) == 0


def load_phrases() -> dict[str, list[str]]:
    # BaseLoader: every phrase is a string. YAML 1.1 reads a bare yes, true or false as a
    # boolean, which str() made "True": the backchannel "yes" was spoken as "true".
    with PHRASES_FILE.open(encoding="utf-8") as f:
        data = yaml.load(f, Loader=yaml.BaseLoader)
    return {k: list(v) for k, v in data.items()}


# ---- audio files ---------------------------------------------------------------------


def load_16k(path: Path, raw_rate: int | None = None) -> np.ndarray:
    """16 kHz mono int16 from any audio file FFmpeg reads or, with ``raw_rate``, from a
    headerless 16-bit little-endian file (pocketsphinx's test data)."""
    if raw_rate is None:
        pcm, rate = decode_audio(path)
    else:
        try:
            pcm, rate = np.fromfile(path, dtype="<i2").astype(np.int16), raw_rate
        except OSError as err:
            raise AudioFileError(f"{path}: not readable ({err})") from None
    return resample(pcm, rate, SAMPLE_RATE)


@dataclass(frozen=True, slots=True)
class LabelledAudio:
    name: str  # file stem, unique in its folder
    audio: np.ndarray  # 16 kHz int16
    label: str
    transcript: str


def write_labelled_dir(folder: Path, items: Iterable[LabelledAudio]) -> int:
    """Write WAVs and the labels.csv that ``omnivox eval turns --data`` reads."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    with (folder / "labels.csv").open("w", newline="", encoding="utf-8") as f:
        table = csv.writer(f)
        table.writerow(["path", "label", "transcript"])
        for item in items:
            write_wav(folder / f"{item.name}.wav", item.audio)
            table.writerow([f"{item.name}.wav", item.label, item.transcript])
            count += 1
    return count


# ---- speech activity and text timing ---------------------------------------------------


def speech_frames(pcm: np.ndarray) -> np.ndarray:
    """Per 10 ms: is it speech? Louder than the peak frame - 35 dB and than -55 dBFS."""
    if len(pcm) < LEVEL_FRAME:
        return np.zeros(0, bool)
    levels = frame_levels(pcm, LEVEL_FRAME)
    return levels > max(float(levels.max()) - 35.0, -55.0)


def speech_bounds(pcm: np.ndarray) -> tuple[int, int]:
    """First and one-past-last sample of speech; (0, 0) when there is none."""
    speech = np.flatnonzero(speech_frames(pcm))
    if len(speech) == 0:
        return 0, 0
    return int(speech[0]) * LEVEL_FRAME, (int(speech[-1]) + 1) * LEVEL_FRAME


def pauses(pcm: np.ndarray, min_ms: int = 80) -> list[tuple[int, int]]:
    """Silent gaps of at least ``min_ms`` strictly inside the speech, in samples."""
    speech = speech_frames(pcm)
    found, run_start = [], None
    active = np.flatnonzero(speech)
    if len(active) == 0:
        return []
    for k in range(int(active[0]), int(active[-1]) + 1):
        if not speech[k] and run_start is None:
            run_start = k
        elif speech[k] and run_start is not None:
            if (k - run_start) * 10 >= min_ms:
                found.append((run_start * LEVEL_FRAME, k * LEVEL_FRAME))
            run_start = None
    return found


def word_ends(text: str, start: int, end: int) -> list[tuple[str, int]]:
    """Each word with an estimated end sample, spread over the speech by length."""
    words = text.split()
    weights = np.cumsum([len(w) + 1 for w in words], dtype=np.float64)
    if not words:
        return []
    return [
        (w, int(start + (end - start) * c / weights[-1]))
        for w, c in zip(words, weights, strict=True)
    ]


def reveal(text: str, start: int, end: int, t: int, lag: int) -> str:
    """The partial transcript a streaming recognizer would show at sample ``t``: the
    words whose (estimated) end is at least ``lag`` samples old."""
    return " ".join(w for w, e in word_ends(text, start, end) if e + lag <= t)


_CONFUSIONS = (
    "a",
    "the",
    "and",
    "i",
    "uh",
    "oh",
    "huh",
    "no",
    "yeah",
    "to",
    "you",
    "it",
    "in",
    "on",
    "hm",
    "so",
    "is",
    "that",
    "what",
    "hello",
    "okay",
    "but",
)


def recognizer_noise(text: str, rng: np.random.Generator) -> str:
    """Mangle a partial the way recognizers do: words lost, misheard, or nothing yet."""
    if rng.random() < 0.12:
        return ""
    out = []
    for word in re.sub(r"[^\w\s']", " ", text.lower()).split():
        roll = rng.random()
        if roll < 0.08:
            continue
        out.append(str(rng.choice(_CONFUSIONS)) if roll < 0.16 else word)
        if rng.random() < 0.03:
            out.append(str(rng.choice(_CONFUSIONS)))
    return " ".join(out)


# ---- synthesis ---------------------------------------------------------------------------


# Each flite voice's own mean F0 (measured): its pitch is set in Hz, so vary around it.
_FLITE_F0 = {"kal": 95.0, "kal16": 95.0, "awb": 134.0, "rms": 98.0, "slt": 168.0}


def synthesize(voice: Voice, text: str, rng: np.random.Generator) -> np.ndarray:
    """Speak ``text`` with a CLI engine at a random rate and pitch; 16 kHz int16."""
    exe = "espeak-ng" if voice.engine == "espeak" else "flite"
    if shutil.which(exe) is None:
        hint = "apt-get install -y espeak-ng" if exe == "espeak-ng" else "apt-get install -y flite"
        raise RuntimeError(f"{exe} is not installed; it makes the training speech ({hint})")
    with tempfile.TemporaryDirectory(prefix="omnivox-tts-") as tmp:
        out = Path(tmp) / "x.wav"
        if voice.engine == "espeak":
            cmd = [
                exe,
                "-v",
                voice.name,
                "-s",
                str(int(rng.integers(130, 215))),
                "-p",
                str(int(rng.integers(25, 76))),
                "-w",
                str(out),
                "--",
                text,
            ]
        else:
            stretch = f"duration_stretch={rng.uniform(0.8, 1.3):.2f}"
            f0 = _FLITE_F0.get(voice.name, 120.0) * rng.uniform(0.85, 1.3)
            cmd = [
                exe,
                "-voice",
                voice.name,
                "--setf",
                stretch,
                "--setf",
                f"int_f0_target_mean={f0:.0f}",
                "-o",
                str(out),
                "-t",
                text,
            ]
        done = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(
                f"{exe} failed for voice {voice.name!r}: "
                f"{done.stderr.decode(errors='replace').strip()[:200]}"
            )
        return load_16k(out)


# ---- real human speech -----------------------------------------------------------------


#: The only Asterisk prompts that sound like backchannels; kept out of training so the
#: real-human evaluation set has a few.
HUMAN_BACKCHANNELS = ("digits/oh", "auth-thankyou", "privacy-thankyou")


def asterisk_prompts() -> list[Recording]:
    """Asterisk's English prompts that are speech (not tones), with their transcripts."""
    if not ASTERISK_TEXT.exists():
        return []
    out = []
    with gzip.open(ASTERISK_TEXT, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            name, sep, text = line.partition(":")
            text = text.strip()
            path = ASTERISK_DIR / f"{name.strip()}.wav"
            if not sep or line.startswith(";") or "[" in text or not text:
                continue
            if (
                name.split("/")[0] in ("digits", "letters", "phonetic", "silence")
                and name != "digits/oh"
            ):
                continue
            if path.exists():
                out.append(Recording(name.strip(), path, text))
    return out


def librivox() -> list[Recording]:
    """Five LibriVox sentences (one reader) from pocketsphinx's test data."""
    folder = POCKETSPHINX_DATA / "librivox"
    listing = folder / "transcription"
    if not listing.exists():
        return []
    out = []
    for line in listing.read_text().splitlines():
        m = re.match(r"<s>(.*)</s>\s*\((.+)\)", line)
        if m and (folder / f"{m.group(2)}.wav").exists():
            out.append(Recording(m.group(2), folder / f"{m.group(2)}.wav", m.group(1).strip()))
    return out


def other_speakers() -> list[Recording]:
    """pocketsphinx test recordings of other people: never trained on."""
    out = []
    cards = POCKETSPHINX_DATA / "cards" / "cards.transcription"
    if cards.exists():
        for line in cards.read_text().splitlines():
            m = re.match(r"<s>(.*)</s>\s*\((.+)\)", line)
            if m and (cards.parent / f"{m.group(2)}.wav").exists():
                out.append(
                    Recording(
                        f"cards-{m.group(2)}",
                        cards.parent / f"{m.group(2)}.wav",
                        m.group(1).strip(),
                    )
                )
    for stem, text in (
        ("goforward", "go forward ten meters"),
        ("something", "go somewhere and do something"),
    ):
        if (POCKETSPHINX_DATA / f"{stem}.raw").exists():
            out.append(Recording(stem, POCKETSPHINX_DATA / f"{stem}.raw", text, 16_000))
    return out


def cut_at_pause(
    pcm: np.ndarray, text: str, rng: np.random.Generator, min_ms: int = 80
) -> tuple[np.ndarray, str] | None:
    """A prefix of ``pcm`` ending at a pause of ``min_ms`` or more between two words of
    ``text`` where the transcript does not end a sentence, and the words said before
    it; None when there is no such pause or the words cannot be aligned."""
    words = shared_aligner().align(pcm, text)
    if words is None:
        return None
    tokens = text.split()
    options = []
    for gap_start, gap_end in pauses(pcm, min_ms):
        middle = (gap_start + gap_end) // 2
        k = sum((w.start + w.end) // 2 < middle for w in words)  # words before the pause
        if not 0 < k < len(words):
            continue
        last, following = words[k - 1], words[k]
        if last.token == following.token or following.start < gap_start:
            continue  # inside a token ("twenty | one"), or the pause is not between them
        said = tokens[: last.token + 1]
        if not re.search(r"[.?!]$", said[-1]):
            options.append((gap_start, " ".join(said)))
    if not options:
        return None
    cut, said_text = options[int(rng.integers(len(options)))]
    return pcm[:cut], said_text


def trim(pcm: np.ndarray, rng: np.random.Generator, tail_ms: float) -> tuple[np.ndarray, int]:
    """Trim to the speech with a short random pre-roll (the VAD fires a little after
    onset, and the policy's onset is back-dated) and ``tail_ms`` of silence after it;
    returns the audio and where the speech ends in it."""
    start, end = speech_bounds(pcm)
    pre = int(rng.uniform(0.0, 0.12) * SAMPLE_RATE)
    speech = pcm[max(0, start - pre) : end]
    tail = int(tail_ms * SAMPLE_RATE / 1000)
    silence = np.zeros(tail, np.int16)
    return np.concatenate([speech, silence]), len(speech)
