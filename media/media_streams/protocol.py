"""The telephony providers' WebSocket media stream protocol, sans I/O.

Twilio Media Streams is the reference (Telnyx, Vonage and Plivo speak close dialects).
The provider sends JSON text messages: `connected`, `start` (the stream and call ids,
custom parameters, the media format: 8 kHz mu-law mono), `media` (base64 mu-law chunks,
usually 20 ms), `dtmf`, `mark` (the echo of a mark we sent, once the audio before it was
played) and `stop`. We send `media`, `mark` and `clear` (drop the audio not played yet).

No sockets, no asyncio, no clock of its own: `MediaStreamProtocol` parses what arrives
into typed events, builds what goes out, and keeps the mark accounting that tells how far
the caller's playout trails what was sent; times are passed in.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

MULAW = "audio/x-mulaw"
RATE = 8000
MAX_MESSAGE_CHARS = 256 * 1024
"""About 16 s of audio in one `media` message; a longer text is not read."""
DTMF_DIGITS = frozenset("0123456789*#ABCD")


# ---- inbound events ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaFormat:
    encoding: str = MULAW
    sample_rate: int = RATE
    channels: int = 1

    @property
    def supported(self) -> bool:
        return (self.encoding, self.sample_rate, self.channels) == (MULAW, RATE, 1)


@dataclass(frozen=True, slots=True)
class Connected:
    protocol: str = ""
    version: str = ""


@dataclass(frozen=True, slots=True)
class Start:
    stream_sid: str
    call_sid: str = ""
    account_sid: str = ""
    tracks: tuple[str, ...] = ("inbound",)
    custom_parameters: dict[str, str] = field(default_factory=dict)
    media_format: MediaFormat = MediaFormat()


@dataclass(frozen=True, slots=True)
class Media:
    payload: bytes
    """mu-law codes, one byte a sample."""
    track: str = "inbound"
    """inbound: the caller; outbound: what the caller hears (streams of both tracks)."""
    chunk: int | None = None
    timestamp_ms: int | None = None
    """Since the stream started."""


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str
    track: str = "inbound_track"


@dataclass(frozen=True, slots=True)
class Mark:
    name: str


@dataclass(frozen=True, slots=True)
class Stop:
    call_sid: str = ""
    account_sid: str = ""


ErrorKind = Literal["too_large", "not_text", "not_json", "not_object", "unknown_event", "bad_field"]


@dataclass(frozen=True, slots=True)
class BadMessage:
    """An inbound message that cannot be used: reported (once a kind) and ignored."""

    kind: ErrorKind
    detail: str

    def describe(self) -> str:
        return f"unusable media stream message ({self.kind}): {self.detail}"


InboundEvent = Connected | Start | Media | Dtmf | Mark | Stop


class _Bad(Exception):
    def __init__(self, kind: ErrorKind, detail: str) -> None:
        super().__init__(detail)
        self.bad = BadMessage(kind, detail)


def parse_message(text: str | bytes) -> InboundEvent | BadMessage:
    """One provider message as a typed event, or why it cannot be used. Strict about the
    fields it reads, tolerant of fields it does not know."""
    if not isinstance(text, str):
        return BadMessage("not_text", "binary frames are not part of the protocol")
    if len(text) > MAX_MESSAGE_CHARS:
        return BadMessage("too_large", f"{len(text)} characters (limit {MAX_MESSAGE_CHARS})")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        return BadMessage("not_json", f"not JSON ({err.msg} at {err.pos})")
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        return BadMessage("not_object", 'expected a JSON object with a string "event"')
    parse = _PARSERS.get(data["event"])
    if parse is None:
        return BadMessage("unknown_event", f"unknown event {data['event'][:40]!r}")
    try:
        return parse(data)
    except _Bad as err:
        return err.bad


def _object(data: dict[str, Any], key: str, required: bool = True) -> dict[str, Any]:
    value = data.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _Bad("bad_field", f'{data["event"]}: "{key}" must be an object')
    return value


def _str(data: dict[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise _Bad("bad_field", f'"{key}" must be a string')
    return value


def _int(data: dict[str, Any], key: str) -> int | None:
    """Twilio sends counters as strings ("chunk": "3"); numbers are fine too."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _Bad("bad_field", f'"{key}" must be an integer, got {value!r:.40}')


