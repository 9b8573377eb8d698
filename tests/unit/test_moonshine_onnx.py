"""The wheel's Moonshine models made into cached int8 ONNX models."""

from __future__ import annotations

import logging
from pathlib import Path

import onnx
import onnxruntime as ort
import pytest

from omnivox.models.recognizer.moonshine import moonshine_model_dir
from omnivox.models.recognizer.moonshine_onnx import (
    _fields,
    _message,
    _name_subgraphs,
    _payload,
    cache_dir,
    int8_session,
)


def test_subgraphs_get_names() -> None:
    empty_name = _message(2, b"")
    sub = empty_name + _message(1, _message(4, b"Identity"))  # node with op_type
    attr = _message(1, b"then_branch") + _message(6, sub)
    node = _message(4, b"If") + _message(5, attr)
    graph = _message(1, node) + _message(2, b"main")
    fixed = _name_subgraphs(graph, "g")
    node_out = _payload(next(f for n, _, f in _fields(fixed) if n == 1))
    attr_out = _payload(next(f for n, _, f in _fields(node_out) if n == 5))
    sub_out = _payload(next(f for n, _, f in _fields(attr_out) if n == 6))
    names = [_payload(f) for n, _, f in _fields(sub_out) if n == 2]
    assert len(names) == 1 and names[0].startswith(b"g_")
    main_names = [_payload(f) for n, _, f in _fields(fixed) if n == 2]
    assert main_names == [b"main"]


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OMNIVOX_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "omnivox"
    monkeypatch.setenv("OMNIVOX_CACHE_DIR", str(tmp_path / "own"))
    assert cache_dir() == tmp_path / "own"


def test_int8_encoder_is_made_once_then_read_from_the_cache(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = moonshine_model_dir() / "encoder_model.ort"
    options = ort.SessionOptions()
    with caplog.at_level(logging.INFO):
        session = int8_session(source, options, cache=tmp_path)
    # Our one line, not the quantiser's line per tensor.
    assert [r.name for r in caplog.records] == ["omnivox.models.recognizer.moonshine_onnx"]
    assert logging.root.manager.disable == logging.NOTSET  # logging is back as it was
    made = list(tmp_path.iterdir())
    assert len(made) == 1 and made[0].suffix == ".onnx"  # no partial file left behind
    kinds = {node.op_type for node in onnx.load(str(made[0])).graph.node}
    assert "DynamicQuantizeLinear" in kinds or "MatMulInteger" in kinds
    stamp = made[0].stat().st_mtime_ns
    again = int8_session(source, options, cache=tmp_path)
    assert made[0].stat().st_mtime_ns == stamp
    assert [i.name for i in again.get_inputs()] == [i.name for i in session.get_inputs()]


def test_an_unwritable_cache_still_gives_a_session(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    session = int8_session(
        moonshine_model_dir() / "encoder_model.ort", ort.SessionOptions(), blocked
    )
    assert session.get_inputs()[0].name == "input_values"


def test_a_damaged_cache_file_is_made_again(tmp_path: Path) -> None:
    source = moonshine_model_dir() / "encoder_model.ort"
    int8_session(source, ort.SessionOptions(), cache=tmp_path)
    (cached,) = tmp_path.iterdir()
    cached.write_bytes(cached.read_bytes()[:1000])  # a disk that lost most of it
    session = int8_session(source, ort.SessionOptions(), cache=tmp_path)
    assert session.get_inputs()[0].name == "input_values"
    assert cached.stat().st_size > 1000
