"""Turn policy in virtual time: scripted events in, actions out."""

import pytest

from omnivox.agent.config import TurnsConfig
from omnivox.agent.turns.events import (
    AgentAudioStarted,
    AgentReplyFinished,
    CancelReply,
    SpeechStarted,
    SpeechStopped,
    StartReply,
    StateChanged,
    Tick,
    TurnAction,
    TurnState,
    UserPaused,
)
from omnivox.agent.turns.policy import TurnPolicy
from omnivox.models.turn.classifier import TurnThresholds


def ticks(policy: TurnPolicy, start: float, end: float, step: float = 20.0) -> list[TurnAction]:
    out: list[TurnAction] = []
    t = start
    while t <= end:
        out += policy.handle(Tick(t))
        t += step
    return out


def of(actions: list[TurnAction], kind: type) -> list:
    return [a for a in actions if isinstance(a, kind)]


def make(eot: float = 400, barge: float = 200) -> TurnPolicy:
    return TurnPolicy(
        TurnsConfig(end_of_turn_silence_ms=eot, barge_in_min_speech_ms=barge, classifier="none")
    )


def test_user_turn_ends_after_the_configured_silence() -> None:
    p = make(eot=400)
    assert of(p.handle(SpeechStarted(100, 40)), StateChanged)[0].state is TurnState.USER_SPEAKING
    acts = p.handle(SpeechStopped(1300, 1140))
    assert of(acts, UserPaused) == [UserPaused(1300, 1140, p.generation)]
    assert not of(ticks(p, 1320, 1520), StartReply)  # 1520 - 1140 = 380 < 400
    acts = p.handle(Tick(1540))
    assert of(acts, StartReply) == [StartReply(1540, 1140)]
    assert p.state is TurnState.THINKING


def test_a_pause_shorter_than_the_hangover_keeps_the_turn() -> None:
    p = make(eot=400)
    p.handle(SpeechStarted(100, 40))
    p.handle(SpeechStopped(800, 700))
    ticks(p, 820, 1000)
    p.handle(SpeechStarted(1040, 1000))
    assert not of(ticks(p, 1060, 2000), StartReply)
    assert p.state is TurnState.USER_SPEAKING


def test_speech_while_thinking_drops_the_pending_reply() -> None:
    p = make(eot=300)
    p.handle(SpeechStarted(100, 40))
    p.handle(SpeechStopped(600, 500))
    assert of(ticks(p, 620, 820), StartReply)
    acts = p.handle(SpeechStarted(900, 860))
    assert of(acts, CancelReply) == [CancelReply(900, "user_resumed", 860)]
    assert p.state is TurnState.USER_SPEAKING


def test_barge_in_cancels_after_min_speech() -> None:
    p = make(barge=200)
    p.handle(SpeechStarted(100, 40))
    p.handle(SpeechStopped(600, 500))
    ticks(p, 620, 1000)
    p.handle(AgentAudioStarted(1100))
    assert p.state is TurnState.AGENT_SPEAKING
    p.handle(SpeechStarted(2060, 2000))
    assert p.state is TurnState.OVERLAP
    assert not of(ticks(p, 2080, 2180), CancelReply)
    acts = p.handle(Tick(2200))
    assert of(acts, CancelReply) == [CancelReply(2200, "barge_in", 2000)]
    assert p.state is TurnState.USER_SPEAKING


def test_short_overlap_is_ignored_and_the_agent_keeps_talking() -> None:
    p = make(barge=200)
    p.handle(AgentAudioStarted(0))  # a greeting, from listening
    assert p.state is TurnState.AGENT_SPEAKING
    p.handle(SpeechStarted(500, 450))
    acts = ticks(p, 520, 600) + p.handle(SpeechStopped(620, 600))
    assert not of(acts, CancelReply)
    assert p.state is TurnState.AGENT_SPEAKING
    assert not of(ticks(p, 640, 1200), CancelReply)


def test_reply_finishing_returns_to_listening_or_hands_over() -> None:
    p = make()
    p.handle(AgentAudioStarted(0))
    p.handle(AgentReplyFinished(900))
    assert p.state is TurnState.LISTENING
    p.handle(AgentAudioStarted(1000))
    p.handle(SpeechStarted(1500, 1450))
    p.handle(AgentReplyFinished(1550))
    assert p.state is TurnState.USER_SPEAKING
    # and that turn ends normally
    p.handle(SpeechStopped(2000, 1900))
    assert of(ticks(p, 2020, 2400), StartReply)


