"""The page as people hear it: mouth-to-ear in real browsers (a benchmark, not a test).

    omnivox bench browser [--browsers chromium,firefox] [--questions 8] [--starts 3] [--json]

A real omnivox server (embedded stack, greeting off) on loopback and the page in headless
Debian Chromium and Firefox ESR, each with recorded human speech as its microphone (the
Asterisk prompts, one every few seconds; Firefox hears them through a private PulseAudio
source). Per reply it reports, on the page's own audio clock:
- mouth-to-ear: the end of the user's speech in what the page sends to the first sound of
  the reply in what it plays (web/mouthtoear.js; the sound card's own latency excluded);
- the server's share, its `voice_to_voice_ms` (media clock), and the rest, the page's and
  the network's share: capture, Opus, both jitter buffers, pacing, decoding;
and per connection (greeting on) how long after Connect the first agent audio plays; and,
in a call of its own that starts as a person's does, with the shipped greeting (meanwhile
the server learns whether the far end plays the agent back), whether speech said over
the agent's answer reaches the recognizer intact (each question is followed, while its
answer plays, by another prompt: the share of those prompts whose words the server's
final transcripts hold, at least 80 % of them); and, in Firefox (headless Chromium plays
nothing into a sound server), a call whose speaker is looped into its microphone 60 ms
late at full level: the share of replies the agent's own voice cut (barge-ins where the
user track is silent), and the over-agent call again in that room.
Also the page's receive delay (network + jitter buffer, from WebRTC stats) and the
server's event-loop lag. p50 / p95 over all replies; a progress bar on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

from omnivox.agent.config import AgentConfig, parse_config
from omnivox.agent.session import Session
from omnivox.agent.stack import ModelStack, build_stack
from omnivox.lab.browser import (
    BROWSERS,
    Browser,
    ScriptedPage,
    launch_browser,
    missing_prerequisites,
    wait_for_event,
)
from omnivox.lab.evaluation.wer import normalize
from omnivox.lab.local_server import RunningServer, serving
from omnivox.lab.speech_corpus import load_corpus
from omnivox.lab.training.turn_data import progress
from omnivox.lab.user_track import silence, speech_spans, write_user_wav

GREETING_S = 6.0
"""Silence before the first question of the over-agent call: the greeting plays."""
GAP_S = 9.0
"""Silence after each question: room for the answer before the next one."""
OVER_AFTER_S = 1.6
"""The second prompt starts this long after a question: while its answer plays (the
server answers in ~0.3-0.6 s; the answers last seconds)."""
HEARD_SHARE = 0.8
"""An over-agent prompt counts as recognized when a final holds this share of its words."""
FIRST_AUDIO_TIMEOUT_S = 20.0
ROOM_ECHO_MS = 60
"""The room call's speaker-to-microphone delay (full level; PulseAudio adds its own)."""
USER_SLACK_S = 0.3
"""A barge-in this soon before the user's speech in the track is theirs: where the track
sits on the session's clock is known to the first onset's accuracy. None after it: the
reply's own echo arrives there (~0.5 s after the question ends)."""


async def loop_lag(stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.005)
        out.append((time.perf_counter() - t - 0.005) * 1000)


@contextlib.asynccontextmanager
async def connected(
    config: AgentConfig,
    stack: ModelStack,
    browser: Browser,
    wav: Path,
    echo_delay_ms: int | None = None,
) -> AsyncIterator[tuple[RunningServer, ScriptedPage]]:
    async with (
        serving(config, stack) as server,
        launch_browser(browser, wav, echo_delay_ms=echo_delay_ms) as page,
    ):
        await page.goto(server.url + "/")
        await page.evaluate("() => window.omnivox.connect()")
        await wait_for_event(page, "session_started", 20)
        yield server, page


async def conversation(
    config: AgentConfig,
    stack: ModelStack,
    browser: Browser,
    wav: Path,
    questions: int,
    out: dict[str, list[float]],
) -> None:
    """One call with `questions` questions; the figures of each reply the page measured."""
    report = Session.report_playout_delay

    def spy(self: Session, delay_ms: float) -> None:
        out["receive_delay_ms"].append(delay_ms)
        report(self, delay_ms)

    with mock.patch.object(Session, "report_playout_delay", spy):
        async with connected(config, stack, browser, wav) as (_, page):
            stop = asyncio.Event()
            probe = asyncio.create_task(loop_lag(stop, out["loop_lag_ms"]))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + questions * (GAP_S + 6) + 15
            while loop.time() < deadline:
                if len(await page.evaluate("() => window.omnivox.mouthToEars")) >= questions:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(1.0)  # the last reply's metrics and echo
            stop.set()
            await probe
            ears: list[dict[str, Any]] = await page.evaluate("() => window.omnivox.mouthToEars")
            events: list[dict[str, Any]] = await page.evaluate("() => window.omnivox.events")
    v2v = {
        e["reply_id"]: e["voice_to_voice_ms"]
        for e in events
        if e["type"] == "turn_metrics" and e.get("voice_to_voice_ms") is not None
    }
    for ear in ears:
        server = v2v.get(ear["replyId"])
        out["mouth_to_ear_ms"].append(ear["ms"])
        if server is not None:
            out["voice_to_voice_ms"].append(server)
            out["page_and_network_ms"].append(ear["ms"] - server)


