"""Config errors name the offending key; defaults need no file."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from omnivox.agent.config import AgentConfig, ConfigError, load_config, parse_config


def test_defaults_need_no_file() -> None:
    cfg = load_config(None)
    assert isinstance(cfg, AgentConfig)
    assert cfg.thinker.backend == "knowledge_base"


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"turns\.end_of_turn_silence: unknown key"):
        parse_config({"turns": {"end_of_turn_silence": 300}})


def test_bad_value_is_named() -> None:
    with pytest.raises(ConfigError, match=r"vad\.threshold"):
        parse_config({"vad": {"threshold": 3}})


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match="mapping"):
        parse_config(["a", "b"])


def test_yaml_syntax_error_gives_line(tmp_path: Path) -> None:
    p = tmp_path / "agent.yaml"
    p.write_text("turns:\n  end_of_turn_silence_ms: [1,\n")
    with pytest.raises(ConfigError, match="line"):
        load_config(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_thinker_section_keeps_backend_specific_keys(tmp_path: Path) -> None:
    p = tmp_path / "agent.yaml"
    p.write_text(
        "thinker:\n  backend: openai\n  base_url: http://127.0.0.1:8000/v1\n"
        "  model: Qwen/Qwen3-Omni-30B-A3B-Instruct\n  api_key_env: OPENAI_API_KEY\n"
    )
    cfg = load_config(p)
    assert cfg.thinker.backend == "openai"
    assert cfg.thinker.model_dump()["base_url"] == "http://127.0.0.1:8000/v1"


def test_talker_defaults_to_the_bundled_piper_voice() -> None:
    talker = load_config(None).talker
    assert (talker.backend, talker.voice, talker.speed, talker.noise) == ("piper", None, 1.0, None)


def test_talker_piper_voice_path_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"talker\.voice: .*no Piper voice file"):
        parse_config({"talker": {"voice": str(tmp_path / "missing.onnx")}})
    model = tmp_path / "en_GB-someone-medium.onnx"
    model.write_bytes(b"")
    with pytest.raises(ConfigError, match=r"talker\.voice: .*onnx\.json beside it"):
        parse_config({"talker": {"voice": str(model)}})
    (tmp_path / "en_GB-someone-medium.onnx.json").write_text("{}")
    cfg = parse_config({"talker": {"voice": str(model), "speed": 1.2, "noise": 0.3}})
    assert (cfg.talker.voice, cfg.talker.speed, cfg.talker.noise) == (str(model), 1.2, 0.3)


def test_talker_settings_of_the_other_backend_are_named() -> None:
    with pytest.raises(ConfigError, match=r"talker\.rate_wpm: .*only backend espeak"):
        parse_config({"talker": {"rate_wpm": 200}})
    with pytest.raises(ConfigError, match=r"talker\.speed: .*only backend piper"):
        parse_config({"talker": {"backend": "espeak", "speed": 1.1}})
    with pytest.raises(ConfigError, match=r"talker\.speed"):
        parse_config({"talker": {"speed": 3}})
    cfg = parse_config({"talker": {"backend": "espeak", "voice": "en-gb", "rate_wpm": 200}})
    assert (cfg.talker.voice, cfg.talker.rate_wpm, cfg.talker.pitch) == ("en-gb", 200, 50)


def test_the_pocketsphinx_second_pass_is_a_recognizer_setting() -> None:
    from omnivox.agent.stack import build_recognizer

    with pytest.raises(ConfigError, match=r"recognizer\.final_pass: .*only backend pocketsphinx"):
        parse_config({"recognizer": {"final_pass": True}})
    second = build_recognizer(
        parse_config({"recognizer": {"backend": "pocketsphinx", "final_pass": True}})
    )
    first = build_recognizer(parse_config({"recognizer": {"backend": "pocketsphinx"}}))
    # A second-pass final ends the utterance: no interim finals mid-turn.
    assert (second.interim_finals, first.interim_finals) == (False, True)


def test_the_partial_interval_reaches_the_recognizer() -> None:
    from omnivox.agent.stack import build_recognizer

    for backend in ("pocketsphinx", "hybrid"):
        config = parse_config({"recognizer": {"backend": backend, "partial_interval_ms": 120}})
        assert build_recognizer(config).partial_interval_ms == 120  # type: ignore[attr-defined]


def test_talker_is_built_from_config() -> None:
    from omnivox.agent.stack import build_talker

    assert build_talker(parse_config({"talker": {"backend": "espeak"}})).name == "espeak"
    assert build_talker(load_config(None)).name == "piper"
    with pytest.raises(ConfigError, match=r"talker\.voice: .*unknown eSpeak NG voice"):
        build_talker(parse_config({"talker": {"backend": "espeak", "voice": "xx-nope"}}))


def test_ice_servers_become_the_webrtc_settings() -> None:
    server = parse_config(
        {
            "server": {
                "ice_servers": [
                    {"urls": ["stun:stun.example.org:3478"]},
                    {"urls": ["turn:turn.example.org?transport=udp"]},
                    {"urls": ["turns:t2.example.org:5349"], "username": "u", "credential": "p"},
                ],
                "turn_secret": "north",
                "turn_credential_ttl_s": 600,
                "ice_transport_policy": "relay",
            }
        }
    ).server
    ice = server.ice()
    assert [s.urls[0] for s in ice.servers] == [
        "stun:stun.example.org:3478",
        "turn:turn.example.org?transport=udp",
        "turns:t2.example.org:5349",
    ]
    assert (ice.turn_secret, ice.credential_ttl_s, ice.policy) == ("north", 600, "relay")
    assert AgentConfig().server.ice().servers == ()  # offline by default: no STUN either


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ({"urls": ["https://turn.example.org"]}, "not a STUN or TURN URL"),
        ({"urls": []}, "at least 1"),
        ({"urls": ["turn:t.example.org"]}, "needs a username and credential, or server.turn_sec"),
        ({"urls": ["stun:s.example.org"], "username": "u"}, "both username and credential"),
        ({"urls": ["stun:s.example.org"], "password": "p"}, "unknown key"),
    ],
)
def test_bad_ice_servers_are_named(entry: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        parse_config({"server": {"ice_servers": [entry]}})


def test_log_settings_are_checked() -> None:
    assert parse_config({"log": {"level": "debug", "format": "json"}}).log.format == "json"
    with pytest.raises(ConfigError, match=r"log\.level"):
        parse_config({"log": {"level": "loud"}})


# ---- fuzzing: any YAML, any shape: a config or one ConfigError naming the problem -------

LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**6)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["piper", "espeak", "learned", "none", "127.0.0.1:5060", "PCMU", "10/8"])
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)


def _section(name: str) -> st.SearchStrategy[Any]:
    """A section's own keys with any values (and sometimes an unknown key)."""
    model = AgentConfig.model_fields[name].annotation
    if isinstance(model, type) and issubclass(model, BaseModel):
        keys = st.sampled_from(list(model.model_fields)) | st.text(max_size=6)
        return st.dictionaries(keys, VALUES, max_size=4)
    return VALUES


