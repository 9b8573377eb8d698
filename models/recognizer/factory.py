"""Recognizer by backend name, loaded lazily and cached once per process.

Models are large (Moonshine ~800 MB resident once its weights are folded, a pocketsphinx
decoder ~90 MB) and slow to load, so every session of a process shares one recognizer
per backend and options; streams are the per-session part.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any, Literal, get_args

from omnivox.models.recognizer.base import Recognizer

Backend = Literal["hybrid", "moonshine", "pocketsphinx"]
BACKENDS: tuple[str, ...] = get_args(Backend)

_lock = threading.Lock()
_cache: dict[tuple[str, tuple[tuple[str, Any], ...]], Recognizer] = {}


def _backend_class(backend: str) -> Callable[..., Recognizer]:
    # Imported here so choosing one backend never loads another's libraries.
    if backend == "hybrid":
        from omnivox.models.recognizer.hybrid import HybridRecognizer

        return HybridRecognizer
    if backend == "moonshine":
        from omnivox.models.recognizer.moonshine import MoonshineRecognizer

        return MoonshineRecognizer
    from omnivox.models.recognizer.pocketsphinx import PocketsphinxRecognizer

    return PocketsphinxRecognizer


def create_recognizer(backend: Backend, **options: Any) -> Recognizer:
    """The process-wide recognizer for `backend` and `options` (blocking on first use).

    Options: `partial_interval_ms` (all backends); `threads` (onnxruntime intra-op
    threads, hybrid and moonshine); `pause_ms` (hybrid); `final_pass` (pocketsphinx).
    """
    if backend not in BACKENDS:
        choices = ", ".join(BACKENDS)
        raise ValueError(f"unknown recognizer backend {backend!r}; choose one of {choices}")
    cls = _backend_class(backend)
    try:
        bound = inspect.signature(cls).bind(**options)
    except TypeError as err:
        raise ValueError(f"recognizer backend {backend!r}: {err}") from None
    bound.apply_defaults()  # a default spelled out is the same recognizer
    key = (backend, tuple(sorted(bound.arguments.items())))
    with _lock:
        if key not in _cache:
            _cache[key] = cls(**options)
        return _cache[key]