async def first_audio(
    config: AgentConfig, stack: ModelStack, browser: Browser, wav: Path, out: dict[str, list[float]]
) -> None:
    """Connect with the greeting on: how soon after Connect the agent is heard."""
    async with connected(config, stack, browser, wav) as (_, page):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FIRST_AUDIO_TIMEOUT_S
        while loop.time() < deadline:
            ms = await page.evaluate("() => window.omnivox.firstAgentAudioMs()")
            if ms is not None:
                out["first_audio_after_connect_ms"].append(ms)
                return
            await asyncio.sleep(0.1)


async def over_agent(
    config: AgentConfig,
    stack: ModelStack,
    browser: Browser,
    wav: Path,
    prompts: list[str],
    out: dict[str, list[float]],
    room: bool = False,
) -> None:
    """One call whose every question is talked over by a prompt while its answer plays:
    per prompt, 100 if the server's final transcripts hold its words, else 0. In a `room`
    the page's speaker is looped into its microphone too (Firefox only)."""
    echo_delay_ms = ROOM_ECHO_MS if room else None
    async with connected(config, stack, browser, wav, echo_delay_ms) as (_, page):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + len(prompts) * (GAP_S + 10) + 15
        while loop.time() < deadline:
            events: list[dict[str, Any]] = await page.evaluate("() => window.omnivox.events")
            if sum(e["type"] == "transcript_final" for e in events) >= 2 * len(prompts):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)  # a last final still on its way
        events = await page.evaluate("() => window.omnivox.events")
    finals = [e["text"] for e in events if e["type"] == "transcript_final"]
    if not room:
        out["over_agent_overlaps"].append(sum(1 for e in events if e.get("state") == "overlap"))
    key = "room_over_agent_recognised" if room else "over_agent_recognised"
    for prompt in prompts:
        heard = max((words_held(prompt, final) for final in finals), default=0.0)
        out[key].append(1.0 if heard >= HEARD_SHARE else 0.0)


def own_voice_cuts(events: list[dict[str, Any]], spans: list[tuple[float, float]]) -> list[float]:
    """Per ended reply, 1 if a barge-in cut it while the user was silent (the agent's own
    voice), else 0; replies the user cut are left out (a question of two sentences can be
    answered in its pause and cut by its second). The track is placed on the session's
    clock by the first onset heard, the first question's."""
    onsets = [e["onset_ms"] for e in events if e["type"] == "vad_start"]
    if not onsets or not spans:
        return []
    shift_ms = onsets[0] - spans[0][0] * 1000.0

    def users(onset_ms: float) -> bool:
        t_s = (onset_ms - shift_ms) / 1000.0
        return any(a - USER_SLACK_S <= t_s <= b for a, b in spans)

    cuts = []
    for e in events:
        if e["type"] == "reply_done":
            cuts.append(0.0)
        elif e["type"] == "reply_cancelled" and e["reason"] == "barge_in":
            if not users(e["onset_ms"]):
                cuts.append(1.0)
    return cuts


async def room_echo(
    config: AgentConfig,
    stack: ModelStack,
    wav: Path,
    spans: list[tuple[float, float]],
    questions: int,
    out: dict[str, list[float]],
) -> None:
    """Firefox's speaker looped into its microphone (the default page: the server cancels
    the echo): per reply, 1 if the agent's own voice cut it, else 0."""
    async with connected(config, stack, "firefox", wav, echo_delay_ms=ROOM_ECHO_MS) as (_, page):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + questions * (GAP_S + 6) + 15
        events: list[dict[str, Any]] = []
        ended: list[dict[str, Any]] = []
        while loop.time() < deadline and len(ended) < questions:
            events = await page.evaluate("() => window.omnivox.events")
            ended = [e for e in events if e["type"] in ("reply_done", "reply_cancelled")]
            await asyncio.sleep(0.5)
    out["room_self_interrupted"] += own_voice_cuts(events, spans)


def words_held(reference: str, transcript: str) -> float:
    """The share of `reference`'s words that `transcript` holds (counted with repeats; a
    final may hold more, when the recognizer joined the prompt to the question)."""
    ref, got = normalize(reference).split(), Counter(normalize(transcript).split())
    held = 0
    for word in ref:
        if got[word] > 0:
            got[word] -= 1
            held += 1
    return held / len(ref) if ref else 0.0


def summary(values: list[float], share: bool = False) -> dict[str, float | int | None]:
    """p50 / p95 and count; for a `share` (values 0 or 1), its percentage and count."""
    if share:
        pct = round(100 * sum(values) / len(values), 1) if values else None
        return {"pct": pct, "n": len(values)}
    if not values:
        return {"p50": None, "p95": None, "n": 0}
    p50, p95 = np.percentile(values, [50, 95])
    return {"p50": round(float(p50), 1), "p95": round(float(p95), 1), "n": len(values)}


