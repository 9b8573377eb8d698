"""`omnivox bench realtime`: voice-to-voice over `/v1/realtime`, with the official
`openai` SDK as the client (a benchmark).

    omnivox bench realtime [--config agent.yaml] [--questions N] [--repeat N] [--json]

A real `omnivox serve` (the embedded offline stack, no greeting) in its own process; for
each question a fresh Realtime connection through the SDK (`openai[realtime]`, the dev
extra) with the default turn detection (`semantic_vad`: the turn classifier). Its
microphone streams 24 kHz PCM16 in 20 ms appends paced at real time: 0.5 s of silence,
the question (the shipped knowledge base's questions in eSpeak NG voices unlike the
agent's, as in `bench latency`), then silence until the answer is heard.

Figures, p50 / p95 over all questions:
- `v2v`: on the client's media clock, the microphone's samples: from the question's last
  sample to the samples sent when the first audible answer delta (above -50 dBFS)
  arrived. It includes the WebSocket both ways, JSON and base64, the server's endpointing
  and whole reply path, and the pacing of deltas at real time; the server sends each
  20 ms as it is played, so nothing waits in the client.
- `server v2v`: the server's own figure (`omnivox.latency`, the same turn_metrics the
  WebRTC page gets), on its media clock: speech end to the reply's first frame.
- `endpoint`: speech end to turn taken (server), the end-of-turn wait.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from omnivox.kernels.level import rms_dbfs
from omnivox.kernels.resample import resample
from omnivox.lab.bench.idle_cpu import serve
from omnivox.lab.bench.latency import QUESTIONS, USER_VOICES, percentile_stats, trim_silence
from omnivox.lab.training.turn_data import progress
from omnivox.media.frames import SAMPLE_RATE
from omnivox.models.talker.espeak import EspeakTalker

RATE = 24000
CHUNK = RATE // 50
AUDIBLE_DBFS = -50.0
ANSWER_TIMEOUT_S = 15.0


def question_audio(i: int, text: str) -> np.ndarray:
    voice = EspeakTalker(voice=USER_VOICES[i % len(USER_VOICES)], rate_wpm=165)
    return resample(trim_silence(voice.synthesize_pcm(text)), SAMPLE_RATE, RATE)


async def one_turn(url: str, question: np.ndarray) -> dict[str, Any]:
    """One connection, one spoken question; its figures (None where there was no answer)."""
    from openai import AsyncOpenAI

    lead = np.zeros(RATE // 2, np.int16)
    mic = np.concatenate([lead, question])
    speech_end = len(mic)
    sent = 0
    heard_at: int | None = None
    metrics: dict[str, Any] = {}
    sdk = AsyncOpenAI(base_url=url + "/v1", api_key="bench")
    async with sdk.realtime.connect(model="omnivox") as conn:

        async def receive() -> None:
            nonlocal heard_at
            async for raw in _messages(conn):
                event = json.loads(raw)
                kind = event["type"]
                if kind == "response.output_audio.delta" and heard_at is None:
                    pcm = np.frombuffer(base64.b64decode(event["delta"]), "<i2")
                    if len(pcm) and rms_dbfs(pcm.astype(np.int16)) > AUDIBLE_DBFS:
                        heard_at = sent
                elif kind == "omnivox.latency":
                    metrics.update(event["metrics"])
                elif kind == "error":
                    raise RuntimeError(f"server error: {event['error']}")

        receiver = asyncio.create_task(receive())
        start = time.monotonic()
        try:
            while heard_at is None or not metrics:
                if receiver.done():
                    receiver.result()
                    break
                chunk = mic[sent : sent + CHUNK]
                chunk = np.pad(chunk, (0, CHUNK - len(chunk)))
                audio = base64.b64encode(chunk.astype("<i2").tobytes()).decode()
                await conn.input_audio_buffer.append(audio=audio)
                sent += CHUNK
                if sent > speech_end + ANSWER_TIMEOUT_S * RATE:
                    break
                await asyncio.sleep(max(0.0, start + sent / RATE - time.monotonic()))
        finally:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
    return {
        "v2v_ms": None if heard_at is None else round(1000 * (heard_at - speech_end) / RATE, 1),
        "server_v2v_ms": metrics.get("voice_to_voice_ms"),
        "endpoint_ms": metrics.get("endpoint_ms"),
    }


async def _messages(conn: Any) -> Any:
    while True:
        yield await conn.recv_bytes()


async def run(url: str, questions: list[np.ndarray]) -> list[dict[str, Any]]:
    return [await one_turn(url, q) for q in progress(questions, len(questions), "bench realtime")]


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def col(key: str) -> list[float]:
        return [r[key] for r in rows if r[key] is not None]

    return {
        "questions": len(rows),
        "answered": len(col("v2v_ms")),
        "v2v_ms": percentile_stats(col("v2v_ms")),
        "server_v2v_ms": percentile_stats(col("server_v2v_ms")),
        "endpoint_ms": percentile_stats(col("endpoint_ms")),
        "rows": rows,
    }


def format_table(rep: dict[str, Any]) -> str:
    lines = [
        f"/v1/realtime, openai SDK client: {rep['answered']}/{rep['questions']} answered",
        f"{'metric':<14} {'p50':>8} {'p95':>8}",
    ]
    for key in ("v2v_ms", "server_v2v_ms", "endpoint_ms"):
        s = rep[key]
        lines.append(f"{key:<14} {s['p50']!s:>8} {s['p95']!s:>8}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="omnivox bench realtime", description=(__doc__ or "").splitlines()[0]
    )
    ap.add_argument("--config", type=Path, help="agent YAML for the server (greeting off)")
    ap.add_argument("--questions", type=int, default=len(QUESTIONS), help="the first N only")
    ap.add_argument("--repeat", type=int, default=1, help="times each question is asked")
    ap.add_argument("--json", action="store_true", help="the JSON report")
    args = ap.parse_args(argv)
    try:
        import openai  # noqa: F401
    except ImportError:
        print(
            "bench realtime needs the openai SDK: pip install 'openai[realtime]' (the dev extra)",
            file=sys.stderr,
        )
        return 2
    settings = yaml.safe_load(args.config.read_text()) if args.config else {}
    server_yaml = yaml.safe_dump({**(settings or {}), "greeting": ""})
    chosen = QUESTIONS[: max(1, args.questions)]
    questions = [question_audio(i, q) for i, q in enumerate(chosen)] * max(1, args.repeat)
    with serve(server_yaml) as server:
        rows = asyncio.run(run(server.url, questions))
    rep = report(rows)
    print(json.dumps(rep, indent=2) if args.json else format_table(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
