"""The knowledge-base Thinker: noisy spoken questions, follow-ups, tool rounds, tool checks."""

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from omnivox.models.thinker.base import (
    Message,
    TextDelta,
    ThinkRequest,
    ToolCall,
    ToolCallsRequested,
)
from omnivox.models.thinker.knowledge_base.parser import KnowledgeBaseError, default_path
from omnivox.models.thinker.knowledge_base.thinker import KnowledgeBaseThinker
from omnivox.models.thinker.tools import ToolRegistry
from tests.fakes.knowledge_base_files import GOOD, write_kb

NOW = datetime(2025, 3, 4, 20, 30, tzinfo=UTC)  # Tuesday 2:30 PM in Chicago


@pytest.fixture(scope="module")
def kb() -> KnowledgeBaseThinker:
    return KnowledgeBaseThinker(now=lambda: NOW)


# Questions as a recogniser hands them over: homophones, split words, fillers, no
# punctuation. The first block was used while tuning the retriever; the second was
# written afterwards and used to find bugs; the third was a blind test.
NOISY = [
    ("what time do you clothes", "hours"),
    ("wear is the parking", "parking"),
    ("um so uh when do you guys open", "hours"),
    ("are you open on sunday", "hours_weekend"),
    ("are you guys open on christmas day", "hours_holidays"),
    ("are you open rite now", "open_now"),
    ("what time is it", "current_time"),
    ("uh what's the date to day", "current_date"),
    ("how much is a day past", "price_day_pass"),
    ("how much does it cost to get in", "price_day_pass"),
    ("how much is the monthly member ship", "price_membership"),
    ("do you have a student this count", "discounts"),
    ("is there a senior discount", "discounts"),
    ("how do i cancel my membership", "membership_cancel"),
    ("can i freeze my member ship", "membership_freeze"),
    ("can i pause my membership while I'm on vacation", "membership_freeze"),
    ("what classes do you offer", "classes"),
    ("do you have yoga", "classes"),
    ("when is zoomba", "classes"),
    ("do you do pi lotties", "classes"),
    ("how do i book a class", "booking"),
    ("how do I cancel my booking", "booking_cancel"),
    ("i can't make my class tonight", "booking_cancel"),
    ("do you have lock hers", "lockers"),
    ("can i rent a tower", "towels"),
    ("do you have why fi", "wifi"),
    ("what's the wifi pass word", "wifi"),
    ("is the building wheel chair accessible", "accessibility"),
    ("which bus do i take", "bus"),
    ("where's the nearest train station", "train"),
    ("where are you guys located", "address"),
    ("is there a bike rack", "bike"),
    ("i lost my keys", "lost_found"),
    ("what's your phone number", "contact"),
    ("do you have swimming lessons for kids", "kids"),
    ("is there a cafe", "cafe"),
    ("can i get a coffee there", "cafe"),
    ("do you have a jim", "gym"),
    ("is the pool heated", "pool"),
    ("when can i swim laps", "pool"),
    ("can i bring a friend", "guest"),
    ("hello", "hello"),
    ("hi there", "hello"),
    ("thank you so much", "thanks"),
    ("okay bye", "goodbye"),
    ("who are you", "who_are_you"),
    ("are you a robot", "are_you_a_robot"),
    ("am i talking to a real person", "are_you_a_robot"),
    ("sorry can you say that again", "repeat"),
    # -- written after tuning --
    ("hey so what are your hours", "hours"),
    ("how late are you guys open to night", "hours"),
    ("what time does the gym close on saturday", "hours|hours_weekend"),
    ("are you closed on new years", "hours_holidays"),
    ("is the center open at the moment", "open_now"),
    ("do you know what time it is", "current_time"),
    ("what's today's date", "current_date"),
    ("how much for a day pass", "price_day_pass"),
    ("what does a membership cost per month", "price_membership"),
    ("do seniors get a discount", "discounts"),
    ("how can i join", "join"),
    ("i want to quit my membership", "membership_cancel"),
    ("can i put my membership on hold", "membership_freeze"),
    ("do you have pilates classes", "classes"),
    ("what's the class schedule", "classes"),
    ("how much is a yoga class", "price_classes"),
    ("can i reserve a spot in spin", "booking"),
    ("i need to cancel my class booking", "booking_cancel"),
    ("is there somewhere to lock up my stuff", "lockers"),
    ("do i need to bring a towel", "towels"),
    ("what's the internet password", "wifi"),
    ("do you have an elevator", "accessibility"),
    ("what bus goes to harbor point", "bus"),
    ("how far is it from the train station", "train"),
    ("what's the address", "address"),
    ("where do i park my car", "parking"),
    ("can i bring my bicycle", "bike"),
    ("i left my jacket in the changing room", "lost_found"),
    ("how do i contact you", "contact"),
    ("do you have a summer camp for kids", "kids"),
    ("is there some where to get lunch", "cafe"),
    ("do you have free weights", "gym"),
    ("how deep is the pool", "pool"),
    ("can i bring a guest", "guest"),
    ("good morning", "hello"),
    ("thanks that helps", "thanks"),
    ("that's all thanks bye", "goodbye"),
    ("what's your name", "who_are_you"),
    ("is this a real person", "are_you_a_robot"),
    ("pardon", "repeat"),
    # -- written last, run once as a blind test (29/38 then, after adding a few KB phrasings
    # for gaps it showed); the misses stay here as known limits --
    ("what are you're hours on friday", "hours"),
    ("when do you guys clothes on sundays", "hours_weekend"),
    ("is the place open on easter", "hours_holidays"),
    ("are you guys still open", "open_now"),
    ("how much is it for one day", "price_day_pass"),
    ("how much is a yearly membership", "price_membership"),
    ("is there a discount for students", "discounts"),
    ("i'd like to sign up as a member", "join"),
    ("can i suspend my membership for a month", "membership_freeze"),
    ("how do i end my member ship", "membership_cancel"),
    ("what time is the spin class", "classes"),
    ("do you guys have aqua aerobics", "classes"),
    ("i won't make it to my yoga class", "booking_cancel"),
    ("where do i put my bag", "lockers"),
    ("can i borrow a towel", "towels"),
    ("do you have a lift", "accessibility"),
    ("which buses stop near you", "bus"),
    ("is there a metro station near by", "train"),
    ("what street are you on", "address"),
    ("is there free parking", "parking"),
    ("where can i lock my bike", "bike"),
    ("do you have stuff for teenagers", "kids"),
    ("can i grab a sandwich", "cafe"),
    ("do you have treadmills", "gym"),
    ("cheers mate", "thanks"),
    ("see ya", "goodbye"),
    ("what are you", "who_are_you"),
    ("is this an automated system", "are_you_a_robot"),
    ("what did you say", "repeat"),
    *(
        pytest.param(q, e, marks=pytest.mark.xfail(strict=True, reason=why))
        for q, e, why in [
            ("what's the time right now", "current_time", "'right now' belongs to open_now"),
            ("how much does pilates cost", "price_classes", "the day pass wins on 'cost'"),
            ("can i book online", "booking", "'online' is in a wifi phrasing"),
            ("what's the why fie network", "wifi", "a three-letter fragment is not joined"),
            ("did anyone find my phone", "lost_found", "'phone' is a contact keyword"),
            ("can i call the front desk", "contact", "no phrasing says 'front desk'"),
            ("can i swim in the morning", "pool", "'good morning' outweighs 'swim'"),
            ("can my wife come with me", "guest", "'wife' is a near-miss of 'wifi'"),
            ("hey how's it going", "hello", "no phrasing has 'going'"),
        ]
    ),
]

