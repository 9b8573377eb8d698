"""Echo-aware speech onsets: the agent's own voice, leaking through the echo canceller,
must never count as the user starting to speak.

The canceller leaves a residual, loudest while it converges and on sudden changes of
the room, and the VAD sometimes hears a syllable in it; over the agent's speech that
becomes an overlap and, if it lasts, a self-interruption. We know exactly what was
played (the reference), so each input frame is compared with the echo the reference
can explain, taken as the reference's loudest frame over the echo's arrival window:

- the raw microphone against that times the echo path's gain (the kiosk measures it
  with a chirp; unknown, the echo is taken to be as loud as the reference): louder by
  `raw_margin_db` is more than echo, whatever the canceller is doing (a Geigel-style
  double-talk test);
- the cleaned microphone against that times the residual coupling, the loudest ratio
  of residual to reference over the last second of frames that were echo alone (and
  the VAD heard nothing, then or by its decision on them: it reports an onset after
  the fact, and a person's first syllables taken for residual would raise the bar
  against the rest of what they say), trusted to fall only as fast as the canceller
  converges:
  louder by `margin_db` is more than the canceller leaves. Once the canceller has
  converged this hears a person far quieter than the loudspeaker.

A frame passing either is evidence of a person. A VAD onset is passed on once its
speech holds `min_user_frames` such frames; an onset without them is held, and
dropped with its stop if they never come. Nothing is muted by time: with the
reference quiet, every frame of speech is evidence.

Level is not enough when the echo path moves (a sound server re-buffers): the canceller
loses the echo for a few hundred milliseconds, the residual jumps far above what it
learned, and the leak reads as a person. So an onset with the agent talking passes only
if its speech is not a copy of the reference (media/echo_likeness): while its share of a
delayed reference stays at `leak_share` or more it is held (and its speech, growing,
is judged again every `LEAK_REJUDGE_MS`: a person talking through the leak lowers the
share). A stretch shorter than `LEAK_SHARE_MS` needs a higher share to be called a leak,
as chance correlation over it is higher; one between that and the plain bar is neither:
it is held until its speech is long enough to tell (a leak in a CI kiosk passed after
80 ms of speech, under the bar for that length). Once a leak is caught, the next
`LEAK_MEMORY_MS` judge short stretches by the plain bar: in Firefox with a room echo, a
reply's start leaked for a second, its first syllable caught (share 0.3) and its next,
100 ms long, passing at 0.1.

Pure: fed frames and VAD events with their media times; returns the events to act on
and the verdicts (for the `echo_gate` event), so it is tested in virtual time.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass

import numpy as np

from omnivox.kernels.level import SILENCE_DBFS, frame_dbfs
from omnivox.media.echo_likeness import echo_share, half_rate_frame
from omnivox.media.frames import FRAME_MS
from omnivox.models.vad import VadEvent

REFERENCE_FLOOR_DBFS = -60.0
"""A reference quieter than this explains no echo (the agent is silent)."""

UNKNOWN_DELAY_WINDOW_MS = 500.0
"""Without a measured echo delay, the echo may arrive anywhere this far behind the
reference (a WebRTC or phone far end; the kiosk measures its delay)."""

ECHO_TAIL_MS = 300.0
"""Reverberation after the direct echo, covered by the arrival window."""

ECHO_PRESENT_DB = 20.0
"""A raw frame within this of the echo the path explains has the echo in it."""

VAD_HINDSIGHT_MS = 200.0
"""A frame is learned from as echo alone only once the VAD could have placed an onset
before it: it decides 64-100 ms after speech begins, and back-dates the onset."""

LEAK_REACH_FRAMES = 50
"""A leak is looked for up to 1 s behind the reference, wherever the echo moved."""

LEAK_SHARE_MS = 200.0
"""The length of speech `leak_share` is set for."""

LEAK_SEGMENT_FRAMES = 25
"""At most the last half second of an onset's speech is compared with the reference
(~2 ms a judgement on the event loop; a second would take 3)."""

LEAK_MEMORY_MS = 1500.0
"""A canceller caught leaking is expected to go on for this long: AEC3 takes ~1-2 s to find
the echo again, and the leak's next syllable, over a short stretch, can look like chance."""

