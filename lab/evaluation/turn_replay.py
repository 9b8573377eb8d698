"""Replaying labelled clips through the turn classifier and the turn policy.

Each clip is replayed as a session would see it: from the user's speech onset, one
query every ``QUERY_MS``, with the partial transcript of ``PartialSource``. Over the
agent (backchannel, interruption) the queries run until ``OVERLAP_TAIL_MS`` after the
speech; at a pause (end_of_turn, hold) the recording's own background (its frames that
are not speech) continues for ``PAUSE_WINDOW_MS`` after it. `omnivox eval turns` scores
the traces; `omnivox train turns` tunes its thresholds on them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from omnivox.agent.config import TurnsConfig
from omnivox.agent.speech.user_speech import INTERIM_FINAL_MS
from omnivox.agent.turns.events import (
    AGENT_WORD_AHEAD_MS,
    AgentAudioStarted,
    AgentWords,
    CancelReply,
    OverlapScore,
    OverlapTranscript,
    PauseScore,
    SpeechStarted,
    SpeechStopped,
    StartReply,
    Tick,
    TurnDecision,
    TurnEvent,
)
from omnivox.agent.turns.policy import TurnPolicy
from omnivox.agent.turns.spoken_words import AGENT_ECHO_LEAD_MS
from omnivox.lab.training.speech_channel import extend_floor, overlay_agent
from omnivox.lab.training.turn_data import (
    AGENT_VOICE,
    OVERLAP_LABELS,
    SAMPLE_RATE,
    load_phrases,
    progress,
    reveal,
    speech_bounds,
    synthesize,
)
from omnivox.media.frames import FRAME_SAMPLES
from omnivox.models.recognizer.base import Recognizer, RecognizerStream
from omnivox.models.recognizer.factory import Backend, create_recognizer
from omnivox.models.turn.classifier import TurnClassifier, TurnContext, TurnThresholds
from omnivox.models.turn.wording import heard_words
from omnivox.models.vad import DEFAULT_STOP_MS

QUERY_MS = 100
PAUSE_WINDOW_MS = 800
OVERLAP_TAIL_MS = 300  # keep querying this long after an overlapping utterance ends
RECOGNIZER_LAG_MS = 300
ONSET_PREROLL_MS = 50  # the policy back-dates the VAD's onset a little before the speech
FINAL_LAG_MS = 100  # a final over a second or two of speech takes 40-140 ms here
_MS = SAMPLE_RATE // 1000


@dataclass(frozen=True, slots=True)
class LabelledClip:
    name: str
    label: str
    audio: np.ndarray  # 16 kHz int16 mono
    transcript: str | None


@dataclass(frozen=True, slots=True)
class Trace:
    """One clip replayed: the probability the label's task asks for at each query."""

    label: str
    times_ms: tuple[float, ...]  # overlap: since onset; pause: since the end of speech
    probs: tuple[float, ...]
    words: tuple[int, ...]  # words in the partial transcript at each query
    texts: tuple[str, ...] = ()  # the partial transcript at each query
    speech_ms: float = 0.0
    """Overlap: how long the speech lasts from onset (when the VAD will say it stopped)."""
    finals: tuple[bool, ...] = ()
    """Whether each text is the final recognizer's (a session's `OverlapTranscript`)."""
    agent_words: tuple[tuple[float, str], ...] = ()
    """The overlaid agent reply's words, each with when a session tells the policy of it
    (`AgentWords`), in the times' clock; in order."""


PARTIAL_SOURCES = ("transcript", "pocketsphinx", "hybrid")


class PartialSource:
    """The partial transcript the policy would see at each query.

    - ``transcript``: the labels.csv transcript revealed word by word, each word
      ``RECOGNIZER_LAG_MS`` after it ends (clips without one use ``hybrid``);
    - ``pocketsphinx``: its streaming hypothesis alone;
    - ``hybrid``: what a session with the default recognizer reads. Over the agent: the
      final recognizer's answer, asked every ``INTERIM_FINAL_MS`` and ready
      ``FINAL_LAG_MS`` later, or the streaming partial before the first one. At a
      pause: the final of the speech up to the VAD's stop.
    """

    def __init__(self, source: str = "transcript") -> None:
        if source not in PARTIAL_SOURCES:
            raise ValueError(f"partials from {source!r}? expected one of {PARTIAL_SOURCES}")
        self.source = source
        self._recognizers: dict[Backend, Recognizer] = {}  # loaded on first use

    def _recognizer(self, name: Backend) -> Recognizer:
        if name not in self._recognizers:
            self._recognizers[name] = create_recognizer(name)
        return self._recognizers[name]

    def at(
        self,
        clip: LabelledClip,
        audio: np.ndarray,
        speech: tuple[int, int],
        times: list[int],
        overlap: bool,
    ) -> list[tuple[str, bool]]:
        """The partial at each query time (in samples of ``audio``, since onset), with
        whether it is a final's (the transcript's words count as one: they stand for an
        accurate recognizer); ``speech`` is the speech's bounds in ``audio``."""
        if clip.transcript is not None and self.source == "transcript":
            start, end = speech
            lag = RECOGNIZER_LAG_MS * _MS
            return [(reveal(clip.transcript, start, end, t, lag), True) for t in times]
        name: Backend = "pocketsphinx" if self.source == "pocketsphinx" else "hybrid"
        stream = self._recognizer(name).new_stream()
        try:
            if name == "pocketsphinx":
                return _streamed(stream, audio, times, final_every=None)
            if overlap:
                # Interim finals, and one at the VAD's stop (the session asks for the
                # words of speech over the agent that stops undecided).
                stop = speech[1] + DEFAULT_STOP_MS * _MS
                return _streamed(stream, audio, times, INTERIM_FINAL_MS * _MS, final_at=stop)
            stop = min(len(audio), speech[1] + DEFAULT_STOP_MS * _MS)
            _streamed(stream, audio, [stop], final_every=None)
            return [(stream.final(), True)] * len(times)
        finally:
            stream.close()


