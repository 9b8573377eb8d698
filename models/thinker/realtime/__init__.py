"""A realtime speech-to-speech model (OpenAI Realtime, Qwen-Omni-Realtime, vLLM-Omni) as
each session's Thinker and voice, with omnivox's turn taking in front of it."""

from omnivox.models.thinker.realtime.thinker import RealtimeThinker, RealtimeThinkerConfig

__all__ = ["RealtimeThinker", "RealtimeThinkerConfig"]