def test_state_changes_are_reported_once() -> None:
    p = make()
    acts = p.handle(SpeechStarted(100, 40)) + p.handle(SpeechStarted(200, 150))
    assert len(of(acts, StateChanged)) == 1


# ---- with the learned classifier -------------------------------------------------------

from omnivox.agent.turns.events import (  # noqa: E402
    Duck,
    OverlapPaused,
    OverlapScore,
    PauseScore,
    TurnDecision,
)


def learned(**kw: float) -> TurnPolicy:
    return TurnPolicy(TurnsConfig(**kw), TurnThresholds())  # type: ignore[arg-type]


def overlapping(p: TurnPolicy) -> TurnPolicy:
    """The agent speaks; at 1060 ms the VAD reports user speech that began at 1000."""
    p.handle(AgentAudioStarted(0))
    assert p.state is TurnState.AGENT_SPEAKING
    p.handle(SpeechStarted(1060, 1000))
    return p


def pausing(p: TurnPolicy) -> TurnPolicy:
    """The user spoke from 40 ms and went quiet at 1140 (the VAD tells at 1300)."""
    p.handle(SpeechStarted(100, 40))
    p.handle(SpeechStopped(1300, 1140))
    return p


def test_backchannel_keeps_the_agent_talking() -> None:
    p = overlapping(learned())
    acts = ticks(p, 1080, 1180) + p.handle(OverlapScore(1200, 0.05, "uh-huh"))
    acts += ticks(p, 1220, 1500) + p.handle(SpeechStopped(1520, 1360))
    assert not of(acts, CancelReply)
    decisions = of(acts, TurnDecision)
    assert [d.kind for d in decisions] == ["backchannel"]
    assert decisions[0].decision_ms == 200
    assert p.state is TurnState.AGENT_SPEAKING


def test_take_over_cancels_on_the_score_not_the_duration() -> None:
    p = overlapping(learned(max_overlap_ms=5000))
    assert not of(ticks(p, 1080, 1400), CancelReply)  # long enough for v1, not decided yet
    acts = p.handle(OverlapScore(1420, 0.995))
    assert of(acts, CancelReply) == [CancelReply(1420, "barge_in", 1000)]
    assert of(acts, TurnDecision)[0].kind == "interruption"
    assert p.state is TurnState.USER_SPEAKING


def test_a_backchannel_verdict_is_not_overturned_by_the_same_short_murmur() -> None:
    p = overlapping(learned(backchannel_max_ms=700, takeover_threshold=0.9))
    p.handle(OverlapScore(1100, 0.1, "mm-hmm"))  # backchannel
    assert not of(p.handle(OverlapScore(1500, 0.99)), CancelReply)  # 500 ms in: still short
    # Speech that goes on past a backchannel's length ("yeah, but...") can take over.
    assert of(p.handle(OverlapScore(1700, 0.99)), CancelReply) == [
        CancelReply(1700, "barge_in", 1000)
    ]


def test_without_a_backchannel_verdict_a_take_over_is_not_delayed() -> None:
    p = overlapping(learned(backchannel_max_ms=700, takeover_threshold=0.9))
    assert of(p.handle(OverlapScore(1200, 0.995)), CancelReply)


def test_a_backchannel_verdict_gives_way_to_words_that_are_not_one() -> None:
    p = overlapping(learned(backchannel_max_ms=700, takeover_threshold=0.9, takeover_support=0.8))
    p.handle(OverlapScore(1100, 0.1, "yeah"))
    assert not of(p.handle(OverlapScore(1200, 0.95, "yeah")), CancelReply)
    assert of(p.handle(OverlapScore(1300, 0.95, "yeah wait")), CancelReply)


def test_after_a_backchannel_verdict_one_respelt_word_does_not_stop_the_agent() -> None:
    p = overlapping(
        learned(backchannel_max_ms=700, takeover_threshold=0.8, takeover_confident=0.99)
    )
    p.handle(OverlapScore(1300, 0.1, "Yeah."))
    assert not of(p.handle(OverlapScore(1500, 0.98, "Yet,")), CancelReply)


def test_a_request_to_wait_takes_over_whatever_the_score() -> None:
    p = overlapping(learned())
    assert not of(p.handle(OverlapScore(1100, 0.05, "oh")), CancelReply)  # a backchannel
    acts = p.handle(OverlapScore(1200, 0.05, "one moment please"))
    assert of(acts, CancelReply) == [CancelReply(1200, "barge_in", 1000)]


