"""The camera end to end: headless Chromium's fake camera plays a y4m made from the
fixture photographs; presence events follow it, and a snapshot reaches a vision Thinker
(the wire-exact fake OpenAI server) as an `image_url` part."""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np
import pytest

from omnivox.agent.config import parse_config
from omnivox.lab.browser import CHROMIUM, launch_chromium, wait_for_event, write_y4m
from omnivox.lab.local_server import serving
from omnivox.lab.openai_server import FakeOpenAIServer, text_stream
from omnivox.lab.user_track import silence, speech, write_user_wav
from omnivox.media.image import read_image
from omnivox.models.vision.face_detector import FaceDetector

from .conftest import TEST_CONFIG, shared_stack, with_thinker

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian chromium (./dev test installs it)"
    ),
]

CAMERA = Path(__file__).parents[1] / "fixtures" / "camera"
FACE = read_image(CAMERA / "face.jpg")
NO_FACE = read_image(CAMERA / "no_face.jpg")
GREETING = "Welcome! Ask me anything."


def small(rgb: np.ndarray) -> np.ndarray:
    return cv2.resize(rgb, (320, 240), interpolation=cv2.INTER_AREA)


async def test_presence_follows_the_camera_and_a_visitor_is_greeted(tmp_path: Path) -> None:
    # 4 s of the astronaut, then 8 s of a coffee cup, looped by Chromium.
    fps = 5
    y4m = write_y4m(
        tmp_path / "visit.y4m", [small(FACE)] * (4 * fps) + [small(NO_FACE)] * (8 * fps), fps
    )
    quiet = write_user_wav(tmp_path / "quiet.wav", silence(30.0))  # not the fake mic's beep
    config = parse_config({**TEST_CONFIG, "camera": {"arrival_greeting": GREETING}})
    async with (
        serving(config, shared_stack()) as server,
        launch_chromium(fake_audio_wav=quiet, fake_video_y4m=y4m) as page,
    ):
        await page.goto(server.url + "/")
        await page.evaluate("() => window.omnivox.connect()")
        await wait_for_event(page, "session_started", 20)
        await page.evaluate("() => window.omnivox.setCamera(true)")
        here = await wait_for_event(page, "presence", 20, lambda e: e["present"])
        assert here["facing"] and here["faces"] >= 1
        assert await page.get_attribute('[data-testid="presence"]', "data-present") == "facing"
        done = await wait_for_event(page, "reply_done", 15)
        events = await page.evaluate("() => window.omnivox.events")
        said = [
            e["text"]
            for e in events
            if e["type"] == "reply_text" and e["reply_id"] == done["reply_id"]
        ]
        assert " ".join(said) == GREETING
        gone = await wait_for_event(page, "presence", 20, lambda e: not e["present"])
        assert gone["t_ms"] - here["t_ms"] > 2000  # left after the leave delay, not at once
        assert await page.get_attribute('[data-testid="presence"]', "data-present") == "absent"


async def test_a_snapshot_reaches_a_vision_thinker(tmp_path: Path) -> None:
    y4m = write_y4m(tmp_path / "face.y4m", [FACE], 5)
    # The fake microphone plays from the moment the page asks for it: the question comes
    # late enough for the call and the camera to be up on a slow machine.
    wav = write_user_wav(
        tmp_path / "q.wav", silence(8.0), speech("What are your opening hours?"), silence(8.0)
    )
    async with FakeOpenAIServer([text_stream(["We open at nine."])]) as llm:
        config = parse_config(
            {
                **TEST_CONFIG,
                "turns": {"classifier": "none"},
                "thinker": {
                    "backend": "openai",
                    "base_url": llm.base_url,
                    "model": "vision",
                    "send_images": True,
                },
            }
        )
        async with (
            serving(config, with_thinker(config)) as server,
            launch_chromium(fake_audio_wav=wav, fake_video_y4m=y4m) as page,
        ):
            await page.goto(server.url + "/")
            await page.evaluate("() => window.omnivox.connect()")
            await wait_for_event(page, "session_started", 20)
            await page.evaluate("() => window.omnivox.setCamera(true)")
            await wait_for_event(page, "presence", 20, lambda e: e["present"])
            await wait_for_event(page, "reply_text", 40, lambda e: "nine" in e["text"])
    # The request that got the scripted answer: the question's words (what the
    # recognizer made of an eSpeak voice through the browser) and the snapshot.
    last_user = [m for m in llm.requests[0].body["messages"] if m["role"] == "user"][-1]
    parts = {p["type"]: p for p in last_user["content"]}
    assert parts["text"]["text"].strip()
    url = parts["image_url"]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    jpeg = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
    picture = cv2.cvtColor(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    # The camera's 640x480 through VP8 and back (Chromium scales it down when the CPU
    # is busy, so only the aspect is fixed), and the face is still in it.
    h, w = picture.shape[:2]
    assert 160 <= w <= 640 and w * 3 == h * 4
    assert FaceDetector().detect(picture).facing
