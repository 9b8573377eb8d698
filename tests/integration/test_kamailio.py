"""Two omnivox workers behind Kamailio's dispatcher (deploy/kamailio): calls are spread
over both, and when one worker is killed new calls are still answered, by the other.

The workers are real `omnivox serve --sip` processes (killed with SIGKILL, as a crash);
sipp places the calls through Kamailio. Which worker took a call shows in where its RTP
comes from: each worker has its own RTP port range.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml

from omnivox.lab.bench.idle_cpu import ServerProcess, serve
from tests.integration.phone import (
    Phone,
    free_udp_port,
    phone_socket,
    sipp_finished,
    start_sipp,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="needs sipp (Debian sip-tester)"),
    pytest.mark.skipif(
        shutil.which("kamailio", path="/usr/sbin:/usr/bin") is None,
        reason="needs kamailio (Debian kamailio)",
    ),
]

CONFIG = Path(__file__).parents[2] / "deploy" / "kamailio" / "kamailio.cfg"
RTP_RANGES = {"a": (32000, 32099), "b": (32100, 32199)}


def worker_yaml(name: str) -> str:
    return yaml.safe_dump({"greeting": "", "telephony": {"rtp_ports": list(RTP_RANGES[name])}})


def workers_seen(phone: Phone) -> set[str]:
    """Which workers sent this phone RTP (by the source port's range)."""
    assert phone.sources, "no RTP at all"
    return {
        name
        for _host, port in phone.sources
        for name, (first, last) in RTP_RANGES.items()
        if first <= port <= last
    }


@contextlib.contextmanager
def kamailio(folder: Path, port: int, workers: dict[str, int]) -> Iterator[subprocess.Popen[bytes]]:
    listing = folder / "dispatcher.list"
    listing.write_text("".join(f"1 sip:127.0.0.1:{p}\n" for p in workers.values()))
    log = (folder / "kamailio.log").open("wb")
    proc = subprocess.Popen(
        [
            shutil.which("kamailio", path="/usr/sbin:/usr/bin") or "kamailio",
            *("-DD", "-E", "-f", str(CONFIG), "-l", f"udp:127.0.0.1:{port}"),
            *("-A", f'DISPATCHER_LIST="{listing}"', "-w", str(folder), "-m", "32"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@contextlib.asynccontextmanager
async def worker(name: str, sip_port: int) -> AsyncIterator[ServerProcess]:
    """A real `omnivox serve --sip` process, healthy, until the block ends."""
    with contextlib.ExitStack() as stack:
        server = await asyncio.to_thread(
            stack.enter_context,
            serve(worker_yaml(name), args=["--sip", f"127.0.0.1:{sip_port}"]),
        )
        yield server


async def calls_through(proxy_port: int, count: int) -> Phone:
    """`count` sipp calls through the proxy, every one answered and hung up cleanly."""
    async with phone_socket() as (phone, media_port):
        options = ("-m", str(count), "-r", "2", "-d", "2000")
        sipp = await start_sipp("uac_call.xml", proxy_port, media_port, *options)
        await sipp_finished(sipp, 60)
    return phone


async def test_calls_are_spread_and_survive_a_killed_worker(tmp_path: Path) -> None:
    ports = {"a": free_udp_port(), "b": free_udp_port()}
    proxy_port = free_udp_port()
    async with worker("a", ports["a"]) as a, worker("b", ports["b"]):
        with kamailio(tmp_path, proxy_port, ports):
            await asyncio.sleep(1.0)  # Kamailio's children start
            before = await calls_through(proxy_port, 4)
            assert workers_seen(before) == {"a", "b"}, "round robin should use both workers"
            assert a.proc is not None
            a.proc.kill()  # a crash: no BYE, no goodbye
            a.proc.wait()
            after = await calls_through(proxy_port, 4)  # the first waits 2 s for a's silence
            assert workers_seen(after) == {"b"}
            log = (tmp_path / "kamailio.log").read_text(errors="replace")
            assert "did not answer INVITE: marked down" in log, log[-2000:]