def test_words_that_open_with_a_request_to_wait_take_over_whatever_the_score() -> None:
    p = overlapping(learned())
    acts = p.handle(OverlapScore(1300, 0.05, "Hold on, that's"))
    assert of(acts, CancelReply) == [CancelReply(1300, "barge_in", 1000)]


def test_more_words_than_a_backchannel_for_longer_than_one_take_over() -> None:
    p = overlapping(learned(backchannel_max_ms=700))
    p.handle(OverlapScore(1100, 0.05, "okay"))  # a backchannel verdict

    def final(t_ms: float, words: str) -> list[TurnAction]:
        p.handle(OverlapTranscript(t_ms - 10, p.generation, words))
        return p.handle(OverlapScore(t_ms, 0.05, words))

    # Words that are not backchannel tokens, but still short: the score rules.
    assert not of(final(1500, "okay so the other"), CancelReply)
    # Long, but all backchannel, or as few words as one has: no reason to stop.
    assert not of(final(1800, "yeah right okay"), CancelReply)
    assert not of(final(1850, "oh thank you"), CancelReply)
    # The streaming recognizer's words alone (it spells a murmur as several) do not count.
    assert not of(p.handle(OverlapScore(1870, 0.05, "him and then on")), CancelReply)
    acts = final(1900, "okay so the other")
    assert of(acts, CancelReply) == [CancelReply(1900, "barge_in", 1000)]


def test_a_lone_take_over_spike_needs_support() -> None:
    p = overlapping(learned(takeover_threshold=0.9, takeover_support=0.8, takeover_confident=0.99))
    assert not of(p.handle(OverlapScore(1100, 0.3)), CancelReply)
    assert not of(p.handle(OverlapScore(1200, 0.95)), CancelReply)  # a spike: "oh"
    assert not of(p.handle(OverlapScore(1300, 0.3)), CancelReply)
    assert not of(p.handle(OverlapScore(1400, 0.85)), CancelReply)
    acts = p.handle(OverlapScore(1500, 0.92))  # the previous score leaned the same way
    assert of(acts, CancelReply) == [CancelReply(1500, "barge_in", 1000)]


def test_a_word_that_is_no_backchannel_supports_a_lone_score() -> None:
    cfg = {"takeover_threshold": 0.8, "takeover_support": 0.8, "takeover_confident": 0.99}
    for text, stops in (("", False), ("mm-hmm", False), ("sorry", True)):
        p = overlapping(learned(**cfg))
        p.handle(OverlapScore(1100, 0.5))
        acts = p.handle(OverlapScore(1200, 0.85, text))
        assert bool(of(acts, CancelReply)) is stops, text


def test_words_lower_the_take_over_threshold() -> None:
    cfg = {"takeover_threshold": 0.8, "takeover_support": 0.8, "takeover_words_margin": 0.2}
    murmur, words = learned(**cfg), learned(**cfg)
    for p in (murmur, words):
        overlapping(p)
    assert not of(murmur.handle(OverlapScore(1100, 0.65, "oh yeah")), CancelReply)
    assert not of(murmur.handle(OverlapScore(1200, 0.65, "oh yeah")), CancelReply)
    assert of(words.handle(OverlapScore(1100, 0.65, "no the other")), CancelReply)


def test_words_that_are_not_backchannel_tokens_veto_a_backchannel_verdict() -> None:
    p = overlapping(learned())
    acts = p.handle(OverlapScore(1100, 0.05, "the other"))
    assert not of(acts, TurnDecision) and p.ducked  # still undecided
    acts = p.handle(OverlapScore(1200, 0.05, "yeah"))
    assert [d.kind for d in of(acts, TurnDecision)] == ["backchannel"]
    assert of(acts, Duck) == [Duck(1200, False)]


def test_the_agent_ducks_at_the_onset_and_a_backchannel_restores_it() -> None:
    p = learned()
    p.handle(AgentAudioStarted(0))
    acts = p.handle(SpeechStarted(1060, 1000))
    assert of(acts, Duck) == [Duck(1060, True)] and p.ducked  # before any score
    acts = p.handle(OverlapScore(1100, 0.05))
    assert [d.kind for d in of(acts, TurnDecision)] == ["backchannel"]
    assert of(acts, Duck) == [Duck(1100, False)] and not p.ducked
    rules = learned(duck_while_undecided=False)
    rules.handle(AgentAudioStarted(0))
    assert not of(rules.handle(SpeechStarted(1060, 1000)), Duck)


