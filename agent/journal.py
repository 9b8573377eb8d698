"""The session journal: every finished turn, appended to a per-session JSONL file.

A consumer of the session's event stream, so every transport gets it. `TurnAssembler`
is pure: fed events, it returns the journal records they complete (a turn is finished
when its reply is done, cancelled, replaced or the session ends). `Journal` writes them
and flushes after each batch, so a `kill -9` loses no finished turn.

Records, one JSON object a line:
  {"type": "session_started", "session_id", "t_ms", "at"}
  {"type": "turn", "turn", "reply_id", "start_ms", "end_ms", "user", "said", "heard",
   "outcome", "cancel", "decisions", "metrics", "tools", "sources", "errors", "at"}
  {"type": "session_ended", "reason", "turns", "t_ms", "at"}
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omnivox.agent.events import Event, EventType

log = logging.getLogger(__name__)

SUFFIX = ".jsonl"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass
class _Turn:
    reply_id: str
    start_ms: float
    user: str | None = None
    said: list[str] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    sources: list[Any] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    blocked_by: str | None = None

    def record(self, number: int, end_ms: float, outcome: str, **extra: Any) -> dict[str, Any]:
        return {
            "type": "turn",
            "turn": number,
            "reply_id": self.reply_id,
            "start_ms": round(self.start_ms, 1),
            "end_ms": round(end_ms, 1),
            "user": self.user,
            "said": " ".join(self.said),
            "heard": extra.pop("heard", None),
            "outcome": outcome,
            "cancel": extra.pop("cancel", None),
            "blocked_by": self.blocked_by,
            "decisions": self.decisions,
            "metrics": self.metrics,
            "tools": self.tools,
            "sources": self.sources,
            "errors": self.errors,
        }


class TurnAssembler:
    """Events in, finished journal records out. A turn is one reply (a greeting has no
    user words) with what led to it: the decisions and errors since the previous turn."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.turns = 0
        self._open: _Turn | None = None
        self._decisions: list[dict[str, Any]] = []
        self._errors: list[dict[str, Any]] = []

    def feed(self, event: Event) -> list[dict[str, Any]]:
        d, t = event.data, event.t_ms
        out: list[dict[str, Any]] = []
        turn = self._open
        match event.type:
            case EventType.SESSION_STARTED:
                out.append({"type": "session_started", "session_id": self.session_id, "t_ms": t})
            case EventType.REPLY_START:
                if turn is not None:  # a reply still running is dropped for the new one
                    out.append(self._close(t, "replaced"))
                self._open = _Turn(str(d.get("reply_id")), t, decisions=self._decisions)
                self._open.errors, self._errors = self._errors, []
                self._decisions = []
            case EventType.TRANSCRIPT_FINAL if turn is not None and turn.user is None:
                turn.user = d.get("text")
            case EventType.REPLY_TEXT if turn is not None:
                turn.said.append(str(d.get("text", "")))
            case EventType.REPLY_BLOCKED if turn is not None:
                turn.blocked_by = d.get("by")
            case EventType.TURN_METRICS if turn is not None:
                turn.metrics = {k: v for k, v in d.items() if k != "reply_id"}
            case EventType.TOOL_CALL if turn is not None:
                turn.tools.append({k: v for k, v in d.items() if k != "reply_id"})
            case EventType.SOURCES if turn is not None:
                turn.sources.extend(d.get("items", []))
            case EventType.TURN_DECISION:
                decision = {"t_ms": t, **d}
                (turn.decisions if turn is not None else self._decisions).append(decision)
            case EventType.ERROR:
                error = {"t_ms": t, **d}
                (turn.errors if turn is not None else self._errors).append(error)
            case EventType.REPLY_DONE if self._is_open(d):
                out.append(self._close(t, "done", heard=d.get("heard_text")))
            case EventType.REPLY_CANCELLED if self._is_open(d):
                cancel = {k: d.get(k) for k in ("reason", "played_ms", "heard_ms", "stop_ms")}
                out.append(self._close(t, "cancelled", heard=d.get("heard_text"), cancel=cancel))
            case EventType.SESSION_ENDED:
                if turn is not None:
                    out.append(self._close(t, "session_ended"))
                ended = {"type": "session_ended", "reason": d.get("reason"), "t_ms": t}
                out.append({**ended, "turns": self.turns})
        return out

    def _is_open(self, data: dict[str, Any]) -> bool:
        return self._open is not None and data.get("reply_id") == self._open.reply_id

    def _close(self, t_ms: float, outcome: str, **extra: Any) -> dict[str, Any]:
        assert self._open is not None
        self.turns += 1
        record = self._open.record(self.turns, t_ms, outcome, **extra)
        self._open = None
        return record


