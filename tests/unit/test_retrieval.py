"""The retriever: normalised scores, near-miss words, split compounds, synonyms, context."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnivox.models.thinker.retrieval import (
    Passage,
    Retriever,
    content_words,
    phonetic_key,
    stem,
    words,
)

FAQ = [
    Passage("hours", "what time do you close"),
    Passage("hours", "when are you open"),
    Passage("parking", "where is the parking"),
    Passage("parking", "car park"),
    Passage("wifi", "do you have wifi"),
    Passage("pilates", "do you run pilates classes"),
    Passage("day_pass", "how much is a day pass"),
    Passage("class_price", "how much is a yoga class"),
    Passage("towels", "can I rent a towel"),
    Passage("robot", "who are you"),
]


@pytest.fixture(scope="module")
def faq() -> Retriever:
    return Retriever(FAQ, b=0.0)


def top(r: Retriever, query: str, **kw: str) -> str | None:
    hits = r.search(query, 1, **kw)
    return hits[0].passage.id if hits else None


def test_exact_phrasing_scores_one(faq: Retriever) -> None:
    hits = faq.search("How much is a day pass?", 3)
    assert hits[0].passage.id == "day_pass"
    assert hits[0].score == pytest.approx(1.0)
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_each_id_once_with_its_best_phrasing(faq: Retriever) -> None:
    hits = faq.search("parking car park where", 10)
    ids = [h.passage.id for h in hits]
    assert len(ids) == len(set(ids))
    assert ids[0] == "parking"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("what time do you clothes", "hours"),  # homophone-ish near miss
        ("um so uh when are you guys open", "hours"),  # fillers
        ("WEAR is the PARKING?!", "parking"),  # misheard function word, casing
        ("do you have wi fi", "wifi"),  # split compound, joined exactly
        ("do you run pi lotties", "pilates"),  # split and misheard, joined fuzzily
        ("can I rent a tower", "towels"),  # one letter off
        ("who are you", "robot"),  # nothing but stopwords still matches
    ],
)
def test_noisy_spoken_queries(faq: Retriever, query: str, expected: str) -> None:
    assert top(faq, query) == expected


def test_a_misheard_function_word_costs_nothing(faq: Retriever) -> None:
    clean = faq.search("where is the parking", 1)[0].score
    assert faq.search("wear is the parking", 1)[0].score == pytest.approx(clean)


def test_unmatched_words_lower_the_score(faq: Retriever) -> None:
    alone = faq.search("day pass", 1)[0].score
    with_noise = faq.search("day pass for my pet iguana", 1)[0].score
    assert with_noise < alone - 0.2


def test_nothing_to_search_or_nothing_matching_gives_no_hits(faq: Retriever) -> None:
    assert faq.search("um uh so", 3) == []
    assert faq.search("", 3) == []
    assert faq.search("quantum chromodynamics", 3) == []
    assert Retriever([]).search("anything", 3) == []


def test_synonyms_expand_the_query() -> None:
    passages = [Passage("price", "what is the price"), Passage("hours", "opening hours")]
    assert top(Retriever(passages), "what does it cost") is None
    with_synonyms = Retriever(passages, synonyms=[["price", "cost", "fee"]])
    hit = with_synonyms.search("what does it cost", 1)[0]
    assert hit.passage.id == "price"
    assert 0.5 < hit.score < 1.0  # a synonym counts a little less than the word itself


def test_context_steers_an_elliptic_follow_up(faq: Retriever) -> None:
    assert top(faq, "how much is it", context="do you have yoga classes") == "class_price"
    assert top(faq, "how much is it", context="I'd like a day pass") == "day_pass"
    # The query's own words outweigh the context's.
    assert top(faq, "can I rent a towel", context="do you have yoga classes") == "towels"


def test_scores_stay_within_unit_interval_for_long_passages() -> None:
    text = "the pool is heated and open every day with lanes for laps " * 5
    r = Retriever([Passage("pool", text), Passage("gym", "gym weights")])
    hit = r.search("is the pool heated", 1)[0]
    assert hit.passage.id == "pool" and 0 < hit.score <= 1


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_gives_bounded_scores(query: str) -> None:
    r = Retriever(FAQ, b=0.0)
    for hit in r.search(query, 5):
        assert 0 < hit.score <= 1


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        Retriever(FAQ).search("pool", 0)
    with pytest.raises(ValueError, match="single words"):
        Retriever(FAQ, synonyms=[["car park", "parking"]])
    with pytest.raises(ValueError, match="precision_weight"):
        Retriever(FAQ, precision_weight=2)


def test_text_normalisation() -> None:
    assert words("Café’s OPEN, isn't it?") == ["cafe", "s", "open", "is", "not", "it"]
    assert words("I can't") == ["i", "can", "not"]
    assert content_words("um where is the pool") == ["pool"]
    assert content_words("who are you") == ["who", "are", "you"]


def test_stemming_meets_inflections() -> None:
    assert stem("closes") == stem("closing") == stem("closed") == stem("close")
    assert stem("classes") == stem("class")
    assert stem("swimming") == stem("swim")
    assert stem("bus") == "bus" and stem("pass") == "pass"


def test_phonetic_key_meets_homophones() -> None:
    assert phonetic_key("wear") == phonetic_key("where")
    assert phonetic_key("pull") == phonetic_key("pool")
    assert phonetic_key("jim") == phonetic_key("gym")
    assert phonetic_key("pool") != phonetic_key("park")