def test_undecided_then_silence_resumes_and_unducks() -> None:
    p = overlapping(learned(overlap_final_wait_ms=0))
    acts = p.handle(OverlapScore(1100, 0.4))
    assert p.ducked and not of(acts, Duck)  # ducked since the onset
    acts = p.handle(SpeechStopped(1300, 1140))
    assert [d.kind for d in of(acts, TurnDecision)] == ["false_interruption_resumed"]
    assert of(acts, Duck) == [Duck(1300, False)]
    assert not of(acts, CancelReply)
    assert p.state is TurnState.AGENT_SPEAKING


def test_undecided_speech_that_stopped_resumes_unless_its_final_words_ask_to_wait() -> None:
    murmur, stop, silent = (overlapping(learned(overlap_final_wait_ms=300)) for _ in range(3))
    for p in (murmur, stop, silent):
        p.handle(OverlapScore(1100, 0.4))
        acts = p.handle(SpeechStopped(1300, 1140))
        assert of(acts, OverlapPaused) == [OverlapPaused(1300, p.generation)]
        assert p.ducked and p.state is TurnState.OVERLAP and not of(acts, TurnDecision)
        assert not of(ticks(p, 1320, 1580), CancelReply)  # waiting for the words
    acts = murmur.handle(OverlapTranscript(1400, murmur.generation, "Mm-hmm."))
    assert [d.kind for d in of(acts, TurnDecision)] == ["false_interruption_resumed"]
    assert murmur.state is TurnState.AGENT_SPEAKING and not murmur.ducked
    acts = stop.handle(OverlapTranscript(1400, stop.generation, "Stop."))
    assert of(acts, CancelReply) == [CancelReply(1400, "barge_in", 1000)]
    acts = silent.handle(Tick(1600))  # no words in time: the agent goes on
    assert [d.kind for d in of(acts, TurnDecision)] == ["false_interruption_resumed"]
    assert silent.state is TurnState.AGENT_SPEAKING


def test_speech_again_while_the_words_are_awaited_is_the_same_overlap() -> None:
    p = overlapping(learned(overlap_final_wait_ms=300))
    p.handle(OverlapTranscript(1200, p.generation, "Wait,"))
    p.handle(SpeechStopped(1300, 1140))
    p.handle(SpeechStarted(1400, 1350))
    assert p.state is TurnState.OVERLAP and not of(ticks(p, 1420, 1700), TurnDecision)
    acts = p.handle(OverlapScore(1720, 0.2, "Wait, stop."))
    assert of(acts, CancelReply) == [CancelReply(1720, "barge_in", 1000)]  # from its onset


def test_the_reply_ending_while_the_words_are_awaited_ends_the_overlap() -> None:
    p = overlapping(learned(overlap_final_wait_ms=300))
    p.handle(SpeechStopped(1300, 1140))
    acts = p.handle(AgentReplyFinished(1350))
    assert p.state is TurnState.LISTENING and not p.ducked and not of(acts, CancelReply)
    assert not p.handle(OverlapTranscript(1400, p.generation, "Stop."))


def test_undecided_speech_that_goes_on_takes_over() -> None:
    p = overlapping(learned(max_overlap_ms=1500))
    p.handle(OverlapScore(1100, 0.4))
    acts = ticks(p, 1120, 2500)
    assert of(acts, CancelReply) == [CancelReply(2500, "barge_in", 1000)]


def test_finished_pause_takes_the_turn_early() -> None:
    p = pausing(learned(end_of_turn_silence_ms=600))
    acts = p.handle(PauseScore(1320, 0.9))
    assert of(acts, StartReply) == [StartReply(1320, 1140)]
    [decision] = of(acts, TurnDecision)
    assert decision.kind == "finished"
    assert decision.decision_ms == 180  # timed from the pause, the gap the user feels


def test_hold_pause_waits_longer() -> None:
    p = pausing(learned(end_of_turn_silence_ms=400, max_end_of_turn_silence_ms=1500))
    acts = p.handle(PauseScore(1320, 0.05))
    assert [d.kind for d in of(acts, TurnDecision)] == ["hold"]
    assert not of(ticks(p, 1340, 2620), StartReply)  # well past the plain 400 ms rule
    assert of(p.handle(Tick(2640)), StartReply) == [StartReply(2640, 1140)]


