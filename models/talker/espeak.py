"""The light Talker: eSpeak NG, streamed by callback, resampled to 16 kHz; and eSpeak
NG's text-to-IPA (`Phonemizer`), which Piper voices are trained on.

Licensing: eSpeak NG is GPL-3.0. omnivox does not vendor or link it at build time; the
library and its voice data come from their own wheel (`espeakng-loader`) and are loaded
with ctypes at run time, so omnivox itself stays permissively licensed.

eSpeak NG keeps all of its state (voice, rate, the synth callback) in process globals and
is not thread-safe, so every synthesis in the process runs under one lock and sets its
own voice and parameters first. It runs in SYNCHRONOUS mode on the shared blocking
executor: `espeak_Synth` calls our callback with each 60 ms buffer as it is made, and the
callback resamples it and hands it to the event loop at once.

Back-pressure: none on purpose. eSpeak makes speech a few hundred times faster than real
time, while playout consumes it at real time; if the producer waited for a slow consumer
it would hold the process-wide lock for the whole utterance and stall every other
session's speech. So the producer runs ahead into an unbounded queue (about 32 KB per
second of speech) and the lock is held only for the compute, milliseconds per sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import threading
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence

import espeakng_loader
import numpy as np

from omnivox.kernels.resample import StreamResampler
from omnivox.models.blocking import BLOCKING_EXECUTOR
from omnivox.models.talker.base import SpeechChunk

# Values from eSpeak NG's speak_lib.h (API revision 12).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # report a missing data folder instead of exit()ing the process
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000  # a sentence pause after the text, so sentence-by-sentence replies breathe
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_RATE, _VOLUME, _PITCH = 1, 2, 3
_EE_OK = 0
# eSpeak NG raises any buffer below 60 ms to 60 ms (measured); one buffer takes ~0.2 ms to
# compute, so the first chunk is ready long before it could be played anyway.
_BUFFER_MS = 60
_CONTINUE, _ABORT = 0, 1
_PHONEMES_IPA = 0x02  # espeak_TextToPhonemes: IPA as UTF-8, no separators

SAMPLE_RATE = 16_000  # SpeechChunk's rate
RATE_RANGE = (80, 450)
PITCH_RANGE = (0, 99)


class _EventId(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class _Event(ctypes.Structure):
    """espeak_EVENT. text_position is 1-based, in characters (code points) of the input."""

    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms from the start of this message's audio
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


class _Voice(ctypes.Structure):
    """espeak_VOICE, as returned by espeak_ListVoices."""

    _fields_ = (
        ("name", ctypes.c_char_p),
        ("languages", ctypes.POINTER(ctypes.c_char)),  # (priority byte, name, NUL)*, NUL
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    )


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


def _is_word_start(text: str, i: int) -> bool:
    """A visible character after a space, or where letters/digits meet punctuation."""
    if not 0 <= i < len(text) or text[i].isspace():
        return False
    return i == 0 or text[i - 1].isspace() or text[i - 1].isalnum() != text[i].isalnum()


class _Synthesis:
    """One espeak_Synth call: resamples buffers and places word starts on 16 kHz chunks."""

    def __init__(
        self,
        text: str,
        native_rate: int,
        emit: Callable[[SpeechChunk], None],
        stop: threading.Event,
    ) -> None:
        self._text = text
        self._emit = emit
        self._stop = stop
        self._resampler = StreamResampler(native_rate, SAMPLE_RATE)
        self._pending: deque[tuple[int, int]] = deque()  # (16 kHz sample from start, char)
        self._emitted = 0  # 16 kHz samples handed out so far
        self._last_char = -1
        self.error: BaseException | None = None

    def on_buffer(
        self, wav: ctypes._Pointer[ctypes.c_short], n: int, events: ctypes._Pointer[_Event]
    ) -> int:
        if self._stop.is_set():
            return _ABORT
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_WORD:
                self._word(ev.text_position - 1, ev.audio_position)
            i += 1
        if wav and n > 0:
            native = np.ctypeslib.as_array(wav, shape=(n,))
            self._push(self._resampler.process(native))  # copies out of eSpeak's buffer
        return _CONTINUE

    def finish(self) -> None:
        """Flush the resampler; words still pending go on the last chunk."""
        self._push(self._resampler.flush(), final=True)

    def _word(self, char: int, audio_ms: int) -> None:
        # eSpeak reports one event per spoken word, so expansions ("1234", emoji, CJK
        # runs, "5s") repeat a position or point inside a token or at a space; keep only
        # the first event at a word beginning, so word_starts strictly increase.
        if char <= self._last_char or not _is_word_start(self._text, char):
            return
        self._last_char = char
        self._pending.append((round(audio_ms * SAMPLE_RATE / 1000), char))

    def _push(self, pcm: np.ndarray, final: bool = False) -> None:
        end = self._emitted + len(pcm)
        starts: list[tuple[int, int]] = []
        # The resampler holds back ~25 ms, so a word may start in a later chunk than the
        # buffer whose events announced it; it waits in _pending until its sample arrives.
        while self._pending and (final or self._pending[0][0] < end):
            sample, char = self._pending.popleft()
            starts.append((min(max(sample - self._emitted, 0), max(len(pcm) - 1, 0)), char))
        if len(pcm) or starts:
            self._emit(SpeechChunk(pcm, starts))
        self._emitted = end


class _Engine:
    """The process-wide eSpeak NG library; every method must be called with _LOCK held."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = (_SynthCallback,)
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = (ctypes.c_void_p,)
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_Synth.argtypes = (
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        )
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_TextToPhonemes.argtypes = (
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_int,
            ctypes.c_int,
        )
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        data = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, data, _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise RuntimeError(f"eSpeak NG failed to initialise with data folder {data.decode()}")
        self._lib = lib
        self.native_rate = rate
        self._current: _Synthesis | None = None
        self._files: dict[str, str] | None = None
        # Kept on the instance: ctypes must not free the callback while eSpeak holds it.
        self._callback = _SynthCallback(self._on_buffer)
        lib.espeak_SetSynthCallback(self._callback)

    def _on_buffer(
        self, wav: ctypes._Pointer[ctypes.c_short], n: int, events: ctypes._Pointer[_Event]
    ) -> int:
        synthesis = self._current
        if synthesis is None:
            return _ABORT
        try:
            return synthesis.on_buffer(wav, n, events)
        except BaseException as err:  # ctypes would print and swallow it; re-raised by synth
            synthesis.error = err
            return _ABORT

    def resolve_voice(self, voice: str) -> str | None:
        """The eSpeak voice spec for a language code (+variant), or None if unknown.

        espeak_SetVoiceByName matches file names, so "en-us" works but "en-gb" does not
        (its file is gmw/en); mapping language codes to voice files ourselves makes every
        code from list_voices() work and the choice deterministic.
        """
        language, plus, variant = voice.partition("+")
        # eSpeak silently ignores an unknown variant, so check it ourselves.
        if not language or (plus and variant not in self.variants()):
            return None
        spec = self._voice_files().get(language.lower(), language) + plus + variant
        return spec if self._lib.espeak_SetVoiceByName(spec.encode()) == _EE_OK else None

    def configure(self, spec: str, rate_wpm: int, pitch: int) -> None:
        if self._lib.espeak_SetVoiceByName(spec.encode()) != _EE_OK:
            raise RuntimeError(f"eSpeak NG could not select voice {spec!r}")
        for param, value in ((_RATE, rate_wpm), (_PITCH, pitch), (_VOLUME, 100)):
            self._lib.espeak_SetParameter(param, value, 0)

    def synth(self, synthesis: _Synthesis, data: bytes) -> None:
        self._current = synthesis
        try:
            # No espeakSSML / espeakPHONEMES: user text such as "<break/>" or "[[h@loU]]"
            # is read as text, never obeyed as markup.
            rc = self._lib.espeak_Synth(
                data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None
            )
        finally:
            self._current = None
        if synthesis.error is not None:
            raise synthesis.error
        if rc != _EE_OK:
            raise RuntimeError(f"eSpeak NG synthesis failed (espeak_Synth returned {rc})")

    def phonemes(self, spec: str, data: bytes) -> list[tuple[str, int]]:
        """IPA for each clause of UTF-8 `data`, with the byte offset just past it."""
        if self._lib.espeak_SetVoiceByName(spec.encode()) != _EE_OK:
            raise RuntimeError(f"eSpeak NG could not select voice {spec!r}")
        buf = ctypes.create_string_buffer(data)  # alive until the loop ends
        base = ctypes.addressof(buf)
        ptr = ctypes.c_void_p(base)
        clauses: list[tuple[str, int]] = []
        while ptr.value:  # eSpeak moves it past each clause, and to NULL after the last
            before = ptr.value
            ipa = self._lib.espeak_TextToPhonemes(ctypes.byref(ptr), _CHARS_UTF8, _PHONEMES_IPA)
            end = ptr.value - base if ptr.value else len(data)
            clauses.append(((ipa or b"").decode("utf-8", errors="replace"), end))
            if ptr.value and ptr.value <= before:  # no progress: never loop forever
                break
        return clauses

    def languages(self) -> list[str]:
        return sorted(self._voice_files())

    def _voice_files(self) -> dict[str, str]:
        """Lower-case language code -> the voice file with the best priority for it."""
        if self._files is None:
            best: dict[str, tuple[int, str]] = {}
            for voice in self._list(None):
                raw, pos = voice.languages, 0
                while raw[pos] != b"\x00":  # each entry: priority byte, name, NUL
                    name = ctypes.string_at(ctypes.addressof(raw.contents) + pos + 1)
                    priority, language = raw[pos][0], name.decode().lower()
                    if language not in best or priority < best[language][0]:
                        best[language] = (priority, (voice.identifier or b"").decode())
                    pos += len(name) + 2
            self._files = {language: file for language, (_, file) in best.items()}
        return self._files

    def variants(self) -> list[str]:
        language = ctypes.create_string_buffer(b"variant")  # alive until the call returns
        spec = _Voice()
        spec.languages = ctypes.cast(language, ctypes.POINTER(ctypes.c_char))
        # Identifiers are "!v/<file>"; the file name is what goes after "+" in a voice.
        return sorted(
            (v.identifier or b"").decode().rpartition("/")[2]
            for v in self._list(ctypes.byref(spec))
        )

    def _list(self, spec: object) -> list[_Voice]:
        voices = self._lib.espeak_ListVoices(spec)
        found = []
        i = 0
        while voices[i]:
            found.append(voices[i].contents)
            i += 1
        return found


