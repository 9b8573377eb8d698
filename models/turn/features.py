"""Model inputs of the turn classifier: acoustic frames, text and dialogue context.

Inference (models/turn/classifier) and training (lab/training/train_turns) both build their
inputs here, so the model sees exactly the features it was trained on.

- Acoustic: per 10 ms frame, 32 log-mel bands (60-4000 Hz, so telephone and wideband
  audio look alike) relative to the loudest frame of the window, the frame's energy
  (relative and absolute), voicing strength, and F0 in octaves relative to the window's
  median (speaker-independent intonation). Only the last ``WINDOW_FRAMES`` (2 s) are
  analysed, right-aligned so the newest frame is always at the same position; a mask
  marks the frames that exist.
- Scalars: time since onset, trailing silence, fraction of speech in the window.
- Text: the partial transcript is unreliable (late, empty or wrong), so it is reduced to
  a few robust keyword classes (backchannel tokens, stop words, question words, a
  dangling determiner, preposition, conjunction or auxiliary, fillers...), the hashed
  last word, and a small hashed bag of words (single words
  only: word pairs let a model memorise its training phrases instead of generalising).
- Context: is the agent speaking, time since its last pause, did it just ask a question.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass

import numpy as np

from omnivox.kernels import _pcm
from omnivox.kernels import logmel as lm
from omnivox.kernels import pitch as pt

#: Bumped whenever the meaning of any input changes; stored in the model's metadata.
FEATURE_VERSION = 1
SAMPLE_RATE = 16_000
HOP = lm.HOP
WINDOW_FRAMES = 200
#: The model's convolutions stride 4 frames in all, so a score depends on where the
#: speech falls on that grid (it moves 2 frames per 100 ms query, and scores used to
#: swing by 0.1 from one query to the next on the same pause). The classifier averages
#: the windows ending at the last ``STRIDE_PHASES`` frames, one per alignment.
STRIDE_PHASES = 4
#: Frames a streaming track keeps: the window, for each alignment.
TRACK_FRAMES = WINDOW_FRAMES + STRIDE_PHASES - 1
N_MELS = lm.N_MELS
FRAME_DIM = N_MELS + 4
TEXT_BUCKETS = 64
#: The last word alone, hashed: whether a turn is complete shows most in how it ends.
LAST_WORD_BUCKETS = 16
#: A frame is speech when its energy is within this many nepers (ln power) of the
#: window's loudest frame: 5.0 is about 22 dB.
SPEECH_REL_ENERGY = -5.0
#: ...and louder than this absolute floor (ln of mean mel power, about -75 dBFS).
SPEECH_ABS_ENERGY = -14.0
VOICED = 0.5

_ENERGY_SCALE = 10.0  # keeps the absolute energy channel in a few units either side of 0


@dataclass(frozen=True, slots=True)
class TurnContext:
    """What the dialogue is doing when the classifier is asked."""

    agent_speaking: bool
    ms_since_agent_pause: float
    """While the agent speaks: ms since its last pause; while silent: since it stopped."""
    agent_asked_question: bool

    def __post_init__(self) -> None:
        ms = self.ms_since_agent_pause
        if not isinstance(ms, int | float) or not math.isfinite(ms) or ms < 0:
            raise ValueError(f"ms_since_agent_pause must be a finite number >= 0, got {ms!r}")


@dataclass(frozen=True, slots=True)
class FrameTrack:
    """Per-frame acoustics of audio since onset; row ``k`` is the frame at ``k * HOP``.

    ``first`` is the index of row 0 (older rows are dropped once outside any window) and
    ``n_samples`` the length of the audio the track was computed from.
    """

    mel: np.ndarray
    f0: np.ndarray
    voicing: np.ndarray
    first: int
    n_samples: int

    @property
    def end(self) -> int:
        """Index one past the last frame."""
        return self.first + len(self.voicing)


@dataclass(frozen=True, slots=True)
class ModelInputs:
    """One query's inputs, shaped for the ONNX graph (add a batch axis to stack)."""

    frames: np.ndarray  # (WINDOW_FRAMES, FRAME_DIM) float32
    mask: np.ndarray  # (WINDOW_FRAMES,) float32, 1 where a frame exists
    extra: np.ndarray  # (EXTRA_DIM,) float32


def check_audio(audio: object) -> np.ndarray:
    """The classifier takes 16 kHz mono int16; anything else is a caller's bug."""
    return _pcm.require_pcm(audio, "audio (16 kHz)", np.int16)


def n_frames(n_samples: int) -> int:
    """Frames complete in ``n_samples``: the pitch window (40 ms) is the longer one."""
    return _pcm.n_frames(n_samples, pt.WIN, HOP)


