"""`omnivox simulate`: the real session on recorded audio, on a virtual clock."""

from __future__ import annotations

import dataclasses
import json
import wave
from pathlib import Path

import numpy as np
import pytest

from omnivox.agent.cli import main
from omnivox.agent.config import AgentConfig, parse_config
from omnivox.lab.simulate import EchoPath, SimulationResult, simulate
from omnivox.lab.user_track import silence, speech, write_user_wav
from omnivox.media.frames import FRAME_MS, FRAME_SAMPLES
from omnivox.models.talker.espeak import EspeakTalker
from tests.fakes.spied_recognizer import SpiedRecognizer

from .conftest import TEST_CONFIG, agent_config, shared_stack

REQUIRED_METRICS = {
    "endpoint_ms",
    "recognizer_final_ms",
    "thinker_first_token_ms",
    "talker_first_audio_ms",
    "voice_to_voice_ms",
}


async def test_a_question_gets_an_answer_with_every_event() -> None:
    pcm = np.concatenate([silence(0.5), speech("Do you have wifi?"), silence(0.5)])
    res = await simulate(pcm, shared_stack(), agent_config())
    types = [e["type"] for e in res.events]
    for t in (
        "vad_start",
        "vad_stop",
        "transcript_final",
        "user_turn_end",
        "reply_start",
        "reply_text",
        "reply_audio_start",
        "reply_audio_end",
        "turn_metrics",
    ):
        assert t in types, (t, types)
    # Partials are best effort (thinned when the machine falls behind): not required here.
    assert all("t_ms" in e and "type" in e for e in res.events)
    assert [e["t_ms"] for e in res.events] == sorted(e["t_ms"] for e in res.events)
    assert "wi" in res.of_type("transcript_final")[0]["text"].lower()
    metrics = res.of_type("turn_metrics")[0]
    assert REQUIRED_METRICS <= metrics.keys()
    assert all(metrics[k] is not None and metrics[k] >= 0 for k in REQUIRED_METRICS)
    # The agent speaks after the user stopped, on the shared timeline.
    start = res.of_type("reply_audio_start")[0]["t_ms"]
    agent_loud = np.flatnonzero(np.abs(res.agent) > 0)
    assert agent_loud.size and agent_loud[0] / 16 >= start - FRAME_MS
    assert len(res.user) == len(res.agent)


async def test_barge_in_cancels_within_a_frame_and_truncates_history() -> None:
    pcm = np.concatenate([silence(0.5), speech("What are your opening hours?"), silence(0.5)])
    # Said 1.5 s into the answer however long the answer took to begin (a loaded machine).
    stop = (1500.0, np.concatenate([speech("Wait, stop.", voice="en-gb+f2"), silence(0.5)]))
    # Timing-rule barge-in: this test is about the cancel path, not the classifier.
    rules = agent_config().model_copy(
        update={"turns": agent_config().turns.model_copy(update={"classifier": "none"})}
    )
    res = await simulate(pcm, shared_stack(), rules, cut_in=stop)
    cancels = [e for e in res.of_type("reply_cancelled") if e["reason"] == "barge_in"]
    assert len(cancels) == 1, [e["type"] for e in res.events]
    c = cancels[0]
    spoken = " ".join(
        e["text"] for e in res.of_type("reply_text") if e["reply_id"] == c["reply_id"]
    )
    assert (
        c["heard_text"]
        and spoken.startswith(c["heard_text"])
        and len(c["heard_text"]) < len(spoken)
    )
    # Structural bound. The reply's frames were pulled from its first one (one per step,
    # gaps where the Talker was late); `played_ms` says how many, so no more than the steps
    # up to the one in which the decision was taken (step i ends at (i + 1) * 20 ms). What
    # follows that step is silence: nothing queued reached the transport after it.
    start = next(e for e in res.of_type("reply_audio_start") if e["reply_id"] == c["reply_id"])
    first = round(start["t_ms"] / FRAME_MS) - 1
    decision = round(c["t_ms"] / FRAME_MS) - 1
    assert round(c["played_ms"] / FRAME_MS) <= decision - first + 1
    later = [e for e in res.of_type("reply_audio_start") if e["t_ms"] > c["t_ms"]]
    resume = round(later[0]["t_ms"] / FRAME_MS) - 1 if later else len(res.agent) // FRAME_SAMPLES
    assert resume - decision > 20  # a gap far longer than any pause inside a reply
    after = res.agent[(decision + 1) * FRAME_SAMPLES : resume * FRAME_SAMPLES]
    assert not np.any(after), "agent audio continued after the cancel decision"