_LOCK = threading.Lock()
_engine: _Engine | None = None


def _get_engine() -> _Engine:
    """The shared engine, initialised on first use; call with _LOCK held."""
    global _engine
    if _engine is None:
        _engine = _Engine()
    return _engine


def list_voices() -> list[str]:
    """Language codes usable as `voice` (e.g. "en-us", "en-gb", "fr-fr").

    A variant from `list_variants()` may be appended with "+", e.g. "en-us+f3".
    """
    with _LOCK:
        return _get_engine().languages()


def list_variants() -> list[str]:
    """Voice variants (e.g. "f3", "m1", "Alex"), used as "<language>+<variant>"."""
    with _LOCK:
        return _get_engine().variants()


def _to_espeak_text(text: str) -> bytes:
    # One character in, one character out, so eSpeak's character positions stay indices
    # into the caller's string: NUL would end the C string early, and lone surrogates
    # cannot be UTF-8 ('replace' gives one '?' each).
    return text.replace("\x00", " ").encode("utf-8", errors="replace")


class Phonemizer:
    """eSpeak NG's text to IPA phonemes, clause by clause, for one voice.

    The phonemes Piper voices are trained on (piper-phonemize calls the same function).
    Runs under the process-wide eSpeak lock, like synthesis: well under a millisecond
    per sentence.
    """

    def __init__(self, voice: str = "en-us") -> None:
        with _LOCK:
            spec = _get_engine().resolve_voice(voice)
        if spec is None:
            raise ValueError(f"unknown eSpeak NG voice {voice!r} for phonemes")
        self.voice = voice
        self._spec = spec

    def clauses(self, texts: Sequence[str]) -> list[list[tuple[str, int]]]:
        """For each text, its clauses as (IPA, end): `end` is the character index in the
        text just past the clause (its punctuation and the spaces after it). The
        punctuation itself is not in the IPA; the caller reads it from the text."""
        data = [_to_espeak_text(text) for text in texts]
        with _LOCK:
            engine = _get_engine()
            found = [engine.phonemes(self._spec, d) if d.strip() else [] for d in data]
        return [
            [(ipa, len(d[:end].decode("utf-8", errors="replace"))) for ipa, end in clauses]
            for d, clauses in zip(data, found, strict=True)
        ]