def compute_track(
    audio: np.ndarray, previous: FrameTrack | None = None, keep: int | None = TRACK_FRAMES
) -> FrameTrack:
    """Frames of ``audio``; with ``previous`` (a track of a prefix of the same audio)
    only the frames the new samples complete are computed.

    Only the newest ``keep`` frames are kept (older ones never enter a window again);
    ``keep=None`` keeps all, so that every prefix of a training clip can be queried.
    """
    check_audio(audio)
    total = n_frames(len(audio))
    start = 0 if previous is None else previous.end
    if keep is not None and total - keep > start:
        start, previous = total - keep, None  # older frames would only be dropped
    count = total - start
    segment = audio[start * HOP :]
    if count > 0:
        f0, voicing = pt.pitch(segment)
        mel = lm.logmel(segment)[:count]
    else:
        f0 = voicing = np.zeros(0, np.float32)
        mel = np.zeros((0, N_MELS), np.float32)
    if previous is not None:
        mel = np.concatenate([previous.mel, mel])
        f0 = np.concatenate([previous.f0, f0])
        voicing = np.concatenate([previous.voicing, voicing])
    first = start if previous is None else previous.first
    drop = 0 if keep is None else max(0, len(voicing) - keep)
    return FrameTrack(mel[drop:], f0[drop:], voicing[drop:], first + drop, len(audio))


