"""The `interventions:` section of agent.yaml: validation, and building the chain's items.

    interventions:
      - rag: {folder: docs, k: 3, min_score: 0.2}
      - safety: {blocklist: [...], patterns: [...], redact: [phone, card],
                 blocked_reply: "...", classifier: {class: "pkg.mod:Model", options: {}}}
      - tools: {import: [examples.interventions.my_tools]}
      - python: {class: "pkg.mod:MyIntervention", options: {...}}

Each item is a one-key mapping, run in list order. Every kind also takes `name` (default:
the kind; names are unique), `budget_ms` (default: per hook, see interventions.py) and
`on_overrun` (skip | wait). Paths are relative to the working directory, like
`thinker.knowledge_base`; module paths are imported with the working directory on
`sys.path` (as uvicorn does), so a project's own modules work from its root.

`parse_interventions` checks the shape (no I/O, at config load); `build_interventions`
reads folders and imports modules. Both raise InterventionConfigError naming the key,
e.g. "interventions[1].safety.redact[0]: unknown kind 'email' (use card, phone)".
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from omnivox.agent.interventions.chain import HOOKS, Intervention, ToolsIntervention
from omnivox.agent.interventions.rag import DocumentRetrieval, load_folder
from omnivox.agent.interventions.safety import (
    DEFAULT_BLOCKED_REPLY,
    REDACTORS,
    SafetyFilter,
    TextClassifier,
    compile_pattern,
)
from omnivox.models.thinker.tools import registry as app_tools

if TYPE_CHECKING:
    from omnivox.agent.reply.reply import ToolRunner


class InterventionConfigError(ValueError):
    """An unusable `interventions` entry; the message starts with its key path."""


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str | None = Field(None, min_length=1)
    budget_ms: float | None = Field(None, gt=0)
    on_overrun: Literal["skip", "wait"] = "skip"


class ClassRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    class_: str = Field(alias="class", pattern=r"^[\w.]+:[\w.]+$")
    """"package.module:Name"."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments for the class."""


class RagOptions(_Options):
    folder: str
    k: int = Field(3, ge=1, le=20)
    min_score: float = Field(0.2, ge=0.0, le=1.0)
    max_chars: int = Field(800, ge=100)


class SafetyOptions(_Options):
    blocklist: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    redact: list[str] = Field(default_factory=lambda: list(REDACTORS))
    blocked_reply: str = Field(DEFAULT_BLOCKED_REPLY, min_length=1)
    classifier: ClassRef | None = None

    @field_validator("redact")
    @classmethod
    def _kinds(cls, kinds: list[str]) -> list[str]:
        for i, kind in enumerate(kinds):
            if kind not in REDACTORS:
                raise _AtIndex(i, f"unknown kind {kind!r} (use {', '.join(sorted(REDACTORS))})")
        return kinds

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, patterns: list[str]) -> list[str]:
        for i, p in enumerate(patterns):
            try:
                compile_pattern(p)
            except ValueError as err:
                raise _AtIndex(i, str(err)) from None
        return patterns


class ToolsOptions(_Options):
    import_: list[str] = Field(default_factory=list, alias="import")
    """Modules whose @tool functions (models/thinker/tools/) to offer the Thinker."""


class PythonOptions(_Options):
    class_: str = Field(alias="class", pattern=r"^[\w.]+:[\w.]+$")
    options: dict[str, Any] = Field(default_factory=dict)


KINDS: dict[str, type[_Options]] = {
    "rag": RagOptions,
    "safety": SafetyOptions,
    "tools": ToolsOptions,
    "python": PythonOptions,
}


