"""SDP offer/answer (RFC 4566, RFC 3264) for the one audio stream of a SIP call.

The offer comes in an INVITE (or a re-INVITE: hold, resume, a new address); `negotiate`
picks G.711 and RFC 4733 telephone-event from it and writes the answer. For an INVITE
without one, `make_offer` writes ours. Everything we do
not take (video, T.38, a second audio stream, SRTP-only profiles) is rejected in the
answer with port 0, as RFC 3264 section 6 asks: one answer line per offered line.

aiortc.sdp is not used: it is written for WebRTC offers and validates with `assert`
(gone under `python -O`), knows no static payload types without a=rtpmap (sipp and many
phones send `m=audio 6000 RTP/AVP 0` bare), keeps no a=ptime nor session-level
direction, rejects `m=audio 49170/2`, raises StopIteration on a=fmtp for a payload type
without a=rtpmap, and its writer assumes ICE and DTLS. A SIP answer needs a few lines.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

Direction = Literal["sendrecv", "sendonly", "recvonly", "inactive"]
DIRECTIONS: tuple[Direction, ...] = ("sendrecv", "sendonly", "recvonly", "inactive")
_ANSWER_DIRECTION: dict[Direction, Direction] = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}
# An offer with c=0.0.0.0 is RFC 2543 hold: the offerer wants nothing sent to it.
_WITHOUT_RECEIVE: dict[Direction, Direction] = {
    "sendrecv": "sendonly",
    "sendonly": "sendonly",
    "recvonly": "inactive",
    "inactive": "inactive",
}

STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int]] = {0: ("PCMU", 8000), 8: ("PCMA", 8000)}
"""RFC 3551 static payload types we speak, valid without a=rtpmap."""
RTP_PROFILES = frozenset({"RTP/AVP", "RTP/AVPF"})
"""Plain RTP; SRTP-only profiles (RTP/SAVP...) are rejected: we have no keys to offer."""
CLOCK_RATE = 8000
DEFAULT_PTIME_MS = 20
PTIME_MS = 20
"""What we send and ask to receive (the answer's a=ptime): one packet per 20 ms frame."""
TELEPHONE_EVENTS = "0-15"
"""The RFC 4733 events we understand: DTMF 0-9 * # A-D."""
OFFERED_EVENT_PT = 101
"""telephone-event's payload type in our own offers (the usual dynamic number)."""


class SdpError(ValueError):
    """The SDP is malformed or truncated (the shell answers 400 Bad Request)."""


class NoCommonCodec(ValueError):
    """The offer has no audio stream we can take (the shell answers 488)."""


@dataclass(frozen=True, slots=True)
class RtpMap:
    encoding: str
    """Upper-cased, e.g. "PCMU", "TELEPHONE-EVENT"."""
    clock_rate: int
    channels: int = 1


@dataclass(frozen=True, slots=True)
class MediaDescription:
    kind: str
    port: int
    proto: str
    formats: tuple[str, ...]
    connection: str | None
    rtpmaps: Mapping[int, RtpMap]
    ptime_ms: int | None
    direction: Direction | None


@dataclass(frozen=True, slots=True)
class SessionDescription:
    connection: str | None
    ptime_ms: int | None
    direction: Direction | None
    media: tuple[MediaDescription, ...]


@dataclass(frozen=True, slots=True)
class Negotiated:
    """The outcome of one offer/answer, from our side."""

    codec: str
    """"PCMU" or "PCMA"."""
    payload_type: int
    clock_rate: int
    telephone_event: int | None
    """RFC 4733 payload type, None if the offer had none (then no DTMF in band)."""
    ptime_ms: int
    """The packet time the far end asked for; we send 20 ms packets and ask for the same."""
    remote_ip: str
    remote_port: int
    direction: Direction
    """Ours, as written in the answer: "recvonly" or "inactive" when the far end holds."""
    answer_sdp: str

    @property
    def remote_address(self) -> tuple[str, int]:
        return (self.remote_ip, self.remote_port)

    @property
    def sends(self) -> bool:
        """Whether we may send audio (False while the far end holds the call)."""
        return self.direction in ("sendrecv", "sendonly")

    @property
    def receives(self) -> bool:
        return self.direction in ("sendrecv", "recvonly")


def negotiate(
    offer: str,
    local_ip: str,
    local_port: int,
    session_id: int,
    prefer: Sequence[str] = ("PCMU", "PCMA"),
    *,
    session_version: int = 0,
) -> Negotiated:
    """Answer `offer` with the first codec of `prefer` that it carries.

    Our preference order decides, not the offer's: both ends support every codec the
    offer lists. Raises SdpError for malformed SDP, NoCommonCodec when no plain-RTP audio
    stream offers a codec in `prefer`. A re-INVITE's answer needs `session_version`
    higher than the last one sent (RFC 3264 section 8).
    """
    local = ipaddress.ip_address(local_ip)  # our own config: a ValueError, not an SdpError
    if not 0 < local_port < 65536:
        raise ValueError(f"local_port must be 1-65535, got {local_port}")
    wanted = [name.upper() for name in prefer]
    if not wanted or not set(wanted) <= {"PCMU", "PCMA"}:
        raise ValueError(f"prefer must name PCMU and/or PCMA (what G711Codec speaks): {prefer}")
    description = parse_sdp(offer)
    for index, media in enumerate(description.media):
        if media.kind != "audio" or media.port == 0 or media.proto.upper() not in RTP_PROFILES:
            continue
        payload_types = _payload_types(media)
        codec = next(
            (
                (name, pt)
                for name in wanted
                for pt, rtpmap in payload_types
                if rtpmap == RtpMap(name, CLOCK_RATE)
            ),
            None,
        )
        if codec is None:
            continue
        connection = media.connection or description.connection
        if connection is None:
            raise SdpError(f"audio stream {index} has no connection address (c=)")
        events = RtpMap("TELEPHONE-EVENT", CLOCK_RATE)
        event = next((pt for pt, rtpmap in payload_types if rtpmap == events), None)
        offered: Direction = media.direction or description.direction or "sendrecv"
        if ipaddress.ip_address(connection).is_unspecified:
            offered = _WITHOUT_RECEIVE[offered]
        direction = _ANSWER_DIRECTION[offered]
        answer = _answer(
            description, index, codec, event, direction, local, local_port, session_id,
            session_version,
        )  # fmt: skip
        return Negotiated(
            codec=codec[0],
            payload_type=codec[1],
            clock_rate=CLOCK_RATE,
            telephone_event=event,
            ptime_ms=media.ptime_ms or description.ptime_ms or DEFAULT_PTIME_MS,
            remote_ip=connection,
            remote_port=media.port,
            direction=direction,
            answer_sdp=answer,
        )
    raise NoCommonCodec(f"no RTP/AVP audio stream offers any of {', '.join(wanted)}")


def make_offer(
    local_ip: str, local_port: int, session_id: int, codecs: Sequence[str] = ("PCMU", "PCMA")
) -> str:
    """Our offer, for a caller whose INVITE brought none (a late offer: it comes in our
    200 and the answer in the ACK, which `negotiate` reads like an offer: it can only
    carry what we offered). `codecs` in our order of preference, static payload types,
    and telephone-event."""
    local = ipaddress.ip_address(local_ip)
    names = {name: pt for pt, (name, _rate) in STATIC_PAYLOAD_TYPES.items()}
    wanted = [name.upper() for name in codecs]
    if not wanted or not set(wanted) <= set(names):
        raise ValueError(f"codecs must name PCMU and/or PCMA: {codecs}")
    address = f"IN IP{local.version} {local.compressed}"
    formats = " ".join(str(names[name]) for name in wanted)
    lines = [
        "v=0",
        f"o=- {session_id} 0 {address}",
        "s=omnivox",
        f"c={address}",
        "t=0 0",
        f"m=audio {local_port} RTP/AVP {formats} {OFFERED_EVENT_PT}",
        *(f"a=rtpmap:{names[name]} {name}/{CLOCK_RATE}" for name in wanted),
        f"a=rtpmap:{OFFERED_EVENT_PT} telephone-event/{CLOCK_RATE}",
        f"a=fmtp:{OFFERED_EVENT_PT} {TELEPHONE_EVENTS}",
        f"a=ptime:{PTIME_MS}",
        "a=sendrecv",
    ]
    return "\r\n".join(lines) + "\r\n"


def _payload_types(media: MediaDescription) -> list[tuple[int, RtpMap]]:
    """The offered payload types in the offer's order, with what each carries."""
    found = []
    for fmt in media.formats:
        pt = _int(fmt, "payload type", 0, 127)
        if pt in media.rtpmaps:
            found.append((pt, media.rtpmaps[pt]))
        elif pt in STATIC_PAYLOAD_TYPES:
            name, rate = STATIC_PAYLOAD_TYPES[pt]
            found.append((pt, RtpMap(name, rate)))
    return found


def _answer(
    offer: SessionDescription,
    chosen: int,
    codec: tuple[str, int],
    event: int | None,
    direction: Direction,
    local: ipaddress.IPv4Address | ipaddress.IPv6Address,
    port: int,
    session_id: int,
    session_version: int,
) -> str:
    address = f"IN IP{local.version} {local.compressed}"
    lines = [
        "v=0",
        f"o=- {session_id} {session_version} {address}",
        "s=omnivox",
        f"c={address}",
        "t=0 0",
    ]
    for index, media in enumerate(offer.media):
        if index != chosen:
            # Rejected: port 0, and still one format, as RFC 3264 section 6 requires.
            lines.append(f"m={media.kind} 0 {media.proto} {media.formats[0]}")
            continue
        name, pt = codec
        formats = f"{pt}" if event is None else f"{pt} {event}"
        lines += [f"m=audio {port} {media.proto} {formats}", f"a=rtpmap:{pt} {name}/{CLOCK_RATE}"]
        if event is not None:
            lines += [
                f"a=rtpmap:{event} telephone-event/{CLOCK_RATE}",
                f"a=fmtp:{event} {TELEPHONE_EVENTS}",
            ]
        lines += [f"a=ptime:{PTIME_MS}", f"a={direction}"]
    return "\r\n".join(lines) + "\r\n"


# --- parsing --------------------------------------------------------------------------


def parse_sdp(text: str) -> SessionDescription:
    """Parse the parts of an SDP body that offer/answer for audio needs.

    Lines we do not use (b=, i=, k=, unknown a=...) are skipped; the ones we use must be
    well formed, so a body cut short in one of them is an SdpError, not a guess.
    """
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines or lines[0] != "v=0":
        raise SdpError("SDP must start with v=0")
    session = _Section()
    media: list[_Section] = []
    seen_origin = False
    for line in lines[1:]:
        if len(line) < 2 or line[1] != "=" or not ("a" <= line[0] <= "z"):
            raise SdpError(f"not an SDP line: {line[:40]!r}")
        kind, value = line[0], line[2:].strip()
        section = media[-1] if media else session
        if kind == "o":
            if len(value.split()) != 6:
                raise SdpError(f"o= needs 6 fields: {value[:60]!r}")
            seen_origin = True
        elif kind == "c":
            section.connection = _connection(value)
        elif kind == "m":
            media.append(_media_line(value))
        elif kind == "a":
            _attribute(value, section)
    if not seen_origin:
        raise SdpError("SDP has no o= line")
    if not media:
        raise SdpError("SDP has no m= line")
    return SessionDescription(
        session.connection, session.ptime_ms, session.direction, tuple(m.freeze() for m in media)
    )


@dataclass(slots=True)
class _Section:
    """A session or media section while its lines are read."""

    kind: str = ""
    port: int = 0
    proto: str = ""
    formats: tuple[str, ...] = ()
    connection: str | None = None
    rtpmaps: dict[int, RtpMap] = field(default_factory=dict)
    ptime_ms: int | None = None
    direction: Direction | None = None

    def freeze(self) -> MediaDescription:
        return MediaDescription(
            self.kind, self.port, self.proto, self.formats, self.connection,
            self.rtpmaps, self.ptime_ms, self.direction,
        )  # fmt: skip


def _int(text: str, what: str, low: int, high: int) -> int:
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise SdpError(f"{what} must be an integer {low}-{high}, got {text[:20]!r}")
    return int(text)


def _connection(value: str) -> str:
    """c=IN IP4 192.0.2.1 -> "192.0.2.1" (a TTL or count after "/" is dropped)."""
    fields = value.split()
    if len(fields) != 3 or fields[0] != "IN" or fields[1] not in ("IP4", "IP6"):
        raise SdpError(f"c= must be 'IN IP4|IP6 <address>': {value[:60]!r}")
    host = fields[2].split("/", 1)[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        # A host name is legal SDP, but resolving it is I/O; real UAs send literals.
        raise SdpError(f"c= address is not a literal IP address: {host[:60]!r}") from None
    if f"IP{address.version}" != fields[1]:
        raise SdpError(f"c= says {fields[1]} but holds {host[:60]!r}")
    return address.compressed


def _media_line(value: str) -> _Section:
    """m=<kind> <port>[/<count>] <proto> <fmt>..."""
    fields = value.split()
    if len(fields) < 4:
        raise SdpError(f"m= needs kind, port, proto and formats: {value[:60]!r}")
    port = _int(fields[1].split("/", 1)[0], "m= port", 0, 65535)
    return _Section(kind=fields[0].lower(), port=port, proto=fields[2], formats=tuple(fields[3:]))


def _attribute(value: str, section: _Section) -> None:
    name, _, argument = value.partition(":")
    if name in DIRECTIONS:
        section.direction = cast(Direction, name)
    elif name == "ptime":
        try:
            ptime = round(float(argument))  # some UAs write "20.0"
        except (ValueError, OverflowError):
            raise SdpError(f"a=ptime must be a number: {argument[:20]!r}") from None
        if not 0 < ptime <= 1000:
            raise SdpError(f"a=ptime out of range: {argument[:20]!r}")
        section.ptime_ms = ptime
    elif name == "rtpmap":
        pt_text, _, description = argument.strip().partition(" ")
        pt = _int(pt_text, "a=rtpmap payload type", 0, 127)
        parts = description.strip().split("/")
        if len(parts) not in (2, 3) or not parts[0]:
            raise SdpError(f"a=rtpmap must be '<pt> <name>/<rate>[/<n>]': {argument[:60]!r}")
        rate = _int(parts[1], "a=rtpmap clock rate", 1, 10_000_000)
        channels = _int(parts[2], "a=rtpmap channels", 1, 255) if len(parts) == 3 else 1
        section.rtpmaps[pt] = RtpMap(parts[0].upper(), rate, channels)
