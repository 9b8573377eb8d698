"""Config errors name the offending key; defaults need no file."""

from pathlib import Path

import pytest

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


def test_talker_is_built_from_config() -> None:
    from omnivox.agent.stack import build_talker

    assert build_talker(parse_config({"talker": {"backend": "espeak"}})).name == "espeak"
    assert build_talker(load_config(None)).name == "piper"
    with pytest.raises(ConfigError, match=r"talker\.voice: .*unknown eSpeak NG voice"):
        build_talker(parse_config({"talker": {"backend": "espeak", "voice": "xx-nope"}}))
