"""The page on its own: served by a tiny static server (no omnivox server), driven by
synthetic events through `window.omnivox._dispatch`, checked in headless Chromium."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Locator, Page, expect

from omnivox.lab.browser import CHROMIUM, collect_console_errors, launch_chromium

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
SCREENSHOT = Path("/tmp/omnivox-page.png")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (apt-get install chromium)"
    ),
]

CONTROLS = [
    "connect",
    "speaker-toggle",
    "camera-toggle",
    "connection-status",
    "mic-meter",
    "agent-meter",
    "turn-state",
    "captions",
    "waterfall",
    "event-log",
]


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    """web/ on 127.0.0.1 and an ephemeral port; nothing else (POST anywhere is a 405)."""

    async def index(_: web.Request) -> web.FileResponse:
        return web.FileResponse(WEB_DIR / "index.html")

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_static("/", WEB_DIR)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


@pytest.fixture
async def loaded(base_url: str) -> AsyncIterator[tuple[Page, list[str]]]:
    """The page, loaded, and the live list of its console errors."""
    async with launch_chromium() as page:
        errors = collect_console_errors(page)
        await page.goto(base_url)
        await page.wait_for_function("() => window.omnivox !== undefined")
        yield page, errors


@pytest.fixture
def page(loaded: tuple[Page, list[str]]) -> Page:
    return loaded[0]


@pytest.fixture
def console_errors(loaded: tuple[Page, list[str]]) -> list[str]:
    return loaded[1]


async def dispatch(page: Page, *events: dict) -> None:
    for event in events:
        await page.evaluate("(e) => window.omnivox._dispatch(e)", event)


def by_id(page: Page, testid: str) -> Locator:
    return page.get_by_test_id(testid)


async def test_page_loads_without_errors_and_has_controls(
    page: Page, console_errors: list[str]
) -> None:
    for testid in CONTROLS:
        await expect(by_id(page, testid)).to_be_attached()
    await expect(by_id(page, "connect")).to_have_text("Connect")
    await expect(by_id(page, "connection-status")).to_have_text("Not connected")
    await expect(by_id(page, "camera-toggle")).to_be_disabled()
    assert await page.evaluate("() => window.omnivox.state") == "idle"
    assert await page.evaluate("() => window.omnivox.events.length") == 0
    assert console_errors == []


async def test_user_captions_partial_then_final(page: Page) -> None:
    await dispatch(
        page,
        {"type": "vad_start", "t_ms": 100},
        {"type": "turn_state", "t_ms": 120, "state": "user_speaking"},
        {"type": "transcript_partial", "t_ms": 400, "text": "what is"},
    )
    user = by_id(page, "caption-user")
    await expect(user).to_have_count(1)
    await expect(user.locator(".partial")).to_have_text("what is")
    await expect(user).to_have_class(re.compile(r"\bhas-partial\b"))
    await expect(by_id(page, "turn-state")).to_have_text("You are speaking")
    await expect(by_id(page, "vad-indicator")).to_have_class(re.compile(r"\bon\b"))

    await dispatch(
        page,
        {"type": "transcript_partial", "t_ms": 600, "text": "what is the weather"},
        {"type": "transcript_final", "t_ms": 900, "text": "What is the weather?"},
        {"type": "vad_stop", "t_ms": 950},
    )
    await expect(user).to_have_count(1)  # updated in place, not appended
    await expect(user.locator(".final")).to_have_text("What is the weather?")
    await expect(user.locator(".partial")).to_have_text("")
    await expect(user).not_to_have_class(re.compile(r"\bhas-partial\b"))

    # After the turn ends, new words open a new caption.
    await dispatch(
        page,
        {"type": "user_turn_end", "t_ms": 1000},
        {"type": "transcript_partial", "t_ms": 5000, "text": "thanks"},
    )
    await expect(user).to_have_count(2)
    await expect(user.nth(1).locator(".partial")).to_have_text("thanks")


async def test_a_final_after_the_turn_ended_lands_in_that_turns_caption(page: Page) -> None:
    # The server's order: the turn is taken, the reply starts, then the final arrives.
    await dispatch(
        page,
        {"type": "transcript_partial", "t_ms": 400, "text": "our dogs allowed"},
        {"type": "user_turn_end", "t_ms": 1000},
        {"type": "reply_start", "t_ms": 1001, "reply_id": "r1"},
        {"type": "transcript_final", "t_ms": 1150, "text": "Are dogs allowed?"},
        {"type": "reply_text", "t_ms": 1160, "reply_id": "r1", "text": "Only assistance dogs."},
    )
    entries = page.locator(".entry")
    await expect(entries).to_have_count(2)
    await expect(entries.nth(0).locator(".final")).to_have_text("Are dogs allowed?")
    await expect(entries.nth(0).locator(".partial")).to_have_text("")
    await expect(entries.nth(1)).to_contain_text("Only assistance dogs.")


async def test_a_resumed_turn_continues_the_same_caption(page: Page) -> None:
    await dispatch(
        page,
        {"type": "transcript_partial", "t_ms": 400, "text": "I would like"},
        {"type": "user_turn_end", "t_ms": 1000},
        {"type": "reply_start", "t_ms": 1001, "reply_id": "r1"},
        {"type": "transcript_final", "t_ms": 1100, "text": "I would like"},
        {
            "type": "reply_cancelled",
            "t_ms": 1300,
            "reply_id": "r1",
            "reason": "user_resumed",
            "heard_text": "",
        },
        {"type": "transcript_partial", "t_ms": 1600, "text": "I would like a day pass"},
    )
    user = by_id(page, "caption-user")
    await expect(user).to_have_count(1)
    await expect(user.locator(".partial")).to_have_text("I would like a day pass")
    await expect(user.locator(".final")).to_have_text("")
    await dispatch(
        page,
        {"type": "user_turn_end", "t_ms": 2500},
        {"type": "reply_start", "t_ms": 2501, "reply_id": "r2"},
        {"type": "transcript_final", "t_ms": 2600, "text": "I would like a day pass."},
    )
    await expect(user).to_have_count(1)
    await expect(user.locator(".final")).to_have_text("I would like a day pass.")


async def test_sources_and_a_blocked_reply_show_under_the_reply(page: Page) -> None:
    await dispatch(
        page,
        {"type": "reply_start", "t_ms": 1, "reply_id": "r1"},
        {
            "type": "sources",
            "t_ms": 2,
            "reply_id": "r1",
            "items": [{"title": "House rules › Dogs", "path": "house_rules.md", "score": 0.8}],
        },
        {
            "type": "reply_text",
            "t_ms": 3,
            "reply_id": "r1",
            "text": "A day pass is twelve dollars,",
        },
        {"type": "reply_blocked", "t_ms": 4, "reply_id": "r1", "by": "safety"},
        {
            "type": "reply_text",
            "t_ms": 5,
            "reply_id": "r1",
            "text": "Sorry, I can't talk about that.",
        },
    )
    agent = by_id(page, "caption-agent")
    await expect(agent.get_by_test_id("sources")).to_contain_text("House rules › Dogs")
    await expect(agent.get_by_test_id("reply-blocked")).to_contain_text("stopped by safety")
    await expect(agent).to_have_attribute("data-blocked", "safety")


async def test_agent_reply_spoken_then_done(page: Page) -> None:
    agent = by_id(page, "caption-agent")
    await dispatch(
        page,
        {"type": "turn_state", "t_ms": 1000, "state": "thinking"},
        {"type": "reply_start", "t_ms": 1010, "reply_id": "r1"},
        {"type": "reply_text", "t_ms": 1200, "reply_id": "r1", "text": "It is sunny."},
    )
    await expect(by_id(page, "turn-state")).to_have_text("Thinking")
    await expect(agent).to_have_attribute("data-status", "queued")
    await dispatch(
        page,
        {"type": "reply_audio_start", "t_ms": 1300, "reply_id": "r1"},
        {"type": "turn_state", "t_ms": 1300, "state": "agent_speaking"},
        {"type": "reply_text", "t_ms": 1400, "reply_id": "r1", "text": "Take a hat."},
    )
    await expect(agent).to_have_attribute("data-status", "speaking")
    await expect(agent.locator(".text")).to_have_text("It is sunny. Take a hat.")
    await expect(by_id(page, "turn-state")).to_have_attribute("data-state", "agent_speaking")
    await dispatch(
        page,
        {
            "type": "sources",
            "t_ms": 1500,
            "reply_id": "r1",
            "items": [{"title": "Weather FAQ", "url": "https://example.org/faq"}, "notes.md"],
        },
        {"type": "reply_audio_end", "t_ms": 3000, "reply_id": "r1", "played_ms": 1700},
        {"type": "reply_done", "t_ms": 3000, "reply_id": "r1"},
    )
    await expect(agent).to_have_attribute("data-status", "done")
    sources = agent.get_by_test_id("sources").locator("li")
    await expect(sources).to_have_text(["Weather FAQ", "notes.md"])
    await expect(sources.first.locator("a")).to_have_attribute("href", "https://example.org/faq")


async def test_cancelled_reply_shows_heard_and_struck_rest(page: Page) -> None:
    await dispatch(
        page,
        {"type": "reply_start", "t_ms": 10, "reply_id": "r2"},
        {"type": "reply_text", "t_ms": 20, "reply_id": "r2", "text": "The first part was heard."},
        {"type": "reply_text", "t_ms": 30, "reply_id": "r2", "text": "The second part was not."},
        {"type": "reply_audio_start", "t_ms": 40, "reply_id": "r2"},
        {
            "type": "turn_decision",
            "t_ms": 900,
            "kind": "interruption",
            "probability": 0.93,
            "decision_ms": 410,
        },
        {"type": "turn_state", "t_ms": 900, "state": "interrupted"},
        {
            "type": "reply_cancelled",
            "t_ms": 905,
            "reply_id": "r2",
            "played_ms": 860,
            "heard_text": "The first part was heard.",
            "reason": "interruption",
        },
        {"type": "reply_text", "t_ms": 910, "reply_id": "r2", "text": "Late chunk."},
    )
    agent = by_id(page, "caption-agent")
    await expect(agent).to_have_attribute("data-status", "cancelled")
    await expect(agent.get_by_test_id("heard-text")).to_have_text("The first part was heard.")
    unheard = agent.get_by_test_id("unheard-text")
    await expect(unheard).to_have_text("The second part was not.")
    assert await unheard.evaluate("(n) => n.tagName") == "S"
    assert "line-through" in await unheard.evaluate("(n) => getComputedStyle(n).textDecorationLine")
    await expect(agent.locator(".tag")).to_contain_text("interruption")
    await expect(by_id(page, "turn-state")).to_have_text("Interrupted")
    await expect(by_id(page, "badge-interruption")).to_have_count(1)


async def test_waterfall_rows_newest_first_with_stacked_bars(page: Page) -> None:
    await dispatch(
        page,
        {
            "type": "turn_metrics",
            "t_ms": 5000,
            "reply_id": "r1",
            "endpoint_ms": 200,
            "recognizer_final_ms": 100,
            "thinker_first_token_ms": 300,
            "talker_first_audio_ms": 400,
            "voice_to_voice_ms": 1000,
        },
        {
            "type": "turn_metrics",
            "t_ms": 9000,
            "reply_id": "r2",
            "endpoint_ms": 250,
            "recognizer_final_ms": None,
            "thinker_first_token_ms": 150,
            "interventions": {"rag": 50},
            "talker_first_audio_ms": 100,
            "voice_to_voice_ms": 600,
        },
    )
    turns = by_id(page, "waterfall-turn")
    await expect(turns).to_have_count(2)
    newest = turns.first
    await expect(newest.locator("caption")).to_contain_text("Turn 2")
    await expect(newest.locator("th")).to_have_text(
        [
            "Endpoint",
            "Recognizer final",
            "Thinker first token",
            "rag",
            "Talker first audio",
            "Other",
            "Voice to voice",
        ]
    )
    await expect(newest.locator("td.num")).to_have_text(
        ["250 ms", "—", "150 ms", "50 ms", "100 ms", "50 ms", "600 ms"]
    )
    # The first turn's stages add up to its total: no "Other" row.
    await expect(turns.nth(1).locator("th")).to_have_count(5)
    await expect(turns.nth(1).locator("caption")).to_contain_text("Turn 1")

    # Stages stack: each bar starts where the previous one ended, the unclaimed rest of
    # the total is "Other", and all turns share one scale (the largest, 1000 ms, spans
    # the track).
    bars = await newest.locator(".bar").evaluate_all(
        "(bs) => bs.map((b) => [b.className, parseFloat(b.style.left), parseFloat(b.style.width)])"
    )
    assert [b[0] for b in bars] == [
        "bar endpoint",
        "bar thinker",
        "bar intervention",
        "bar talker",
        "bar other",
        "bar total",
    ]
    assert [(round(b[1], 3), round(b[2], 3)) for b in bars] == [
        (0, 25),
        (25, 15),
        (40, 5),
        (45, 10),
        (55, 5),
        (0, 60),
    ]


async def test_waterfall_shows_mouth_to_ear_beside_the_servers_total(page: Page) -> None:
    metrics = {"type": "turn_metrics", "t_ms": 5000, "endpoint_ms": 200, "voice_to_voice_ms": 300}
    # The page's figure may be reported before the turn's metrics arrive, or after.
    await dispatch(
        page,
        {"type": "mouth_to_ear", "t_ms": 4990, "reply_id": "r1", "mouth_to_ear_ms": 420},
        {**metrics, "reply_id": "r1"},
        {**metrics, "t_ms": 9000, "reply_id": "r2"},
    )
    turns = by_id(page, "waterfall-turn")
    await expect(turns).to_have_count(2)
    newest, oldest = turns.first, turns.nth(1)
    stages = ["Endpoint", "Recognizer final", "Thinker first token", "Talker first audio"]
    await expect(newest.locator("th")).to_have_text([*stages, "Other", "Voice to voice"])
    await dispatch(
        page, {"type": "mouth_to_ear", "t_ms": 9500, "reply_id": "r2", "mouth_to_ear_ms": 600}
    )
    for turn, client, ear in ((oldest, "120 ms", "420 ms"), (newest, "300 ms", "600 ms")):
        await expect(turn.locator("th")).to_have_text(
            [*stages, "Other", "Voice to voice", "Page and network", "Mouth to ear"]
        )
        await expect(turn.locator("td.num")).to_have_text(
            ["200 ms", "—", "—", "—", "100 ms", "300 ms", client, ear]
        )
        await expect(turn.locator("caption")).to_contain_text(ear)
    # The page's share starts where the server's total ends, on the shared scale (600 ms).
    bars = await newest.locator(".bar").evaluate_all(
        "(bs) => bs.map((b) => [b.className, parseFloat(b.style.left), parseFloat(b.style.width)])"
    )
    assert [(b[0], round(b[1]), round(b[2])) for b in bars[-2:]] == [
        ("bar client", 50, 50),
        ("bar ear", 0, 100),
    ]


async def test_a_pause_keeps_one_badge_that_follows_its_latest_verdict(page: Page) -> None:
    pause = [(1200.0, "hold", 0.1), (1300.0, "hold", 0.3), (1400.0, "finished", 0.8)]
    for t_ms, kind, p in pause:  # the pause began at 1000 ms
        await dispatch(
            page,
            {
                "type": "turn_decision",
                "t_ms": t_ms,
                "kind": kind,
                "probability": p,
                "decision_ms": t_ms - 1000.0,
            },
        )
        if kind == "hold":
            await expect(by_id(page, "badge-hold")).to_have_text(
                f"holding {p:.2f} · in {t_ms - 1000:.0f} ms"
            )
    await expect(by_id(page, "badge-hold")).to_have_count(0)
    await expect(by_id(page, "badge-finished")).to_have_text("finished 0.80 · in 400 ms")
    # A later pause gets its own badge; an undecided overlap that ended shows as resumed.
    await dispatch(
        page,
        {
            "type": "turn_decision",
            "t_ms": 5300,
            "kind": "hold",
            "probability": 0.1,
            "decision_ms": 300,
        },
        {
            "type": "turn_decision",
            "t_ms": 9000,
            "kind": "false_interruption_resumed",
            "probability": None,
            "decision_ms": 640,
        },
    )
    badges = by_id(page, "turn-badges").locator("li")
    await expect(badges).to_have_text(
        [
            "false alarm · resumed · in 640 ms",
            "holding 0.10 · in 300 ms",
            "finished 0.80 · in 400 ms",
        ]
    )


async def test_indicators_badges_log_and_error_banner(
    page: Page, console_errors: list[str]
) -> None:
    await dispatch(
        page,
        {
            "type": "turn_decision",
            "t_ms": 1,
            "kind": "backchannel",
            "probability": 0.05,
            "decision_ms": 340.2,
        },
        {
            "type": "backchannel",
            "t_ms": 1,
            "kind": "backchannel",
            "probability": 0.05,
            "decision_ms": 340.2,
        },
        {"type": "presence", "t_ms": 3, "present": True, "facing": False},
        {"type": "some_future_event", "t_ms": 4, "detail": 42},
        {"type": "error", "t_ms": 5, "message": "Thinker backend unreachable"},
    )
    # The decision shows once, from turn_decision; the `backchannel` event is logged.
    await expect(by_id(page, "badge-backchannel")).to_have_text("backchannel 0.05 · in 340 ms")
    await expect(by_id(page, "presence")).to_have_attribute("data-present", "present")

    log = by_id(page, "event-log")
    await expect(log.locator("summary")).to_contain_text("(5)")
    await log.locator("summary").click()
    await expect(log.locator("li").nth(3)).to_contain_text('some_future_event{"detail":42}')

    banner = by_id(page, "error-banner")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("Thinker backend unreachable")
    await by_id(page, "error-dismiss").click()
    await expect(banner).to_be_hidden()
    assert await page.evaluate("() => window.omnivox.events.length") == 5
    assert console_errors == []


async def test_speaker_toggle_works_from_keyboard(page: Page) -> None:
    toggle = by_id(page, "speaker-toggle")
    await toggle.focus()
    await page.keyboard.press("Space")
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    assert await page.evaluate("() => document.querySelector('audio').muted") is True
    await page.keyboard.press("Enter")
    await expect(toggle).to_have_attribute("aria-pressed", "false")


async def test_connect_without_session_api_shows_server_error(page: Page) -> None:
    """The static server has no session API: its refusal (a plain-text 405, not the API's
    JSON error) must reach the banner, and Connect must work again afterwards."""
    await by_id(page, "connect").click()
    banner = by_id(page, "error-banner")
    await expect(banner).to_contain_text(
        "Starting the session failed (HTTP 405): Method Not Allowed", timeout=15_000
    )
    await expect(by_id(page, "connect")).to_have_text("Connect")
    assert await page.evaluate("() => window.omnivox.state") == "failed"


async def test_screenshot_of_a_busy_page(page: Page, console_errors: list[str]) -> None:
    """Fills every view and saves /tmp/omnivox-page.png for a human look at the design."""
    await page.set_viewport_size({"width": 1280, "height": 1000})
    await dispatch(
        page,
        {"type": "session_started", "t_ms": 0, "session_id": "s-1", "config": {}},
        {"type": "presence", "t_ms": 50, "present": True, "facing": True},
        {"type": "transcript_final", "t_ms": 2100, "text": "When does the museum open on Sundays?"},
        {"type": "user_turn_end", "t_ms": 2300},
        {"type": "reply_start", "t_ms": 2310, "reply_id": "r1"},
        {
            "type": "reply_text",
            "t_ms": 2600,
            "reply_id": "r1",
            "text": "On Sundays the museum opens at ten.",
        },
        {"type": "reply_audio_start", "t_ms": 2700, "reply_id": "r1"},
        {
            "type": "sources",
            "t_ms": 2700,
            "reply_id": "r1",
            "items": [{"title": "Opening hours", "url": "https://example.org/hours"}],
        },
        {"type": "reply_done", "t_ms": 4700, "reply_id": "r1"},
        {
            "type": "turn_metrics",
            "t_ms": 4700,
            "reply_id": "r1",
            "endpoint_ms": 180,
            "recognizer_final_ms": 60,
            "thinker_first_token_ms": 240,
            "interventions": {"retrieval": 35},
            "talker_first_audio_ms": 90,
            "voice_to_voice_ms": 605,
        },
        {"type": "transcript_final", "t_ms": 6000, "text": "And on Mondays?"},
        {"type": "user_turn_end", "t_ms": 6200},
        {"type": "reply_start", "t_ms": 6210, "reply_id": "r2"},
        {
            "type": "reply_text",
            "t_ms": 6500,
            "reply_id": "r2",
            "text": "On Mondays it is closed, except on public holidays.",
        },
        {
            "type": "reply_text",
            "t_ms": 6500,
            "reply_id": "r2",
            "text": "Then it opens at noon and closes at six.",
        },
        {"type": "reply_audio_start", "t_ms": 6600, "reply_id": "r2"},
        {"type": "turn_decision", "t_ms": 7900, "p_takeover": 0.91, "decision_ms": 18},
        {"type": "interruption", "t_ms": 7900},
        {
            "type": "reply_cancelled",
            "t_ms": 7910,
            "reply_id": "r2",
            "played_ms": 1300,
            "heard_text": "On Mondays it is closed, except on public holidays.",
            "reason": "interruption",
        },
        {
            "type": "turn_metrics",
            "t_ms": 7910,
            "reply_id": "r2",
            "endpoint_ms": 210,
            "recognizer_final_ms": 70,
            "thinker_first_token_ms": 310,
            "talker_first_audio_ms": 85,
            "voice_to_voice_ms": 720,
        },
        {"type": "turn_state", "t_ms": 7900, "state": "user_speaking"},
        {"type": "transcript_partial", "t_ms": 8200, "text": "wait, what about"},
    )
    png = await page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert len(png) > 10_000
    assert console_errors == []
