"""Retrieval-augmented answers: a `before_think` intervention over a folder of documents.

At start-up every Markdown (.md, .markdown) and text (.txt) file under the folder is
split into passages: Markdown by heading ("#" style), each section's paragraphs merged
up to `max_chars`; text by paragraph (with no headings, a paragraph is the topic). Each
user turn retrieves the top `k` passages scoring at least `min_score` with the
retriever the knowledge-base Thinker uses (BM25 with fuzzy matching of misrecognised
words; models/thinker/retrieval.py), puts their text in `ThinkRequest.context` and lists
them as `sources` for the page. Headings take part in the match but not in the passage
text: a Thinker may speak a passage as it is.

The folder is read once; restart to pick up edits.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from omnivox.agent.interventions.chain import OnOverrun, Source, ThinkContext
from omnivox.models.thinker.retrieval import Passage, Retriever

SUFFIXES = (".md", ".markdown", ".txt")

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_RULE = re.compile(r"^\s*([=*_-])(\s*\1){2,}\s*$")  # --- *** ===, as a blank line
_FENCE = re.compile(r"^\s*(```|~~~)")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_INLINE = [
    (re.compile(r"<!--.*?-->", re.S), ""),
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), ""),  # images
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: keep the text
    (re.compile(r"(\*\*|__|`)"), ""),
    (re.compile(r"(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)"), ""),  # *emphasis*, _emphasis_
]


@dataclass(frozen=True, slots=True)
class DocPassage:
    title: str
    """The document's title and the section's heading path, "Guide › Parking"."""
    path: str
    """The file, relative to the folder."""
    text: str


def plain(markdown: str) -> str:
    """Inline Markdown to text a voice can read."""
    for pattern, replacement in _INLINE:
        markdown = pattern.sub(replacement, markdown)
    return " ".join(markdown.split())


def _paragraphs(lines: Sequence[str]) -> list[str]:
    """Paragraphs of a section; each list item is a sentence of its own."""
    out: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if _BULLET.match(line):
            line = _BULLET.sub("", line)
            if current and not current[-1].rstrip().endswith((".", "!", "?", ":")):
                current[-1] += "."
        if line.strip():
            current.append(line.strip())
        elif current:
            text = plain(" ".join(current))
            if text:
                out.append(text)
            current = []
    return out


def _pack(paragraphs: Sequence[str], max_chars: int) -> list[str]:
    """Paragraphs merged into passages of at most max_chars (a longer paragraph is split
    at sentence ends)."""
    pieces: list[str] = []
    for p in paragraphs:
        if len(p) <= max_chars:
            pieces.append(p)
        else:
            pieces.extend(s for s in re.split(r"(?<=[.!?])\s+", p) if s)
    packed: list[str] = []
    for piece in pieces:
        if packed and len(packed[-1]) + 1 + len(piece) <= max_chars:
            packed[-1] += " " + piece
        else:
            packed.append(piece)
    return packed


def split_document(text: str, *, path: str, max_chars: int = 800) -> list[DocPassage]:
    """A Markdown or text document as passages (see the module docstring)."""
    stem = Path(path).stem.replace("_", " ").replace("-", " ").strip().capitalize()
    if not Path(path).suffix.lower().startswith((".md", ".markdown")):
        # No headings to say where a topic ends: each paragraph is a passage.
        pieces = [piece for p in _paragraphs(text.splitlines()) for piece in _pack([p], max_chars)]
        return [DocPassage(stem, path, piece) for piece in pieces]
    lines = text.splitlines()
    if lines and lines[0].strip() == "---":  # YAML front matter
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), 0)
        lines = lines[end + 1 :]
    sections: list[tuple[list[str], list[str]]] = [([], [])]  # (heading path, body lines)
    fenced = False
    for line in lines:
        if _FENCE.match(line):
            fenced = not fenced  # code is not prose: left out
        elif fenced:
            continue
        elif heading := _HEADING.match(line):
            level = len(heading[1])
            parents = sections[-1][0][: level - 1]
            padded = [*parents, *[""] * (level - 1 - len(parents))]
            sections.append(([*padded, plain(heading[2])], []))
        else:
            sections[-1][1].append("" if _RULE.match(line) else line)
    doc_title = next((h[0] for h, _ in sections if h and h[0]), stem)
    out: list[DocPassage] = []
    for headings, body in sections:
        trail = [h for h in headings if h]
        if trail and trail[0] == doc_title:
            trail = trail[1:]
        title = " › ".join([doc_title, *trail])
        for p in _pack(_paragraphs(body), max_chars):
            out.append(DocPassage(title, path, p))
    return out


def load_folder(folder: str | Path, *, max_chars: int = 800) -> list[DocPassage]:
    """Every passage of every document under `folder`; ValueError when there are none."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"no such folder {str(folder)!r} (relative to {Path.cwd()})")
    passages: list[DocPassage] = []
    for file in sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ValueError(f"cannot read {file}: {err}") from None
        passages.extend(
            split_document(text, path=file.relative_to(root).as_posix(), max_chars=max_chars)
        )
    if not passages:
        raise ValueError(f"no text in {str(folder)!r} (looked for {', '.join(SUFFIXES)} files)")
    return passages


class DocumentRetrieval:
    """RAG over document passages, as a `before_think` intervention."""

    def __init__(
        self,
        passages: Sequence[DocPassage],
        *,
        k: int = 3,
        min_score: float = 0.2,
        name: str = "rag",
        budget_ms: float | None = None,
        on_overrun: OnOverrun = "skip",
    ) -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if not 0 <= min_score <= 1:
            raise ValueError(f"min_score must be within [0, 1], got {min_score}")
        self.name = name
        self.budget_ms = budget_ms
        self.on_overrun = on_overrun
        self.k = k
        self.min_score = min_score
        self.passages = list(passages)
        self._retriever = Retriever(
            [Passage(str(i), f"{p.title}. {p.text}") for i, p in enumerate(self.passages)]
        )

    def search(self, query: str) -> list[tuple[DocPassage, float]]:
        """The best passages for `query` (at most k, each scoring at least min_score)."""
        hits = self._retriever.search(query, self.k) if query.strip() else []
        return [
            (self.passages[int(h.passage.id)], h.score) for h in hits if h.score >= self.min_score
        ]

    async def before_think(self, ctx: ThinkContext) -> ThinkContext | None:
        found = self.search(ctx.user_text)
        if not found:
            return None
        return dataclasses.replace(
            ctx,
            context=(*ctx.context, *(p.text for p, _ in found)),
            sources=(*ctx.sources, *(Source(p.title, p.path, s) for p, s in found)),
        )
