"""The embedded Thinker over a YAML knowledge base: `parser` reads and validates the file
format, `thinker` answers from it; front_desk.yaml here is the shipped example."""

from omnivox.models.thinker.knowledge_base.parser import (
    Entry,
    KnowledgeBase,
    KnowledgeBaseError,
    ToolUse,
    default_path,
    load_knowledge_base,
    parse_knowledge_base,
)
from omnivox.models.thinker.knowledge_base.thinker import KnowledgeBaseThinker, Match

__all__ = [
    "Entry",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "KnowledgeBaseThinker",
    "Match",
    "ToolUse",
    "default_path",
    "load_knowledge_base",
    "parse_knowledge_base",
]