async def test_audio_still_in_the_far_ends_buffer_at_a_cancel_was_not_heard() -> None:
    pcm = np.concatenate([silence(0.5), speech("What are your opening hours?"), silence(0.5)])
    # Said 1.5 s into the answer however long the answer took to begin (a loaded machine).
    stop = (1500.0, np.concatenate([speech("Wait, stop.", voice="en-gb+f2"), silence(0.5)]))
    rules = agent_config().model_copy(
        update={"turns": agent_config().turns.model_copy(update={"classifier": "none"})}
    )
    res = await simulate(pcm, shared_stack(), rules, playout_delay_ms=300, cut_in=stop)
    [c] = [e for e in res.of_type("reply_cancelled") if e["reason"] == "barge_in"]
    assert c["played_ms"] > 300 and c["heard_ms"] == pytest.approx(c["played_ms"] - 300)
    spoken = " ".join(
        e["text"] for e in res.of_type("reply_text") if e["reply_id"] == c["reply_id"]
    )
    assert spoken.startswith(c["heard_text"]) and len(c["heard_text"]) < len(spoken)


async def test_greeting_is_spoken_first() -> None:
    res = await simulate(
        silence(1.0),
        shared_stack(),
        agent_config().model_copy(update={"greeting": "Hello there."}),
        greet=True,
    )
    texts = [e["text"] for e in res.of_type("reply_text")]
    assert texts == ["Hello there."]
    assert np.any(res.agent)


def test_cli_writes_stereo_wav_and_jsonl(tmp_path: Path) -> None:
    user = write_user_wav(
        tmp_path / "user.wav", silence(0.3), speech("Is there parking?"), silence(0.3)
    )
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("greeting: ''\n")
    out, events = tmp_path / "out.wav", tmp_path / "events.jsonl"
    assert (
        main(
            [
                "simulate",
                str(user),
                "--out",
                str(out),
                "--events",
                str(events),
                "--config",
                str(cfg),
            ]
        )
        == 0
    )
    with wave.open(str(out)) as w:
        assert w.getnchannels() == 2 and w.getframerate() == 16000
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert lines and all({"type", "t_ms"} <= e.keys() for e in lines)
    assert any(e["type"] == "transcript_final" for e in lines)


