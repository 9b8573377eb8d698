"""The command line's own logic (the subcommands are tested where they live)."""

from __future__ import annotations

import pytest

from omnivox.agent.cli import with_sip
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