def test_uncertain_pause_falls_back_to_the_silence_rule() -> None:
    p = pausing(learned(end_of_turn_silence_ms=400, graded_pause=False))
    p.handle(PauseScore(1320, 0.35))
    assert of(ticks(p, 1340, 1540), StartReply) == [StartReply(1540, 1140)]


def test_uncertain_pause_waits_longer_the_lower_the_score() -> None:
    cfg = {"end_of_turn_silence_ms": 400, "max_end_of_turn_silence_ms": 1400}
    cfg |= {"finished_threshold": 0.6, "hold_threshold": 0.2}
    ends = []
    for score in (0.5, 0.3):
        p = learned(**cfg)
        p.handle(SpeechStarted(100, 40))
        p.handle(SpeechStopped(1300, 1000))
        p.handle(PauseScore(1320, score))
        [start] = of(ticks(p, 1340, 2600), StartReply)
        ends.append(start.t_ms)
    # 400 ms plus a quarter, then three quarters, of the 1000 ms up to the maximum.
    assert ends == [1660, 2160]


def test_a_pause_after_a_dangling_word_holds_whatever_the_score() -> None:
    p = pausing(learned(end_of_turn_silence_ms=400, max_end_of_turn_silence_ms=1500))
    acts = p.handle(PauseScore(1320, 0.9, "I'd like to book the"))
    assert [d.kind for d in of(acts, TurnDecision)] == ["hold"]
    assert not of(ticks(p, 1340, 2620), StartReply)
    assert of(p.handle(Tick(2640)), StartReply) == [StartReply(2640, 1140)]


def test_a_question_the_recogniser_punctuated_lowers_the_finished_threshold() -> None:
    p = pausing(learned(end_of_turn_silence_ms=400, max_end_of_turn_silence_ms=1500))
    acts = p.handle(PauseScore(1320, 0.15, "What are your opening hours?"))
    assert of(acts, StartReply) == [StartReply(1320, 1140)]
    assert [(d.kind, d.probability) for d in of(acts, TurnDecision)] == [("finished", 0.15)]


@pytest.mark.parametrize(
    ("p_finished", "text", "kw"),
    [
        (0.15, "What are your opening hours?", {"question_threshold": None}),
        (0.15, "What about the?", {}),  # dangling
        (0.15, "What are your opening hours", {}),  # no punctuation, no cue
        (0.01, "Can you tell me?", {}),  # the classifier is sure the user holds
    ],
)
def test_the_question_rule_gives_way(p_finished: float, text: str, kw: dict) -> None:
    p = pausing(learned(end_of_turn_silence_ms=400, max_end_of_turn_silence_ms=1500, **kw))
    acts = p.handle(PauseScore(1320, p_finished, text))
    assert [d.kind for d in of(acts, TurnDecision)] == ["hold"]
    assert not of(ticks(p, 1340, 2620), StartReply)


def test_the_silence_rule_waits_for_the_first_pause_score() -> None:
    p = pausing(learned(end_of_turn_silence_ms=400, pause_score_wait_ms=700))
    assert not of(ticks(p, 1320, 1820), StartReply)  # 680 ms: no score yet, still waiting
    assert of(p.handle(Tick(1840)), StartReply) == [StartReply(1840, 1140)]


def test_every_turn_the_classifier_saw_ends_with_one_finished_decision() -> None:
    unsure = pausing(learned(end_of_turn_silence_ms=400, graded_pause=False))
    unsure.handle(PauseScore(1320, 0.35))
    acts = ticks(unsure, 1340, 1540)
    assert [(d.kind, d.probability, d.t_ms) for d in of(acts, TurnDecision)] == [
        ("finished", 0.35, 1540)
    ]
    unscored = pausing(learned(end_of_turn_silence_ms=400, pause_score_wait_ms=700))
    acts = ticks(unscored, 1320, 1840)
    assert [(d.kind, d.probability) for d in of(acts, TurnDecision)] == [("finished", None)]
    assert not of(ticks(pausing(make()), 1320, 2000), TurnDecision)  # rules only: none


def test_scores_are_ignored_without_the_classifier() -> None:
    p = overlapping(make())
    assert not p.handle(OverlapScore(1100, 0.99))