def test_cli_reports_bad_input_without_a_traceback(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    assert main(["simulate", str(bad), "--out", str(tmp_path / "o.wav")]) == 2
    err = capsys.readouterr().err
    assert "bad.wav" in err and "Traceback" not in err
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("turns:\n  nonsense: 1\n")
    assert main(["simulate", str(bad), "--config", str(cfg)]) == 2
    assert "turns.nonsense: unknown key" in capsys.readouterr().err


async def test_safety_intervention_blocks_a_reply_and_reports_its_time() -> None:
    config = agent_config().model_copy(
        update={
            "interventions": [
                {
                    "safety": {
                        "blocklist": ["parking"],
                        "blocked_reply": "Let's talk about something else.",
                    }
                }
            ]
        }
    )
    pcm = np.concatenate([silence(0.5), speech("Where can I park my car?"), silence(0.5)])
    res = await simulate(pcm, shared_stack(), config)
    assert [e["text"] for e in res.of_type("reply_text")] == ["Let's talk about something else."]
    assert res.of_type("reply_blocked")[0]["by"] == "safety"
    assert "safety" in res.of_type("turn_metrics")[0]["interventions"]


async def test_at_a_pause_the_classifier_judges_the_final_transcript() -> None:
    """The streaming partials are rough; the speculative final is what the classifier
    reads at a pause (and what the Thinker will get). The waits are long so that a slow
    machine's final still comes in time."""
    real = shared_stack().turn_classifier
    assert real is not None
    seen: list[tuple[bool, str]] = []

    class Spy:
        thresholds = real.thresholds

        def score(self, audio, text, context):  # type: ignore[no-untyped-def]
            seen.append((context.agent_speaking, text))
            return real.score(audio, text, context)

    stack = dataclasses.replace(shared_stack(), turn_classifier=Spy())
    base = agent_config()
    turns = base.turns.model_copy(update={"pause_final_wait_ms": 5000, "pause_score_wait_ms": 6000})
    pcm = np.concatenate([silence(0.5), speech("Can I bring my kids?"), silence(2.0)])
    res = await simulate(pcm, stack, base.model_copy(update={"turns": turns}))
    [final] = res.of_type("transcript_final")
    pause_texts = [text for speaking, text in seen if not speaking]
    assert pause_texts and pause_texts[0] == final["text"]


async def test_over_the_agent_the_classifier_reads_interim_finals() -> None:
    """While the user talks over the agent, the final recognizer is asked for their words
    every 200 ms, and the classifier reads its answer, not the streaming partial."""
    base = shared_stack()
    real_classifier, real_recognizer = base.turn_classifier, base.recognizer
    assert real_classifier is not None and real_recognizer.interim_finals
    overlap_texts: list[str] = []

    class SpyClassifier:
        thresholds = real_classifier.thresholds

        def score(self, audio, text, context):  # type: ignore[no-untyped-def]
            if context.agent_speaking:
                overlap_texts.append(text)
            return real_classifier.score(audio, text, context)

    recognizer = SpiedRecognizer(real_recognizer)
    stack = dataclasses.replace(base, turn_classifier=SpyClassifier(), recognizer=recognizer)
    pcm = np.concatenate([silence(0.5), speech("How much is a day pass?"), silence(0.5)])
    meant = speech("Wait, I meant the price for children.", voice="en-gb+f2")
    # No score takes the floor here (only max_overlap_ms does), so the overlap lasts long
    # enough for interim finals to come back however slow the machine is: this is about
    # which words the classifier reads, not how fast it decides.
    config = parse_config({**TEST_CONFIG, "turns": {"takeover_threshold": 1.0}}, "test")
    await simulate(pcm, stack, config, cut_in=(1000.0, np.concatenate([meant, silence(2.0)])))
    assert overlap_texts
    finals = [text for _, text in recognizer.calls.finals]
    assert any(text and text in finals for text in overlap_texts)


@pytest.mark.parametrize("early_ms", [0, 64])
async def test_the_final_is_started_early_in_a_silence(early_ms: int) -> None:
    """`recognizer.early_final_ms` in, before the VAD calls it a pause, the recognizer is
    asked for the final; the pause's own final then has the same text."""
    recognizer = SpiedRecognizer(shared_stack().recognizer)
    stack = dataclasses.replace(shared_stack(), recognizer=recognizer)
    base = agent_config()
    config = base.model_copy(
        update={"recognizer": base.recognizer.model_copy(update={"early_final_ms": early_ms})}
    )
    pcm = np.concatenate([silence(0.5), speech("Can I bring my kids?"), silence(1.5)])
    res = await simulate(pcm, stack, config)
    [final] = res.of_type("transcript_final")
    asked = recognizer.calls.finals
    if early_ms == 0:
        assert [text for _, text in asked] == [final["text"]]
    else:
        assert len(asked) == 2 and asked[0][1] == asked[1][1] == final["text"]
        assert asked[0][0] < asked[1][0]  # the early one had heard less of the silence


def _echo_config(cancel: bool) -> AgentConfig:
    base = agent_config()
    return base.model_copy(update={"echo": base.echo.model_copy(update={"cancel": cancel})})


async def _answer_heard_through_a_speaker(cancel: bool) -> SimulationResult:
    pcm = np.concatenate([silence(0.5), speech("What are your opening hours?"), silence(1.0)])
    echo = EchoPath(gain_db=-10.0, delay_ms=120.0)
    # Without cancelling the agent answers itself on and on: 6 s of that is plenty.
    tail_ms = 30_000 if cancel else 6000
    # The eSpeak voice, as the README's echo figures: with the Piper voice the canceller's
    # first half second (before it converges) sometimes lets the VAD hear a syllable.
    stack = dataclasses.replace(shared_stack(), talker=EspeakTalker())
    return await simulate(pcm, stack, _echo_config(cancel), echo=echo, max_tail_ms=tail_ms)


async def test_a_client_without_echo_cancelling_makes_the_agent_hear_itself() -> None:
    """What `echo.cancel` is for: the agent's voice, back through the user's mic."""
    res = await _answer_heard_through_a_speaker(cancel=False)
    answer_starts = res.of_type("reply_audio_start")[0]["t_ms"]
    assert [e for e in res.of_type("vad_start") if e["t_ms"] > answer_starts]


async def test_echo_cancelling_lets_the_agent_finish_its_answer() -> None:
    res = await _answer_heard_through_a_speaker(cancel=True)
    answer_starts = res.of_type("reply_audio_start")[0]["t_ms"]
    assert not [e for e in res.of_type("vad_start") if e["t_ms"] > answer_starts]
    assert not res.of_type("reply_cancelled")
    assert len(res.of_type("reply_done")) == 1
    assert "opening" in res.of_type("transcript_final")[0]["text"].lower()