OFF_TOPIC = [
    "what's the capital of france",
    "can i bring my dog to the pool",
    "what's the weather like tomorrow",
    "tell me a joke",
    "who won the game last night",
    "how do i make pancakes",
    "what's the meaning of life",
    "can you order me a pizza",
    "what's the stock price of apple",
    pytest.param(
        "i need a plumber",
        marks=pytest.mark.xfail(
            strict=True, reason="'plumber' is a near-miss of 'number' (contact entry)"
        ),
    ),
    "how old is the universe",
    "play some music",
    "what's the whether like today",
    "do you sell shoes",
    "how do i get to the airport",
    "what's two plus two",
    "can you book me a flight",
    "um uh so",
    "who is the president",
    "can you recommend a good restaurant nearby",
    "what's the best way to lose weight",
    "how do i reset my password for my bank",
    "is it going to rain",
    "can you tell me a story",
    "where can i buy tickets for the concert",
    "what's the score of the game",
]


def ask(kb: KnowledgeBaseThinker, *turns: str) -> str | None:
    """The entry id answering the last of `turns` (earlier ones answered in between)."""
    history: list[Message] = []
    for text in turns:
        history.append(Message("user", text))
        m = kb.match(history)
        said = f"{m.entry.answer} {m.entry.follow_up or ''}" if m.entry else kb.fallback
        history.append(Message("assistant", said.strip()))
    return m.entry.id if m.entry else None


