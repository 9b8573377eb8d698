"""The one bounded executor for blocking model and library calls.

Model inference (onnxruntime, pocketsphinx, eSpeak NG) blocks; it runs here so the event
loop keeps serving media. The pool is bounded so many sessions queue instead of
oversubscribing the CPU.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

MAX_WORKERS = int(os.environ.get("OMNIVOX_BLOCKING_WORKERS", "0")) or max(2, os.cpu_count() or 2)

BLOCKING_EXECUTOR = ThreadPoolExecutor(
    max_workers=MAX_WORKERS, thread_name_prefix="omnivox-blocking"
)


async def run_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking call on the shared executor and await its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(BLOCKING_EXECUTOR, lambda: fn(*args, **kwargs))
