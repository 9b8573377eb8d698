"""The turn assembler (events in, finished turns out) and the journal file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omnivox.agent.events import Event, EventType
from omnivox.agent.journal import (
    Journal,
    TurnAssembler,
    find_journal,
    format_turn,
    journal_path,
    list_journals,
    read_journal,
)

E = EventType


def ev(type_: EventType, t_ms: float, **data: Any) -> Event:
    return Event(type_, t_ms, data)


GREETING = [
    ev(E.SESSION_STARTED, 0, session_id="s1"),
    ev(E.REPLY_START, 0, reply_id="r1"),
    ev(E.REPLY_TEXT, 10, reply_id="r1", text="Hi!"),
    ev(E.REPLY_DONE, 900, reply_id="r1", heard_text="Hi!"),
]
ANSWERED = [
    ev(E.TURN_DECISION, 3000, kind="finished", probability=0.9, decision_ms=300),
    ev(E.USER_TURN_END, 3000, speech_end_ms=2700),
    ev(E.REPLY_START, 3000, reply_id="r2"),
    ev(E.TRANSCRIPT_FINAL, 3010, text="What are your opening hours?"),
    ev(E.SOURCES, 3020, reply_id="r2", items=[{"title": "hours"}]),
    ev(E.REPLY_TEXT, 3030, reply_id="r2", text="We open at nine."),
    ev(E.REPLY_TEXT, 3040, reply_id="r2", text="We close at six."),
    ev(E.TURN_METRICS, 3200, reply_id="r2", voice_to_voice_ms=500),
]
CUT = [
    ev(E.TURN_DECISION, 4000, kind="interruption", probability=0.95, decision_ms=400),
    ev(
        E.REPLY_CANCELLED,
        4000,
        reply_id="r2",
        reason="interruption",
        played_ms=800,
        heard_ms=700,
        heard_text="We open at nine.",
        stop_ms=400,
    ),
]


def feed(assembler: TurnAssembler, events: list[Event]) -> list[dict[str, Any]]:
    return [r for e in events for r in assembler.feed(e)]


def test_a_greeting_and_an_interrupted_answer_become_two_turns() -> None:
    a = TurnAssembler("s1")
    started, greeting = feed(a, GREETING)
    assert started == {"type": "session_started", "session_id": "s1", "t_ms": 0}
    assert greeting["user"] is None and greeting["said"] == "Hi!" and greeting["heard"] == "Hi!"
    assert greeting["outcome"] == "done" and greeting["turn"] == 1
    assert feed(a, ANSWERED) == []  # not finished yet
    (turn,) = feed(a, CUT)
    assert turn["turn"] == 2 and turn["reply_id"] == "r2"
    assert turn["user"] == "What are your opening hours?"
    assert turn["said"] == "We open at nine. We close at six."
    assert turn["heard"] == "We open at nine."
    assert turn["outcome"] == "cancelled" and turn["cancel"]["reason"] == "interruption"
    assert [d["kind"] for d in turn["decisions"]] == ["finished", "interruption"]
    assert turn["metrics"] == {"voice_to_voice_ms": 500}
    assert turn["sources"] == [{"title": "hours"}]
    assert (turn["start_ms"], turn["end_ms"]) == (3000, 4000)


def test_a_reply_open_when_the_session_ends_is_kept_and_the_end_recorded() -> None:
    a = TurnAssembler("s1")
    feed(a, GREETING + ANSWERED)
    turn, ended = feed(a, [ev(E.SESSION_ENDED, 5000, reason="server_shutdown")])
    assert turn["outcome"] == "session_ended" and turn["said"].startswith("We open")
    assert ended == {"type": "session_ended", "reason": "server_shutdown", "t_ms": 5000, "turns": 2}


def test_a_replaced_reply_and_errors_are_recorded() -> None:
    a = TurnAssembler("s1")
    feed(a, [ev(E.ERROR, 5, message="bad", source="recognizer")])
    feed(a, [ev(E.REPLY_START, 10, reply_id="r1")])
    (replaced,) = feed(a, [ev(E.REPLY_START, 20, reply_id="r2")])
    assert replaced["outcome"] == "replaced" and replaced["errors"][0]["message"] == "bad"
    # events for another reply do not close the open one
    assert feed(a, [ev(E.REPLY_DONE, 30, reply_id="r1")]) == []
    assert feed(a, [ev(E.REPLY_DONE, 40, reply_id="r2", heard_text="")])[0]["turn"] == 2


def test_the_journal_appends_flushed_lines_and_reads_back(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "s1")
    for e in GREETING:
        journal(e)
    lines = journal.path.read_text().splitlines()  # readable before the session ends
    assert [json.loads(x)["type"] for x in lines] == ["session_started", "turn"]
    assert all("at" in json.loads(x) for x in lines)
    for e in [*ANSWERED, *CUT, ev(E.SESSION_ENDED, 5000, reason="hangup")]:
        journal(e)
    with journal.path.open("a") as f:
        f.write('{"type": "turn", "tor')  # a line torn by kill -9
    records = read_journal(journal.path)
    assert [r["type"] for r in records] == ["session_started", "turn", "turn", "session_ended"]
    (summary,) = list_journals(tmp_path)
    assert (summary.session_id, summary.turns, summary.ended) == ("s1", 2, "hangup")
    assert find_journal(tmp_path, "s1") == journal.path
    assert "heard: 'We open at nine.'" in format_turn(records[2])


def test_ids_from_the_far_end_cannot_leave_the_folder(tmp_path: Path) -> None:
    path = journal_path(tmp_path, "../../etc/passwd")
    assert path.parent == tmp_path and "/" not in path.name and ".." not in path.name
    assert journal_path(tmp_path, "").name == "session.jsonl"


def test_an_unwritable_folder_is_logged_once_and_the_call_goes_on(
    tmp_path: Path, caplog: Any
) -> None:
    journal = Journal(tmp_path / "missing", "s1")
    for e in GREETING:
        journal(e)
    assert sum("cannot write" in r.message for r in caplog.records) == 1