def _connected(data: dict[str, Any]) -> Connected:
    return Connected(_str(data, "protocol", ""), _str(data, "version", ""))


def _start(data: dict[str, Any]) -> Start:
    start = _object(data, "start")
    sid = start.get("streamSid", data.get("streamSid"))
    if not isinstance(sid, str) or not sid:
        raise _Bad("bad_field", 'start: "streamSid" must be a non-empty string')
    tracks = start.get("tracks", ["inbound"])
    if not isinstance(tracks, list) or not all(isinstance(t, str) for t in tracks):
        raise _Bad("bad_field", 'start: "tracks" must be a list of strings')
    params = _object(start, "customParameters", required=False)
    fmt = _object(start, "mediaFormat", required=False)
    return Start(
        stream_sid=sid,
        call_sid=_str(start, "callSid", ""),
        account_sid=_str(start, "accountSid", ""),
        tracks=tuple(tracks),
        custom_parameters={str(k): v if isinstance(v, str) else str(v) for k, v in params.items()},
        media_format=MediaFormat(
            _str(fmt, "encoding", MULAW),
            _int(fmt, "sampleRate") or RATE,
            _int(fmt, "channels") or 1,
        ),
    )


def _media(data: dict[str, Any]) -> Media:
    media = _object(data, "media")
    try:
        payload = base64.b64decode(_str(media, "payload"), validate=True)
    except ValueError as err:  # binascii.Error, or characters outside ASCII
        raise _Bad("bad_field", f"media: the payload is not base64 ({err})") from None
    return Media(
        payload, _str(media, "track", "inbound"), _int(media, "chunk"), _int(media, "timestamp")
    )


def _dtmf(data: dict[str, Any]) -> Dtmf:
    dtmf = _object(data, "dtmf")
    digit = _str(dtmf, "digit")
    if digit not in DTMF_DIGITS:
        raise _Bad("bad_field", f"dtmf: {digit!r:.12} is not a key (0-9, *, #, A-D)")
    return Dtmf(digit, _str(dtmf, "track", "inbound_track"))


def _mark(data: dict[str, Any]) -> Mark:
    return Mark(_str(_object(data, "mark"), "name"))


def _stop(data: dict[str, Any]) -> Stop:
    stop = _object(data, "stop", required=False)
    return Stop(_str(stop, "callSid", ""), _str(stop, "accountSid", ""))


_PARSERS: dict[str, Callable[[dict[str, Any]], InboundEvent]] = {
    "connected": _connected,
    "start": _start,
    "media": _media,
    "dtmf": _dtmf,
    "mark": _mark,
    "stop": _stop,
}


# ---- outbound messages ----------------------------------------------------------------


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def media_message(stream_sid: str, mulaw: bytes) -> str:
    payload = base64.b64encode(mulaw).decode("ascii")
    return _dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})


def mark_message(stream_sid: str, name: str) -> str:
    return _dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    return _dumps({"event": "clear", "streamSid": stream_sid})


# ---- playout accounting ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SentMark:
    name: str
    audio_ms: float
    """Agent audio sent before it."""
    sent_at_ms: float


