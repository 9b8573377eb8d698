"""The model stack: every backend a session needs, loaded once per process from config.

Sessions share the loaded models (recognizer weights, Thinker client, Talker); each
session gets its own streaming state (VAD, recognizer stream, history).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from omnivox.agent.config import AgentConfig, ConfigError
from omnivox.agent.events import Emitter
from omnivox.agent.interventions.chain import Intervention, InterventionChain
from omnivox.agent.interventions.config import build_interventions, import_tool_modules
from omnivox.agent.reply.reply import ReplyDeps, ToolRunner
from omnivox.media.clock import Clock
from omnivox.media.echo_canceller import EchoCanceller
from omnivox.models.recognizer.base import Recognizer
from omnivox.models.recognizer.factory import create_recognizer
from omnivox.models.talker.base import Talker
from omnivox.models.talker.espeak import EspeakTalker
from omnivox.models.talker.model_speech import ModelSpeechTalker, SpeakingThinker, SpeechLedger
from omnivox.models.talker.piper import PiperTalker
from omnivox.models.thinker.base import PerSessionThinker, Thinker
from omnivox.models.turn.classifier import TurnClassifier
from omnivox.models.vad import StreamingVad
from omnivox.models.vision.face_detector import FaceDetector

log = logging.getLogger(__name__)


@dataclass
class ModelStack:
    config: AgentConfig
    recognizer: Recognizer
    thinker: Thinker
    talker: Talker
    tools: ToolRunner | None
    turn_classifier: TurnClassifier | None = None
    interventions: list[Intervention] | None = None
    """Built from `config.interventions` and shared by its sessions (a RAG folder is
    read once). Add Python interventions here: `stack.interventions.insert(0, x)`.
    None: each session builds its own from its config."""
    face_detector: FaceDetector | None = None

    def reply_deps(self, config: AgentConfig, clock: Clock, emit: Emitter) -> ReplyDeps:
        """What every reply of a session configured by `config` shares."""
        interventions = (
            # The stack's, built once for its config; a session configured otherwise
            # (a test reusing one stack) builds its own.
            self.interventions
            if self.interventions is not None and config.interventions == self.config.interventions
            else build_interventions(config.interventions, thinker_tools=self.tools)
        )
        thinker: Thinker = self.thinker
        talker: Talker = self.talker
        closers: list[Callable[[], Awaitable[None]]] = []
        if isinstance(thinker, PerSessionThinker):
            own = thinker.for_session()
            thinker = own
            closers.append(own.aclose)
        if getattr(thinker, "speaks", False):
            # An omni model speaks itself: its voice, per session, through the same stage.
            ledger = SpeechLedger()
            thinker, talker = SpeakingThinker(thinker, ledger), ModelSpeechTalker(ledger, talker)
        return ReplyDeps(
            thinker=thinker,
            talker=talker,
            clock=clock,
            emit=emit.event,
            tools=self.tools,
            system_prompt=config.system_prompt,
            first_token_timeout_s=config.thinker.timeout_s,
            fallback_text=config.thinker.fallback_text,
            playout_max_ahead=config.playout.max_ahead_frames,
            interventions=InterventionChain(
                interventions,
                clock,
                report=lambda msg: emit.error(msg, source="intervention"),
            ),
            closers=closers,
        )

    def new_vad(self) -> StreamingVad:
        v = self.config.vad
        return StreamingVad(threshold=v.threshold, start_ms=v.start_ms, stop_ms=v.stop_ms)


def _thinker_options(config: AgentConfig) -> dict[str, Any]:
    return {k: v for k, v in config.thinker.model_dump().items() if k not in ("backend",)}


def build_thinker(config: AgentConfig) -> tuple[Thinker, ToolRunner | None]:
    backend = config.thinker.backend
    if backend == "knowledge_base":
        from omnivox.models.thinker.knowledge_base import KnowledgeBaseThinker

        kb = KnowledgeBaseThinker(config.thinker.knowledge_base)
        return kb, kb.tools
    if backend == "openai":
        from omnivox.models.thinker.openai_compat import OpenAIThinker

        return OpenAIThinker.from_config(_thinker_options(config)), None
    if backend == "realtime":
        from omnivox.models.thinker.realtime import RealtimeThinker

        return RealtimeThinker.from_config(_thinker_options(config)), None
    raise ConfigError(
        f"thinker.backend: unknown backend {backend!r} (use knowledge_base, openai or realtime)"
    )


def _load_turn_classifier() -> TurnClassifier | None:
    """The shipped model; if it cannot be used the session falls back to timing rules,
    which still hold a conversation, rather than refusing to start."""
    try:
        return TurnClassifier.load()
    except (OSError, ValueError) as err:
        log.error("turn classifier unavailable, using timing rules: %s", err)
        return None


def _load_face_detector() -> FaceDetector | None:
    """Like the classifier: without it the camera still gives snapshots, not presence."""
    try:
        return FaceDetector()
    except OSError as err:
        log.error("face detector unavailable, no presence events: %s", err)
        return None


def _check_echo_canceller() -> None:
    """Load the native library now, not in a user's first turn, and fail with a clear
    message where it cannot load."""
    try:
        EchoCanceller()
    except (ImportError, OSError, RuntimeError) as err:
        raise ConfigError(f"echo.cancel: the echo canceller cannot load ({err})") from None


def build_talker(config: AgentConfig) -> Talker:
    """The configured Talker; a voice that cannot be used is a ConfigError."""
    t = config.talker
    try:
        if t.backend == "espeak":
            return EspeakTalker(voice=t.voice or "en-us", rate_wpm=t.rate_wpm, pitch=t.pitch)
        return PiperTalker(voice=t.voice, speed=t.speed, noise=t.noise)
    except ValueError as err:
        raise ConfigError(f"talker.voice: {err}") from None


def build_recognizer(config: AgentConfig) -> Recognizer:
    """The configured recognizer, shared by every stack of the process with its options."""
    r = config.recognizer
    options: dict[str, object] = {}
    if r.partial_interval_ms is not None:
        options["partial_interval_ms"] = r.partial_interval_ms
    if r.final_pass:
        options["final_pass"] = True
    return create_recognizer(r.backend, **options)


def build_stack(config: AgentConfig) -> ModelStack:
    """Load every model named in config. Slow (model loading): call once at start-up."""
    try:
        import_tool_modules(config.interventions)  # @tool functions before the Thinker
    except ValueError as err:
        raise ConfigError(str(err)) from None
    thinker, tools = build_thinker(config)
    try:
        interventions = build_interventions(config.interventions, thinker_tools=tools)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    talker = build_talker(config)
    if config.echo.cancel:
        _check_echo_canceller()
    recognizer = build_recognizer(config)
    classifier = _load_turn_classifier() if config.turns.classifier == "learned" else None
    faces = _load_face_detector() if config.camera.presence else None
    return ModelStack(config, recognizer, thinker, talker, tools, classifier, interventions, faces)
