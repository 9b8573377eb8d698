"""The knowledge-base file format: YAML read into frozen dataclasses and validated, so
that every error names the file, the entry and the key (thinker.py answers from it).

The YAML (front_desk.yaml beside this module is the worked example; * marks required keys):

    name*, greeting                  # greeting: for the session to speak first
    fallback                         # said when nothing matches; default from topics
    min_score: 0.5                   # best score below this: the fallback
    context_min_score: 0.2           # the same for request.context passages (RAG)
    tool_error                       # said when a tool fails
    wait_reply: Sure, go ahead.      # said to a turn that only asks to wait ("hold on")
    timezone: America/Chicago        # IANA; for times, dates and opening hours
    opening_hours: {weekly: {mon-fri: "06:00-22:00"}, closed: ["12-25"]}
    synonyms: [[price, cost, fee]]   # groups of single words
    entries:
      - id*: parking                 # unique; letters, digits, _
        questions*: [where can I park]   # example phrasings, as spoken
        keywords: [car park]         # alone they point here
        synonyms: [[lot, garage]]    # join the global groups
        topic: parking               # named in the fallback; only entries with a topic
                                     # take follow-ups ("how much is it")
        answer*: It's free.          # may use {tool} or {tool.field}
        tools: [is_open_now]         # or [{name: x, arguments: {...}}]
        follow_up: Anything else?    # said after the answer; on_yes: the id to answer
        action: repeat               # repeat the last answer (`answer` if none)
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from omnivox.models.thinker.retrieval import words
from omnivox.models.thinker.tools import OpeningHours, zone

PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)(?:\.(\w+))?\}")
"""`{tool}` or `{tool.field}` in an answer: filled from that tool's result."""
_TOOL_ERROR = "Sorry, I can't check that right now."
_WAIT_REPLY = "Sure, go ahead."


class KnowledgeBaseError(ValueError):
    """An invalid knowledge-base file; the message names the file, entry and key."""


@dataclass(frozen=True, slots=True)
class ToolUse:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    questions: tuple[str, ...]
    answer: str
    keywords: tuple[str, ...] = ()
    topic: str | None = None
    tools: tuple[ToolUse, ...] = ()
    follow_up: str | None = None
    on_yes: str | None = None
    action: str | None = None


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    name: str
    entries: tuple[Entry, ...]
    greeting: str | None = None
    fallback: str | None = None
    min_score: float = 0.5
    context_min_score: float = 0.2
    tool_error: str = _TOOL_ERROR
    wait_reply: str = _WAIT_REPLY
    timezone: str | None = None
    opening_hours: OpeningHours | None = None
    synonyms: tuple[tuple[str, ...], ...] = ()
    source: str = "<memory>"


_TOP_KEYS = {
    "name",
    "greeting",
    "fallback",
    "min_score",
    "context_min_score",
    "tool_error",
    "wait_reply",
    "timezone",
    "opening_hours",
    "synonyms",
    "entries",
}
_ENTRY_KEYS = {
    "id",
    "questions",
    "keywords",
    "synonyms",
    "topic",
    "answer",
    "tools",
    "follow_up",
    "on_yes",
    "action",
}


def default_path() -> Path:
    """The shipped example, front_desk.yaml, read as package data from beside this module."""
    return Path(
        str(importlib.resources.files("omnivox.models.thinker.knowledge_base") / "front_desk.yaml")
    )


def load_knowledge_base(path: str | Path | None = None) -> KnowledgeBase:
    """Read and validate a knowledge base; KnowledgeBaseError says exactly what is wrong."""
    file = Path(path) if path is not None else default_path()
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as err:
        raise KnowledgeBaseError(f"{file}: cannot read the knowledge base: {err}") from None
    except yaml.YAMLError as err:
        raise KnowledgeBaseError(f"{file}: not valid YAML: {err}") from None
    return parse_knowledge_base(data, source=str(file))


