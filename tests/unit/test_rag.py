"""RAG over a documents folder: splitting, retrieval, and a Reply that uses the passages."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from omnivox.agent.events import Event
from omnivox.agent.interventions.chain import InterventionChain, ThinkContext, ToolsIntervention
from omnivox.agent.interventions.rag import DocumentRetrieval, load_folder, plain, split_document
from omnivox.agent.reply.reply import Reply, ReplyDeps
from omnivox.media.clock import VirtualClock
from omnivox.models.talker.espeak import EspeakTalker
from omnivox.models.thinker.base import Message
from omnivox.models.thinker.knowledge_base import KnowledgeBaseThinker

GUIDE = """---
owner: front desk
---
# Guest guide

Welcome to Harbor Point.

## Pets

Only assistance dogs are allowed inside. Other dogs may wait on the terrace.

- Keep dogs on a leash
- Clean up after them

### Birds

No birds, please.

```
# not a heading
code is left out
```

## Room *hire*

The [Lakeview Hall](https://example.com/hall) rents for **ninety dollars** an hour.
"""


def write_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "guide.md").write_text(GUIDE, encoding="utf-8")
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "faq.txt").write_text(
        "Lockers take a one dollar coin.\n\nThe sauna is for adults only.\n", encoding="utf-8"
    )
    (folder / "image.png").write_bytes(b"\x89PNG")
    return folder


def test_markdown_is_split_by_heading_and_made_speakable() -> None:
    passages = split_document(GUIDE, path="guide.md")
    assert [(p.title, p.text) for p in passages] == [
        ("Guest guide", "Welcome to Harbor Point."),
        (
            "Guest guide › Pets",
            "Only assistance dogs are allowed inside. Other dogs may wait on the terrace. "
            "Keep dogs on a leash. Clean up after them",
        ),
        ("Guest guide › Pets › Birds", "No birds, please."),
        ("Guest guide › Room hire", "The Lakeview Hall rents for ninety dollars an hour."),
    ]


def test_long_sections_are_packed_into_passages_of_bounded_size() -> None:
    body = " ".join(f"Sentence number {i} is here." for i in range(60))
    passages = split_document(f"# T\n\n{body}\n\nShort tail.\n", path="t.md", max_chars=200)
    assert len(passages) > 5 and all(len(p.text) <= 200 for p in passages)
    assert " ".join(p.text for p in passages) == f"{body} Short tail."


def test_plain_strips_inline_markdown() -> None:
    assert plain("**Bold**, _it_ and `code` <!-- note -->![x](y.png)") == "Bold, it and code"


def test_a_folder_is_read_recursively(tmp_path: Path) -> None:
    passages = load_folder(write_docs(tmp_path / "docs"))
    assert {p.path for p in passages} == {"guide.md", "sub/faq.txt"}
    faq = [p for p in passages if p.path == "sub/faq.txt"]
    assert [(p.title, p.text) for p in faq] == [
        ("Faq", "Lockers take a one dollar coin."),
        ("Faq", "The sauna is for adults only."),
    ]


def test_a_missing_or_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such folder"):
        load_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no text in .*\.md"):
        load_folder(tmp_path / "empty")


async def test_before_think_adds_passages_and_sources(tmp_path: Path) -> None:
    rag = DocumentRetrieval(load_folder(write_docs(tmp_path / "docs")), k=2, min_score=0.3)
    ctx = ThinkContext("r1", (Message("user", "are dogs allowed inside"),))
    out = await rag.before_think(ctx)
    assert out is not None
    assert out.context[0].startswith("Only assistance dogs are allowed inside.")
    assert out.sources[0].title == "Guest guide › Pets" and out.sources[0].path == "guide.md"
    assert all(s.score >= 0.3 for s in out.sources) and len(out.sources) <= 2
    # Nothing relevant: the context is left as it is.
    assert await rag.before_think(ThinkContext("r2", (Message("user", "xylophone"),))) is None


async def test_a_reply_speaks_from_the_documents_and_lists_sources(tmp_path: Path) -> None:
    """The real KB Thinker has no entry on saunas, so it answers from the RAG context."""
    events: list[Event] = []
    clock = VirtualClock()
    kb = KnowledgeBaseThinker(None)
    rag = DocumentRetrieval(load_folder(write_docs(tmp_path / "docs")))
    chain = InterventionChain([rag, ToolsIntervention([kb.tools])], clock, print)
    deps = ReplyDeps(
        thinker=kb, talker=EspeakTalker(), clock=clock, emit=events.append, interventions=chain
    )
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    fut.set_result("who can use the sauna")
    reply = Reply("r1", deps, [], transcript=fut)
    reply.start()
    for _ in range(3000):
        if reply.finished:
            break
        reply.pop_frame()
        await asyncio.sleep(0.001)
    assert reply.finished
    spoken = " ".join(e.data["text"] for e in events if e.type == "reply_text")
    assert spoken == "The sauna is for adults only."
    (sources,) = [e for e in events if e.type == "sources"]
    assert sources.data["reply_id"] == "r1"
    assert sources.data["items"][0] == {
        "title": "Faq",
        "path": "sub/faq.txt",
        "score": sources.data["items"][0]["score"],
    }
    assert "rag" in reply.timings.metrics()["interventions"]