# ---- classifier queries: when, on which words, and stale answers ----------------------

from omnivox.agent.turns.events import (  # noqa: E402
    ClassifierFailed,
    OverlapTranscript,
    PartialTranscript,
    PauseTranscript,
    QueryClassifier,
)


def queries(actions: list[TurnAction]) -> list[QueryClassifier]:
    return of(actions, QueryClassifier)


def test_overlap_queries_go_one_at_a_time_every_interval() -> None:
    p = overlapping(learned(classifier_interval_ms=100))
    (q,) = queries(p.handle(PartialTranscript(1080, "so")))  # new words: at once
    assert (q.kind, q.generation, q.text) == ("overlap", p.generation, "so")
    assert q.context.agent_speaking and q.context.ms_since_agent_pause == 1080
    assert not queries(ticks(p, 1100, 1400))  # the first is still in flight
    p.handle(OverlapScore(1400, 0.3, "so", q.generation))
    assert queries(p.handle(Tick(1420)))  # answered and the interval has passed
    p.handle(OverlapScore(1440, 0.3, "so", p.generation))
    assert not queries(ticks(p, 1460, 1500))  # answered, but 1500 - 1420 < 100
    assert queries(p.handle(Tick(1520)))


def test_an_answer_about_a_past_overlap_is_dropped_but_frees_the_next_query() -> None:
    p = overlapping(learned())
    (q,) = queries(p.handle(Tick(1080)))
    p.handle(SpeechStopped(1200, 1140))  # a murmur: the agent goes on
    p.handle(SpeechStarted(1300, 1250))  # a new overlap
    acts = p.handle(OverlapScore(1310, 0.999, "", q.generation))
    assert not of(acts, CancelReply) and p.state is TurnState.OVERLAP
    (q2,) = queries(p.handle(Tick(1320)))
    assert q2.generation == p.generation != q.generation


def test_the_overlap_words_are_scored_the_moment_they_arrive() -> None:
    p = overlapping(learned())
    (q,) = queries(p.handle(PartialTranscript(1070, "way")))
    p.handle(OverlapScore(1100, 0.3, "way", q.generation))
    p.handle(OverlapTranscript(1110, p.generation - 1, "stale words"))
    (q2,) = queries(p.handle(OverlapTranscript(1120, p.generation, "wait stop")))
    assert q2.text == "wait stop"  # before the interval: the words are new evidence


def test_new_streaming_words_over_the_agent_are_scored_at_once() -> None:
    p = overlapping(learned())
    (q,) = queries(p.handle(Tick(1080)))
    assert not queries(p.handle(PartialTranscript(1090, "wait")))  # one query at a time
    p.handle(OverlapScore(1100, 0.3, "", q.generation))
    (q2,) = queries(p.handle(PartialTranscript(1120, "wait stop")))
    assert q2.text == "wait stop"
    p.handle(OverlapScore(1140, 0.3, "wait stop", q2.generation))
    assert not queries(p.handle(PartialTranscript(1150, "wait stop")))  # nothing new
    p.handle(OverlapTranscript(1160, p.generation, "Wait, stop."))
    assert not queries(p.handle(PartialTranscript(1170, "wait stop it")))  # the final reads


def test_a_final_that_heard_nothing_keeps_the_words_of_the_one_before() -> None:
    p = overlapping(learned())
    (q,) = queries(p.handle(OverlapTranscript(1100, p.generation, "Sure.")))
    p.handle(OverlapScore(1110, 0.3, "Sure.", q.generation))
    p.handle(OverlapTranscript(1200, p.generation, ""))  # the murmur dropped
    assert not queries(p.handle(PartialTranscript(1210, "op")))  # the final's words read
    (q2,) = queries(p.handle(Tick(1220)))
    assert q2.text == "Sure."
    acts = p.handle(OverlapScore(1230, 0.95, "Sure.", q2.generation))
    assert not of(acts, CancelReply) and p.state is TurnState.OVERLAP


def test_a_murmur_spelled_in_letters_is_scored_without_words() -> None:
    p = overlapping(learned())
    (q,) = queries(p.handle(OverlapTranscript(1100, p.generation, "A.")))
    assert q.text == ""