@pytest.mark.parametrize(("query", "expected"), NOISY)
def test_noisy_queries_find_their_entry(
    kb: KnowledgeBaseThinker, query: str, expected: str
) -> None:
    assert ask(kb, query) in expected.split("|")


@pytest.mark.parametrize("query", OFF_TOPIC)
def test_off_topic_queries_get_the_fallback(kb: KnowledgeBaseThinker, query: str) -> None:
    assert ask(kb, query) is None


async def collect(kb: KnowledgeBaseThinker, request: ThinkRequest) -> list[object]:
    return [event async for event in kb.stream(request)]


async def say(kb: KnowledgeBaseThinker, messages: Sequence[Message], **kw: object) -> str:
    events = await collect(kb, ThinkRequest(list(messages), **kw))
    assert all(isinstance(e, TextDelta) for e in events)
    return "".join(e.text for e in events)  # type: ignore[attr-defined]


# ---- conversation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("turns", "expected"),
    [
        (["do you have yoga classes", "how much is it"], "price_classes"),
        (["where can I park", "how much is it"], "parking"),
        (["what are your opening hours", "what about sunday"], "hours_weekend"),
        (["how much is a monthly membership", "and for students"], "discounts"),
        (["do you have wifi", "is it free"], "wifi"),  # the last answer says so
        (["is the pool heated", "how deep is it"], "pool"),
        (["do you have yoga classes", "thanks that's great"], "thanks"),  # small talk stays
        (["do you have yoga classes", "what time is it"], "current_time"),
        (["do you have yoga classes", "where can I park"], "parking"),  # a new topic
    ],
)
def test_follow_ups_lean_on_the_previous_turn(
    kb: KnowledgeBaseThinker, turns: list[str], expected: str
) -> None:
    assert ask(kb, *turns) == expected


def test_without_the_previous_turn_the_follow_up_means_something_else(
    kb: KnowledgeBaseThinker,
) -> None:
    assert ask(kb, "how much is it") != "price_classes"


def test_yes_to_a_follow_up_question(kb: KnowledgeBaseThinker) -> None:
    assert ask(kb, "what classes do you have", "yes please") == "price_classes"
    assert ask(kb, "what classes do you have", "yeah sure that would be great") == "price_classes"
    assert ask(kb, "where can I park", "yes please") is None  # nothing was offered


async def test_follow_up_question_is_spoken_after_the_answer(kb: KnowledgeBaseThinker) -> None:
    text = await say(kb, [Message("user", "do you have yoga")])
    assert text.endswith("in our app. Would you like to hear the class prices?")


async def test_repeat_says_the_last_answer_again(kb: KnowledgeBaseThinker) -> None:
    history = [
        Message("user", "where is the bike rack"),
        Message("assistant", "Bikes go out front."),
        Message("user", "sorry can you say that again"),
    ]
    assert await say(kb, history) == "Bikes go out front."
    assert await say(kb, [Message("user", "can you repeat that")]) == (
        "I haven't said anything yet. How can I help?"
    )


