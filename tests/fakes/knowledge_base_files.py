"""Small knowledge-base YAML files, for tests of the parser and of the Thinker."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_kb(tmp_path: Path, **top: object) -> Path:
    data = {"name": "Test Desk", **top}
    data.setdefault("entries", [{"id": "a", "questions": ["q"], "answer": "A."}])
    path = tmp_path / "kb.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


GOOD = {"id": "a", "questions": ["where is it"], "answer": "Here."}
