"""The embedded Thinker: answers from a YAML knowledge base, with retrieval and tools.

No model, no network: the last user message is matched against each entry's example
questions and keywords (retrieval.py, robust to recognition errors) and the answer is
streamed in word groups, as an LLM would. It keeps to the protocol: an entry that needs a
tool yields `ToolCallsRequested`, and the answer is filled from the results next call.

The file format, and the checks made when it is read, are in parser.py.

Conversation, kept simple: a question leaning on the previous turn ("is it heated",
"how much is it", "what about Sunday") is answered from the previous answer if that
already covers it, else searched again with the previous question as weaker context;
"yes" after a `follow_up` answers `on_yes`. With no good match, passages interventions
put in `request.context` are searched before falling back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from omnivox.models.thinker.base import (
    Message,
    TextDelta,
    ThinkerEvent,
    ThinkRequest,
    ToolCall,
    ToolCallsRequested,
)
from omnivox.models.thinker.knowledge_base.parser import (
    PLACEHOLDER,
    Entry,
    KnowledgeBaseError,
    load_knowledge_base,
)
from omnivox.models.thinker.retrieval import STOPWORDS, Passage, Retriever, stem, words
from omnivox.models.thinker.tools import (
    Now,
    ToolArgumentError,
    ToolRegistry,
    add_builtin_tools,
    registry,
    utc_now,
)
from omnivox.models.turn.wording import after_asking_to_wait, asks_to_wait

log = logging.getLogger(__name__)

_ANAPHORA = frozenset({"it", "its", "that", "this", "they", "them", "those", "these", "there"})
_YES = frozenset("yes yeah yep yup sure please ok okay absolutely definitely alright".split())
_YES_FILLER = frozenset(
    "oh uh um that would be great i d like to go ahead thanks thank you of "
    "course s nice all right".split()
)
_INTERRUPTED = "…"  # how History marks a reply the user cut off
_WORDS_PER_DELTA = 3


@dataclass(frozen=True, slots=True)
class Match:
    """Which entry answers the last user message, and how it was found."""

    entry: Entry | None
    score: float
    how: Literal["search", "follow_up", "yes", "none"]


class KnowledgeBaseThinker:
    """Answers from a knowledge base. `tools` is its registry (built-ins, is_open_now
    for the KB's hours, and the application tools of `tools.registry`) for the Reply."""

    name = "knowledge_base"
    takes_images = False
    takes_audio = False

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        tools: ToolRegistry | None = None,
        now: Now = utc_now,
    ) -> None:
        """`path` None loads the shipped front-desk example. `tools` replaces the default
        registry; `now` is the clock the built-in tools read (tests pin it)."""
        self.kb = load_knowledge_base(path)
        if tools is None:
            tools = ToolRegistry()
            add_builtin_tools(
                tools, now=now, timezone=self.kb.timezone, hours=self.kb.opening_hours
            )
            tools.include(registry)
        self.tools = tools
        self._check_tools()
        self.greeting = self.kb.greeting
        self.fallback = self.kb.fallback or _fallback_line(self.kb.entries)
        self._entries = {e.id: e for e in self.kb.entries}
        self._retriever = Retriever(
            [Passage(e.id, text) for e in self.kb.entries for text in (*e.questions, *e.keywords)],
            synonyms=self.kb.synonyms,
            b=0.0,  # phrasings are a few words long: their length says nothing
        )

    def _check_tools(self) -> None:
        for i, e in enumerate(self.kb.entries):
            for use in e.tools:
                where = f"{self.kb.source}: entries[{i}] (id {e.id!r}): tools"
                tool = self.tools.get(use.name)
                if tool is None:
                    known = ", ".join(self.tools.names()) or "none"
                    raise KnowledgeBaseError(f"{where}: unknown tool {use.name!r} (known: {known})")
                try:
                    tool.bind(use.arguments)
                except ToolArgumentError as err:
                    raise KnowledgeBaseError(f"{where}: {use.name}: {err}") from None

    # ---- matching --------------------------------------------------------------------

    def match(self, messages: Sequence[Message]) -> Match:
        """The entry that answers the last user message of `messages`, given the turns
        before it. Deterministic, so both halves of a tool round agree."""
        idx = _last_index(messages, "user")
        if idx is None:
            return Match(None, 0.0, "none")
        query, before = after_asking_to_wait(messages[idx].content), messages[:idx]
        heard, _ = _last_answer(before)
        if heard is not None and _is_yes(query):
            for e in self.kb.entries:
                if e.on_yes and e.follow_up and heard.endswith(e.follow_up):
                    return Match(self._entries[e.on_yes], 1.0, "yes")
        alone = self._best(query)
        previous = _last_index(before, "user")
        if (
            previous is not None
            and _leans_on_previous(query)
            and not (alone.entry is not None and alone.entry.topic is None)
        ):
            # "is it heated" after the pool: the last answer already says so.
            last = self.match(before[: previous + 1]).entry
            asked = {stem(w) for w in words(query) if w not in STOPWORDS}
            if last is not None and last.topic and asked and asked <= _stems(last.answer):
                return Match(last, 1.0, "follow_up")
            # "how much is it" after yoga: search again with the previous question.
            with_context = self._best(query, context=before[previous].content)
            if with_context.entry is not None and with_context.entry.topic is not None:
                return Match(with_context.entry, with_context.score, "follow_up")
        return alone

    def _best(self, query: str, context: str = "") -> Match:
        hits = self._retriever.search(query, 1, context=context)
        score = hits[0].score if hits else 0.0
        if score < self.kb.min_score:
            return Match(None, score, "none")
        return Match(self._entries[hits[0].passage.id], score, "search")

    # ---- answering -------------------------------------------------------------------

    async def stream(self, request: ThinkRequest) -> AsyncGenerator[ThinkerEvent, None]:
        """Yield the answer in small word groups, or first a ToolCallsRequested."""
        messages = request.messages
        m = self.match(messages)
        idx = _last_index(messages, "user")
        results = _tool_results(messages[idx + 1 :] if idx is not None else [])
        entry = m.entry
        if idx is None:
            text = self.greeting or self.fallback
        elif asks_to_wait(messages[idx].content):
            # "Wait, stop." that ended a turn: not a question about bus stops.
            entry, text = None, self.kb.wait_reply
        elif entry is None:
            text = self._from_context(messages[idx].content, request.context) or self.fallback
        elif entry.action == "repeat":
            text = self._repeat(messages[:idx]) or entry.answer
        elif entry.tools and not results:
            available = {spec.name for spec in request.tools}
            missing = [u.name for u in entry.tools if u.name not in available]
            if not missing:
                yield ToolCallsRequested(
                    [
                        ToolCall(f"call_{uuid.uuid4().hex[:16]}", u.name, dict(u.arguments))
                        for u in entry.tools
                    ]
                )
                return
            log.warning("entry %s needs tools the request does not offer: %s", entry.id, missing)
            text = self.kb.tool_error
        elif entry.tools:
            text = self._fill(entry, results)
        else:
            text = entry.answer
        if entry is not None and entry.follow_up and text != self.kb.tool_error:
            text = f"{text} {entry.follow_up}"
        for piece in _pieces(text):
            yield TextDelta(piece)
            await asyncio.sleep(0)  # a cancellation point between pieces, as a real stream

    def _fill(self, entry: Entry, results: dict[str, str]) -> str:
        """The answer template filled from the tool results; the tool_error line when a
        result is missing, is an error, or lacks what the template needs."""

        def value(m: re.Match[str]) -> str:
            result = parsed[m[1]] if m[2] is None else parsed[m[1]][m[2]]
            if result is None or isinstance(result, dict | list):
                raise LookupError(f"nothing to say for {m[0]}")
            return str(result)

        try:
            parsed = {u.name: json.loads(results[u.name]) for u in entry.tools}
            for name, result in parsed.items():
                if isinstance(result, dict) and "error" in result:
                    raise LookupError(f"{name}: {result['error']}")
            return PLACEHOLDER.sub(value, entry.answer)
        except (LookupError, ValueError, TypeError) as err:  # TypeError: "x"["field"]
            log.warning("entry %s: cannot fill the answer: %s", entry.id, err)
            return self.kb.tool_error

    def _repeat(self, before: Sequence[Message]) -> str | None:
        heard, interrupted = _last_answer(before)
        if interrupted:
            # Cut off last time: say the whole answer if it is a fixed one that began so.
            idx = _last_index(before, "user")
            earlier = self.match(before[: idx + 1]).entry if idx is not None else None
            if earlier is not None and not earlier.tools and earlier.answer.startswith(heard or ""):
                return earlier.answer
        return heard

    def _from_context(self, query: str, context: Sequence[str]) -> str | None:
        """The opening of the context passage (from RAG) that best matches the query."""
        if not context:
            return None
        hits = Retriever([Passage(str(i), p) for i, p in enumerate(context)]).search(query, 1)
        if not hits or hits[0].score < self.kb.context_min_score:
            return None
        return _opening(hits[0].passage.text)