class _Fields:
    """Typed reads from one YAML mapping; errors name the file and where in it."""

    def __init__(self, data: Any, source: str, where: str, allowed: set[str]) -> None:
        self.source, self.where = source, where
        if not isinstance(data, dict):
            raise self.error(f"must be a mapping with keys {', '.join(sorted(allowed))}")
        unknown = sorted(set(map(str, data)) - allowed)
        if unknown:
            raise self.error(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
        self.data: dict[str, Any] = data

    def error(self, problem: str) -> KnowledgeBaseError:
        return KnowledgeBaseError(f"{self.source}: {self.where}: {problem}")

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None and not required:
            return None
        if not _is_text(value):
            raise self.error(f"{key!r} must be a non-empty string")
        return str(value).strip()

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if value is not None and not isinstance(value, list):
            raise self.error(f"{key!r} must be a list")
        return value or []

    def texts(self, key: str) -> list[str]:
        out = []
        for j, value in enumerate(self.items(key)):
            if not _is_text(value):
                raise self.error(f"{key}[{j}] must be a non-empty string")
            out.append(str(value).strip())
        return out

    def score(self, key: str, default: float) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise self.error(f"{key!r} must be a number in (0, 1], got {value!r}")
        return float(value)

    def synonyms(self) -> list[tuple[str, ...]]:
        groups = []
        for j, group in enumerate(self.items("synonyms")):
            if (
                not isinstance(group, list)
                or len(group) < 2
                or not all(isinstance(w, str) and len(words(w)) == 1 for w in group)
            ):
                raise self.error(f"synonyms[{j}] must be a list of two or more single words")
            groups.append(tuple(group))
        return groups


def _is_text(value: Any) -> bool:
    # Numbers are accepted as text: YAML reads `answer: 42` as an int.
    return (
        isinstance(value, str | int | float)
        and not isinstance(value, bool)
        and bool(str(value).strip())
    )


def parse_knowledge_base(data: Any, *, source: str = "<memory>") -> KnowledgeBase:
    top = _Fields(data, source, "top level", _TOP_KEYS)
    timezone, hours = top.text("timezone"), None
    try:
        if timezone is not None:
            zone(timezone)
    except ValueError as err:
        raise top.error(f"'timezone': {err}") from None
    try:
        if top.data.get("opening_hours") is not None:
            if timezone is None:
                raise ValueError("needs a top-level 'timezone' to say where they apply")
            hours = OpeningHours.parse(top.data["opening_hours"], timezone)
    except ValueError as err:
        raise top.error(f"opening_hours: {err}") from None
    synonyms = top.synonyms()
    raw_entries = top.items("entries")
    if not raw_entries:
        raise top.error("'entries' must be a non-empty list")
    entries: list[Entry] = []
    for i, raw in enumerate(raw_entries):
        label = f"entries[{i}]" + (
            f" (id {raw['id']!r})" if isinstance(raw, dict) and "id" in raw else ""
        )
        fields = _Fields(raw, source, label, _ENTRY_KEYS)
        entry = _entry(fields)
        if any(e.id == entry.id for e in entries):
            raise fields.error(f"duplicate id {entry.id!r}")
        entries.append(entry)
        synonyms.extend(fields.synonyms())
    ids = {e.id for e in entries}
    for i, e in enumerate(entries):
        if e.on_yes is not None and e.on_yes not in ids:
            raise KnowledgeBaseError(
                f"{source}: entries[{i}] (id {e.id!r}): on_yes: no entry has id {e.on_yes!r}"
            )
    return KnowledgeBase(
        name=top.text("name", required=True) or "",
        entries=tuple(entries),
        greeting=top.text("greeting"),
        fallback=top.text("fallback"),
        min_score=top.score("min_score", 0.5),
        context_min_score=top.score("context_min_score", 0.2),
        tool_error=top.text("tool_error") or _TOOL_ERROR,
        wait_reply=top.text("wait_reply") or _WAIT_REPLY,
        timezone=timezone,
        opening_hours=hours,
        synonyms=tuple(synonyms),
        source=source,
    )


def _entry(f: _Fields) -> Entry:
    entry_id = f.text("id", required=True) or ""
    if not re.fullmatch(r"[A-Za-z0-9_]+", entry_id):
        raise f.error("'id' may use only letters, digits and underscores")
    questions = f.texts("questions")
    if not questions:
        raise f.error("'questions' must list at least one example phrasing")
    answer = f.text("answer", required=True) or ""
    tools = tuple(_tool_use(t, f, j) for j, t in enumerate(f.items("tools")))
    for m in PLACEHOLDER.finditer(answer):
        if m[1] not in {t.name for t in tools}:
            raise f.error(f"answer uses {m[0]} but 'tools' does not list {m[1]!r}")
    if {"{", "}"} & set(PLACEHOLDER.sub("", answer)):
        raise f.error("answer has a stray brace (placeholders look like {tool} or {tool.field})")
    action = f.text("action")
    if action not in (None, "repeat"):
        raise f.error(f"'action' must be 'repeat', not {action!r}")
    follow_up, on_yes = f.text("follow_up"), f.text("on_yes")
    if on_yes is not None and follow_up is None:
        raise f.error("'on_yes' needs a 'follow_up' question to say yes to")
    return Entry(
        id=entry_id,
        questions=tuple(questions),
        answer=answer,
        keywords=tuple(f.texts("keywords")),
        topic=f.text("topic"),
        tools=tools,
        follow_up=follow_up,
        on_yes=on_yes,
        action=action,
    )


def _tool_use(value: Any, f: _Fields, j: int) -> ToolUse:
    if isinstance(value, str) and value.strip():
        return ToolUse(value.strip())
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        arguments = value.get("arguments") or {}
        if set(value) - {"name", "arguments"} or not isinstance(arguments, dict):
            raise f.error(f"tools[{j}] must be {{name: ..., arguments: {{...}}}}")
        return ToolUse(value["name"], dict(arguments))
    raise f.error(f"tools[{j}] must be a tool name or {{name: ..., arguments: {{...}}}}")
