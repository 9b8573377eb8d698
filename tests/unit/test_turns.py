"""Turn policy in virtual time: scripted events in, actions out."""

import pytest

from omnivox.agent.turns.policy import (
    AgentAudioStarted,
    AgentReplyFinished,
    CancelReply,
    SpeechStarted,
    SpeechStopped,
    StartReply,
    StateChanged,
    Tick,
    TurnAction,
    TurnPolicy,
    TurnPolicyConfig,
    TurnState,
    UserPaused,
)


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
    return TurnPolicy(TurnPolicyConfig(end_of_turn_silence_ms=eot, barge_in_min_speech_ms=barge))


def test_user_turn_ends_after_the_configured_silence() -> None:
    p = make(eot=400)
    assert of(p.handle(SpeechStarted(100, 40)), StateChanged)[0].state is TurnState.USER_SPEAKING
    acts = p.handle(SpeechStopped(1300, 1140))
    assert of(acts, UserPaused) == [UserPaused(1300, 1140)]
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

from omnivox.agent.turns.policy import Duck, OverlapScore, PauseScore, TurnDecision  # noqa: E402


def learned(**kw: float) -> TurnPolicy:
    return TurnPolicy(TurnPolicyConfig(use_classifier=True, **kw))  # type: ignore[arg-type]


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
    acts = p.handle(OverlapScore(1100, 0.05, "wait the"))
    assert not of(acts, TurnDecision)
    assert of(acts, Duck) == [Duck(1100, True)]
    acts = p.handle(OverlapScore(1200, 0.05, "yeah"))
    assert [d.kind for d in of(acts, TurnDecision)] == ["backchannel"]


def test_undecided_then_silence_resumes_and_unducks() -> None:
    p = overlapping(learned())
    acts = p.handle(OverlapScore(1100, 0.4))
    assert of(acts, Duck) == [Duck(1100, True)]
    acts = p.handle(SpeechStopped(1300, 1140))
    assert [d.kind for d in of(acts, TurnDecision)] == ["false_interruption_resumed"]
    assert of(acts, Duck) == [Duck(1300, False)]
    assert not of(acts, CancelReply)
    assert p.state is TurnState.AGENT_SPEAKING


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
