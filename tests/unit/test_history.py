"""History keeps only what the user heard, and stays bounded without orphaning tools."""

from omnivox.agent.reply.history import History
from omnivox.models.thinker.base import Message, ToolCall


def test_interrupted_reply_is_marked_and_truncated_text_kept() -> None:
    h = History()
    h.add_user("how do I get there")
    h.add_assistant("Take the number five bus", interrupted=True)
    msgs = h.for_thinker("sys")
    assert [m.role for m in msgs] == ["system", "user", "assistant"]
    assert msgs[2].content == "Take the number five bus …"


def test_nothing_heard_still_records_the_interruption() -> None:
    h = History()
    h.add_assistant("", interrupted=True)
    assert h.messages[-1].content == "…"
    h.add_assistant("", interrupted=False)
    assert len(h.messages) == 1


def test_bounded_and_never_starts_with_a_tool_result() -> None:
    h = History(max_messages=3)
    h.add_user("a")
    h.add(Message("assistant", tool_calls=[ToolCall("1", "current_time", {})]))
    h.add(Message("tool", content="{}", tool_call_id="1"))
    h.add_assistant("It is noon.")
    h.add_user("b")
    assert h.messages[0].role != "tool"
    assert len(h.messages) <= 3
    assert h.messages[-1].content == "b"


def test_the_last_reply_is_revised_to_what_the_far_end_played() -> None:
    h = History()
    h.add_user("how do I get there")
    h.add(Message("assistant", tool_calls=[ToolCall("1", "route", {})]))
    h.add(Message("tool", content="{}", tool_call_id="1"))
    h.add_assistant("Take the number five bus to the station", interrupted=True)
    h.revise_last_assistant("Take the", interrupted=True)
    assert [m.content for m in h.messages][-1] == "Take the …"
    assert h.messages[1].tool_calls  # the tool round is left alone
    h.revise_last_assistant("", interrupted=False)
    assert [m.role for m in h.messages] == ["user", "assistant", "tool"]
