"""The learned turn-taking classifier: backchannel or take-over, finished or holding.

The turn policy asks it, every ~100 ms from the user's speech onset, with the user's
audio since onset, the recognizer's partial transcript and the dialogue context:

- during overlap (the agent is speaking): ``p_takeover``, is this a take-over ("wait",
  "no, that's wrong", a question) rather than a backchannel ("uh-huh", "right")?
- at a pause (the agent is silent): ``p_finished``, has the user finished the turn?

The model is a small ONNX graph trained by ``omnivox train turns`` (agent/train_turns,
recipe in RECIPE.md next to this file); inference needs only numpy and onnxruntime.
One ``InferenceSession`` (single-threaded, so many sessions share the CPU fairly) serves
every caller; ``score`` is thread-safe.

Because the caller passes all audio since onset on every query, the per-frame acoustics
of recent streams are cached: a query computes only the frames its new audio completes,
and the analysed window is capped at 2 s, so the cost per query is bounded however long
the user talks.
"""

from __future__ import annotations

import importlib.resources
import json
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from omnivox.models.turn.features import (
    EXTRA_DIM,
    FEATURE_VERSION,
    FRAME_DIM,
    HOP,
    WINDOW_FRAMES,
    FrameTrack,
    ModelInputs,
    TurnContext,
    check_audio,
    compute_track,
    phase_inputs,
)

__all__ = ["TurnClassifier", "TurnContext", "TurnScores", "TurnThresholds"]

MODEL_FILE = "turn_classifier.onnx"
_HEAD_SAMPLES = 1600  # the first 100 ms identify a stream in the cache
_CACHE_ENTRIES = 64


@dataclass(frozen=True, slots=True)
class TurnScores:
    p_takeover: float
    """Overlap: probability that the user is taking the floor (not a backchannel)."""
    p_finished: float
    """Pause: probability that the user has finished the turn (not holding it)."""


@dataclass(frozen=True, slots=True)
class TurnThresholds:
    """Decision thresholds tuned on validation data when the model was trained."""

    takeover: float = 0.5
    finished: float = 0.5


@dataclass(frozen=True, slots=True)
class _Entry:
    head: int
    lo: int  # first sample the kept frames depend on
    digest: int  # crc32 of audio[lo : track.n_samples]
    track: FrameTrack


def _digest(audio: np.ndarray, lo: int, hi: int) -> int:
    return zlib.crc32(audio[lo:hi].tobytes())


class _TrackCache:
    """Frame tracks of recent streams, found by the audio they were computed from.

    A hit needs the stream's first 100 ms and all samples behind the kept frames to be
    identical (crc32), so two streams that start alike never share frames.
    """

    def __init__(self, size: int = _CACHE_ENTRIES) -> None:
        self._size = size
        self._entries: list[_Entry] = []
        self._lock = threading.Lock()

    def track(self, audio: np.ndarray) -> FrameTrack:
        if len(audio) < _HEAD_SAMPLES:
            return compute_track(audio)
        head = _digest(audio, 0, _HEAD_SAMPLES)
        with self._lock:
            candidates = [e for e in self._entries if e.head == head]
        previous = None
        for entry in candidates:
            n = entry.track.n_samples
            if n <= len(audio) and _digest(audio, entry.lo, n) == entry.digest:
                previous = entry.track
                break
        track = compute_track(audio, previous)
        lo = track.first * HOP
        fresh = _Entry(head, lo, _digest(audio, lo, len(audio)), track)
        with self._lock:
            self._entries = [e for e in self._entries if e.track is not previous]
            self._entries.insert(0, fresh)
            del self._entries[self._size :]
        return track


class TurnClassifier:
    """Scores turn-taking questions with the committed (or a given) ONNX model."""

    def __init__(self, session: ort.InferenceSession, metadata: dict[str, str]) -> None:
        self._session = session
        self.metadata = metadata
        self.thresholds = TurnThresholds(
            float(metadata.get("threshold_takeover", 0.5)),
            float(metadata.get("threshold_finished", 0.5)),
        )
        self._cache = _TrackCache()

    @classmethod
    def load(cls, path: Path | None = None) -> TurnClassifier:
        """Load ``path``, or the model committed next to this module."""
        if path is None:
            resource = importlib.resources.files("omnivox.models.turn") / MODEL_FILE
            with importlib.resources.as_file(resource) as found:
                return cls._open(Path(found))
        return cls._open(Path(path))

    @classmethod
    def _open(cls, path: Path) -> TurnClassifier:
        if not path.is_file():
            raise FileNotFoundError(f"turn classifier model not found: {path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # many sessions share the CPU; one query is tiny
        options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own untyped errors
            raise ValueError(f"{path}: not a loadable ONNX model ({err})") from None
        metadata = dict(session.get_modelmeta().custom_metadata_map)
        version = metadata.get("feature_version")
        if version != str(FEATURE_VERSION):
            raise ValueError(
                f"{path}: made for turn features version {version!r}, this "
                f"code computes version {FEATURE_VERSION}; retrain it with "
                "`omnivox train turns`"
            )
        shapes = {i.name: i.shape for i in session.get_inputs()}
        expected = {"frames": FRAME_DIM, "mask": WINDOW_FRAMES, "extra": EXTRA_DIM}
        for name, size in expected.items():
            if name not in shapes or shapes[name][-1] != size:
                raise ValueError(
                    f"{path}: input {name!r} should end in size {size}, "
                    f"the model has {shapes.get(name)}"
                )
        return cls(session, metadata)

    @property
    def training_info(self) -> dict[str, object]:
        """What ``omnivox train turns`` recorded about the data and the run."""
        info = json.loads(self.metadata.get("training", "{}"))
        return info if isinstance(info, dict) else {}

    def score(self, audio: np.ndarray, partial_text: str, context: TurnContext) -> TurnScores:
        """Score one query: 16 kHz int16 ``audio`` since the user's speech onset."""
        check_audio(audio)
        if not isinstance(context, TurnContext):
            raise TypeError(f"context must be a TurnContext, got {type(context).__name__}")
        track = self._cache.track(audio)
        probs = self.score_inputs(phase_inputs(track, len(audio), partial_text, context))
        mean = probs.mean(axis=0)
        return TurnScores(float(mean[0]), float(mean[1]))

    def score_inputs(self, batch: Sequence[ModelInputs]) -> np.ndarray:
        """``(len(batch), 2)`` probabilities (take-over, finished) for prepared inputs."""
        if not batch:
            return np.zeros((0, 2), np.float32)
        feeds = {
            "frames": np.stack([b.frames for b in batch]),
            "mask": np.stack([b.mask for b in batch]),
            "extra": np.stack([b.extra for b in batch]),
        }
        (probs,) = self._session.run(["probs"], feeds)
        return np.asarray(probs, dtype=np.float32)