async def test_repeat_after_an_interruption_says_the_whole_answer(kb: KnowledgeBaseThinker) -> None:
    history = [
        Message("user", "do you have bike racks"),
        Message("assistant", "There are covered bike racks …"),
        Message("user", "can you repeat that"),
    ]
    assert await say(kb, history) == (
        "There are covered bike racks by the main entrance. Please bring your own lock."
    )


async def test_answers_stream_in_small_pieces(kb: KnowledgeBaseThinker) -> None:
    events = await collect(kb, ThinkRequest([Message("user", "is there parking")]))
    pieces = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(pieces) >= 5 and all(len(p.split()) <= 3 for p in pieces)
    assert "".join(pieces) == kb.kb.entries[[e.id for e in kb.kb.entries].index("parking")].answer


async def test_closing_the_stream_early_is_clean(kb: KnowledgeBaseThinker) -> None:
    stream = kb.stream(ThinkRequest([Message("user", "is there parking")]))
    first = await anext(stream)
    assert isinstance(first, TextDelta)
    await stream.aclose()


async def test_fallback_and_greeting(kb: KnowledgeBaseThinker) -> None:
    assert kb.fallback == (
        "Sorry, I don't know that, but I can help with opening hours, "
        "prices, classes, or our facilities."
    )
    assert await say(kb, [Message("user", "tell me a joke")]) == kb.fallback
    assert await say(kb, [Message("system", "be nice")]) == kb.greeting


async def test_context_passages_answer_what_the_kb_cannot(kb: KnowledgeBaseThinker) -> None:
    context = [
        "The sauna is mixed and needs a swimsuit. It runs at eighty degrees. Towels are extra.",
        "Dogs are not allowed in the building, except assistance dogs. Water bowls are outside.",
    ]
    request = [Message("user", "can I bring my dog")]
    assert await say(kb, request, context=context) == (
        "Dogs are not allowed in the building, except assistance dogs."
    )
    assert await say(kb, [Message("user", "tell me a joke")], context=context) == kb.fallback
    # A good KB answer wins over context.
    assert (await say(kb, [Message("user", "is there parking")], context=context)).startswith(
        "There's a free parking lot"
    )


# ---- tools through the Thinker protocol ---------------------------------------------


async def tool_round(kb: KnowledgeBaseThinker, question: str) -> tuple[list[ToolCall], str]:
    """One Reply-style round: ask, run the requested tools, ask again."""
    messages = [Message("user", question)]
    events = await collect(kb, ThinkRequest(list(messages), tools=kb.tools.specs()))
    assert len(events) == 1 and isinstance(events[0], ToolCallsRequested)
    calls = events[0].calls
    messages.append(Message("assistant", tool_calls=calls))
    for call in calls:
        result = await kb.tools.call(call)
        messages.append(Message("tool", content=result, tool_call_id=call.id, name=call.name))
    return calls, await say(kb, messages, tools=kb.tools.specs())


async def test_tool_round_trip_fills_the_answer(kb: KnowledgeBaseThinker) -> None:
    calls, text = await tool_round(kb, "what time is it")
    assert [(c.name, c.arguments) for c in calls] == [("current_time", {})]
    assert text == "It's 2:30 PM right now."
    _, text = await tool_round(kb, "are you open right now")
    assert text == "Yes, we're open right now, until 10 PM."
    _, text = await tool_round(kb, "what's the date today")
    assert text == "Today is Tuesday, March 4th."


async def test_tool_call_ids_are_unique(kb: KnowledgeBaseThinker) -> None:
    ids = {(await tool_round(kb, "what time is it"))[0][0].id for _ in range(5)}
    assert len(ids) == 5


async def test_tool_results_are_matched_by_call_id_when_unnamed(kb: KnowledgeBaseThinker) -> None:
    call = ToolCall("abc", "current_time", {})
    messages = [
        Message("user", "what time is it"),
        Message("assistant", tool_calls=[call]),
        Message("tool", content='{"time": "9 AM", "timezone": "x"}', tool_call_id="abc"),
    ]
    assert await say(kb, messages) == "It's 9 AM right now."