def test_a_pause_is_scored_on_its_final_transcript_or_after_the_final_wait() -> None:
    p = learned(pause_final_wait_ms=200)
    p.handle(SpeechStarted(100, 40))
    p.handle(PartialTranscript(900, "what are your opening"))
    (paused,) = of(p.handle(SpeechStopped(1300, 1140)), UserPaused)
    assert paused.generation == p.generation
    assert not queries(ticks(p, 1320, 1480))  # waiting for the final
    (q,) = queries(p.handle(PauseTranscript(1400, paused.generation, "What are your hours?")))
    assert (q.kind, q.text, q.settles) == ("pause", "What are your hours?", True)
    assert not q.context.agent_speaking

    p2 = learned(pause_final_wait_ms=200)
    p2.handle(SpeechStarted(100, 40))
    p2.handle(PartialTranscript(900, "what are your opening"))
    p2.handle(SpeechStopped(1300, 1140))
    assert not queries(ticks(p2, 1320, 1480))
    (q,) = queries(p2.handle(Tick(1500)))  # the final is late: score the partial
    assert (q.text, q.settles) == ("what are your opening", False)


def test_a_pause_s_final_replaces_the_query_on_its_partial_still_in_flight() -> None:
    """On a loaded server the query on the partial waits behind other sessions' finals;
    the final's arrival sends its own query at once, and the turn is decided by it."""
    p = learned(pause_final_wait_ms=200)
    p.handle(SpeechStarted(100, 40))
    p.handle(PartialTranscript(900, "what are your opening"))
    (paused,) = of(p.handle(SpeechStopped(1300, 1140)), UserPaused)
    (standin,) = queries(ticks(p, 1320, 1500))
    assert not standin.settles
    (q,) = queries(p.handle(PauseTranscript(1600, paused.generation, "What are your hours?")))
    assert (q.text, q.settles) == ("What are your hours?", True)
    assert not queries(ticks(p, 1620, 1700))  # one query in flight again
    acts = p.handle(PauseScore(1710, 0.99, q.text, q.generation))
    assert of(acts, StartReply)
    # Once the final's query is out, a late final of the same pause adds none.
    p2 = learned(pause_final_wait_ms=0)
    p2.handle(SpeechStarted(100, 40))
    (paused,) = of(p2.handle(SpeechStopped(1300, 1140)), UserPaused)
    (q,) = queries(p2.handle(PauseTranscript(1320, paused.generation, "Hours?")))
    assert not queries(p2.handle(PauseTranscript(1340, paused.generation, "Hours?")))


def test_the_classifier_hears_whether_the_agent_just_asked_a_question() -> None:
    p = learned(pause_final_wait_ms=0)
    p.handle(AgentAudioStarted(0))
    p.handle(AgentReplyFinished(2000, "Shall I book it for you?"))
    p.handle(SpeechStarted(2500, 2440))
    p.handle(SpeechStopped(3000, 2840))
    (q,) = queries(p.handle(Tick(3020)))
    assert q.context.agent_asked_question and q.context.ms_since_agent_pause == 1020


def test_a_failed_classifier_leaves_the_floor_to_the_timing_rules() -> None:
    p = overlapping(learned(barge_in_min_speech_ms=200))
    assert queries(p.handle(Tick(1080)))
    p.handle(ClassifierFailed(1100))
    acts = ticks(p, 1120, 1300)
    assert not queries(acts)
    assert of(acts, CancelReply)[0].t_ms == 1200  # 200 ms of speech, as without a model


def test_ducking_is_the_policy_s_own_state() -> None:
    p = overlapping(learned(overlap_final_wait_ms=0))
    p.handle(OverlapScore(1100, 0.5))
    assert p.ducked
    p.handle(SpeechStopped(1300, 1240))
    assert not p.ducked
    p.handle(SpeechStarted(1900, 1850))  # a new overlap, past OVERLAP_JOIN_MS
    p.handle(OverlapScore(1920, 0.5))
    assert p.ducked
    p.handle(OverlapScore(2020, 0.995))  # take-over: nothing left to restore
    assert not p.ducked and p.state is TurnState.USER_SPEAKING


# ---- the agent's own words in the overlap, and pauses inside it ------------------------

from omnivox.agent.turns.events import AgentWords  # noqa: E402
from omnivox.agent.turns.policy import OVERLAP_JOIN_MS  # noqa: E402
from omnivox.agent.turns.spoken_words import AGENT_ECHO_LEAD_MS  # noqa: E402