LEAK_REJUDGE_MS = 40.0
"""A held onset judged a leak is judged again once its speech is this much longer: a
leak can last a second, and judging each frame would cost a tenth of a core meanwhile."""

EARLY_SLACK_FRAMES = 5
"""The echo may come this much (100 ms) sooner than measured: sound servers and
adaptive loopbacks move their buffering while they run."""


@dataclass(frozen=True, slots=True)
class EchoGateSettings:
    margin_db: float = 10.0
    """A cleaned frame is the user's when this much louder than the residual explains."""
    raw_margin_db: float = 6.0
    """A raw frame is the user's when this much louder than the echo path explains."""
    min_user_frames: int = 3
    """Frames of evidence an onset needs (60 ms)."""
    path_gain_db: float = 0.0
    """The echo's level relative to the reference until measured: as loud (a
    loudspeaker kiosk measures its room with a chirp)."""
    residual_window_ms: float = 1000.0
    """The residual coupling is the loudest seen over this long (frames of echo alone)."""
    leak_share: float = 0.08
    """Speech this much explained by a delayed copy of the reference, over 200 ms of it,
    is the agent's; over a stretch of another length the bar is scaled by 200 ms over
    that length, as chance correlation is (real voices over an agent's scored at most
    0.21 over 100 ms, 0.074 over 200 ms; leaks after the echo's delay moved, 0.07-0.85)."""
    convergence_db_per_s: float = 10.0
    """The residual is not trusted to sit further under the path's gain than this much per
    second of echo the canceller has heard: AEC3's first seconds are uneven, and a
    quiet stretch early on would promise more than it keeps."""


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """What the gate concluded about one VAD onset: the `echo_gate` event's fields."""

    t_ms: float
    onset_ms: float
    verdict: str
    """"user" (passed on) or "echo" (dropped with its stop)."""
    user_frames: int
    """Frames of the speech louder than the echo explains by the margin."""
    mic_db: float
    """The loudest cleaned frame of the speech, dBFS."""
    echo_db: float
    """The echo the reference explained for that frame, dBFS."""
    contested: bool = True
    """Some of the speech came while the agent's echo could be there."""
    echo_share: float | None = None
    """How much of the speech a delayed copy of the reference explains (contested only)."""

    def fields(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "onset_ms": round(self.onset_ms, 1),
            "decision_ms": round(self.t_ms - self.onset_ms, 1),
            "user_frames": self.user_frames,
            "mic_db": round(self.mic_db, 1),
            "echo_db": round(self.echo_db, 1),
            **({} if self.echo_share is None else {"echo_share": round(self.echo_share, 3)}),
        }


@dataclass(frozen=True, slots=True)
class _FrameReading:
    t_ms: float
    mic_db: float
    echo_db: float
    user: bool


