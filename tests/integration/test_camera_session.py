"""The camera in a whole session (`simulate` with a still image): presence events, the
arrival greeting, and the snapshot and the user's audio reaching an omni Thinker.

The remote Thinker is the wire-exact fake OpenAI server; the detector, the recognizer and
the Talker are the real embedded ones.
"""

from __future__ import annotations

import base64
import io
import wave
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from omnivox.agent.config import parse_config
from omnivox.lab.openai_server import FakeOpenAIServer, text_stream
from omnivox.lab.simulate import simulate
from omnivox.lab.user_track import silence, speech
from omnivox.media.image import read_image

from .conftest import shared_stack, with_thinker

CAMERA = Path(__file__).parents[1] / "fixtures" / "camera"
FACE = read_image(CAMERA / "face.jpg")
NO_FACE = read_image(CAMERA / "no_face.jpg")
GREETING = "Hello there, welcome to the front desk."


def question() -> np.ndarray:
    return np.concatenate([silence(1.5), speech("What are your opening hours?"), silence(1.0)])


async def test_a_visitor_who_walks_up_is_greeted() -> None:
    config = parse_config({"greeting": "", "camera": {"arrival_greeting": GREETING}})
    result = await simulate(silence(3.0), shared_stack(), config, camera=FACE)
    [presence] = result.of_type("presence")
    assert presence["present"] and presence["facing"] and presence["faces"] == 1
    assert [e["text"] for e in result.of_type("reply_text")] == [GREETING]
    assert presence["t_ms"] <= result.of_type("reply_start")[0]["t_ms"]


async def test_an_empty_scene_gives_no_presence_and_no_greeting() -> None:
    config = parse_config({"greeting": "", "camera": {"arrival_greeting": GREETING}})
    result = await simulate(silence(3.0), shared_stack(), config, camera=NO_FACE)
    assert result.of_type("presence") == []
    assert result.of_type("reply_start") == []


async def test_no_greeting_for_someone_stepping_into_view_mid_conversation() -> None:
    # The session greeted at start, so someone spoke less than greet_after_quiet_s ago.
    config = parse_config({"greeting": "Hi.", "camera": {"arrival_greeting": GREETING}})
    result = await simulate(silence(3.0), shared_stack(), config, camera=FACE, greet=True)
    assert result.of_type("presence")
    assert [e["text"] for e in result.of_type("reply_text")] == ["Hi."]


async def omni_request(camera: np.ndarray | None, **thinker: Any) -> dict[str, Any]:
    """The chat request an omni Thinker receives for one spoken question."""
    async with FakeOpenAIServer([text_stream(["We open at nine."])]) as server:
        config = parse_config(
            {
                "greeting": "",
                "camera": {"greet_on_arrival": False},
                "thinker": {"backend": "openai", "base_url": server.base_url, "model": "omni"}
                | thinker,
            }
        )
        stack = with_thinker(config)
        try:
            result = await simulate(question(), stack, config, camera=camera)
        finally:
            await stack.thinker.close()  # type: ignore[attr-defined]
    assert [e["text"] for e in result.of_type("reply_text")] == ["We open at nine."]
    [request] = server.requests
    return request.body  # type: ignore[no-any-return]


def user_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    last = [m for m in body["messages"] if m["role"] == "user"][-1]
    content = last["content"]
    return content if isinstance(content, list) else [{"type": "text", "text": content}]


async def test_the_snapshot_and_the_turn_audio_reach_an_omni_thinker() -> None:
    body = await omni_request(FACE, send_images=True, user_input="both")
    parts = {p["type"]: p for p in user_parts(body)}
    assert set(parts) == {"text", "image_url", "input_audio"}
    assert "opening hours" in parts["text"]["text"].lower()

    url = parts["image_url"]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    jpeg = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
    picture = cv2.cvtColor(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert picture.shape == FACE.shape and np.abs(picture.astype(int) - FACE).mean() < 6

    audio = parts["input_audio"]["input_audio"]
    assert audio["format"] == "wav"
    with wave.open(io.BytesIO(base64.b64decode(audio["data"]))) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        seconds = w.getnframes() / w.getframerate()
    spoken = len(speech("What are your opening hours?")) / 16000
    assert spoken * 0.8 < seconds < spoken + 1.5  # the question, not the silence around it


async def test_a_text_only_thinker_gets_no_picture_even_with_the_camera_on() -> None:
    body = await omni_request(FACE)
    assert [p["type"] for p in user_parts(body)] == ["text"]


async def test_no_camera_means_no_image_part() -> None:
    body = await omni_request(None, send_images=True)
    assert [p["type"] for p in user_parts(body)] == ["text"]


async def test_a_kiosk_forgets_the_conversation_when_the_visitor_leaves() -> None:
    config = parse_config(
        {
            "greeting": "",
            "camera": {"greet_on_arrival": False, "forget_on_leave": True, "leave_ms": 2000},
        }
    )
    track = np.concatenate([question(), silence(8.0)])
    # The visitor stands there for 6 s, then walks off (the camera sees an empty room).
    result = await simulate(
        track, shared_stack(), config, camera=lambda t_ms: FACE if t_ms < 6000 else NO_FACE
    )
    assert [e["present"] for e in result.of_type("presence")] == [True, False]
    [reset] = result.of_type("conversation_reset")
    assert reset["reason"] == "visitor_left"
    assert reset["t_ms"] > result.of_type("reply_done")[0]["t_ms"]


async def test_without_forget_on_leave_the_conversation_stays() -> None:
    config = parse_config({"greeting": "", "camera": {"leave_ms": 2000}})
    result = await simulate(
        silence(6.0), shared_stack(), config, camera=lambda t_ms: FACE if t_ms < 2000 else None
    )
    assert [e["present"] for e in result.of_type("presence")] == [True, False]
    assert result.of_type("conversation_reset") == []