def _audio_features(
    track: FrameTrack, end: int, n_samples: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window frames ending at frame ``end`` (exclusive), mask, and audio scalars."""
    lo = max(track.first, end - WINDOW_FRAMES)
    mel = track.mel[lo - track.first : end - track.first].astype(np.float64)
    voicing = track.voicing[lo - track.first : end - track.first]
    f0 = track.f0[lo - track.first : end - track.first]
    count = len(voicing)
    frames = np.zeros((WINDOW_FRAMES, FRAME_DIM), np.float32)
    mask = np.zeros(WINDOW_FRAMES, np.float32)
    duration_s = n_samples / SAMPLE_RATE
    if count == 0:
        return frames, mask, np.array([math.log1p(duration_s), 0.0, 0.0], np.float32)
    energy = np.log(np.exp(mel).sum(axis=1) / N_MELS)
    top = float(energy.max())
    voiced = (voicing >= VOICED) & (f0 > 0.0)
    rel_f0 = np.zeros(count)
    if voiced.any():
        rel_f0[voiced] = np.clip(np.log2(f0[voiced] / np.median(f0[voiced])), -1.5, 1.5)
    rows = slice(WINDOW_FRAMES - count, WINDOW_FRAMES)
    frames[rows, :N_MELS] = mel - top
    frames[rows, N_MELS] = energy - top
    frames[rows, N_MELS + 1] = energy / _ENERGY_SCALE
    frames[rows, N_MELS + 2] = voicing
    frames[rows, N_MELS + 3] = rel_f0
    mask[rows] = 1.0
    speech = (energy - top > SPEECH_REL_ENERGY) & (energy > SPEECH_ABS_ENERGY)
    trailing = count if not speech.any() else count - 1 - int(np.flatnonzero(speech)[-1])
    scalars = [math.log1p(duration_s), trailing * HOP / SAMPLE_RATE, float(speech.mean())]
    return frames, mask, np.array(scalars, np.float32)


# ---- text ---------------------------------------------------------------------------

_BACKCHANNEL = frozenset(
    "yeah yes yep yup ya uhhuh mhm mm hmm right okay ok alright sure wow oh ah cool great "
    "nice gotcha exactly indeed true totally absolutely ha haha hah lol interesting "
    "perfect fine good see got it i thanks".split()
)
_STOP = frozenset(
    "wait stop hold hang pause enough cancel quiet shut nevermind halt excuse interrupt".split()
)
_CORRECTION = frozenset(
    "no not nope wrong actually instead mean sorry incorrect rather "
    "don't didn't isn't that's".split()
)
_QUESTION = frozenset(
    "what who when where why how which whose can could would will do "
    "does did is are should may shall".split()
)
# Words a finished sentence rarely ends on, by kind: people pause after them mid-turn.
_DETERMINER = frozenset(
    "the a an my your our their his her its this these those some any every each no".split()
)
_PREPOSITION = frozenset(
    "to for of with in on at from about by into after before between "
    "like than as around until".split()
)
_CONJUNCTION = frozenset(
    "and but so or because cause then if that which when while unless plus also".split()
)
_AUXILIARY = frozenset(
    "is was were are am be been will would can could should shall may "
    "might must have has had do does did i'm i'd i'll".split()
)
_FILLER = frozenset("um uh er erm uhm hmm eh mmm".split())
_REQUEST = frozenset(
    "want need like book tell help give check change find show send call "
    "cancel reschedule order make get".split()
)
_CLOSER = frozenset("please thanks thank bye goodbye".split())
_SELF = frozenset("i i'm i'd i'll i've my me we we're our".split())

# Spellings recognisers and people use for the same sounds, folded to one token.
_CANONICAL = (
    (
        # "aha" and "a-ha": how recognizers often spell a murmured uh-huh.
        re.compile(
            r"\b(?:uh[\s-]?huh|mm[\s-]?hmm+|mhm+|mm[\s-]?hm|hmm[\s-]?hmm|um[\s-]?hum|a[\s-]?ha)\b"
        ),
        "uhhuh",
    ),
    (re.compile(r"\bok(?:ay|ey)?\b"), "okay"),
    (re.compile(r"\b(?:ha[\s-]?)+ha\b|\bhehe+\b|\b(?:heh[\s-]?)+heh\b"), "haha"),
    (re.compile(r"\bnever\s+mind\b"), "nevermind"),
)
_WORD = re.compile(r"[a-z']+")


def tokens(text: str) -> list[str]:
    """Lower-case words with the common spellings of backchannel sounds unified."""
    if not isinstance(text, str):
        raise TypeError(f"partial_text must be a str, got {type(text).__name__}")
    text = text.lower().replace("’", "'")
    for pattern, token in _CANONICAL:
        text = pattern.sub(token, text)
    return [w.strip("'") for w in _WORD.findall(text) if w.strip("'")]


def is_backchannel_word(word: str) -> bool:
    """A token (from ``tokens``) that backchannels are made of: "yeah", "uhhuh", "wow"."""
    return word in _BACKCHANNEL or word == "uhhuh"


def _bucket(item: str) -> int:
    # crc32, not hash(): Python salts str hashes per process, the model needs stable ids.
    return zlib.crc32(item.encode()) % TEXT_BUCKETS


def _any_in(words: list[str], vocab: frozenset[str]) -> float:
    return float(any(w in vocab for w in words))


def text_features(text: str) -> np.ndarray:
    """Keyword-class features and a hashed bag of words."""
    words = tokens(text)
    n = len(words)
    first, last = (words[0], words[-1]) if words else ("", "")
    backchannel = [is_backchannel_word(w) for w in words]
    classes = [
        math.log1p(n),
        float(n == 0),
        float(n > 0 and all(backchannel)),
        sum(backchannel) / n if n else 0.0,
        _any_in(words, _STOP),
        _any_in(words, _CORRECTION),
        float(first in _QUESTION),
        _any_in(words, _QUESTION),
        float(last in _DETERMINER),
        float(last in _PREPOSITION),
        float(last in _CONJUNCTION),
        float(last in _AUXILIARY),
        float(last in _FILLER),
        _any_in(words, _FILLER),
        float(n > 1 and backchannel[0] and not all(backchannel)),
        float(last in _CLOSER),
        _any_in(words, _REQUEST),
        _any_in(words, _SELF),
    ]
    last_word = np.zeros(LAST_WORD_BUCKETS, np.float32)
    if n:
        last_word[_bucket(last) % LAST_WORD_BUCKETS] = 1.0
    bag = np.zeros(TEXT_BUCKETS, np.float32)
    for word in words:
        bag[_bucket(word)] += 1.0
    if n:
        bag /= math.sqrt(float((bag * bag).sum()))
    return np.concatenate([np.array(classes, np.float32), last_word, bag])


def context_features(context: TurnContext) -> np.ndarray:
    seconds = min(context.ms_since_agent_pause, 30_000.0) / 1000.0
    return np.array(
        [float(context.agent_speaking), math.log1p(seconds), float(context.agent_asked_question)],
        np.float32,
    )


TEXT_CLASSES = 18
TEXT_DIM = TEXT_CLASSES + LAST_WORD_BUCKETS + TEXT_BUCKETS  # the bag comes last
EXTRA_DIM = 3 + 3 + TEXT_DIM


def model_inputs(track: FrameTrack, n_samples: int, text: str, context: TurnContext) -> ModelInputs:
    """Inputs for the query made when ``n_samples`` samples since onset have arrived.

    ``track`` must cover at least those samples (training computes one track per clip
    and queries its prefixes; inference computes the track of exactly this audio).
    """
    end = n_frames(n_samples)
    if n_samples > track.n_samples or max(0, end - WINDOW_FRAMES) < track.first:
        raise ValueError(
            f"track ({track.first}..{track.end} frames of {track.n_samples} "
            f"samples) does not cover a query at {n_samples} samples"
        )
    frames, mask, scalars = _audio_features(track, end, n_samples)
    extra = np.concatenate([scalars, context_features(context), text_features(text)])
    return ModelInputs(frames, mask, extra.astype(np.float32))


def phase_inputs(
    track: FrameTrack, n_samples: int, text: str, context: TurnContext
) -> list[ModelInputs]:
    """The query at ``n_samples`` as of its newest ``STRIDE_PHASES`` frames (the latest
    first): one input per alignment of the model's stride grid, to be averaged."""
    ends = [n_samples - k * HOP for k in range(STRIDE_PHASES)]
    ends = [n for n in ends if n >= 0 and max(0, n_frames(n) - WINDOW_FRAMES) >= track.first]
    return [model_inputs(track, n, text, context) for n in ends]