def echo_heard(p: TurnPolicy, text: str) -> list[TurnAction]:
    """The final recognizer's words for the overlap, long past a backchannel's length."""
    p.handle(OverlapTranscript(1890, p.generation, text))
    return p.handle(OverlapScore(1900, 0.05, text))


def test_the_agent_s_own_words_in_the_overlap_are_not_the_user_s() -> None:
    said = "I am a member of the government, and"
    heard = "Mm okay. I am a member of the governments."
    echo, clean = learned(backchannel_max_ms=700), learned(backchannel_max_ms=700)
    for p in (echo, clean):
        p.handle(AgentAudioStarted(0))
        if p is echo:
            p.handle(AgentWords(600, said))
        p.handle(SpeechStarted(1060, 1000))
    assert not of(echo_heard(echo, heard), CancelReply)
    # Unknown to the policy, the same words are the user's: more than a backchannel has.
    assert of(echo_heard(clean, heard), CancelReply)


def test_the_agent_s_words_count_again_once_too_old_to_be_echoed() -> None:
    p = learned(backchannel_max_ms=700)
    p.handle(AgentAudioStarted(0))
    p.handle(AgentWords(0, "the member of the government"))
    p.handle(AgentWords(900, "said"))
    onset = 1000 + AGENT_ECHO_LEAD_MS  # the first words began playing long before
    p.handle(SpeechStarted(onset + 60, onset))
    p.handle(OverlapTranscript(onset + 890, p.generation, "no the member government said"))
    acts = p.handle(OverlapScore(onset + 900, 0.05, "no the member government said"))
    assert of(acts, CancelReply) == [CancelReply(onset + 900, "barge_in", onset)]


def test_words_the_agent_is_not_saying_still_take_over() -> None:
    p = learned(backchannel_max_ms=700)
    p.handle(AgentAudioStarted(0))
    p.handle(AgentWords(600, "the gym opens at six"))
    p.handle(SpeechStarted(1060, 1000))
    acts = echo_heard(p, "the gym opens at six, no, the pool opening hours")
    assert of(acts, CancelReply) == [CancelReply(1900, "barge_in", 1000)]


def test_speech_that_resumes_after_a_short_pause_is_the_same_overlap() -> None:
    p = overlapping(learned(overlap_final_wait_ms=0))
    p.handle(OverlapScore(1100, 0.4))
    acts = p.handle(SpeechStopped(1400, 1240))  # "Wait," ... the VAD ends it
    assert [d.kind for d in of(acts, TurnDecision)] == ["false_interruption_resumed"]
    assert p.continues_overlap(1240 + OVERLAP_JOIN_MS)
    assert not p.continues_overlap(1240 + OVERLAP_JOIN_MS + 20)
    p.handle(SpeechStarted(1560, 1500))  # ... "stop."
    p.handle(OverlapTranscript(1600, p.generation, "Wait, stop."))
    acts = p.handle(OverlapScore(1620, 0.2, "Wait, stop."))
    # Timed from the first onset: the user has been taking the floor since then.
    assert of(acts, CancelReply) == [CancelReply(1620, "barge_in", 1000)]


def test_speech_after_a_longer_pause_is_a_new_overlap() -> None:
    p = overlapping(learned(overlap_final_wait_ms=0))
    p.handle(SpeechStopped(1400, 1240))
    onset = 1240 + OVERLAP_JOIN_MS + 100
    assert not p.continues_overlap(onset)
    p.handle(SpeechStarted(onset + 60, onset))
    acts = p.handle(OverlapScore(onset + 100, 0.5, "wait"))
    assert of(acts, CancelReply) == [CancelReply(onset + 100, "barge_in", onset)]


def test_a_paused_overlap_is_not_resumed_once_the_reply_ended() -> None:
    p = overlapping(learned())
    p.handle(SpeechStopped(1400, 1240))
    p.handle(AgentReplyFinished(1420))
    assert not p.continues_overlap(1450)


def test_the_agent_s_own_request_to_wait_in_the_overlap_is_not_the_user_s() -> None:
    echo, clean = learned(), learned()
    for p in (echo, clean):
        p.handle(AgentAudioStarted(0))
        if p is echo:
            p.handle(AgentWords(600, "One moment, let me check."))
        p.handle(SpeechStarted(1060, 1000))
    assert not of(echo.handle(OverlapScore(1200, 0.05, "oh, one moment")), CancelReply)
    assert of(clean.handle(OverlapScore(1200, 0.05, "oh, one moment")), CancelReply)
