"""Hybrid recognizer: pocketsphinx's streaming partials, Moonshine's accurate final.

While the user speaks, pocketsphinx decodes every frame, so partials cost little and
come at once (a session that has fallen behind skips that: `catch_up`). Moonshine (much
lower WER, not streaming) transcribes the turn segment by segment: when a pause closes a
segment (see segmenter.py) it is transcribed right then, inside that `accept` call,
during the user's pause. At the end of the turn only the open
tail is left for `final()`. The partial shown is the Moonshine text of closed segments
followed by pocketsphinx's hypothesis for the open one, so partials improve as the turn
goes on and the final never contradicts the finished part.

The pocketsphinx decoders here skip the second search pass (their text is never final;
skipping it takes a reset from ~150 to ~15 ms) and search at most 3000 HMMs a frame
instead of 30000: half the CPU for 1-3 points of first-pass WER, measured on the corpora
of lab/bench/asr.py.
"""

from __future__ import annotations

import numpy as np

from omnivox.models.recognizer.moonshine import (
    MoonshineModel,
    SegmentedTranscript,
    join_texts,
    load_moonshine,
)
from omnivox.models.recognizer.pocketsphinx import (
    SPHINX_PARTIAL_INTERVAL_MS,
    DecoderPool,
    PocketsphinxStream,
)
from omnivox.models.recognizer.segmenter import PartialFilter, SegmenterConfig, check_pcm


class HybridStream:
    def __init__(
        self,
        model: MoonshineModel,
        pool: DecoderPool,
        partial_interval_ms: int = SPHINX_PARTIAL_INTERVAL_MS,
        segmenter: SegmenterConfig | None = None,
    ) -> None:
        self._moonshine = SegmentedTranscript(model, segmenter)
        self._sphinx = PocketsphinxStream(pool, partial_interval_ms)
        self._partials = PartialFilter()

    def accept(self, pcm: np.ndarray) -> str | None:
        pcm = check_pcm(pcm)
        if len(pcm) == 0:
            return None
        sphinx_partial = self._sphinx.accept(pcm)
        closed = self._moonshine.push(pcm)
        if closed:
            # The open pocketsphinx utterance covered the closed segment plus its pause;
            # Moonshine's text replaces it, and pocketsphinx starts afresh after the pause.
            self._sphinx.reset()
        elif sphinx_partial is None:
            return None
        return self._partials.news(join_texts([*self._moonshine.texts, self._sphinx.current()]))

    def catch_up(self, pcm: np.ndarray) -> None:
        """Moonshine only: pocketsphinx decoding every frame costs more CPU than Moonshine
        transcribing the segments (0.2 against 0.15 s for a 1.8 s question), holding the
        GIL, and gives only partials. Its open utterance is dropped: it no longer follows
        the audio, and partials start again from the next `accept`."""
        self._moonshine.push(check_pcm(pcm))
        self._sphinx.reset()

    def prepare(self) -> None:
        self._sphinx.prepare()

    def close(self) -> None:
        self._sphinx.close()

    def final(self) -> str:
        closes = self._moonshine.at_pause
        text = self._moonshine.final()
        if closes:
            self._sphinx.reset()  # the segment is Moonshine's now: partials restart empty
        return text


class HybridRecognizer:
    """The `hybrid` backend (the default)."""

    name = "hybrid"
    interim_finals = True

    def __init__(
        self,
        threads: int = 1,
        partial_interval_ms: int = SPHINX_PARTIAL_INTERVAL_MS,
        pause_ms: int = SegmenterConfig.pause_ms,
    ) -> None:
        self.model = load_moonshine(threads)
        self.pool = DecoderPool(final_pass=False, max_hmm_per_frame=3000)
        self.partial_interval_ms = partial_interval_ms
        self.segmenter = SegmenterConfig(pause_ms=pause_ms)

    def new_stream(self) -> HybridStream:
        return HybridStream(self.model, self.pool, self.partial_interval_ms, self.segmenter)