CONFIGS = st.dictionaries(
    st.sampled_from(list(AgentConfig.model_fields)), st.nothing(), max_size=0
) | st.lists(st.sampled_from(list(AgentConfig.model_fields)), max_size=4, unique=True).flatmap(
    lambda names: st.fixed_dictionaries({n: _section(n) for n in names})
)


@settings(max_examples=300, deadline=None)
@given(CONFIGS | VALUES)
def test_fuzz_any_data_is_a_config_or_a_config_error(data: Any) -> None:
    try:
        parse_config(data, "fuzz.yaml")
    except ConfigError as err:
        assert str(err).startswith("fuzz.yaml")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300) | CONFIGS.map(lambda d: yaml.safe_dump(d)))
def test_fuzz_any_file_is_a_config_or_a_config_error(tmp_path_factory: Any, text: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "agent.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)
    except ConfigError as err:
        assert str(path) in str(err)


def test_transfer_targets_must_be_sip_or_tel_uris() -> None:
    ok = parse_config({"telephony": {"transfer_targets": {"desk": "sip:desk@pbx.example"}}})
    assert ok.telephony.transfer_targets == {"desk": "sip:desk@pbx.example"}
    for bad in ("http://example.com", "sip:a@b>\r\nX: y", "+15551234"):
        with pytest.raises(ConfigError, match=r"telephony\.transfer_targets.*'desk'"):
            parse_config({"telephony": {"transfer_targets": {"desk": bad}}})


def test_echo_gate_and_noise_suppression_settings() -> None:
    echo = parse_config({"echo": {"cancel": True}}).echo
    assert echo.gate and not echo.noise_suppression and echo.gate_margin_db == 10.0
    with pytest.raises(ConfigError, match=r"echo\.gate_margin_db"):
        parse_config({"echo": {"gate_margin_db": -1}})
