"""SentenceChunker: table-driven cases, and streaming-invariance properties."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnivox.agent.reply.sentences import LANGUAGES, SentenceChunker, rules_for


def whole(text: str, language: str = "en", **kw: int) -> list[str]:
    c = SentenceChunker(language, **kw)
    return c.push(text) + c.flush()


def streamed(pieces: list[str], language: str = "en", **kw: int) -> list[str]:
    c = SentenceChunker(language, **kw)
    out: list[str] = []
    for piece in pieces:
        out += c.push(piece)
    return out + c.flush()


CASES: list[tuple[str, str, list[str]]] = [
    # (language, text, expected chunks)
    ("en", "Hello there. How are you?", ["Hello there.", "How are you?"]),
    ("en", "Hi! I'm here.", ["Hi!", "I'm here."]),
    ("en", "Really?! Wow.", ["Really?!", "Wow."]),
    ("en", "No trailing punctuation", ["No trailing punctuation"]),
    ("en", "", []),
    ("en", "   \n  ", []),
    # the first chunk may end at a clause mark when long enough; later ones may not
    (
        "en",
        "Well, according to the schedule, the train leaves at noon, then at one.",
        ["Well, according to the schedule,", "the train leaves at noon, then at one."],
    ),
    ("en", "Sure, I can help with that.", ["Sure, I can help with that."]),
    (
        "en",
        "Here is the plan for today: we start early.",
        ["Here is the plan for today:", "we start early."],
    ),
    ("en", "The answer, in short; is yes.", ["The answer, in short;", "is yes."]),
    ("en", "The weather tomorrow — sunny and warm.", ["The weather tomorrow —", "sunny and warm."]),
    ("en", "The weather tomorrow - sunny and warm.", ["The weather tomorrow -", "sunny and warm."]),
    # numbers
    ("en", "It costs 3.5 dollars. Yes.", ["It costs 3.5 dollars.", "Yes."]),
    (
        "en",
        "We sold 1,000,000 units in total, roughly. Nice.",
        ["We sold 1,000,000 units in total,", "roughly.", "Nice."],
    ),
    (
        "en",
        "The train leaves at 10:30 today, from platform 2. Ok.",
        ["The train leaves at 10:30 today,", "from platform 2.", "Ok."],
    ),
    ("en", "Pages 10–20 are good — read them.", ["Pages 10–20 are good —", "read them."]),
    ("en", "Version 1.2.3 is out. Update now.", ["Version 1.2.3 is out.", "Update now."]),
    ("en", "It was -5 degrees. Cold.", ["It was -5 degrees.", "Cold."]),
    ("en", "I counted 3. Then I stopped.", ["I counted 3.", "Then I stopped."]),
    # abbreviations and initialisms
    ("en", "Dr. Smith will see you. Mr. Jones too.", ["Dr. Smith will see you.", "Mr. Jones too."]),
    (
        "en",
        "Bring fruit, e.g. Apples. Or i.e. Pears.",
        ["Bring fruit, e.g. Apples.", "Or i.e. Pears."],
    ),
    ("en", "The U.S. Army is big. Yes.", ["The U.S. Army is big.", "Yes."]),
    ("en", "Open from 9 a.m. to 5 p.m. Every day.", ["Open from 9 a.m. to 5 p.m. Every day."]),
    ("en", "Apples, pears, etc. All fresh.", ["Apples, pears, etc. All fresh."]),
    ("en", "She has a Ph.D. In physics.", ["She has a Ph.D. In physics."]),
    ("en", "So do I. Plan A. Done.", ["So do I.", "Plan A.", "Done."]),
    ("en", "(Dr. Who) is on. Watch.", ["(Dr. Who) is on.", "Watch."]),
    # a lower-case next word means the sentence goes on
    ("en", "Meet at 10 a.m. tomorrow. Bye.", ["Meet at 10 a.m. tomorrow.", "Bye."]),
    ("en", "The approx. cost is low. Good.", ["The approx. cost is low.", "Good."]),
    ("en", "It works.   and then some. Ok.", ["It works.   and then some.", "Ok."]),
    # URLs and e-mail addresses
    (
        "en",
        "Visit https://example.com/a.b?c=d. Then log in.",
        ["Visit https://example.com/a.b?c=d.", "Then log in."],
    ),
    (
        "en",
        "Write to john.doe@mail.example.org. Thanks!",
        ["Write to john.doe@mail.example.org.", "Thanks!"],
    ),
    ("en", "Go to example.com. It is free.", ["Go to example.com.", "It is free."]),
    # ellipses: a pause, never a split between the dots
    ("en", "Hmm... I think so. Yes.", ["Hmm... I think so.", "Yes."]),
    ("en", "Well… Let me think. Ok.", ["Well… Let me think.", "Ok."]),
    (
        "en",
        "Let me check the schedule for you... Found it!",
        ["Let me check the schedule for you...", "Found it!"],
    ),
    ("en", "Wait...", ["Wait..."]),
    # quotes
    ("en", 'He said "Stop. Now." Then he left.', ['He said "Stop. Now."', "Then he left."]),
    ("en", 'He said "Stop. Now." and left. Ok.', ['He said "Stop. Now." and left.', "Ok."]),
    ("en", "She said “Go. Run.” Then silence.", ["She said “Go. Run.”", "Then silence."]),
    ("en", '"Really?" she asked. Yes.', ['"Really?" she asked.', "Yes."]),
    ("en", "It's the 'best.' Sure.", ["It's the 'best.'", "Sure."]),
    ("en", "(See the note.) Next.", ["(See the note.)", "Next."]),
    ("en", "**Done.** Next step.", ["**Done.**", "Next step."]),
    # line breaks and lists
    (
        "en",
        "Steps:\n1. Preheat the oven.\n2. Mix well.",
        ["Steps:", "1. Preheat the oven.", "2. Mix well."],
    ),
    ("en", "Line one\nLine two", ["Line one", "Line two"]),
    ("en", "First.\n\nsecond paragraph here.", ["First.", "second paragraph here."]),
    # punctuation-only text never forms a chunk of its own mid-stream
    ("en", "--- Hello. ---", ["--- Hello.", "---"]),
    # other languages
    (
        "de",
        "Am 3. Oktober ist frei. Z.B. gibt es usw. keine Schule.",
        ["Am 3. Oktober ist frei.", "Z.B. gibt es usw. keine Schule."],
    ),
    ("de", "Er sagte „Halt. Sofort.“ Dann ging er.", ["Er sagte „Halt. Sofort.“", "Dann ging er."]),
    (
        "fr",
        "Il a dit « Bonjour. » Puis il est parti.",
        ["Il a dit « Bonjour. »", "Puis il est parti."],
    ),
    ("fr", "Mme. Dupont arrive. Merci !", ["Mme. Dupont arrive.", "Merci !"]),
    (
        "es",
        "¿Cómo estás? ¡Muy bien! El Sr. García llegó.",
        ["¿Cómo estás?", "¡Muy bien!", "El Sr. García llegó."],
    ),
    (
        "zh",
        "你好，今天天气很好。我们去公园吧！好吗？",
        ["你好，今天天气很好。", "我们去公园吧！", "好吗？"],
    ),
    (
        "zh",
        "今天的天气非常好，我们一起去公园散步吧。",
        ["今天的天气非常好，", "我们一起去公园散步吧。"],
    ),
    ("zh", "价格是3.5元。好的。", ["价格是3.5元。", "好的。"]),
    ("zh", "他说：“走吧。快点。”然后走了。", ["他说：“走吧。快点。”", "然后走了。"]),
    ("ja", "こんにちは。「元気です。」と言った。", ["こんにちは。", "「元気です。」と言った。"]),
    ("ko", "안녕하세요. 반갑습니다!", ["안녕하세요.", "반갑습니다!"]),
]


@pytest.mark.parametrize(("language", "text", "expected"), CASES)
def test_chunks(language: str, text: str, expected: list[str]) -> None:
    assert whole(text, language) == expected


@pytest.mark.parametrize(("language", "text", "expected"), CASES)
def test_token_by_token_equals_whole(language: str, text: str, expected: list[str]) -> None:
    assert streamed(list(text), language) == expected


@pytest.mark.parametrize(("language", "text", "expected"), CASES)
def test_every_two_way_split_equals_whole(language: str, text: str, expected: list[str]) -> None:
    for cut in range(len(text) + 1):
        assert streamed([text[:cut], text[cut:]], language) == expected, cut


def test_chunks_are_emitted_as_soon_as_decidable() -> None:
    c = SentenceChunker("en")
    assert c.push("Hello there.") == []  # "Hello there.com"? "Hello there. and"?
    assert c.push(" ") == []  # is the next word lower-case?
    assert c.push("How") == ["Hello there."]
    assert c.push(" are you? Fine") == ["How are you?"]
    assert c.flush() == ["Fine"]


def test_first_clause_is_spoken_before_the_sentence_ends() -> None:
    c = SentenceChunker("en")
    assert c.push("Well, according to the latest schedule, the ") == [
        "Well, according to the latest schedule,"
    ]
    assert c.push("train leaves at noon, ") == []  # later chunks wait for a sentence end


def test_cjk_sentence_end_needs_no_lookahead_beyond_closers() -> None:
    c = SentenceChunker("zh")
    assert c.push("好的。") == []  # a closing quote may still follow
    assert c.push("我") == ["好的。"]


def test_long_sentence_is_capped_at_a_clause_then_a_space() -> None:
    text = "word " * 30 + "end, " + "more " * 40 + "stop."
    chunks = whole(text, max_chars=150, max_first_chars=100, min_first_chars=1)
    assert all(len(chunk) <= 150 for chunk in chunks)
    assert " ".join(chunks).split() == text.split()
    capped = whole("a" * 50 + " " + "b" * 50, max_first_chars=60, max_chars=80)
    assert capped == ["a" * 50, "b" * 50]


def test_cap_without_spaces_cuts_hard() -> None:
    assert whole("x" * 25, min_first_chars=5, max_first_chars=10, max_chars=10) == [
        "x" * 10,
        "x" * 10,
        "x" * 5,
    ]


def test_flush_starts_a_fresh_text() -> None:
    c = SentenceChunker("en")
    assert c.push('She said "hi') == []
    assert c.flush() == ['She said "hi']
    # the open quote and the "first chunk" state do not leak into the next text
    assert c.push("Well, according to the schedule, we") == ["Well, according to the schedule,"]


def test_language_tags_are_normalised() -> None:
    assert rules_for("en-US") is LANGUAGES["en"]
    assert rules_for("zh_Hans") is LANGUAGES["zh"]


def test_unknown_language_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown language 'xx'"):
        SentenceChunker("xx")


def test_bad_lengths_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="min_first_chars"):
        SentenceChunker("en", min_first_chars=200, max_first_chars=100)


# ---- properties over generated text ------------------------------------------------------

PIECES = [
    "Hello",
    "world",
    "Dr.",
    "e.g.",
    "U.S.",
    "3.5",
    "1,000",
    "10:30",
    "a.m.",
    "...",
    "…",
    ".",
    ",",
    "!",
    "?",
    ";",
    ":",
    " — ",
    " - ",
    '"',
    "“",
    "”",
    "'",
    "(",
    ")",
    " ",
    " ",
    " ",
    "\n",
    "example.com",
    "Then",
    "and",
    "I",
    "你好",
    "。",
    "，",
    "-",
    "–",
    "*",
]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(LANGUAGES)),
    st.lists(st.sampled_from(PIECES), max_size=40),
    st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_any_split_gives_the_same_chunks(language: str, pieces: list[str], cuts: list[int]) -> None:
    text = "".join(pieces)
    expected = whole(text, language)
    bounds = sorted({min(c, len(text)) for c in cuts} | {0, len(text)})
    parts = [text[a:b] for a, b in itertools.pairwise(bounds)]
    assert streamed(parts, language) == expected
    assert streamed(list(text), language) == expected
    # nothing is lost or invented, and no chunk is empty or padded
    assert "".join("".join(expected).split()) == "".join(text.split())
    assert all(chunk and chunk == chunk.strip() for chunk in expected)


def test_settle_ends_a_sentence_at_a_pause_but_not_mid_sentence() -> None:
    c = SentenceChunker()
    assert c.push("We are open until ten.") == []  # "ten. 30" could follow
    assert c.settle() == ["We are open until ten."]
    assert c.push(" And on Sundays") == [] and c.settle() == []  # mid-sentence: wait
    assert c.push(" from noon,") == [] and c.settle() == ["And on Sundays from noon,"]
    assert c.push(' "too."') == [] and c.settle() == ['"too."']
    assert c.flush() == []
