"""Where the server's logs go and in what shape: plain text for a terminal, or one JSON
object per line (ts, level, logger, msg, and any `extra` fields) for a log pipeline.

The level comes from `--debug`, else the OMNIVOX_LOG_LEVEL environment variable, else the
config's `log.level`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["text", "json"]
LogLevel = Literal["debug", "info", "warning", "error"]
LEVELS: tuple[LogLevel, ...] = ("debug", "info", "warning", "error")
LEVEL_ENV = "OMNIVOX_LOG_LEVEL"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_level(debug: bool, env: Mapping[str, str], configured: LogLevel = "info") -> int:
    """The level to log at; ValueError naming the variable when its value is no level."""
    if debug:
        return logging.DEBUG
    name = env.get(LEVEL_ENV, "").strip().lower() or configured
    if name not in LEVELS:
        raise ValueError(f"{LEVEL_ENV}={name!r} is not one of {', '.join(LEVELS)}")
    return logging.getLevelNamesMapping()[name.upper()]


def formatter(fmt: LogFormat) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger", "message": "msg"},
            timestamp="ts",  # ISO 8601, UTC
            json_ensure_ascii=False,
        )
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(level: int, fmt: LogFormat) -> None:
    """Every log record to stderr at `level` in `fmt`, replacing any earlier setup."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(fmt))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # One line per HTTP request (a load balancer's health check every second) would
    # drown the session logs: only when debugging.
    access = logging.getLogger("aiohttp.access")
    access.setLevel(logging.NOTSET if level <= logging.DEBUG else logging.WARNING)