def _fallback_line(entries: Sequence[Entry]) -> str:
    """ "Sorry, I don't know that, but I can help with A, B, or C." from the topics."""
    counts = Counter(e.topic for e in entries if e.topic)
    top = {t for t, _ in counts.most_common(4)}
    topics = [t for t in dict.fromkeys(e.topic for e in entries) if t in top]
    if not topics:
        return "Sorry, I don't know that one."
    listed = topics[0] if len(topics) == 1 else f"{', '.join(topics[:-1])}, or {topics[-1]}"
    return f"Sorry, I don't know that, but I can help with {listed}."


def _opening(text: str) -> str:
    """The first sentence of a passage, or the first two if the first is short."""
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    return " ".join(sentences[:2] if len(sentences[0].split()) < 8 else sentences[:1])


def _pieces(text: str) -> list[str]:
    """Word groups whose concatenation is `text`: the shape of an LLM's token stream."""
    tokens = re.findall(r"\S+\s*", text)
    n = _WORDS_PER_DELTA
    return ["".join(tokens[i : i + n]) for i in range(0, len(tokens), n)]


def _last_index(messages: Sequence[Message], role: str) -> int | None:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == role:
            return i
    return None


def _last_answer(messages: Sequence[Message]) -> tuple[str | None, bool]:
    """The last thing the assistant said (without History's interruption mark), and
    whether the user cut it off."""
    for m in reversed(messages):
        if m.role == "assistant" and m.content.strip():
            text = m.content.strip()
            interrupted = text.endswith(_INTERRUPTED)
            return text.removesuffix(_INTERRUPTED).strip() or None, interrupted
    return None, False


def _tool_results(tail: Sequence[Message]) -> dict[str, str]:
    """Tool name -> result content, from the messages after the user's turn."""
    names = {c.id: c.name for m in tail if m.role == "assistant" for c in m.tool_calls}
    return {
        (m.name or names.get(m.tool_call_id or "", "")): m.content for m in tail if m.role == "tool"
    }


def _leans_on_previous(query: str) -> bool:
    """Whether a question needs the previous turn: "how much is it", "and on Sunday?"."""
    tokens = words(query)
    return (
        bool(_ANAPHORA.intersection(tokens))
        or tokens[:1] == ["and"]
        or (len(tokens) >= 2 and tokens[1] == "about" and tokens[0] in ("what", "how"))
    )


def _stems(text: str) -> set[str]:
    return {stem(w) for w in words(text)}


def _is_yes(query: str) -> bool:
    tokens = set(words(query))
    return bool(tokens & _YES) and tokens <= _YES | _YES_FILLER
