"""The knowledge-base file format: the shipped example, and bad files named precisely."""

import re
from pathlib import Path

import pytest

from omnivox.models.thinker.knowledge_base.parser import (
    KnowledgeBaseError,
    default_path,
    load_knowledge_base,
)
from tests.fakes.knowledge_base_files import GOOD, write_kb

# ---- the shipped example ------------------------------------------------------------


def test_shipped_front_desk_is_valid_and_speakable() -> None:
    kb = load_knowledge_base()
    assert default_path().name == "front_desk.yaml"
    assert 25 <= len(kb.entries) <= 40
    assert kb.opening_hours is not None
    for e in kb.entries:
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", e.answer) if s]
        assert len(sentences) <= 2, e.id
        spoken = re.sub(r"\{\w+(\.\w+)?\}", "", e.answer)  # tool placeholders
        assert not re.search(r"https?:|www\.|\.com|[*#_`\[\]<>{}]|\d", spoken), e.id
    ids = {e.id for e in kb.entries}
    for needed in (
        "hello",
        "thanks",
        "goodbye",
        "who_are_you",
        "repeat",
        "are_you_a_robot",
        "current_time",
        "open_now",
    ):
        assert needed in ids


# ---- invalid files ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("top", "message"),
    [
        (
            {"entries": [GOOD, {"id": "b", "questions": ["q"]}]},
            "entries[1] (id 'b'): 'answer' must be a non-empty string",
        ),
        (
            {"entries": [GOOD, {"id": "a", "questions": ["q"], "answer": "x"}]},
            "entries[1] (id 'a'): duplicate id 'a'",
        ),
        ({"entries": [{**GOOD, "anwser": "typo"}]}, "entries[0] (id 'a'): unknown key 'anwser'"),
        ({"entries": [{**GOOD, "questions": []}]}, "entries[0] (id 'a'): 'questions' must list"),
        ({"entries": [{**GOOD, "questions": "where"}]}, "'questions' must be a list"),
        (
            {"entries": [{**GOOD, "answer": "It's {current_time.time}."}]},
            "entries[0] (id 'a'): answer uses {current_time.time} but 'tools' does not list",
        ),
        ({"entries": [{**GOOD, "answer": "a { b"}]}, "stray brace"),
        ({"entries": [{**GOOD, "on_yes": "b"}]}, "'on_yes' needs a 'follow_up'"),
        (
            {"entries": [{**GOOD, "follow_up": "More?", "on_yes": "zz"}]},
            "entries[0] (id 'a'): on_yes: no entry has id 'zz'",
        ),
        ({"entries": [{**GOOD, "action": "dance"}]}, "'action' must be 'repeat'"),
        ({"entries": [{**GOOD, "id": "has space"}]}, "'id' may use only letters"),
        (
            {"entries": [{**GOOD, "tools": [5]}]},
            "entries[0] (id 'a'): tools[0] must be a tool name",
        ),
        (
            {"entries": [{**GOOD, "synonyms": [["car park", "lot"]]}]},
            "entries[0] (id 'a'): synonyms[0] must be a list of two or more single words",
        ),
        ({"entries": [GOOD, "just a string"]}, "entries[1]: must be a mapping"),
        ({"entries": []}, "'entries' must be a non-empty list"),
        ({"min_score": 3}, "top level: 'min_score' must be a number in (0, 1]"),
        ({"colour": "blue"}, "top level: unknown key 'colour'"),
        ({"timezone": "Mars/Base"}, "top level: 'timezone': unknown timezone 'Mars/Base'"),
        (
            {"opening_hours": {"weekly": {"mon": "9-5"}}},
            "top level: opening_hours: needs a top-level 'timezone'",
        ),
        (
            {"timezone": "UTC", "opening_hours": {"weekly": {"mon": "9-5"}}},
            "top level: opening_hours: weekly.mon: '9-5'",
        ),
    ],
)
def test_invalid_files_name_the_entry_and_key(
    tmp_path: Path, top: dict[str, object], message: str
) -> None:
    path = write_kb(tmp_path, **top)
    with pytest.raises(KnowledgeBaseError) as info:
        load_knowledge_base(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_unreadable_or_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="cannot read the knowledge base"):
        load_knowledge_base(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("entries: [unclosed\n")
    with pytest.raises(KnowledgeBaseError, match="not valid YAML"):
        load_knowledge_base(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(KnowledgeBaseError, match="top level: must be a mapping"):
        load_knowledge_base(bad)