class EchoGate:
    def __init__(self, settings: EchoGateSettings | None = None) -> None:
        self.settings = settings or EchoGateSettings()
        self._reference_db: deque[float] = deque(maxlen=self._window_frames(None) + 4)
        self._delay_frames: int | None = None
        self.path_gain_db = self.settings.path_gain_db
        self._residuals: deque[float] = deque(
            maxlen=max(1, round(self.settings.residual_window_ms / FRAME_MS))
        )
        """Residual relative to the reference, on recent frames of echo alone."""
        self._echo_frames = 0
        """Frames of echo alone heard so far: how far the canceller may have converged."""
        self._unsettled: deque[tuple[float, float]] = deque()
        """(time, residual) of recent frames that seem echo alone, until the VAD had its
        chance to say speech began before them."""
        self._recent: deque[_FrameReading] = deque(maxlen=1000 // FRAME_MS)
        self._held: VadEvent | None = None
        """A VAD onset not yet shown to be the user's."""
        self._held_share: float | None = None
        """The held onset's echo share, when judged."""
        self._judged_ms = 0.0
        """When the held onset's echo share was last judged."""
        self._leaked_ms: float | None = None
        """When speech was last judged a leak of the echo."""
        self._sent_pcm: deque[np.ndarray] = deque(maxlen=LEAK_REACH_FRAMES + LEAK_SEGMENT_FRAMES)
        self._heard_pcm: deque[tuple[float, np.ndarray]] = deque(maxlen=LEAK_SEGMENT_FRAMES)
        """(time, cleaned frame at 8 kHz): what a held onset's speech is judged on."""
        self._in_speech = False
        """The VAD hears speech (ours or theirs): the residual is not learned meanwhile,
        or a person's quieter syllables would raise the bar against the rest."""

    # ---- what is known of the echo path ------------------------------------------------

    def set_delay_ms(self, delay_ms: float) -> None:
        """The measured echo delay: reference out to microphone in."""
        self._delay_frames = max(0, round(delay_ms / FRAME_MS))
        self._reference_db = deque(self._reference_db, maxlen=self._window_frames(delay_ms) + 4)

    def set_path_gain_db(self, gain_db: float) -> None:
        """The measured echo path gain (microphone level relative to the reference)."""
        self.path_gain_db = gain_db

    @property
    def coupling_db(self) -> float:
        """Residual echo relative to the reference: the loudest lately, but no lower than
        the canceller can have converged to; before any echo, the path's gain."""
        heard_s = self._echo_frames * FRAME_MS / 1000.0
        converged = self.path_gain_db - self.settings.convergence_db_per_s * heard_s
        return max(converged, *self._residuals) if self._residuals else self.path_gain_db

    @staticmethod
    def _window_frames(delay_ms: float | None) -> int:
        reach = UNKNOWN_DELAY_WINDOW_MS if delay_ms is None else delay_ms
        return round((reach + ECHO_TAIL_MS) / FRAME_MS)

    def reference(self, pcm: np.ndarray) -> None:
        """The frame the agent just sent (one per input frame, as the transport pulls)."""
        self._reference_db.append(frame_dbfs(pcm))
        self._sent_pcm.append(half_rate_frame(pcm))

    def _echo_reference_db(self) -> float:
        """The loudest reference frame whose echo may be in the current input frame."""
        refs = list(self._reference_db)
        if not refs:
            return SILENCE_DBFS
        if self._delay_frames is None:
            window = refs[-self._window_frames(None) :]
        else:
            newest = len(refs) - max(0, self._delay_frames - EARLY_SLACK_FRAMES)
            oldest = max(0, len(refs) - self._window_frames(self._delay_frames * FRAME_MS))
            window = refs[oldest:newest]
        return max(window, default=SILENCE_DBFS)

    # ---- frames and onsets ---------------------------------------------------------------

    def process(
        self, t_ms: float, raw: np.ndarray, cleaned: np.ndarray, vad_events: list[VadEvent]
    ) -> tuple[list[VadEvent], list[GateVerdict]]:
        """One input frame (starting at `t_ms`) as the microphone heard it and as the
        canceller cleaned it, and the VAD's events on it: the events the turn policy
        should see, and the verdicts reached."""
        self._observe(t_ms, raw, cleaned)
        for event in vad_events:
            self._in_speech = event.kind == "start"
            if event.kind == "start":
                # Frames from the onset on were the speech, not the residual.
                while self._unsettled and self._unsettled[-1][0] >= event.speech_t_ms - FRAME_MS:
                    self._unsettled.pop()
        self._settle(t_ms)
        passed: list[VadEvent] = []
        verdicts: list[GateVerdict] = []
        for event in vad_events:
            if event.kind == "start":
                self._held, self._held_share = event, None
            elif self._held is not None:
                # The speech ended without evidence of a person: it was our own voice.
                verdicts.append(self._verdict(event.t_ms, self._held, "echo"))
                self._held = None
            else:
                passed.append(event)
        if self._held is not None:
            verdict = self._verdict(t_ms, self._held, "user")
            if verdict.user_frames >= self.settings.min_user_frames:
                if verdict.contested:  # with the agent quiet there was nothing to decide
                    if self._held_share is not None and t_ms - self._judged_ms < LEAK_REJUDGE_MS:
                        return passed, verdicts  # judged a moment ago: a leak, or undecided
                    self._held_share, bar = self._echo_share(self._held, t_ms)
                    self._judged_ms = t_ms
                    if self._held_share >= bar:
                        self._leaked_ms = t_ms
                        return passed, verdicts  # loud, but the agent's own voice
                    if self._held_share >= self.settings.leak_share:
                        return passed, verdicts  # too short to tell: wait for more speech
                    verdicts.append(dataclasses.replace(verdict, echo_share=self._held_share))
                passed.append(self._held)
                self._held = None
        return passed, verdicts

    def _echo_share(self, onset: VadEvent, t_ms: float) -> tuple[float, float]:
        """How much of the onset's speech so far a delayed copy of the reference explains,
        and the share that makes it a leak over that much speech."""
        heard = [pcm for t, pcm in self._heard_pcm if t >= onset.speech_t_ms - FRAME_MS]
        leaking = self._leaked_ms is not None and t_ms - self._leaked_ms <= LEAK_MEMORY_MS
        # Chance correlation over a short stretch needs a higher bar, unless the canceller
        # was just caught leaking: then the leak, not chance, is the likelier explanation.
        scale = 1.0 if leaking else max(1.0, LEAK_SHARE_MS / (max(1, len(heard)) * FRAME_MS))
        bar = self.settings.leak_share * scale
        if not heard:
            return 0.0, bar
        sent = list(self._sent_pcm)[-(len(heard) + LEAK_REACH_FRAMES) :]
        return echo_share(np.concatenate(heard), np.concatenate(sent)), bar

    def _observe(self, t_ms: float, raw: np.ndarray, cleaned: np.ndarray) -> None:
        self._heard_pcm.append((t_ms, half_rate_frame(cleaned)))
        mic_db = frame_dbfs(cleaned)
        ref_db = self._echo_reference_db()
        if ref_db <= REFERENCE_FLOOR_DBFS:
            reading = _FrameReading(t_ms, mic_db, SILENCE_DBFS, mic_db > SILENCE_DBFS)
        else:
            raw_db = frame_dbfs(raw)
            cfg = self.settings
            echo_db = ref_db + self.coupling_db
            user = (
                mic_db > echo_db + cfg.margin_db
                or raw_db > ref_db + self.path_gain_db + cfg.raw_margin_db
            )
            reading = _FrameReading(t_ms, mic_db, echo_db, user)
            # Learn only where the echo has arrived: before it does (the first frames of
            # a reply) the residual is silence and would promise more than the canceller
            # can keep once the echo comes.
            echo_present = raw_db >= ref_db + self.path_gain_db - ECHO_PRESENT_DB
            if not user and not self._in_speech and echo_present:
                self._unsettled.append((t_ms, mic_db - ref_db))
        self._recent.append(reading)

    def _settle(self, t_ms: float) -> None:
        """Learn from the frames the VAD has let pass as echo alone."""
        while self._unsettled and self._unsettled[0][0] <= t_ms - VAD_HINDSIGHT_MS:
            self._residuals.append(self._unsettled.popleft()[1])
            self._echo_frames += 1

    def _verdict(self, t_ms: float, onset: VadEvent, verdict: str) -> GateVerdict:
        # The VAD decides a few windows after the onset: count evidence from the onset.
        since = [r for r in self._recent if r.t_ms >= onset.speech_t_ms - FRAME_MS]
        contested = [r for r in since if r.echo_db > SILENCE_DBFS]
        loudest = max(contested or since, key=lambda r: r.mic_db - r.echo_db, default=None)
        return GateVerdict(
            t_ms,
            onset.speech_t_ms,
            verdict,
            sum(r.user for r in since),
            loudest.mic_db if loudest else SILENCE_DBFS,
            loudest.echo_db if loudest else SILENCE_DBFS,
            contested=bool(contested),
            echo_share=self._held_share,
        )