def _streamed(
    stream: RecognizerStream,
    audio: np.ndarray,
    times: list[int],
    final_every: int | None,
    final_at: int | None = None,
) -> list[tuple[str, bool]]:
    """Feed ``audio`` in frames; at each time the newest text: the latest final that is
    ready (asked every ``final_every`` samples and once at ``final_at``, ready
    ``FINAL_LAG_MS`` later), else the streaming partial; with whether it is a final."""
    out: list[tuple[str, bool]] = []
    partial, fed = "", 0
    finals: list[tuple[int, str]] = []  # (ready at, text)
    for t in times:
        while fed + FRAME_SAMPLES <= t:
            text = stream.accept(audio[fed : fed + FRAME_SAMPLES])
            fed += FRAME_SAMPLES
            partial = text or partial
            due = final_every is not None and fed % final_every == 0
            if due or (final_at is not None and fed - FRAME_SAMPLES < final_at <= fed):
                finals.append((fed + FINAL_LAG_MS * _MS, stream.final()))
        ready = [text for at, text in finals if at <= t and text]
        out.append((ready[-1], True) if ready else (partial, False))
    return out


@dataclass(frozen=True, slots=True)
class AgentReply:
    """A reply in the embedded Talker's voice, for ``--overlay-agent``."""

    text: str
    audio: np.ndarray  # 16 kHz int16


def agent_replies(seed: int, count: int = 6) -> list[AgentReply]:
    """A few replies in the embedded Talker's voice, for ``--overlay-agent``."""
    rng = np.random.default_rng(seed)
    texts = load_phrases()["agent"]
    picks = rng.choice(len(texts), size=min(count, len(texts)), replace=False)
    return [AgentReply(texts[int(i)], synthesize(AGENT_VOICE, texts[int(i)], rng)) for i in picks]