def journal_path(folder: Path, session_id: str) -> Path:
    """The session's file; ids come from the far end (a phone provider's stream id), so
    only a safe subset of characters reaches the file name."""
    safe = _UNSAFE.sub("_", session_id)[:80] or "session"
    return folder / f"{safe}{SUFFIX}"


class Journal:
    """One session's journal file: records appended, flushed after every batch. A file
    that cannot be written is reported once in the log; the call goes on."""

    def __init__(self, folder: Path, session_id: str) -> None:
        self.path = journal_path(folder, session_id)
        self._turns = TurnAssembler(session_id)
        self._failed = False

    def __call__(self, event: Event) -> None:
        records = self._turns.feed(event)
        if records:
            self._append(records)

    def _append(self, records: list[dict[str, Any]]) -> None:
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        lines = "".join(json.dumps({**r, "at": at}, ensure_ascii=False) + "\n" for r in records)
        # A few hundred bytes a turn: written on the loop, not worth an executor hop.
        try:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(lines)
                f.flush()
        except OSError as err:
            if not self._failed:
                self._failed = True
                log.error("journal %s: cannot write (%s); turns are not kept", self.path, err)


def prepare_folder(folder: Path) -> Path:
    """Create the journal folder at start-up, so a bad path fails there, clearly."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"journal folder {folder}: cannot create it ({err.strerror})") from None
    return folder


# ---- reading (omnivox sessions) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JournalSummary:
    session_id: str
    path: Path
    started: str | None
    turns: int
    ended: str | None
    """The reason it ended; None while live (or killed)."""


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The records of one journal; a torn last line (the process was killed while
    writing it) is skipped."""
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def summarize(path: Path) -> JournalSummary:
    records = read_journal(path)
    started = next((r for r in records if r.get("type") == "session_started"), None)
    ended = next((r for r in reversed(records) if r.get("type") == "session_ended"), None)
    return JournalSummary(
        session_id=str(started["session_id"]) if started else path.stem,
        path=path,
        started=started.get("at") if started else None,
        turns=sum(1 for r in records if r.get("type") == "turn"),
        ended=str(ended.get("reason")) if ended else None,
    )


def list_journals(folder: Path) -> list[JournalSummary]:
    """Every journal in `folder`, oldest first."""
    if not folder.is_dir():
        raise OSError(f"journal folder {folder} does not exist")
    paths = sorted(folder.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime)
    return [summarize(p) for p in paths]


def find_journal(folder: Path, session_id: str) -> Path:
    path = journal_path(folder, session_id)
    if not path.is_file():
        raise OSError(f"no journal for session {session_id!r} in {folder}")
    return path


def format_turn(record: dict[str, Any]) -> str:
    """One turn as a person reads it."""
    lines = []
    if record.get("user") is not None:
        lines.append(f"user:  {record['user']}")
    said, heard = record.get("said") or "", record.get("heard")
    outcome = record.get("outcome")
    note = "" if outcome == "done" else f"  [{outcome}"
    if note and heard is not None and heard != said:
        note += f"; heard: {heard!r}"
    lines.append(f"agent: {said}{note + ']' if note else ''}")
    v2v = (record.get("metrics") or {}).get("voice_to_voice_ms")
    if v2v is not None:
        lines.append(f"       (voice to voice {v2v} ms)")
    return "\n".join(lines)