class MarkLedger:
    """What the caller has heard of the agent audio sent, from the marks the provider
    echoes back once the audio before them was played.

    A mark goes out after every `every_ms` of audio (and at the end of each stretch of
    it). When it comes back, everything before it was heard: `heard_ms` moves up to it,
    and the playout delay is how long the provider held it, echo time minus send time.
    While audio streams in real time that equals `sent_ms - heard_ms` at the echo; at the
    end of a reply, when nothing more is sent, it still measures the delay rather than
    the shrinking backlog. `clear` drops the accounting of audio the provider discards:
    the marks it echoes for it afterwards are ignored.
    """

    def __init__(self, every_ms: float = 100.0, max_pending: int = 600) -> None:
        self.every_ms = every_ms
        self.sent_ms = 0.0
        self.heard_ms = 0.0
        self.dropped_ms = 0.0
        """Sent, then cleared before it was played."""
        self._unmarked_ms = 0.0
        self._pending: deque[_SentMark] = deque(maxlen=max_pending)
        self._names = (f"ovx-{n}" for n in itertools.count(1))

    @property
    def backlog_ms(self) -> float:
        """Sent and neither heard nor cleared yet (as far as the echoes tell)."""
        return self.sent_ms - self.heard_ms - self.dropped_ms

    def sent(self, audio_ms: float, now_ms: float) -> str | None:
        """`audio_ms` more audio went out; a mark's name when one is due after it."""
        self.sent_ms += audio_ms
        self._unmarked_ms += audio_ms
        return self.mark(now_ms) if self._unmarked_ms >= self.every_ms else None

    def mark(self, now_ms: float) -> str | None:
        """A mark after the audio sent so far, unless the last one is already there."""
        if self._unmarked_ms <= 0:
            return None
        self._unmarked_ms = 0.0
        mark = _SentMark(next(self._names), self.sent_ms, now_ms)
        self._pending.append(mark)
        return mark.name

    def echoed(self, name: str, now_ms: float) -> float | None:
        """The provider played up to mark `name`: the playout delay in ms, or None for a
        mark that is not ours or was cleared."""
        if all(m.name != name for m in self._pending):
            return None
        while True:  # marks play in order: the echo confirms the ones before it too
            mark = self._pending.popleft()
            if mark.name == name:
                break
        self.heard_ms = mark.audio_ms - self.dropped_ms
        return max(0.0, now_ms - mark.sent_at_ms)

    def clear(self) -> None:
        self.dropped_ms += self.backlog_ms
        self._pending.clear()
        self._unmarked_ms = 0.0


class MediaStreamProtocol:
    """One media stream: typed inbound events, outbound messages, playout accounting."""

    def __init__(self, mark_every_ms: float = 100.0) -> None:
        self.stream_sid: str | None = None
        self.start: Start | None = None
        self.marks = MarkLedger(mark_every_ms)
        self.playout_delay_ms: float | None = None
        """From the latest mark echo."""

    def receive(self, text: str | bytes, now_ms: float) -> InboundEvent | BadMessage:
        """Parse one inbound message and keep what the stream needs from it: the start,
        and the playout delay a mark echo gives (`playout_delay_ms`, None otherwise)."""
        event = parse_message(text)
        self.playout_delay_ms = None
        if isinstance(event, Start) and self.start is None:
            self.start, self.stream_sid = event, event.stream_sid
        elif isinstance(event, Mark):
            self.playout_delay_ms = self.marks.echoed(event.name, now_ms)
        return event

    def send_audio(self, mulaw: bytes, now_ms: float) -> list[str]:
        """The `media` message for `mulaw` (8 kHz codes), and a `mark` when one is due."""
        sid = self._sid()
        out = [media_message(sid, mulaw)]
        name = self.marks.sent(1000.0 * len(mulaw) / RATE, now_ms)
        if name is not None:
            out.append(mark_message(sid, name))
        return out

    def end_of_audio(self, now_ms: float) -> list[str]:
        """A stretch of agent audio ended: mark its tail, so it too is confirmed heard."""
        name = self.marks.mark(now_ms)
        return [] if name is None else [mark_message(self._sid(), name)]

    def clear(self) -> str:
        """The `clear` message (barge-in: the provider drops what it has not played)."""
        self.marks.clear()
        return clear_message(self._sid())

    def _sid(self) -> str:
        if self.stream_sid is None:
            raise RuntimeError("nothing can be sent before the stream's start")
        return self.stream_sid
