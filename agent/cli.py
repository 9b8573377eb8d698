"""The `omnivox` command line.

Every failure a user can cause (a bad config, a missing file, a busy port) ends in one
clear line and exit status 2; `--debug` shows the traceback for bug reports.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from omnivox.agent.config import AgentConfig, ConfigError, load_config, parse_config

log = logging.getLogger("omnivox")


def _config(args: argparse.Namespace) -> AgentConfig:
    return load_config(args.config)


def with_sip(config: AgentConfig, sip: str) -> AgentConfig:
    """`config` answering SIP calls at `sip` (HOST:PORT). Only what was set is carried
    over, so the defaults are validated as defaults."""
    telephony = {**config.telephony.model_dump(exclude_unset=True), "sip": sip}
    return parse_config({**config.model_dump(exclude_unset=True), "telephony": telephony}, "--sip")


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from omnivox.agent.api.app import create_app
    from omnivox.agent.stack import build_stack

    config = _config(args)
    if args.sip is not None:
        config = with_sip(config, args.sip)
    host = args.host or config.server.host
    port = args.port if args.port is not None else config.server.port
    print("omnivox: loading models ...", file=sys.stderr)
    stack = build_stack(config)
    print(
        f"omnivox: open http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}",
        file=sys.stderr,
    )
    web.run_app(create_app(config, stack), host=host, port=port, print=None)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from omnivox.agent.stack import build_stack
    from omnivox.lab.simulate import EchoPath, simulate
    from omnivox.media.audio_files import read_audio
    from omnivox.media.image import read_image

    config = _config(args)
    pcm = read_audio(args.user_wav)
    image = read_image(args.camera) if args.camera is not None else None
    stack = build_stack(config)
    echo = (
        EchoPath(gain_db=args.echo_db, delay_ms=args.echo_delay_ms)
        if args.echo_db is not None
        else None
    )
    result = asyncio.run(simulate(pcm, stack, config, greet=args.greet, camera=image, echo=echo))
    result.write(args.out, args.events)
    finals = [e["text"] for e in result.of_type("transcript_final")]
    replies = [e["text"] for e in result.of_type("reply_text")]
    print(
        f"simulated {result.media_s:.1f} s of media in {result.wall_s:.1f} s "
        f"({result.media_s / max(result.wall_s, 1e-6):.1f}x real time)",
        file=sys.stderr,
    )
    for text in finals:
        print(f"user:  {text}", file=sys.stderr)
    if replies:
        print(f"agent: {' '.join(replies)}", file=sys.stderr)
    return 0


BENCHMARKS = {
    "asr": "recognizer word error rate and final-transcript delay on real speech",
    "latency": "voice-to-voice and barge-in latency over simulated sessions",
    "turns": "turn-taking scenarios: take-over rates, end-of-turn gap, stop latency",
    "browser_audio": "event-loop lag and the page's receive delay, in headless Chromium",
    "camera": "face detection, frame decoding and snapshot encoding, per camera frame",
    "echo_canceller": "the echo canceller's time per 20 ms frame",
    "idle_cpu": "CPU per idle connected WebRTC session (a real server process)",
    "interventions": "the time each built-in intervention adds to a turn",
    "kernels": "each kernel's fast path against its numpy reference, per 20 ms frame",
    "load": "N real WebRTC callers at once: voice-to-voice, CPU per session, underruns",
    "thinker_cancel": "how soon closing a Thinker stream reaches the model server",
    "turn_classifier": "one turn-classifier query on onnxruntime, streaming and cold",
    "talker": "each Talker's first audio, speed, WER, DNSMOS and word positions",
}
"""`omnivox bench <name> [options]` runs omnivox.lab.bench.<name>.main(options)."""


def _run_main(module: str, argv: list[str]) -> int:
    """`module.main(argv)`, imported only now: the runtime never loads the lab at startup."""
    import importlib

    main: Callable[[list[str]], int] = importlib.import_module(module).main
    return main(argv)


def _delegate(module: str) -> Callable[[argparse.Namespace], int]:
    return lambda args: _run_main(module, args.rest)


def cmd_bench(args: argparse.Namespace) -> int:
    return _run_main(f"omnivox.lab.bench.{args.name}", args.rest)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="omnivox", description="Real-time, full-duplex voice agent.")
    p.add_argument("--debug", action="store_true", help="verbose logs and tracebacks")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the web server (WebRTC) with the configured stack")
    s.add_argument("--config", type=Path, help="agent YAML (default: embedded offline stack)")
    s.add_argument("--host", help="listen address (default from config: 127.0.0.1)")
    s.add_argument("--port", type=int, help="listen port (default from config: 8080)")
    s.add_argument(
        "--sip", metavar="HOST:PORT", help="also answer SIP calls here (UDP), e.g. 0.0.0.0:5060"
    )
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser(
        "simulate", help="run a session on a recorded user track, faster than real time"
    )
    s.add_argument("user_wav", type=Path)
    s.add_argument("--out", type=Path, help="stereo WAV: channel 0 user, channel 1 agent")
    s.add_argument("--events", type=Path, help="JSON lines, one event per line")
    s.add_argument("--config", type=Path)
    s.add_argument("--greet", action="store_true", help="speak the configured greeting first")
    s.add_argument("--camera", type=Path, help="an image the camera shows throughout")
    s.add_argument(
        "--echo-db",
        type=float,
        metavar="DB",
        help="the far end's speaker is heard by its mic this loud (e.g. -10): the agent's "
        "voice comes back into the user track, as from a client without echo cancelling",
    )
    s.add_argument("--echo-delay-ms", type=float, default=120.0, metavar="MS")
    s.set_defaults(func=cmd_simulate)

    s = sub.add_parser(
        "bench",
        help="benchmarks (figures, not pass/fail)",
        description="Benchmarks: figures, not pass/fail. "
        "`omnivox bench <name> --help` gives a benchmark's options.",
        epilog="benchmarks:\n"
        + "\n".join(f"  {name:16} {text}" for name, text in BENCHMARKS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("name", choices=BENCHMARKS, metavar="name", help="one of the benchmarks below")
    s.add_argument("rest", nargs=argparse.REMAINDER, help="the benchmark's options")
    s.set_defaults(func=cmd_bench)

    for name, module, helptext in (
        (
            "train",
            "omnivox.lab.training.train_turns",
            "train the turn-taking classifier (needs the train extra)",
        ),
        (
            "eval",
            "omnivox.lab.evaluation.eval_turns",
            "evaluate the turn-taking classifier on labelled clips",
        ),
    ):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("what", choices=["turns"])
        s.add_argument("rest", nargs=argparse.REMAINDER)
        s.set_defaults(func=_delegate(module))
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except (ConfigError, ValueError, OSError) as err:
        if args.debug:
            raise
        print(f"omnivox: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
