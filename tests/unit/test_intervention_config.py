"""The `interventions:` config section: errors name the key; entries build real parts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnivox.agent.config import ConfigError, parse_config
from omnivox.agent.interventions.chain import ToolsIntervention
from omnivox.agent.interventions.config import (
    InterventionConfigError,
    build_interventions,
    parse_interventions,
)
from omnivox.agent.interventions.rag import DocumentRetrieval
from omnivox.agent.interventions.safety import SafetyFilter
from omnivox.models.thinker.base import ToolCall
from omnivox.models.thinker.knowledge_base import KnowledgeBaseThinker

EXAMPLE = Path(__file__).parents[2] / "examples" / "interventions"


@pytest.mark.parametrize(
    ("specs", "error"),
    [
        ({"safety": {}}, r"^interventions: must be a list"),
        ([{"rga": {}}], r"^interventions\[0\]: unknown intervention 'rga' \(available: rag, "),
        ([{"safety": {}, "rag": {}}], r"^interventions\[0\]: must be a mapping with one key"),
        (["safety"], r"^interventions\[0\]: must be a mapping with one key"),
        (
            [{"safety": {}}, {"safety": {"colour": 1}}],
            r"^interventions\[1\]\.safety\.colour: unknown key$",
        ),
        (
            [{"safety": {"redact": ["phone", "email"]}}],
            r"^interventions\[0\]\.safety\.redact\[1\]: unknown kind 'email' \(use card, phone\)$",
        ),
        (
            [{"safety": {"patterns": ["ok", "(unclosed"]}}],
            r"^interventions\[0\]\.safety\.patterns\[1\]: not a regular expression",
        ),
        ([{"safety": {"blocklist": "word"}}], r"^interventions\[0\]\.safety\.blocklist: "),
        (
            [{"safety": {"budget_ms": 0}}],
            r"^interventions\[0\]\.safety\.budget_ms: .*greater than 0",
        ),
        ([{"safety": {"on_overrun": "later"}}], r"^interventions\[0\]\.safety\.on_overrun: "),
        (
            [{"safety": {"classifier": {"class": "no colon"}}}],
            r"^interventions\[0\]\.safety\.classifier\.class: ",
        ),
        ([{"rag": {}}], r"^interventions\[0\]\.rag\.folder: Field required"),
        (
            [{"rag": {"folder": "d", "k": 0}}],
            r"^interventions\[0\]\.rag\.k: .*greater than or equal to 1",
        ),
        ([{"rag": "docs"}], r"^interventions\[0\]\.rag: must be a mapping"),
        ([{"tools": {"import": "mod"}}], r"^interventions\[0\]\.tools\.import: "),
        ([{"python": {}}], r"^interventions\[0\]\.python\.class: Field required"),
        ([{"safety": {}}, {"safety": {}}], r"^interventions\[1\]\.safety: duplicate name 'safety'"),
        ([{"safety": {"name": "tools"}}], r"^interventions\[0\]\.safety: duplicate name 'tools'"),
    ],
)
def test_shape_errors_name_the_key(specs: object, error: str) -> None:
    with pytest.raises(InterventionConfigError, match=error):
        parse_interventions(specs)


def test_parse_config_reports_them_with_the_source() -> None:
    with pytest.raises(ConfigError, match=r"^agent.yaml: interventions\[0\]\.safety\.redact\[0\]"):
        parse_config({"interventions": [{"safety": {"redact": ["email"]}}]}, "agent.yaml")
    config = parse_config({"interventions": [{"safety": {}}, {"safety": {"name": "strict"}}]})
    assert [n for n, _ in parse_interventions(config.interventions)] == ["safety", "safety"]


@pytest.mark.parametrize(
    ("specs", "error"),
    [
        (
            [{"rag": {"folder": "no/such/folder"}}],
            r"^interventions\[0\]\.rag\.folder: no such folder",
        ),
        (
            [{"tools": {"import": ["omnivox.agent.interventions.safety", "no_such_module_xyz"]}}],
            r"^interventions\[0\]\.tools\.import\[1\]: cannot import 'no_such_module_xyz' "
            r"\(ModuleNotFoundError",
        ),
        (
            [{"python": {"class": "omnivox.agent.interventions.safety:Nope"}}],
            r"^interventions\[0\]\.python\.class: 'omnivox.agent.interventions.safety' "
            r"has no 'Nope'",
        ),
        (
            [
                {
                    "python": {
                        "class": "omnivox.agent.interventions.safety:SafetyFilter",
                        "options": {"colour": 1},
                    }
                }
            ],
            r"^interventions\[0\]\.python\.options: "
            r"omnivox.agent.interventions.safety:SafetyFilter could not be made \(TypeError",
        ),
        (
            [{"python": {"class": "omnivox.media.clock:VirtualClock"}}],
            r"^interventions\[0\]\.python\.class: 'omnivox.media.clock:VirtualClock' has none of",
        ),
        (
            [{"safety": {"classifier": {"class": "omnivox.media.clock:VirtualClock"}}}],
            r"^interventions\[0\]\.safety\.classifier\.class: .* has no async classify",
        ),
    ],
)
def test_build_errors_name_the_key(specs: object, error: str) -> None:
    with pytest.raises(InterventionConfigError, match=error):
        build_interventions(specs)


def test_entries_build_in_order_with_tools_last_when_not_configured() -> None:
    items = build_interventions(
        [
            {"rag": {"folder": str(EXAMPLE / "docs"), "k": 2, "budget_ms": 100}},
            {"safety": {"blocklist": ["x"], "on_overrun": "wait"}},
            {
                "python": {
                    "class": "omnivox.agent.interventions.safety:SafetyFilter",
                    "name": "strict",
                    "options": {"redact": ["card"]},
                    "budget_ms": 20,
                }
            },
        ]
    )
    assert [i.name for i in items] == ["rag", "safety", "strict", "tools"]
    rag, safety, strict, tools = items
    assert isinstance(rag, DocumentRetrieval) and rag.k == 2 and rag.budget_ms == 100
    assert isinstance(safety, SafetyFilter) and safety.on_overrun == "wait"
    assert isinstance(strict, SafetyFilter) and strict.redact == ("card",)
    assert strict.budget_ms == 20 and strict.on_overrun == "skip"
    assert isinstance(tools, ToolsIntervention)


async def test_imported_tools_are_offered_with_the_thinkers_own() -> None:
    kb = KnowledgeBaseThinker(None)
    items = build_interventions(
        [
            {"tools": {"import": ["examples.interventions.my_tools"], "budget_ms": 1000}},
            {"safety": {}},
        ],
        thinker_tools=kb.tools,
    )
    assert [i.name for i in items] == ["tools", "safety"]  # configured: no second one
    tools = items[0]
    assert isinstance(tools, ToolsIntervention) and tools.budget_ms == 1000
    names = [s.name for s in tools.tool_specs()]
    assert {"current_time", "room_quote"} <= set(names) and len(names) == len(set(names))
    quote = await tools.on_tool_call(
        ToolCall("1", "room_quote", {"room": "lakeview_hall", "hours": 2, "weekend": True})
    )
    assert quote is not None and json.loads(quote)["dollars"] == 270  # 3 hour minimum
    # A tool that raises gives the Thinker an error result.
    zero = {"room": "meeting_room", "hours": 0}
    bad = await tools.on_tool_call(ToolCall("2", "room_quote", zero))
    assert bad is not None and "hours must be at least 1" in json.loads(bad)["error"]
