"""The `omnivox` command line.

Every failure a user can cause (a bad config, a missing file, a busy port) ends in one
clear line and exit status 2; `--debug` shows the traceback for bug reports.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from omnivox.agent.config import AgentConfig, ConfigError, load_config, parse_config
from omnivox.agent.logs import configure_logging, log_level

log = logging.getLogger("omnivox")


def _config(args: argparse.Namespace) -> AgentConfig:
    """The config, and logging as it says (unless the command line or OMNIVOX_LOG_LEVEL
    says otherwise)."""
    config = load_config(args.config)
    level = log_level(args.debug, os.environ, config.log.level)
    configure_logging(level, args.log_format or config.log.format)
    return config


def with_sip(config: AgentConfig, sip: str) -> AgentConfig:
    """`config` answering SIP calls at `sip` (HOST:PORT). Only what was set is carried
    over, so the defaults are validated as defaults."""
    telephony = {**config.telephony.model_dump(exclude_unset=True), "sip": sip}
    return parse_config({**config.model_dump(exclude_unset=True), "telephony": telephony}, "--sip")


def with_journal(config: AgentConfig, folder: Path) -> AgentConfig:
    return config.model_copy(update={"journal": config.journal.model_copy(update={"dir": folder})})


def cmd_serve(args: argparse.Namespace) -> int:
    from omnivox.agent.api.access.guard import warn_if_open
    from omnivox.agent.api.app import ACCESS, LIFECYCLE, create_app
    from omnivox.agent.api.lifecycle import serve
    from omnivox.agent.stack import build_stack

    config = _config(args)
    if args.sip is not None:
        config = with_sip(config, args.sip)
    if args.journal is not None:
        config = with_journal(config, args.journal)
    host = args.host or config.server.host
    port = args.port if args.port is not None else config.server.port
    print("omnivox: loading models ...", file=sys.stderr)
    stack = build_stack(config)
    print(
        f"omnivox: open http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}",
        file=sys.stderr,
    )
    app = create_app(config, stack)
    warning = warn_if_open(app[ACCESS], host)
    if warning is not None:
        print(warning, file=sys.stderr)
    asyncio.run(serve(app, app[LIFECYCLE], host, port, config.server.drain_timeout_s))
    return 0


def cmd_sessions(args: argparse.Namespace) -> int:
    from omnivox.agent.journal import find_journal, format_turn, list_journals, read_journal

    folder = args.journal or _config(args).journal.dir
    if folder is None:
        raise ConfigError("no journal folder: pass --journal DIR or set journal.dir in --config")
    if args.session_id is None:
        for j in list_journals(folder):
            ended = j.ended or "live or killed"
            print(f"{j.session_id}\t{j.started or '?'}\t{j.turns} turns\t{ended}")
        return 0
    path = find_journal(folder, args.session_id)
    if args.json:
        print(path.read_text(encoding="utf-8"), end="")
        return 0
    for record in read_journal(path):
        if record.get("type") == "turn":
            print(format_turn(record))
        elif record.get("type") == "session_ended":
            print(f"(session ended: {record.get('reason')})")
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
    "browser": "mouth-to-ear in Chromium and Firefox: the server's share and the page's",
    "camera": "face detection, frame decoding and snapshot encoding, per camera frame",
    "echo_canceller": "the echo canceller's time per 20 ms frame",
    "echo_leak": "the echo gate when the echo's delay jumps, and with people over the agent",
    "idle_cpu": "CPU per idle connected WebRTC session (a real server process)",
    "interventions": "the time each built-in intervention adds to a turn",
    "kernels": "each kernel's fast path against its numpy reference, per 20 ms frame",
    "load": "N real WebRTC callers at once: voice-to-voice, CPU per session, underruns",
    "phone": "N SIP calls at once over RTP: voice-to-voice, barge-in stop, server CPU",
    "thinker_cancel": "how soon closing a Thinker stream reaches the model server",
    "turn_classifier": "one turn-classifier query on onnxruntime, streaming and cold",
    "talker": "each Talker's first audio, speed, WER, DNSMOS and word positions",
    "kiosk": "the kiosk's echo path: ERLE, self-interruptions, barge-in stop through echo",
    "realtime": "voice-to-voice over /v1/realtime with the openai SDK as the client",
    "network": "spoken turns over a clean and a lossy, jittery link (a user-space relay)",
    "soak": "N WebRTC callers for M minutes: leaks (RSS, fds, threads, tasks), v2v per minute",
}
"""`omnivox bench <name> [options]` runs omnivox.lab.bench.<name>.main(options)."""


def _run_main(module: str, argv: list[str]) -> int:
    """`module.main(argv)`, imported only now: the runtime never loads the lab at startup."""
    import importlib

    main: Callable[[list[str]], int] = importlib.import_module(module).main
    return main(argv)


def _delegate(module: str) -> Callable[[argparse.Namespace], int]:
    return lambda args: _run_main(module, args.rest)


def cmd_devices(_args: argparse.Namespace) -> int:
    from omnivox.media.local_audio.devices import describe, query_devices

    print(describe(*query_devices()))
    return 0


def cmd_kiosk(args: argparse.Namespace) -> int:
    from omnivox.agent.kiosk.run import run_command
    from omnivox.media.local_audio.sound_card import SoundCardSettings

    sound = SoundCardSettings(input=args.input, output=args.output, rate=args.rate)
    return run_command(_config(args), sound, args.camera, view=not args.no_view, events=args.events)


def cmd_bench(args: argparse.Namespace) -> int:
    return _run_main(f"omnivox.lab.bench.{args.name}", args.rest)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="omnivox", description="Real-time, full-duplex voice agent.")
    p.add_argument("--debug", action="store_true", help="verbose logs and tracebacks")
    p.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="json: one JSON object per log line (default from config log.format: text)",
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the web server (WebRTC) with the configured stack")
    s.add_argument("--config", type=Path, help="agent YAML (default: embedded offline stack)")
    s.add_argument("--host", help="listen address (default from config: 127.0.0.1)")
    s.add_argument("--port", type=int, help="listen port (default from config: 8080)")
    s.add_argument(
        "--sip", metavar="HOST:PORT", help="also answer SIP calls here (UDP), e.g. 0.0.0.0:5060"
    )
    s.add_argument("--journal", type=Path, metavar="DIR", help="keep a JSONL journal per session")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("sessions", help="list the session journals, or print one")
    s.add_argument("session_id", nargs="?", metavar="ID", help="the session to print")
    s.add_argument("--journal", type=Path, metavar="DIR", help="the journal folder")
    s.add_argument("--config", type=Path, help="agent YAML whose journal.dir to read")
    s.add_argument("--json", action="store_true", help="the raw JSON lines")
    s.set_defaults(func=cmd_sessions)

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

    s = sub.add_parser("devices", help="list the sound devices (for kiosk --input/--output)")
    s.set_defaults(func=cmd_devices)

    s = sub.add_parser("kiosk", help="talk through this machine's microphone, speaker and camera")
    s.add_argument("--config", type=Path, help="agent YAML (echo.cancel defaults to true here)")
    s.add_argument("--input", metavar="DEV", help="microphone: index or part of its name")
    s.add_argument("--output", metavar="DEV", help="speaker: index or part of its name")
    s.add_argument("--rate", type=int, help="device sample rate (default: what both support)")
    s.add_argument("--camera", default="auto", metavar="N|off", help="OpenCV camera index")
    s.add_argument("--no-view", action="store_true", help="no live view (events and logs only)")
    s.add_argument("--events", type=Path, help="append every event here as a JSON line")
    s.set_defaults(func=cmd_kiosk)

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
    try:
        configure_logging(log_level(args.debug, os.environ), args.log_format or "text")
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
