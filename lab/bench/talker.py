"""`omnivox bench talker`: each Talker on agent-style sentences: first audio, speed,
intelligibility, quality and word positions.

For each Talker (piper: the bundled voice, the default; espeak: eSpeak NG en-us), one
sentence at a time after one warm-up sentence, over SENTENCES (30 front-desk answers of
5-25 words):
- `first_audio_ms`: from calling `synthesize()` to its first chunk, p50/p95 (wall clock
  on this machine, nothing else synthesizing in the process);
- `rtf`: time to drain the whole stream / seconds of audio it gave (a consumer that
  takes every chunk at once, so no playout waits);
- `wer_16k`, `wer_8k_ulaw`: corpus WER of omnivox's Moonshine recognizer on the audio,
  wideband and after a phone line's 8 kHz G.711 mu-law (lab/evaluation/wer.py's
  normalisation; the recognizer is fed, in 20 ms frames, 160 ms of silence, the audio
  and 160 ms of silence again: in a call the recognizer hears a reply after a pause, and
  Moonshine given audio that starts at the first phoneme hears words that are not there,
  "50 members can bring" for "members can bring");
- `dnsmos`: DNSMOS P.835 SIG / BAK / OVRL (1-5), Microsoft's model from the `speechmos`
  wheel (the `dev` extra), per sentence as speechmos scores it (a clip shorter than
  9.01 s is repeated to that length); skipped when the wheel is missing. Only the P.835
  model is used: speechmos's own `run()` also needs librosa for its P.808 model;
- `at_once`: AT_ONCE sentences synthesized at the same moment by the one Talker (eight
  sessions starting their answers together), each drained at once: per synthesis its
  first audio and its wall-clock real-time factor (p50 / p95); a factor under 1 keeps
  each stream ahead of its playout;
- `word_position_ms`: |the Talker's word start - pocketsphinx's forced alignment of the
  same audio| for every word the aligner places, p50/p95 (the aligner works in 10 ms
  frames and is itself off by a few frames; sentences with numbers of 100 or more are
  not aligned).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from importlib import resources
from typing import Any

import numpy as np

from omnivox.kernels.g711 import ulaw_decode, ulaw_encode
from omnivox.kernels.resample import resample
from omnivox.lab.bench.asr import _percentiles, run_clip
from omnivox.lab.evaluation.wer import corpus_wer, word_error_rate
from omnivox.lab.training.turn_data import progress
from omnivox.lab.training.word_alignment import shared_aligner
from omnivox.models.recognizer.base import Recognizer
from omnivox.models.recognizer.factory import create_recognizer
from omnivox.models.talker.base import Talker
from omnivox.models.talker.espeak import EspeakTalker
from omnivox.models.talker.piper import PiperTalker

SAMPLE_RATE = 16_000
PAUSE_MS = 160  # silence the recognizer hears before and after each sentence
TALKERS = ("piper", "espeak")
SENTENCES = (
    "Hello! How can I help you today?",
    "You're welcome! Is there anything else I can help with?",
    "Thanks for calling Harbor Point. Have a great day!",
    "We're at two fifty Harbor Street, right next to the marina.",
    "On Saturdays and Sundays we're open from eight in the morning until eight in the evening.",
    "A day pass is twelve dollars for adults and includes the pool, the gym and the sauna.",
    "Members can bring a guest for six dollars, up to four times a month.",
    "There are covered bike racks by the main entrance. Please bring your own lock.",
    "Students and seniors over sixty five get thirty percent off any pass or membership.",
    "The closest train station is Marina Station on the Blue Line, about a five minute walk "
    "along the waterfront.",
    "There's a free parking lot behind the building with about eighty spaces, and accessible "
    "spaces by the entrance.",
    "You can book a class in the Harbor Point app, at the front desk, or by phone, up to "
    "seven days ahead.",
    "Please cancel at least two hours before the class starts, so someone on the waiting "
    "list can take your spot.",
    "The pool opens half an hour after the building and closes half an hour before it.",
    "We run yoga, pilates, spin, zumba and aqua aerobics, mostly early in the morning and in "
    "the evening.",
    "A monthly membership is forty nine dollars, or four hundred and ninety dollars if you "
    "pay for the whole year up front.",
    "To cancel your membership, give us thirty days notice at the front desk or by email.",
    "I'm an automated assistant, not a person.",
    "Sure, I can help with that.",
    "It's 9:30 now, and the sauna is open until 10 tonight.",
    "Our front desk is open every day from six in the morning until ten at night.",
    "Yes, we have free wifi. The password is on the card at the front desk.",
    "The number twelve bus stops right outside, every fifteen minutes during the day.",
    "Kids under twelve can swim with an adult on weekends between ten and four.",
    "I'm sorry, I didn't catch that. Could you say it again?",
    "Lockers are free for members; bring a padlock, or buy one at the desk for five dollars.",
    "Personal training sessions cost forty dollars an hour, and the first one is free.",
    "Towels are included with every pass, and you can rent a swimsuit for three dollars.",
    "Let me check that for you. One moment, please.",
    "The gym is busiest after work, so mornings are the best time to come.",
)
WARM_UP = "Good morning, this sentence warms the talker up."
AT_ONCE = 8
# DNSMOS P.835, not personalised: the raw scores' polynomial fits (speechmos/dnsmos.py).
_DNSMOS_FITS = {
    "sig": np.poly1d([-0.08397278, 1.22083953, 0.0052439]),
    "bak": np.poly1d([-0.13166888, 1.60915514, -0.39604546]),
    "ovrl": np.poly1d([-0.06766283, 1.11546468, 0.04602535]),
}
_DNSMOS_SECONDS = 9.01


def make_talker(name: str) -> Talker:
    if name == "piper":
        return PiperTalker()
    if name == "espeak":
        return EspeakTalker()
    raise ValueError(f"unknown talker {name!r} (use {', '.join(TALKERS)})")


async def speak(talker: Talker, text: str) -> dict[str, Any]:
    """One synthesis, drained at once: audio, word starts, first-chunk and total time."""
    began = time.perf_counter()
    first: float | None = None
    pcm: list[np.ndarray] = []
    starts: list[tuple[int, int]] = []
    offset = 0
    async for chunk in talker.synthesize(text):
        if first is None:
            first = time.perf_counter() - began
        starts += [(offset + sample, char) for sample, char in chunk.word_starts]
        offset += len(chunk.pcm)
        pcm.append(chunk.pcm)
    total = time.perf_counter() - began
    audio = np.concatenate(pcm) if pcm else np.zeros(0, np.int16)
    return {"pcm": audio, "starts": starts, "first_s": first or total, "total_s": total}


def hear(recognizer: Recognizer, pcm: np.ndarray) -> str:
    """The recognizer's final for `pcm` heard after a pause, as in a call."""
    lead = np.zeros(SAMPLE_RATE * PAUSE_MS // 1000, np.int16)
    return str(run_clip(recognizer, np.concatenate([lead, pcm]), PAUSE_MS)["text"])


def phone_line(pcm: np.ndarray) -> np.ndarray:
    """16 kHz -> 8 kHz G.711 mu-law -> back to 16 kHz, as a phone call hears it."""
    narrow = resample(pcm, SAMPLE_RATE, 8000)
    return resample(ulaw_decode(ulaw_encode(narrow)), 8000, SAMPLE_RATE)


class Dnsmos:
    """DNSMOS P.835 from the speechmos wheel's ONNX model, on onnxruntime."""

    def __init__(self) -> None:
        import onnxruntime as ort

        model = resources.files("speechmos") / "dnsmos_models" / "sig_bak_ovr.onnx"
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self._session = ort.InferenceSession(model.read_bytes(), options)

    def score(self, pcm: np.ndarray) -> dict[str, float]:
        audio = pcm.astype(np.float32) / 32768.0
        need = int(_DNSMOS_SECONDS * SAMPLE_RATE)
        while 0 < len(audio) < need:
            audio = np.append(audio, audio)
        hops = int(np.floor(len(audio) / SAMPLE_RATE - _DNSMOS_SECONDS)) + 1
        windows = [audio[i * SAMPLE_RATE : i * SAMPLE_RATE + need] for i in range(hops)]
        raw = [self._session.run(None, {"input_1": w[np.newaxis]})[0][0] for w in windows]
        return {
            key: float(np.mean([fit(r[k]) for r in raw]))
            for k, (key, fit) in enumerate(_DNSMOS_FITS.items())
        }


def load_dnsmos() -> Dnsmos | None:
    try:
        return Dnsmos()
    except (ImportError, OSError):
        return None


def word_position_errors(pcm: np.ndarray, text: str, starts: list[tuple[int, int]]) -> list[float]:
    """|Talker's start - forced alignment's| in ms for each word both place; [] when the
    aligner cannot take the sentence."""
    aligned = shared_aligner().align(pcm, text)
    if aligned is None:
        return []
    token_of = {m_start: i for i, m_start in enumerate(_token_starts(text))}
    talker = {token_of[char]: sample for sample, char in starts if char in token_of}
    truth: dict[int, int] = {}
    for word in aligned:
        truth.setdefault(word.token, word.start)
    return [
        abs(talker[token] - sample) * 1000 / SAMPLE_RATE
        for token, sample in truth.items()
        if token in talker
    ]


def _token_starts(text: str) -> list[int]:
    starts, inside = [], False
    for i, char in enumerate(text):
        if not char.isspace() and not inside:
            starts.append(i)
        inside = not char.isspace()
    return starts


def bench_talker(
    name: str, sentences: list[str], recognizer: Recognizer, dnsmos: Dnsmos | None
) -> dict[str, Any]:
    began = time.perf_counter()
    talker = make_talker(name)
    load_s = time.perf_counter() - began
    asyncio.run(speak(talker, WARM_UP))

    async def all_sentences() -> list[dict[str, Any]]:
        return [await speak(talker, s) for s in progress(sentences, len(sentences), name)]

    runs = asyncio.run(all_sentences())

    async def together() -> list[dict[str, Any]]:
        return await asyncio.gather(*(speak(talker, s) for s in sentences[:AT_ONCE]))

    crowd = asyncio.run(together())
    wide, narrow, quality, errors = [], [], [], []
    for text, run in progress(
        list(zip(sentences, runs, strict=True)), len(runs), f"{name}: scoring"
    ):
        pcm = run["pcm"]
        wide.append((text, hear(recognizer, pcm)))
        narrow.append((text, hear(recognizer, phone_line(pcm))))
        if dnsmos is not None:
            quality.append(dnsmos.score(pcm))
        errors += word_position_errors(pcm, text, run["starts"])
    audio_s = sum(len(r["pcm"]) for r in runs) / SAMPLE_RATE
    worst = sorted(
        ((round(word_error_rate(ref, hyp), 3), ref, hyp) for ref, hyp in wide), key=lambda w: -w[0]
    )
    return {
        "load_s": round(load_s, 2),
        "audio_s": round(audio_s, 1),
        "first_audio_ms": _percentiles([r["first_s"] * 1000 for r in runs]),
        "rtf": round(sum(r["total_s"] for r in runs) / audio_s, 3),
        "wer_16k": round(corpus_wer(wide), 4),
        "wer_8k_ulaw": round(corpus_wer(narrow), 4),
        "dnsmos": (
            {k: round(float(np.mean([q[k] for q in quality])), 2) for k in _DNSMOS_FITS}
            if quality
            else None
        ),
        "at_once": {
            "n": len(crowd),
            "first_audio_ms": _percentiles([r["first_s"] * 1000 for r in crowd]),
            "rtf": _percentiles([r["total_s"] * SAMPLE_RATE / len(r["pcm"]) for r in crowd]),
        },
        "word_position_ms": {**_percentiles(errors), "words": len(errors)},
        "worst": [{"wer": w, "ref": ref, "hyp": hyp} for w, ref, hyp in worst[:3] if w],
    }


def run_talker_bench(talkers: list[str], limit: int | None = None) -> dict[str, Any]:
    sentences = list(SENTENCES[:limit])
    recognizer = create_recognizer("moonshine")
    run_clip(recognizer, np.zeros(SAMPLE_RATE, np.int16), 160)  # warm-up
    dnsmos = load_dnsmos()
    return {
        "setup": {"sentences": len(sentences), "cpus": os.cpu_count(), "dnsmos": bool(dnsmos)},
        "results": {name: bench_talker(name, sentences, recognizer, dnsmos) for name in talkers},
    }


def format_talker_table(result: dict[str, Any]) -> str:
    header = (
        f"{'talker':<8}{'first audio p50/p95 ms':>24}{'RTF':>7}{'WER 16k':>9}{'WER 8k':>8}"
        f"{'DNSMOS SIG/BAK/OVRL':>21}{'word pos p50/p95 ms (n)':>26}"
    )
    lines = [header, "-" * len(header)]
    for name, r in result["results"].items():
        first, pos, mos = r["first_audio_ms"], r["word_position_ms"], r["dnsmos"]
        mos_text = f"{mos['sig']:.2f}/{mos['bak']:.2f}/{mos['ovrl']:.2f}" if mos else "-"
        lines.append(
            f"{name:<8}{first['p50']:>14.0f}/{first['p95']:<9.0f}{r['rtf']:>7.3f}"
            f"{r['wer_16k']:>9.3f}{r['wer_8k_ulaw']:>8.3f}{mos_text:>21}"
            f"{pos['p50']:>15.0f}/{pos['p95']:<4.0f} ({pos['words']})"
        )
    for name, r in result["results"].items():
        crowd = r["at_once"]
        lines.append(
            f"{name}: {crowd['n']} at once: first audio {crowd['first_audio_ms']['p50']:.0f} / "
            f"{crowd['first_audio_ms']['p95']:.0f} ms, real-time factor "
            f"{crowd['rtf']['p50']:.2f} / {crowd['rtf']['p95']:.2f} (p50 / p95)"
        )
    setup = result["setup"]
    lines.append(
        f"({setup['sentences']} sentences, {setup['cpus']} CPUs"
        + ("" if setup["dnsmos"] else "; DNSMOS skipped: install the dev extra (speechmos)")
        + "; load: "
        + ", ".join(f"{n} {r['load_s']:.1f} s" for n, r in result["results"].items())
        + ")"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omnivox bench talker", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    parser.add_argument("--limit", type=int, help="use only the first N sentences")
    parser.add_argument("--talkers", nargs="+", default=list(TALKERS), choices=TALKERS)
    args = parser.parse_args(argv)
    result = run_talker_bench(args.talkers, args.limit)
    print(json.dumps(result, indent=2) if args.json else format_talker_table(result))
    return 0
