"""pocketsphinx (CMU Sphinx) with the en-US model bundled in its wheel: truly streaming.

A pocketsphinx `Decoder` holds one utterance's search state, so each stream needs its
own. Creating one loads the acoustic model, dictionary and language model (~0.4 s,
~90 MB), far too slow per turn, so decoders are pooled per recognizer: a stream takes
one in `prepare` or on its first `accept` (both run on the executor; `new_stream` is
called on the event loop and must stay cheap) and gives it back on `close` (or when the
stream is garbage collected).

pocketsphinx's extension holds the GIL while it works, so even on the executor a long
call stalls the event loop (and with it every session's outgoing audio, which browsers
answer by growing their jitter buffers; a load takes 1.5-2.5 s on a busy 2-core machine).
Hence: a decoder is loaded when the recognizer is (start-up), and each session prepares
its stream when it connects, so there are as many decoders as connected sessions before
any of them speaks (eight users asking at once used to load seven in their turns); and
callers feed it short chunks.

By default `final()` reads the first-pass hypothesis and leaves the utterance open: a
few milliseconds, so the session may ask for finals early and while the user talks over
the agent, as with the hybrid. With `final_pass`, `final()` instead ends the utterance,
running pocketsphinx's second, more accurate pass (200-240 ms holding the GIL, a stall
for every session), and keeps the text; audio accepted afterwards starts a new
utterance whose text is appended. Either way a final that opens as a question gets its
question mark (punctuation.py): pocketsphinx does not punctuate.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque

import numpy as np
from pocketsphinx import Decoder

from omnivox.models.recognizer.punctuation import mark_question
from omnivox.models.recognizer.segmenter import SAMPLE_RATE, PartialFilter, check_pcm


class _Lease:
    """A pooled decoder and whether an utterance is open on it. Shared between a stream
    and its finalizer, so the finalizer never holds the stream itself."""

    def __init__(self, decoder: Decoder) -> None:
        self.decoder = decoder
        self.in_utterance = False


class DecoderPool:
    """Idle pocketsphinx decoders of one configuration, reused across streams."""

    def __init__(
        self, final_pass: bool = True, max_hmm_per_frame: int = 30000, preload: int = 1
    ) -> None:
        self.final_pass = final_pass
        self.max_hmm_per_frame = max_hmm_per_frame
        self._idle: deque[_Lease] = deque()  # append/pop are atomic: finalizers may run anywhere
        self._create_lock = threading.Lock()
        for _ in range(preload):
            self._idle.append(_Lease(self._create()))

    def _create(self) -> Decoder:
        # fwdflat + bestpath are the second pass at end_utt: better text, slower end.
        # maxhmmpf bounds the search per frame (pocketsphinx's default is 30000).
        with self._create_lock:
            return Decoder(
                samprate=SAMPLE_RATE,
                loglevel="FATAL",
                fwdflat=self.final_pass,
                bestpath=self.final_pass,
                maxhmmpf=self.max_hmm_per_frame,
            )

    def take(self) -> _Lease:
        """An idle decoder with no open utterance (blocks: may load a new one)."""
        try:
            lease = self._idle.pop()
        except IndexError:
            return _Lease(self._create())
        if lease.in_utterance:  # its last stream was dropped mid-utterance
            lease.decoder.end_utt()
            lease.in_utterance = False
        return lease

    def give_back(self, lease: _Lease) -> None:
        self._idle.append(lease)

    def __len__(self) -> int:
        return len(self._idle)


SPHINX_PARTIAL_INTERVAL_MS = 100
"""pocketsphinx decodes every frame anyway; reading its hypothesis (a search back-trace)
every 100 ms rather than 300 ms cost nothing measurable (124 ms of CPU a second of
speech either way), and a word over the agent reaches the turn policy up to 200 ms
sooner."""


class PocketsphinxStream:
    """One turn on a pooled decoder. Partials at most every `partial_interval_ms` of audio."""

    def __init__(
        self, pool: DecoderPool, partial_interval_ms: int = SPHINX_PARTIAL_INTERVAL_MS
    ) -> None:
        self._pool = pool
        self._lease: _Lease | None = None
        self._release: weakref.finalize | None = None
        self._interval = max(20, partial_interval_ms) * SAMPLE_RATE // 1000
        self._since_partial = 0
        self._texts: list[str] = []  # finished utterances (ended by final())
        self._partials = PartialFilter()

    def prepare(self) -> None:
        self._take()

    def _take(self) -> _Lease:
        if self._lease is None:
            self._lease = self._pool.take()
            # Given back on close(), or when the stream is collected if nobody closes it.
            self._release = weakref.finalize(self, self._pool.give_back, self._lease)
        return self._lease

    def _decoder(self) -> Decoder:
        lease = self._take()
        if not lease.in_utterance:
            lease.decoder.start_utt()
            lease.in_utterance = True
        return lease.decoder

    def accept(self, pcm: np.ndarray) -> str | None:
        pcm = check_pcm(pcm)
        if len(pcm) == 0:
            return None
        decoder = self._decoder()
        decoder.process_raw(pcm.tobytes(), False, False)
        self._since_partial += len(pcm)
        if self._since_partial < self._interval:
            return None
        self._since_partial = 0
        return self._partials.news(self._join(self.current()))

    def catch_up(self, pcm: np.ndarray) -> None:
        self.accept(pcm)  # every frame decoded is part of the final: nothing to skip

    def current(self) -> str:
        """First-pass hypothesis of the open utterance ("" if none)."""
        if self._lease is None or not self._lease.in_utterance:
            return ""
        hyp = self._lease.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    def reset(self) -> None:
        """Drop the open utterance (the hybrid does this when Moonshine took a segment)."""
        if self._lease is not None and self._lease.in_utterance:
            self._lease.decoder.end_utt()
            self._lease.in_utterance = False
        self._partials.forget()

    def close(self) -> None:
        if self._release is not None:
            self._release()  # runs give_back at most once
        self._lease = None

    def final(self) -> str:
        if not self._pool.final_pass:
            return mark_question(self._join(self.current()))
        if self._lease is not None and self._lease.in_utterance:
            self._lease.decoder.end_utt()
            self._lease.in_utterance = False
            hyp = self._lease.decoder.hyp()
            if hyp is not None and hyp.hypstr:
                self._texts.append(hyp.hypstr)
        return mark_question(" ".join(self._texts))

    def _join(self, open_text: str) -> str:
        return " ".join(t for t in [*self._texts, open_text] if t)


class PocketsphinxRecognizer:
    """The `pocketsphinx` backend. The second pass is off by default: on the 306 asterisk
    prompts it lowers WER from 0.75 to 0.65 (the five LibriVox sentences: 0.31 either
    way), but it holds the GIL for 200-240 ms at every final (0.4 s p50, 2.2 s p95 on a
    loaded 2-core machine) and ends the utterance; without it a final is well under a
    millisecond and cheap mid-turn (`interim_finals`)."""

    name = "pocketsphinx"

    def __init__(
        self, partial_interval_ms: int = SPHINX_PARTIAL_INTERVAL_MS, final_pass: bool = False
    ) -> None:
        self.pool = DecoderPool(final_pass=final_pass)
        self.partial_interval_ms = partial_interval_ms
        self.interim_finals = not final_pass  # a second-pass final ends the utterance

    def new_stream(self) -> PocketsphinxStream:
        return PocketsphinxStream(self.pool, self.partial_interval_ms)
