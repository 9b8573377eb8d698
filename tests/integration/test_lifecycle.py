"""The server's life with real aiortc callers: SIGTERM drains, kill -9 loses no finished
turn, a caller that vanishes mid-reply is freed (real `omnivox serve` processes, and a
real aiortc client process that is killed)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from omnivox.agent.journal import list_journals, read_journal
from omnivox.lab.bench.idle_cpu import serve
from omnivox.lab.bench.load import Caller, load_question
from omnivox.lab.local_server import RunningServer

pytestmark = pytest.mark.slow

CONFIG = "greeting: ''\n"


async def wait_event(caller: Caller, kind: str, timeout_s: float) -> dict[str, Any]:
    for _ in range(int(timeout_s * 10)):
        for event in caller.events:
            if event.get("type") == kind:
                return event
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {kind} within {timeout_s} s: {[e['type'] for e in caller.events]}")


async def ask(url: str) -> Caller:
    caller = Caller()
    await asyncio.wait_for(caller.connect(url), 60)
    caller.mic.say(load_question(None)[0])
    return caller


def turns(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    (journal,) = list_journals(folder)
    records = read_journal(journal.path)
    return [r for r in records if r["type"] == "turn"], records


async def test_kill_9_after_a_turn_loses_no_finished_turn(tmp_path: Path) -> None:
    with serve(CONFIG, args=["--journal", str(tmp_path)]) as server:
        caller = await ask(server.url)
        try:
            done = await wait_event(caller, "reply_done", 90)
            os.kill(server.pid, signal.SIGKILL)
            assert server.proc is not None and server.proc.wait(10) == -signal.SIGKILL
        finally:
            await caller.pc.close()
    answered, records = turns(tmp_path)
    assert records[0]["type"] == "session_started" and records[-1]["type"] == "turn"
    (turn,) = [t for t in answered if t["reply_id"] == done["reply_id"]]
    assert turn["outcome"] == "done" and turn["said"] and turn["heard"] == turn["said"]
    assert "hours" in turn["user"].lower(), turn
    assert turn["metrics"]["voice_to_voice_ms"] is not None


async def test_sigterm_mid_reply_drains_refuses_new_sessions_and_exits_0(tmp_path: Path) -> None:
    config = CONFIG + "server: {drain_timeout_s: 30}\n"
    with serve(config, args=["--journal", str(tmp_path)]) as server:
        assert server.proc is not None
        caller = await ask(server.url)
        try:
            started = await wait_event(caller, "reply_audio_start", 90)
            server.proc.send_signal(signal.SIGTERM)
            async with aiohttp.ClientSession() as http:
                # The handler runs on the server's next loop turn; a loaded machine is slow.
                deadline = asyncio.get_running_loop().time() + 10.0
                while True:
                    async with http.get(server.url + "/v1/health") as resp:
                        if resp.status == 503:
                            assert (await resp.json())["status"] == "draining"
                            break
                    assert asyncio.get_running_loop().time() < deadline, "never said draining"
                    await asyncio.sleep(0.02)
                offer = {"sdp": "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", "type": "offer"}
                async with http.post(server.url + "/v1/sessions", json=offer) as resp:
                    assert resp.status == 503 and "draining" in (await resp.json())["error"]
            loop = asyncio.get_running_loop()
            status = await loop.run_in_executor(None, server.proc.wait, 60)
            assert status == 0
        finally:
            await caller.pc.close()
    answered, records = turns(tmp_path)
    (turn,) = [t for t in answered if t["reply_id"] == started["reply_id"]]
    assert turn["outcome"] == "done", turn  # the reply in flight was spoken to its end
    assert records[-1]["type"] == "session_ended"
    assert records[-1]["reason"] == "server_shutdown"


VANISHING_CLIENT = textwrap.dedent(
    """
    import asyncio, sys
    from omnivox.lab.bench.load import Caller, load_question

    async def main():
        caller = Caller()
        await caller.connect(sys.argv[1])
        caller.mic.say(load_question(None)[0])
        while not any(e.get("type") == "reply_audio_start" for e in caller.events):
            await asyncio.sleep(0.05)
        print(caller.session_id, flush=True)
        await asyncio.sleep(3600)  # killed here, mid-reply, without hanging up

    asyncio.run(main())
    """
)


async def test_a_caller_that_vanishes_mid_reply_is_freed(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="omnivox.media.sessions")
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-c", VANISHING_CLIENT, server.url, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert client.stdout is not None
        line = await asyncio.wait_for(client.stdout.readline(), 120)
        session_id = line.decode().strip()
        assert session_id in server.registry.sessions
    finally:
        client.kill()
        await client.wait()
    loop = asyncio.get_running_loop()
    killed = loop.time()
    for _ in range(200):
        if not server.registry.sessions:
            break
        await asyncio.sleep(0.1)
    freed_s = loop.time() - killed
    print(json.dumps({"vanished_client_freed_s": round(freed_s, 2)}))
    assert not server.registry.sessions and server.registry.running_tasks() == 0
    assert f"session {session_id} closed (media_timeout)" in caplog.text  # not ICE consent
    leftovers = [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith(session_id)]
    assert leftovers == []
