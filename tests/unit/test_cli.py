"""The command line's own logic (the subcommands are tested where they live)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pythonjsonlogger.json import JsonFormatter

from omnivox.agent.cli import _config, build_parser, main, with_sip
from omnivox.agent.config import AgentConfig, ConfigError, parse_config


def test_serve_sip_keeps_the_configuration_and_its_defaults() -> None:
    assert with_sip(AgentConfig(), "0.0.0.0:5060").telephony.sip == "0.0.0.0:5060"
    mine = parse_config(
        {
            "greeting": "Hello",
            "talker": {"backend": "espeak", "rate_wpm": 200},
            "telephony": {"max_calls": 3},
        },
        "mine",
    )
    config = with_sip(mine, "127.0.0.1:5070")
    assert (config.greeting, config.talker.rate_wpm) == ("Hello", 200)
    assert (config.telephony.max_calls, config.telephony.sip) == (3, "127.0.0.1:5070")


def test_serve_sip_refuses_what_is_not_host_port() -> None:
    with pytest.raises(ConfigError, match="not HOST:PORT"):
        with_sip(AgentConfig(), "5060")


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:], root.level = handlers, level


def test_logging_follows_the_config_unless_the_command_line_says_otherwise(
    tmp_path: Path, root_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMNIVOX_LOG_LEVEL", raising=False)
    path = tmp_path / "agent.yaml"
    path.write_text("log: {level: warning, format: json}\n")
    _config(build_parser().parse_args(["simulate", "x.wav", "--config", str(path)]))
    [handler] = root_logger.handlers
    assert isinstance(handler.formatter, JsonFormatter)
    assert root_logger.level == logging.WARNING
    args = ["--debug", "--log-format", "text", "simulate", "x.wav", "--config", str(path)]
    _config(build_parser().parse_args(args))
    assert not isinstance(root_logger.handlers[0].formatter, JsonFormatter)
    assert root_logger.level == logging.DEBUG


def test_a_bad_log_level_in_the_environment_is_one_clear_line(
    root_logger: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OMNIVOX_LOG_LEVEL", "loud")
    assert main(["simulate", "missing.wav"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "omnivox: error: OMNIVOX_LOG_LEVEL='loud' is not one of debug, info, warning, error"
    )


def test_sessions_lists_and_prints_journals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from omnivox.agent.cli import with_journal
    from omnivox.agent.events import Event, EventType
    from omnivox.agent.journal import Journal

    assert with_journal(AgentConfig(), tmp_path).journal.dir == tmp_path
    journal = Journal(tmp_path, "abc")
    for event in (
        Event(EventType.SESSION_STARTED, 0, {"session_id": "abc"}),
        Event(EventType.REPLY_START, 0, {"reply_id": "r1"}),
        Event(EventType.TRANSCRIPT_FINAL, 1, {"text": "Hello?"}),
        Event(EventType.REPLY_TEXT, 2, {"reply_id": "r1", "text": "Hi there."}),
        Event(EventType.REPLY_DONE, 3, {"reply_id": "r1", "heard_text": "Hi there."}),
    ):
        journal(event)
    assert main(["sessions", "--journal", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert "abc" in listing and "1 turns" in listing and "live or killed" in listing
    assert main(["sessions", "--journal", str(tmp_path), "abc"]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["user:  Hello?", "agent: Hi there."]
    assert main(["sessions", "--journal", str(tmp_path), "nope"]) == 2
    assert "no journal for session 'nope'" in capsys.readouterr().err
    assert main(["sessions"]) == 2
    assert "--journal DIR" in capsys.readouterr().err