def agent_word_times(reply: AgentReply, start: int, until: int) -> tuple[tuple[float, str], ...]:
    """When a session would tell the policy of each word of ``reply`` looped and played
    from its sample ``start`` (time 0) to ``until`` samples later, in ms: as its audio
    ends, less ``AGENT_WORD_AHEAD_MS``. eSpeak's command gives no word times, so words
    are placed across the reply's speech by their characters' share of the text."""
    first, end = speech_bounds(reply.audio)
    words = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", reply.text)]
    scale = (end - first) / max(len(reply.text), 1)
    ahead, lead = AGENT_WORD_AHEAD_MS * _MS, AGENT_ECHO_LEAD_MS * _MS
    told = []
    for loop in range((start + until) // max(len(reply.audio), 1) + 1):
        origin = loop * len(reply.audio) + first - start
        for i, (_, stop, word) in enumerate(words):
            ends = words[i + 1][0] if i + 1 < len(words) else stop
            at = origin + ends * scale - ahead
            if -lead - ahead <= at <= until:
                told.append((at / _MS, word))
    return tuple(told)


def trace_clip(
    classifier: TurnClassifier,
    clip: LabelledClip,
    partials: PartialSource,
    agent: AgentReply | None,
    rng: np.random.Generator,
) -> Trace:
    """Replay one clip from its onset, querying every ``QUERY_MS``."""
    first, end = speech_bounds(clip.audio)
    start = max(0, first - ONSET_PREROLL_MS * _MS)
    agent_words: tuple[tuple[float, str], ...] = ()
    if clip.label in OVERLAP_LABELS:
        tail = OVERLAP_TAIL_MS * _MS
        audio = extend_floor(clip.audio[start:], max(0, end + tail - len(clip.audio)), clip.audio)
        since_pause = 2000.0
        if agent is not None:
            overlay = overlay_agent(audio, agent.audio, rng)
            audio, since_pause = overlay.audio, overlay.ms_since_agent_pause
            agent_words = agent_word_times(agent, overlay.start, len(audio))
        times = list(range(QUERY_MS * _MS, end - start + tail + 1, QUERY_MS * _MS))
        origin, speaking = 0, True
    else:
        audio = extend_floor(clip.audio[start:end], PAUSE_WINDOW_MS * _MS, clip.audio)
        origin = end - start
        times = [origin + d * _MS for d in range(QUERY_MS, PAUSE_WINDOW_MS + 1, QUERY_MS)]
        since_pause, speaking = 1500.0, False
    heard = partials.at(
        clip, audio, (first - start, end - start), times, clip.label in OVERLAP_LABELS
    )
    texts = [text for text, _ in heard]
    probs, words = [], []
    for t, text in zip(times, texts, strict=True):
        context = TurnContext(speaking, since_pause + t / _MS, agent_asked_question=False)
        # Over the agent the policy scores no text where a murmur was spelled out.
        scores = classifier.score(audio[:t], heard_words(text) if speaking else text, context)
        probs.append(scores.p_takeover if speaking else scores.p_finished)
        words.append(len(text.split()))
    return Trace(
        clip.label,
        tuple((t - origin) / _MS for t in times),
        tuple(probs),
        tuple(words),
        tuple(texts),
        (end - start) / _MS,
        tuple(final for _, final in heard),
        agent_words,
    )


@dataclass(frozen=True, slots=True)
class PolicyStep:
    """One moment of a trace fed to the turn policy, and what the policy did then."""

    t_ms: float
    p: float | None
    """The classifier's score at this query; None at the VAD's stop."""
    text: str
    final: bool
    decisions: tuple[str, ...]
    """The policy's `TurnDecision` kinds at this moment ("backchannel", "hold", ...)."""
    fired: bool
    """It took the floor here: cancelled the reply (overlap) or started one (pause)."""


def policy_steps(trace: Trace, config: TurnsConfig, tuned: TurnThresholds) -> list[PolicyStep]:
    """The turn policy fed this trace, step by step, up to the step where it takes the
    floor (overlap: cancels the reply; pause: starts one), if it does. Overlap: the agent
    is speaking and the VAD reports the end of the speech its default ``stop_ms``
    (``DEFAULT_STOP_MS``) after it."""
    policy = TurnPolicy(config, tuned)
    texts = trace.texts or ("",) * len(trace.probs)
    finals = trace.finals or (False,) * len(trace.probs)
    steps: list[PolicyStep] = []

    def step(t: float, p: float | None, text: str, final: bool, *events: TurnEvent) -> bool:
        """Handle `events` (up to the first that fires) and record them as one step."""
        decisions: list[str] = []
        fired = False
        for event in events:
            actions = policy.handle(event)
            decisions += [a.kind for a in actions if isinstance(a, TurnDecision)]
            fired = any(
                isinstance(a, StartReply) or (isinstance(a, CancelReply) and a.reason == "barge_in")
                for a in actions
            )
            if fired:
                break
        steps.append(PolicyStep(t, p, text, final, tuple(decisions), fired))
        return fired

    told = 0

    def tell_agent_words(until_ms: float) -> None:
        nonlocal told
        while told < len(trace.agent_words) and trace.agent_words[told][0] <= until_ms:
            policy.handle(AgentWords(*trace.agent_words[told]))
            told += 1

    moments = zip(trace.times_ms, trace.probs, texts, finals, strict=True)
    if trace.label in OVERLAP_LABELS:
        policy.handle(AgentAudioStarted(-1000.0))
        tell_agent_words(0.0)
        policy.handle(SpeechStarted(0.0, 0.0))
        stop = trace.speech_ms + DEFAULT_STOP_MS
        stopped = False
        for t, p, text, final in moments:
            tell_agent_words(t)
            if t >= stop and not stopped:
                stopped = True
                if step(stop, None, "", False, SpeechStopped(stop, trace.speech_ms)):
                    break
            heard = [OverlapTranscript(t, policy.generation, text)] if final else []
            if step(t, p, text, final, *heard, Tick(t), OverlapScore(t, p, text)):
                break
    else:
        policy.handle(SpeechStarted(-1000.0, -1000.0))
        if not step(0.0, None, "", False, SpeechStopped(0.0, 0.0)):
            for t, p, text, final in moments:
                if step(t, p, text, final, Tick(t), PauseScore(t, p, text)):
                    break
    return steps


def policy_fire_ms(trace: Trace, config: TurnsConfig, tuned: TurnThresholds) -> float | None:
    """When the turn policy fed this trace takes the floor (`policy_steps`), or None."""
    steps = policy_steps(trace, config, tuned)
    return steps[-1].t_ms if steps and steps[-1].fired else None


def trace_all(
    classifier: TurnClassifier,
    clips: Sequence[LabelledClip],
    overlay: bool,
    seed: int = 0,
    partials: str = "transcript",
) -> list[Trace]:
    source = PartialSource(partials)
    replies = (
        agent_replies(seed) if overlay and any(c.label in OVERLAP_LABELS for c in clips) else []
    )
    traces = []
    for i, clip in enumerate(progress(clips, len(clips), "replaying clips")):
        rng = np.random.default_rng([seed, i])
        agent = replies[i % len(replies)] if replies else None
        traces.append(trace_clip(classifier, clip, source, agent, rng))
    return traces
