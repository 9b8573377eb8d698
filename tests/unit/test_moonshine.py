"""Moonshine base-en on onnxruntime: tokenizer, model loading, real speech, streams."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from omnivox.lab.bench.latency import trim_silence
from omnivox.lab.evaluation.wer import word_error_rate
from omnivox.media.audio_files import read_audio
from omnivox.models.recognizer.moonshine import (
    MoonshineModel,
    MoonshineRecognizer,
    MoonshineTokenizer,
    SegmentedTranscript,
    load_moonshine,
    moonshine_model_dir,
    repeated_tail,
)

SOUNDS = Path("/usr/share/asterisk/sounds/en")
PROMPT = SOUNDS / "agent-alreadyon.wav"
PROMPT_TEXT = (
    "That agent is already logged on. Please enter your agent number followed by the pound key."
)


@pytest.fixture(scope="module")
def model() -> MoonshineModel:
    return load_moonshine()


def frames(pcm: np.ndarray, n: int = 320) -> list[np.ndarray]:
    return [pcm[i : i + n] for i in range(0, len(pcm), n)]


def test_tokenizer_file_has_the_full_vocabulary() -> None:
    tok = MoonshineTokenizer.from_file(moonshine_model_dir() / "tokenizer.bin")
    # 32000 SentencePiece entries; the decoder's logits are padded to 32768.
    assert len(tok.tokens) == 32000
    assert tok.tokens[:3] == [b"<unk>", b"<s>", b"</s>"]


def test_tokenizer_decodes_known_ids() -> None:
    tok = MoonshineTokenizer.from_file(moonshine_model_dir() / "tokenizer.bin")
    assert tok.decode([1, 15043, 29892, 3186, 29889, 2]) == "Hello, world."
    # byte-fallback tokens (id = byte + 3) join into UTF-8: 0xC3 0xA9 is "é"
    assert tok.decode([5254, 0xC3 + 3, 0xA9 + 3]) == "Pressé"
    assert tok.decode([15043, 32500]) == "Hello"  # padded logit ids are ignored


def test_tokenizer_two_byte_lengths() -> None:
    long = b"x" * 200
    data = bytes([3]) + b"abc" + bytes([200 - 128 + 128, 1]) + long + bytes([0])
    # 200 = first - 128 + 128 * second with first = 200, second = 1
    tok = MoonshineTokenizer.parse(data)
    assert tok.tokens == [b"abc", long, b""]


def test_tokenizer_truncated_file_is_an_error() -> None:
    with pytest.raises(ValueError, match="truncated"):
        MoonshineTokenizer.parse(bytes([5]) + b"ab")


def test_repeated_tail_detects_loops_only() -> None:
    assert repeated_tail([9, 5, 5, 5, 5]) == 3
    assert repeated_tail([9, 1, 2, 1, 2, 1, 2, 1, 2]) == 6
    assert repeated_tail([9, 1, 2, 1, 2, 1, 2]) == 0  # "no, no, no" is speech
    assert repeated_tail([1, 2, 3, 4]) == 0


def test_transcribes_real_speech(model: MoonshineModel) -> None:
    text = model.transcribe(read_audio(PROMPT))
    assert word_error_rate(PROMPT_TEXT, text) < 0.2, text


def test_empty_and_tiny_audio(model: MoonshineModel) -> None:
    assert model.transcribe(np.zeros(0, np.int16)) == ""
    assert isinstance(model.transcribe(np.zeros(10, np.int16)), str)


def test_bad_input_is_a_clear_error(model: MoonshineModel) -> None:
    with pytest.raises(ValueError, match="int16"):
        model.transcribe(np.zeros(16000, np.float32))


def test_bad_threads() -> None:
    with pytest.raises(ValueError, match="threads"):
        MoonshineModel(threads=0)


def test_stream_final_and_resume(model: MoonshineModel) -> None:
    rec = MoonshineRecognizer()
    assert rec.model is model  # shared per process
    stream = rec.new_stream()
    first = read_audio(SOUNDS / "auth-thankyou.wav")  # "Thank you."
    second = read_audio(SOUNDS / "vm-goodbye.wav")  # "Goodbye"
    pause = np.zeros(3200, np.int16)
    for f in frames(np.concatenate([first, pause])):
        stream.accept(f)
    text1 = stream.final()
    assert word_error_rate("thank you", text1) == 0.0, text1
    assert stream.final() == text1  # repeated final: same answer
    for f in frames(np.concatenate([second, pause])):
        stream.accept(f)
    assert word_error_rate("thank you goodbye", stream.final()) == 0.0


def test_stream_partials_while_speaking(model: MoonshineModel) -> None:
    stream = MoonshineRecognizer(partial_interval_ms=300).new_stream()
    partials = [p for f in frames(read_audio(PROMPT)) if (p := stream.accept(f))]
    assert partials, "no partial in 5.5 s of speech"
    assert word_error_rate(PROMPT_TEXT, stream.final()) < 0.2


def test_stream_catching_up_gives_no_partial_and_the_same_final(model: MoonshineModel) -> None:
    stream = MoonshineRecognizer(partial_interval_ms=300).new_stream()
    stream.prepare()  # nothing to take: the model is shared
    for chunk in frames(read_audio(PROMPT), 4800):
        stream.catch_up(chunk)
    assert word_error_rate(PROMPT_TEXT, stream.final()) < 0.2


def test_stream_silence_and_empty_chunks(model: MoonshineModel) -> None:
    stream = MoonshineRecognizer().new_stream()
    assert stream.accept(np.zeros(0, np.int16)) is None
    for f in frames(np.zeros(16000, np.int16)):
        assert stream.accept(f) is None
    assert stream.final() == ""
    with pytest.raises(ValueError, match="dtype"):
        stream.accept(np.zeros(320, np.float64))


def test_a_final_early_in_a_pause_serves_the_later_ones(model: MoonshineModel) -> None:
    calls: list[int] = []

    class Counting(MoonshineModel):
        def __init__(self) -> None:  # shares the loaded sessions; counts transcriptions
            self.__dict__.update(model.__dict__)

        def transcribe(self, pcm: np.ndarray) -> str:
            calls.append(len(pcm))
            return super().transcribe(pcm)

    tail = SegmentedTranscript(Counting())
    speech = trim_silence(read_audio(SOUNDS / "auth-thankyou.wav"))
    for f in frames(np.concatenate([speech, np.zeros(960, np.int16)])):  # 60 ms of pause
        tail.push(f)
    early = tail.tail_text()
    for f in frames(np.zeros(1600, np.int16)):  # the pause goes on: no new speech
        tail.push(f)
    assert word_error_rate("thank you", early) == 0.0, early
    assert tail.final() == early and len(calls) == 1
    for f in frames(np.concatenate([speech, np.zeros(960, np.int16)])):  # speech again
        tail.push(f)
    tail.tail_text()
    assert len(calls) == 2