METRICS = (
    ("mouth_to_ear_ms", "mouth to ear"),
    ("voice_to_voice_ms", "  server: voice to voice"),
    ("page_and_network_ms", "  page and network"),
    ("first_audio_after_connect_ms", "first agent audio after Connect"),
    ("over_agent_recognised", "said over the agent: recognized"),
    ("over_agent_overlaps", "  overlaps the server saw per call"),
    ("room_self_interrupted", "room echo: replies cut by own voice"),
    ("room_over_agent_recognised", "room echo: said over the agent, recognized"),
    ("receive_delay_ms", "page receive delay (net + jitter)"),
    ("loop_lag_ms", "server event-loop lag"),
)
SHARES = frozenset({"over_agent_recognised", "room_self_interrupted", "room_over_agent_recognised"})
"""Metrics that are a share of tries (1: it worked), reported as a percentage."""


async def run(
    browsers: list[Browser], questions: int, starts: int
) -> dict[str, dict[str, dict[str, float | int | None]]]:
    logging.disable(logging.INFO)  # the sessions' and aiohttp's logs would bury the bar
    config = parse_config({"greeting": ""})
    greeted = parse_config({})
    stack = build_stack(config)
    clips = load_corpus("asterisk", limit=questions)
    # Prompts of three words or more, said over the answers (not the questions asked).
    asked = {c.path for c in clips}
    others = load_corpus("asterisk", limit=4 * questions)
    prompts = [c for c in others if c.path not in asked and len(c.text.split()) >= 3]
    prompts = prompts[:questions]
    results: dict[str, dict[str, dict[str, float | int | None]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        parts = [silence(1.5)]
        for clip in clips:
            parts += [clip.pcm, silence(GAP_S)]
        talk = write_user_wav(Path(tmp) / "talk.wav", *parts)
        talk_spans = speech_spans(parts)
        parts = [silence(GREETING_S)]
        for clip, prompt in zip(clips, prompts, strict=False):
            parts += [clip.pcm, silence(OVER_AFTER_S), prompt.pcm, silence(GAP_S)]
        over = write_user_wav(Path(tmp) / "over.wav", *parts)
        quiet = write_user_wav(Path(tmp) / "quiet.wav", silence(30.0))
        said = [p.text for p in prompts[: len(clips)]]
        steps = [(b, "talk") for b in browsers] + [(b, "over") for b in browsers]
        steps += [("firefox", "room"), ("firefox", "room_over")] if "firefox" in browsers else []
        steps += [(b, "start") for b in browsers] * starts
        figures: dict[str, dict[str, list[float]]] = {
            b: {key: [] for key, _ in METRICS} for b in browsers
        }
        for browser, step in progress(steps, len(steps), "bench browser"):
            if step == "talk":
                await conversation(config, stack, browser, talk, len(clips), figures[browser])
            elif step == "room":
                await room_echo(config, stack, talk, talk_spans, len(clips), figures[browser])
            elif step in ("over", "room_over"):
                room = step == "room_over"
                await over_agent(greeted, stack, browser, over, said, figures[browser], room)
            else:
                await first_audio(greeted, stack, browser, quiet, figures[browser])
    for browser in browsers:
        results[browser] = {
            key: summary(figures[browser][key], share=key in SHARES) for key, _ in METRICS
        }
    return results


def print_table(results: dict[str, dict[str, dict[str, float | int | None]]]) -> None:
    fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
    print(f"{'ms (page clock; p50 / p95 / n)':36s}" + "".join(f"{b:>22s}" for b in results))
    for key, label in METRICS:
        cells = (
            f"{fmt(s['pct'])} % of {s['n']}"
            if key in SHARES
            else f"{fmt(s['p50'])} / {fmt(s['p95'])} / {s['n']}"
            for s in (results[b][key] for b in results)
        )
        print(f"{label:36s}" + "".join(f"{c:>22s}" for c in cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omnivox bench browser", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--browsers", default=",".join(BROWSERS), help="comma-separated: chromium,firefox"
    )
    parser.add_argument("--questions", type=int, default=8, help="replies per browser")
    parser.add_argument("--starts", type=int, default=3, help="connections per browser")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    browsers = [b.strip() for b in args.browsers.split(",") if b.strip()]
    unknown = [b for b in browsers if b not in BROWSERS]
    if unknown or not browsers:
        parser.error(f"--browsers: choose from {', '.join(BROWSERS)} (got {args.browsers!r})")
    if args.questions < 1 or args.starts < 0:
        parser.error("--questions must be at least 1 and --starts at least 0")
    chosen: list[Browser] = [b for b in BROWSERS if b in browsers]
    missing = [m for b in chosen for m in missing_prerequisites(b)]
    if missing:
        print(f"omnivox bench browser: needs {', '.join(missing)}", file=sys.stderr)
        return 2
    results = asyncio.run(run(chosen, args.questions, args.starts))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)
    return 0
