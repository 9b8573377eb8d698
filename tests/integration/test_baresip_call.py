"""baresip, a real softphone, calls omnivox: the call connects and audio flows both ways.

baresip runs headless from a config folder of the test's own: its `aufile` module speaks
a WAV file (a question, then silence for the answer) and hangs up at the file's end, and
`sndfile` records what it heard. omnivox must hear the question and baresip must hear
the answer.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import numpy as np
import pytest

from omnivox.kernels.resample import resample
from omnivox.lab.user_track import silence, speech
from omnivox.media.audio_files import read_audio, write_wav
from omnivox.models.recognizer.factory import create_recognizer
from tests.integration.phone import (
    capture_events,
    free_udp_port,
    phone_server,
    wait_until_closed,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("baresip") is None, reason="needs baresip (Debian baresip-core)"
    ),
]

MODULES = Path("/usr/lib/baresip/modules")


def baresip_folder(folder: Path, question: Path, recordings: Path) -> Path:
    """A config folder: PCMU/PCMA only, the WAV as microphone, no sound card."""
    config = folder / "baresip"
    config.mkdir()
    (config / "config").write_text(
        "\n".join(
            [
                "poll_method epoll",
                "net_interface 127.0.0.1",  # its SDP names the address its RTP comes from
                f"sip_listen 127.0.0.1:{free_udp_port()}",
                f"audio_source aufile,{question}",
                "audio_player aufile,/dev/null",  # no sound card: sndfile records instead
                "audio_alert aufile,/dev/null",
                "audio_srate 8000",
                "audio_channels 1",
                f"module_path {MODULES}",
                *(f"module {m}.so" for m in ("g711", "aufile", "sndfile")),
                "module_app account.so",
                "module_app menu.so",
                f"snd_path {recordings}",
                "",
            ]
        )
    )
    (config / "accounts").write_text("<sip:baresip@127.0.0.1>;regint=0\n")
    return config


async def test_baresip_calls_and_hears_the_answer(tmp_path: Path) -> None:
    question = tmp_path / "question.wav"
    said = np.concatenate([silence(1.0), speech("What are your opening hours?"), silence(9.0)])
    write_wav(question, resample(said, 16_000, 8_000), 8_000)
    recordings = tmp_path / "heard"
    recordings.mkdir()
    config = baresip_folder(tmp_path, question, recordings)
    with capture_events() as events:
        async with phone_server() as (server, endpoint, sip_port):
            baresip = await asyncio.create_subprocess_exec(
                "baresip",
                *("-f", str(config), "-t", "40"),
                *("-e", f"/dial sip:agent@127.0.0.1:{sip_port}"),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            try:  # baresip hangs up at the end of its file (about 13 s)
                out, _ = await asyncio.wait_for(baresip.communicate(), 45)
            finally:
                if baresip.returncode is None:
                    baresip.kill()
                    await baresip.wait()
            log = out.decode(errors="replace")
            assert "Call established" in log, log[-3000:]
            await wait_until_closed(server, endpoint)

    assert "terminated" in log, log[-3000:]
    assert events.of("session_ended")[-1]["reason"] == "hangup"
    finals = " ".join(str(e["text"]) for e in events.of("transcript_final")).lower()
    assert len(finals.split()) >= 3, finals  # baresip -> omnivox, heard as words
    heard = read_audio(next(recordings.glob("*-dec.wav")))  # omnivox -> baresip
    assert np.sqrt(np.mean(heard.astype(np.float64) ** 2)) > 300, "baresip heard silence"
    stream = create_recognizer("moonshine").new_stream()
    stream.accept(heard)
    assert len(stream.final().split()) >= 3, "what baresip heard does not sound like words"