class EspeakTalker:
    """Talker backed by eSpeak NG: streaming 16 kHz speech with word positions."""

    name = "espeak"

    def __init__(self, voice: str = "en-us", rate_wpm: int = 175, pitch: int = 50) -> None:
        if not RATE_RANGE[0] <= rate_wpm <= RATE_RANGE[1]:
            raise ValueError(
                f"eSpeak rate_wpm must be in {RATE_RANGE[0]}..{RATE_RANGE[1]}, got {rate_wpm}"
            )
        if not PITCH_RANGE[0] <= pitch <= PITCH_RANGE[1]:
            raise ValueError(
                f"eSpeak pitch must be in {PITCH_RANGE[0]}..{PITCH_RANGE[1]}, got {pitch}"
            )
        with _LOCK:
            spec = _get_engine().resolve_voice(voice)
        if spec is None:
            raise ValueError(
                f"unknown eSpeak NG voice {voice!r}; use a language code such as 'en-us' or "
                "'en-gb', optionally with a variant ('en-us+f3'); "
                "omnivox.models.talker.espeak.list_voices() and list_variants() list them"
            )
        self.voice = voice
        self._spec = spec
        self.rate_wpm = rate_wpm
        self.pitch = pitch

    async def synthesize(self, text: str) -> AsyncGenerator[SpeechChunk, None]:
        """Stream speech for `text` as eSpeak produces it.

        Close the iterator (aclose, or `contextlib.aclosing`) to stop early: synthesis
        aborts at its next buffer and this returns once eSpeak has let go of the lock.
        """
        if not text.strip():
            return
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[SpeechChunk | None] = asyncio.Queue()
        stop = threading.Event()

        def emit(chunk: SpeechChunk | None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
            except RuntimeError:  # the loop is closed: nobody is left to listen
                stop.set()

        def work() -> None:
            try:
                self._run(text, emit, stop)
            finally:
                emit(None)

        done = loop.run_in_executor(BLOCKING_EXECUTOR, work)
        try:
            while (chunk := await queue.get()) is not None:
                yield chunk
            await done  # raises what synthesis raised
        finally:
            stop.set()
            # Returns within one eSpeak buffer (well under a millisecond of compute);
            # errors after the consumer stopped listening are of no use to it.
            with contextlib.suppress(Exception):
                await done

    def synthesize_pcm(self, text: str) -> np.ndarray:
        """Blocking: the whole utterance as 16 kHz int16 (tests, benchmarks, data)."""
        return self.synthesize_with_words(text)[0]

    def synthesize_with_words(self, text: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Blocking: the whole utterance and where its words start, as (sample index,
        character index in ``text``) pairs."""
        chunks: list[SpeechChunk] = []
        if text.strip():
            self._run(text, chunks.append, threading.Event())
        if not chunks:
            return np.zeros(0, np.int16), []
        starts, offset = [], 0
        for chunk in chunks:
            starts += [(offset + sample, char) for sample, char in chunk.word_starts]
            offset += len(chunk.pcm)
        return np.concatenate([c.pcm for c in chunks]), starts

    def _run(self, text: str, emit: Callable[[SpeechChunk], None], stop: threading.Event) -> None:
        """The one synthesis path: blocking, process-wide serialised, emits each chunk."""
        data = _to_espeak_text(text)
        with _LOCK:
            if stop.is_set():  # cancelled while waiting for another session's synthesis
                return
            engine = _get_engine()
            engine.configure(self._spec, self.rate_wpm, self.pitch)
            synthesis = _Synthesis(text, engine.native_rate, emit, stop)
            engine.synth(synthesis, data)
        if not stop.is_set():
            synthesis.finish()