class _AtIndex(ValueError):
    """A list item's error: the message, and which item (for the key path)."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


def _path(loc: Sequence[int | str]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def parse_interventions(specs: Any) -> list[tuple[str, _Options]]:
    """(kind, options) per entry, checked; names are filled in and unique."""
    if not isinstance(specs, list):
        raise InterventionConfigError("interventions: must be a list, e.g. [{safety: {}}]")
    parsed: list[tuple[str, _Options]] = []
    names: set[str] = set()
    for i, spec in enumerate(specs):
        where = f"interventions[{i}]"
        if not isinstance(spec, dict) or len(spec) != 1:
            raise InterventionConfigError(
                f"{where}: must be a mapping with one key, the kind ({', '.join(KINDS)})"
            )
        ((kind, options),) = spec.items()
        if kind not in KINDS:
            raise InterventionConfigError(
                f"{where}: unknown intervention {kind!r} (available: {', '.join(KINDS)})"
            )
        try:
            model = KINDS[kind].model_validate(options if options is not None else {})
        except ValidationError as err:
            raise InterventionConfigError(_describe(err, f"{where}.{kind}")) from None
        name = model.name or kind
        if name in names or (name == "tools" and kind != "tools"):
            raise InterventionConfigError(
                f"{where}.{kind}: duplicate name {name!r} (give it another `name`)"
            )
        names.add(name)
        parsed.append((kind, model.model_copy(update={"name": name})))
    return parsed


def _describe(err: ValidationError, where: str) -> str:
    e = err.errors()[0]
    loc = list(e["loc"])
    cause = (e.get("ctx") or {}).get("error")
    if isinstance(cause, _AtIndex):
        loc.append(cause.index)
        message = str(cause)
    elif e["type"] == "extra_forbidden":
        message = "unknown key"
    elif e["type"] == "model_type":
        message = "must be a mapping"
    else:
        message = e["msg"]
    return f"{where}{_path(loc)}: {message}"


def import_tool_modules(specs: Any) -> None:
    """Import the `tools.import` modules, so their @tool functions are registered. Call
    before building a Thinker that checks its tools (the knowledge-base Thinker)."""
    for i, (kind, options) in enumerate(parse_interventions(specs)):
        if isinstance(options, ToolsOptions):
            for j, module in enumerate(options.import_):
                _import(module, f"interventions[{i}].{kind}.import[{j}]")


def build_interventions(
    specs: Any, *, thinker_tools: ToolRunner | None = None
) -> list[Intervention]:
    """The configured interventions, in order. Tool calls are run by the `tools` entry,
    or, when there is none, by one appended at the end: the Thinker's own tools
    (`thinker_tools`) and those registered with @tool."""
    built: list[Intervention] = []
    has_tools = False
    for i, (kind, options) in enumerate(parse_interventions(specs)):
        where = f"interventions[{i}].{kind}"
        name = options.name or kind
        if isinstance(options, RagOptions):
            try:
                passages = load_folder(options.folder, max_chars=options.max_chars)
            except ValueError as err:
                raise InterventionConfigError(f"{where}.folder: {err}") from None
            built.append(
                DocumentRetrieval(
                    passages,
                    k=options.k,
                    min_score=options.min_score,
                    name=name,
                    budget_ms=options.budget_ms,
                    on_overrun=options.on_overrun,
                )
            )
        elif isinstance(options, SafetyOptions):
            built.append(
                SafetyFilter(
                    blocklist=options.blocklist,
                    patterns=options.patterns,
                    redact=options.redact,
                    blocked_reply=options.blocked_reply,
                    classifier=_classifier(options, where),
                    name=name,
                    budget_ms=options.budget_ms,
                    on_overrun=options.on_overrun,
                )
            )
        elif isinstance(options, ToolsOptions):
            for j, module in enumerate(options.import_):
                _import(module, f"{where}.import[{j}]")
            built.append(_tools(thinker_tools, options))
            has_tools = True
        elif isinstance(options, PythonOptions):
            item = _instance(options.class_, options.options, where)
            if not any(callable(getattr(item, h, None)) for h in HOOKS):
                raise InterventionConfigError(
                    f"{where}.class: {options.class_!r} has none of the hooks {', '.join(HOOKS)}"
                )
            item.name = name
            for key in ("budget_ms", "on_overrun"):
                if key in options.model_fields_set:  # else the class's own default
                    setattr(item, key, getattr(options, key))
            built.append(item)
    if not has_tools:
        built.append(_tools(thinker_tools, None))
    return built


def _tools(thinker_tools: ToolRunner | None, options: ToolsOptions | None) -> ToolsIntervention:
    runners: list[ToolRunner] = [thinker_tools] if thinker_tools is not None else []
    item = ToolsIntervention([*runners, app_tools])
    if options is not None:
        item.name = options.name or "tools"
        item.budget_ms = options.budget_ms
        item.on_overrun = options.on_overrun
    return item


def _classifier(options: SafetyOptions, where: str) -> TextClassifier | None:
    ref = options.classifier
    if ref is None:
        return None
    model = _instance(ref.class_, ref.options, f"{where}.classifier")
    if not callable(getattr(model, "classify", None)):
        raise InterventionConfigError(
            f"{where}.classifier.class: {ref.class_!r} has no async classify(text) method"
        )
    return cast(TextClassifier, model)


def _import(module: str, where: str) -> Any:
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        return importlib.import_module(module)
    except Exception as err:  # any error in the user's module is a config error here
        raise InterventionConfigError(
            f"{where}: cannot import {module!r} ({type(err).__name__}: {err})"
        ) from None


def _instance(ref: str, options: dict[str, Any], where: str) -> Any:
    """`Class(**options)` for "package.module:Class"."""
    module_name, _, attr = ref.partition(":")
    obj: Any = _import(module_name, f"{where}.class")
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise InterventionConfigError(f"{where}.class: {module_name!r} has no {attr!r}")
    factory: Callable[..., Any] = obj
    try:
        return factory(**options)
    except Exception as err:
        raise InterventionConfigError(
            f"{where}.options: {ref} could not be made ({type(err).__name__}: {err})"
        ) from None
