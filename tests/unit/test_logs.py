"""Log level precedence and the JSON log line's shape."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from omnivox.agent.logs import LEVEL_ENV, configure_logging, formatter, log_level


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_level_precedence_debug_then_environment_then_config() -> None:
    assert log_level(True, {LEVEL_ENV: "error"}, "warning") == logging.DEBUG
    assert log_level(False, {LEVEL_ENV: " Error "}, "warning") == logging.ERROR
    assert log_level(False, {LEVEL_ENV: ""}, "warning") == logging.WARNING
    assert log_level(False, {}) == logging.INFO


def test_a_bad_environment_level_is_named() -> None:
    with pytest.raises(ValueError, match="OMNIVOX_LOG_LEVEL='loud' is not one of debug"):
        log_level(False, {LEVEL_ENV: "loud"})


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("omnivox.test", logging.WARNING, __file__, 1, msg, args, None)
    rec.__dict__.update(extra)
    return rec


def test_json_lines_carry_ts_level_logger_msg_and_extra_fields() -> None:
    line = formatter("json").format(record("session %s closed", "abc", session_id="abc"))
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "WARNING"
    assert data["logger"] == "omnivox.test"
    assert data["msg"] == "session abc closed"
    assert data["session_id"] == "abc"
    assert data["ts"].endswith("+00:00")


def test_a_traceback_stays_inside_its_json_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        rec = record("failed")
        rec.exc_info = sys.exc_info()
    line = formatter("json").format(rec)
    assert "\n" not in line
    assert "RuntimeError: boom" in json.loads(line)["exc_info"]


def test_configure_replaces_the_root_handler(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(logging.INFO, "json")
    configure_logging(logging.WARNING, "json")  # twice: still one handler
    logging.getLogger("omnivox.x").info("hidden")
    logging.getLogger("omnivox.x").warning("shown")
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(x)["msg"] for x in lines] == ["shown"]


def test_http_access_lines_only_when_debugging(capsys: pytest.CaptureFixture[str]) -> None:
    access = logging.getLogger("aiohttp.access")
    try:
        configure_logging(logging.INFO, "text")
        access.info("GET /v1/health 200")
        logging.getLogger("omnivox.x").info("a session event")
        configure_logging(logging.DEBUG, "text")
        access.info("GET /v1/health 200 (debugging)")
        err = capsys.readouterr().err
    finally:
        access.setLevel(logging.NOTSET)
    assert "a session event" in err
    assert "200 (debugging)" in err and "GET /v1/health 200\n" not in err