@pytest.mark.parametrize(
    "result",
    [
        '{"error": "current_time failed: boom"}',
        "not json",
        '{"timezone": "no time field"}',
        '"a bare string"',
    ],
)
async def test_a_failed_tool_is_spoken_about(kb: KnowledgeBaseThinker, result: str) -> None:
    call = ToolCall("c1", "current_time", {})
    messages = [
        Message("user", "what time is it"),
        Message("assistant", tool_calls=[call]),
        Message("tool", content=result, tool_call_id="c1", name="current_time"),
    ]
    assert await say(kb, messages) == "Sorry, I can't check that right now."


async def test_tools_the_request_does_not_offer_are_not_called(kb: KnowledgeBaseThinker) -> None:
    assert await say(kb, [Message("user", "what time is it")]) == (
        "Sorry, I can't check that right now."
    )


async def test_application_tools_with_fixed_arguments(tmp_path: Path) -> None:
    tools = ToolRegistry()

    @tools.tool
    def pool_temperature(unit: str = "celsius") -> dict[str, object]:
        """Water temperature.

        Args:
            unit: celsius or fahrenheit.
        """
        return {"degrees": 28 if unit == "celsius" else 82, "unit": unit}

    path = write_kb(
        tmp_path,
        entries=[
            {
                "id": "temp",
                "questions": ["how warm is the water"],
                "tools": [{"name": "pool_temperature", "arguments": {"unit": "fahrenheit"}}],
                "answer": "The water is {pool_temperature.degrees} degrees.",
            }
        ],
    )
    kb = KnowledgeBaseThinker(path, tools=tools)
    calls, text = await tool_round(kb, "how warm is the water")
    assert calls[0].arguments == {"unit": "fahrenheit"}
    assert text == "The water is 82 degrees."


# ---- files the Thinker checks -------------------------------------------------------


@pytest.mark.parametrize(
    ("tools", "message"),
    [
        (["teleport"], "entries[0] (id 'a'): tools: unknown tool 'teleport' (known: current_time"),
        (
            [{"name": "current_time", "arguments": {"tz": "UTC"}}],
            "entries[0] (id 'a'): tools: current_time: unexpected argument 'tz'",
        ),
    ],
)
def test_tool_references_are_checked_at_startup(
    tmp_path: Path, tools: list[object], message: str
) -> None:
    path = write_kb(tmp_path, entries=[{**GOOD, "tools": tools}])
    with pytest.raises(KnowledgeBaseError, match=re.escape(message)):
        KnowledgeBaseThinker(path)


def test_explicit_fallback_and_generated_one_without_topics(tmp_path: Path) -> None:
    assert KnowledgeBaseThinker(write_kb(tmp_path, fallback="No idea.")).fallback == "No idea."
    assert KnowledgeBaseThinker(write_kb(tmp_path)).fallback == "Sorry, I don't know that one."


async def test_a_turn_that_only_asks_to_wait_gets_a_short_yes(
    kb: KnowledgeBaseThinker, tmp_path: Path
) -> None:
    """Not an answer about bus stops to "Wait, stop." that ended a turn."""
    for said in ("Wait, stop.", "hold on a second"):
        assert await say(kb, [Message("user", said)]) == "Sure, go ahead."
    assert await say(kb, [Message("user", "where is the bus stop")]) != "Sure, go ahead."
    assert ask(kb, "wait, stop. how much is a day pass") == ask(kb, "how much is a day pass")
    own = yaml.safe_load(default_path().read_text(encoding="utf-8"))
    own["wait_reply"] = "Take your time."
    (tmp_path / "kb.yaml").write_text(yaml.safe_dump(own), encoding="utf-8")
    mine = KnowledgeBaseThinker(tmp_path / "kb.yaml", now=lambda: NOW)
    assert await say(mine, [Message("user", "Wait.")]) == "Take your time."
