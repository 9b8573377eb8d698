"""Agent configuration: one YAML file, validated by pydantic.

Unknown keys are errors, and every error names the offending key path, so a typo in
agent.yaml is caught at start-up rather than silently ignored.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from omnivox.agent.interventions.config import parse_interventions
from omnivox.agent.logs import LogFormat, LogLevel
from omnivox.media.webrtc.ice import IceServer, IceServers, check_ice_url, is_turn
from omnivox.models.talker.piper import NOISE_RANGE as PIPER_NOISE
from omnivox.models.talker.piper import SPEED_RANGE as PIPER_SPEED
from omnivox.models.talker.piper_voice import voice_files as piper_voice_files
from omnivox.models.vad import DEFAULT_START_MS, DEFAULT_STOP_MS, DEFAULT_THRESHOLD


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the key and the problem."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VadConfig(_Section):
    threshold: float = Field(DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    """Speech probability above which a 32 ms window counts as speech."""
    start_ms: int = Field(DEFAULT_START_MS, ge=0)
    """Speech needed before `vad_start` (filters clicks)."""
    stop_ms: int = Field(DEFAULT_STOP_MS, ge=0)
    """Silence needed before `vad_stop`."""


class TurnsConfig(_Section):
    end_of_turn_silence_ms: int = Field(400, ge=0)
    """Silence after the user's last speech before the turn is taken (the hangover)."""
    barge_in_min_speech_ms: int = Field(200, ge=0)
    """Without the classifier: user speech over the agent this long cancels the reply."""
    classifier: Literal["learned", "none"] = "learned"
    """The learned turn-taking classifier (models/turn), or plain VAD timing rules."""
    classifier_interval_ms: int = Field(100, ge=20)
    """During overlap and pauses, the classifier is asked at most this often (and at
    once when new words arrive)."""
    takeover_threshold: float | None = Field(None, ge=0.0, le=1.0)
    """None: the threshold tuned when the shipped model was trained."""
    backchannel_threshold: float = Field(0.2, ge=0.0, le=1.0)
    """At or below this p_takeover the overlap is a backchannel."""
    finished_threshold: float | None = Field(None, ge=0.0, le=1.0)
    """None: the threshold tuned when the shipped model was trained."""
    hold_threshold: float = Field(0.2, ge=0.0, le=1.0)
    """At or below this p_finished the user is holding the turn."""
    max_end_of_turn_silence_ms: int = Field(1500, ge=0)
    """When the classifier says the user is holding the turn, wait up to this long."""
    max_overlap_ms: int = Field(1500, ge=0)
    """Undecided speech over the agent this long takes the floor anyway."""
    backchannel_max_ms: int = Field(700, ge=0)
    """After a backchannel verdict, take-over scores count only past this much speech:
    backchannels are short, and the same murmur scored again is no reason to stop; a
    real "yeah, but..." goes on past it. Past it, three words that are not backchannel
    tokens in the final recognizer's transcript take the floor whatever the score."""
    takeover_confident: float = Field(0.99, ge=0.0, le=1.0)
    """One take-over score this high stops the agent on its own. Below it, a score at
    the take-over threshold needs the previous one at `takeover_support`, or (while
    undecided) a recognised word that is not a backchannel token: a lone spike on a
    murmur ("oh", "uh-huh") is no reason to stop."""
    takeover_support: float = Field(0.8, ge=0.0, le=1.0)
    """Below `takeover_confident`, the previous score must be at least this."""
    takeover_words_margin: float = Field(0.1, ge=0.0, le=1.0)
    """How far the take-over threshold (and its support) drops once two or more
    non-backchannel words are heard: the words confirm the audio. A margin, not a
    number, so it follows the threshold tuned with each model."""
    pause_score_wait_ms: int = Field(700, ge=0)
    """At a pause, how long the silence rule waits for the classifier's first score (it
    follows the recognizer's final) rather than race it."""
    pause_final_wait_ms: int = Field(200, ge=0)
    """At a pause, how long the classifier waits for the final transcript before it
    scores the rougher streaming partial. The final usually takes 20-200 ms; raise this
    on a slow CPU (it must stay below `pause_score_wait_ms` to matter)."""
    graded_pause: bool = True
    """Between the hold and finished thresholds, wait longer the lower the score."""
    question_threshold: float | None = Field(0.1, ge=0.0, le=1.0)
    """At a pause whose final transcript ends in "?", the finished threshold drops to
    this: the classifier reads a question's rise as a continuation, and a recogniser
    that punctuates heard the question whole. Below it the classifier is sure the user
    holds the turn (a recogniser punctuates a halting "Can you tell me" as a question
    too). None: no such rule."""
    overlap_final_wait_ms: int = Field(300, ge=0)
    """When speech over the agent stops undecided, the agent stays ducked this long for
    the recogniser's final words: a short "stop" or "wait" ends before its words were
    scored, and stops the agent then; anything else resumes it. 0: resume at once."""
    duck_while_undecided: bool = True
    """Lower the agent's voice while overlapping speech is undecided, from its onset (the
    VAD's, once the echo gate passed it) until a verdict: the agent yields at once, and
    a backchannel's verdict restores it."""
    duck_db: float = Field(-12.0, le=0.0)


class RecognizerConfig(_Section):
    backend: Literal["hybrid", "moonshine", "pocketsphinx"] = "hybrid"
    partial_interval_ms: int | None = Field(None, ge=20)
    """How often the streaming recognizer reports what it heard so far. None: the
    backend's own, 100 ms for pocketsphinx and hybrid (a word said over the agent reaches
    the turn policy sooner, at no measurable cost) and 300 ms for moonshine (each
    partial runs the model again)."""
    early_final_ms: int = Field(64, ge=0)
    """Start the final transcript once the user has been silent this long, before the
    VAD calls it a pause (stop_ms): silence does not change the text, so the final is
    ready when the pause starts and the turn can end sooner. 0: wait for the pause."""
    final_pass: bool = False
    """pocketsphinx only: end each utterance with its second pass (fewer errors on
    telephone speech, 65 % WER against 75 % on the Asterisk prompts, but 0.2 s or more
    holding the GIL at every final, and no early or interim finals)."""

    @field_validator("final_pass")
    @classmethod
    def _pocketsphinx_only(cls, value: bool, info: ValidationInfo) -> bool:
        backend = info.data.get("backend")
        if value and backend != "pocketsphinx":
            raise ValueError(f"only backend pocketsphinx has a second pass (backend is {backend})")
        return value


class ThinkerConfig(_Section):
    model_config = ConfigDict(extra="allow", frozen=True)
    backend: str = "knowledge_base"
    knowledge_base: str | None = None
    """Path of the knowledge-base YAML; the shipped front-desk example when empty."""
    timeout_s: float = Field(8.0, gt=0)
    fallback_text: str = "Sorry, I lost my train of thought. Could you say that again?"


class TalkerConfig(_Section):
    backend: Literal["piper", "espeak"] = "piper"
    """piper: a neural Piper voice (onnxruntime); espeak: eSpeak NG, light and robotic."""
    voice: str | None = None
    """piper: the path of a Piper voice's NAME.onnx (NAME.onnx.json beside it); None: the
    bundled en_US-joe-medium. espeak: a language code, optionally with a variant
    ("en-gb", "en-us+f3"); None: en-us."""
    speed: float = Field(1.0, ge=PIPER_SPEED[0], le=PIPER_SPEED[1])
    """piper: speaking rate (1.0: the voice's own)."""
    noise: float | None = Field(None, ge=PIPER_NOISE[0], le=PIPER_NOISE[1])
    """piper: the voice's sampling noise (noise_scale: livelier, less steady); None: the
    voice's own (0.667 for the bundled one)."""
    rate_wpm: int = Field(175, ge=80, le=450)
    """espeak: words per minute."""
    pitch: int = Field(50, ge=0, le=99)
    """espeak: base pitch."""

    @field_validator("voice")
    @classmethod
    def _voice_exists(cls, voice: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("backend") == "piper":
            piper_voice_files(voice)  # a missing file fails here, not at start-up
        elif voice is not None and not voice.strip():
            raise ValueError("an eSpeak NG voice such as 'en-us' (or leave it out)")
        return voice

    @field_validator("speed", "noise", "rate_wpm", "pitch")
    @classmethod
    def _for_backend(cls, value: Any, info: ValidationInfo) -> Any:
        backend = info.data.get("backend")
        wanted = "piper" if info.field_name in ("speed", "noise") else "espeak"
        if backend is not None and backend != wanted:
            raise ValueError(f"only backend {wanted} uses it (backend is {backend})")
        return value


class PlayoutConfig(_Section):
    max_ahead_frames: int = Field(3, ge=1, le=50)
    """Frames the talker may queue ahead of the transport; bounds audio after a cancel."""


class CameraConfig(_Section):
    max_fps: float = Field(2.0, gt=0, le=30)
    """Video frames kept per second (Qwen-Omni samples video at 2 fps); others are dropped
    undecoded-cheap."""
    presence: bool = True
    """Run the face detector on kept frames and emit `presence` events."""
    arrive_frames: int = Field(2, ge=1)
    """Kept frames in a row with a face towards the camera before someone counts as here."""
    leave_ms: int = Field(3000, ge=0)
    """No face for this long and they are gone (also when the camera stops)."""
    greet_on_arrival: bool = True
    arrival_greeting: str | None = None
    """What to say to someone who walks up; None: `greeting`."""
    greet_after_quiet_s: float = Field(30.0, ge=0)
    """Greet an arrival only when nobody spoke for this long (not someone stepping back
    into view mid-conversation)."""
    forget_on_leave: bool = False
    """Kiosks: clear the conversation when the visitor leaves, so the next one does not
    inherit it. Off by default: a browser user who turns the camera off is still there."""
    snapshot_max_age_ms: int = Field(2000, ge=0)
    """A Thinker that takes images gets the newest frame if it is at most this old."""


class EchoConfig(_Section):
    cancel: bool = False
    """Take the agent's own voice out of the user's audio on the server (WebRTC's AEC3),
    for clients that do not cancel their echo (a loudspeaker kiosk, some SIP phones).
    Browsers do (the page asks for it), so it is off by default."""
    noise_suppression: bool = False
    """Also suppress steady background noise (WebRTC's noise suppressor) in the user's audio."""
    gate: bool = True
    """With `cancel`: a speech onset counts only if it is louder than the echo the agent's
    own audio explains (agent/speech/echo_gate.py), so residual echo never interrupts."""
    gate_margin_db: float = Field(10.0, ge=0.0, le=40.0)
    """How much louder than the explained echo a frame must be to count as the user."""


class IceServerConfig(_Section):
    """One STUN or TURN server, as in the W3C RTCIceServer dictionary."""

    urls: list[str] = Field(min_length=1)
    username: str | None = None
    credential: str | None = None

    @field_validator("urls")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        return [check_ice_url(u) for u in urls]


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_sessions: int = Field(32, ge=1)
    max_sdp_bytes: int = Field(64_000, ge=1_000)
    ice_gather_timeout_s: float = Field(5.0, gt=0)
    media_stream_path: str | None = "/v1/media-stream"
    """Where phone providers' WebSocket media streams connect (Twilio's protocol); None: off."""
    realtime_path: str | None = "/v1/realtime"
    """Where OpenAI-Realtime-compatible clients connect (WebSocket); None: off."""
    drain_timeout_s: float = Field(30.0, ge=0)
    """On SIGTERM: how long live replies may go on before every session is closed."""
    media_timeout_s: float = Field(3.0, gt=0)
    """A WebRTC peer that sends no audio this long has vanished: its session is closed
    (ICE consent alone would take ~30 s)."""
    ice_servers: list[IceServerConfig] = Field(default_factory=list)
    """STUN/TURN servers for the server's peer connections and the page; empty: none
    (host candidates only, nothing asked of the network)."""
    turn_secret: str | None = None
    """The TURN server's shared secret (coturn `static-auth-secret`): TURN entries without
    a username get credentials minted per call, valid `turn_credential_ttl_s`."""
    turn_credential_ttl_s: int = Field(86_400, ge=60)
    ice_transport_policy: Literal["all", "relay"] = "all"
    """"relay": both ends use TURN relays only."""

    def ice(self) -> IceServers:
        """The ICE settings as the WebRTC fronts take them."""
        return IceServers(
            tuple(IceServer(tuple(s.urls), s.username, s.credential) for s in self.ice_servers),
            self.turn_secret,
            self.turn_credential_ttl_s,
            self.ice_transport_policy,
        )

    @model_validator(mode="after")
    def _turn_credentials(self) -> ServerConfig:
        for server in self.ice_servers:
            turn = any(is_turn(u) for u in server.urls)
            if (server.username is None) != (server.credential is None):
                raise ValueError("ice_servers: give both username and credential, or neither")
            if turn and server.username is None and self.turn_secret is None:
                raise ValueError(
                    f"ice_servers: {server.urls[0]} needs a username and credential, "
                    "or server.turn_secret for minted ones"
                )
        return self


class AccessConfig(_Section):
    """Who may use the `/v1/*` API, and how much (agent/api/access.py)."""

    api_key_env: str = "OMNIVOX_API_KEY"
    """The environment variable holding the API key. Unset or empty: no key is asked for
    (the server warns when it listens beyond localhost)."""
    token_ttl_s: int = Field(600, ge=10, le=86_400)
    """Lifetime of the client tokens `POST /v1/tokens` mints."""
    allowed_origins: list[str] = Field(default_factory=list)
    """Origins a browser may call from ("https://app.example.com"; "*": any). The page's
    own origin is always allowed; requests without an Origin are not browsers."""
    max_sessions_per_ip: int = Field(16, ge=1)
    requests_per_s: float = Field(5.0, gt=0)
    """Sustained `/v1/*` requests per client address (a token bucket)..."""
    request_burst: int = Field(30, ge=1)
    """... and how many may come at once."""
    max_body_bytes: int = Field(256_000, ge=1_000)
    """The largest HTTP request body."""
    trusted_proxies: list[str] = Field(default_factory=list)
    """Load balancers in front (CIDR, e.g. 10.0.0.0/8): requests from them are counted
    against the client address their `X-Forwarded-For` names, not their own."""

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        for net in value:
            ipaddress.ip_network(net, strict=False)  # ValueError names it
        return value


class JournalConfig(_Section):
    dir: Path | None = None
    """Folder for per-session JSONL journals of every finished turn; None: none kept."""


class TelephonyConfig(_Section):
    sip: str | None = None
    """HOST:PORT to answer SIP calls on (UDP), e.g. "0.0.0.0:5060"; None: no SIP."""
    public_address: str | None = None
    """Our address in SDP and Contact, as callers reach it; None: the SIP host (or
    127.0.0.1 when it listens on every address)."""
    rtp_ports: tuple[int, int] = (20000, 20999)
    """RTP ports for calls (one even port each)."""
    codecs: tuple[Literal["PCMU", "PCMA"], ...] = ("PCMU", "PCMA")
    """In order of preference; a caller offering none of them gets 488."""
    max_calls: int = Field(8, ge=1)
    allowed_networks: list[str] = Field(default_factory=list)
    """Source networks that may call (CIDR, e.g. 10.0.0.0/8); empty: any."""
    auth_username: str | None = None
    """Set to challenge INVITEs with digest auth; the password is read from the
    environment variable `auth_password_env`."""
    auth_password_env: str = "OMNIVOX_SIP_PASSWORD"
    realm: str = "omnivox"
    transfer_targets: dict[str, str] = Field(default_factory=dict)
    """Where the `transfer` call tool may send a caller: a name the Thinker uses (e.g.
    "front desk") -> a SIP URI; the first is the default. Empty: no transfer tool."""

    @field_validator("transfer_targets")
    @classmethod
    def _targets(cls, value: dict[str, str]) -> dict[str, str]:
        for name, uri in value.items():
            if uri.partition(":")[0].lower() not in ("sip", "sips", "tel") or any(
                c in uri for c in "\r\n<> "
            ):
                raise ValueError(f"{name!r}: {uri!r} is not a sip:, sips: or tel: URI")
        return value

    @field_validator("sip")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            split_host_port(value)
        return value

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for net in value:
            ipaddress.ip_network(net, strict=False)  # ValueError names it
        return value


def split_host_port(value: str) -> tuple[str, int]:
    """ "host:port", "[v6]:port" -> (host, port); ValueError when it is neither."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not HOST:PORT")
    return host, int(port)


class LogConfig(_Section):
    level: LogLevel = "info"
    """Overridden by `--debug` and the OMNIVOX_LOG_LEVEL environment variable."""
    format: LogFormat = "text"
    """json: one JSON object per line (ts, level, logger, msg, extra fields)."""


class AgentConfig(_Section):
    greeting: str = "Hi! I'm the front desk assistant. How can I help?"
    system_prompt: str = (
        "You are a friendly, concise voice assistant. Answer in one or two short sentences."
    )
    vad: VadConfig = VadConfig()
    turns: TurnsConfig = TurnsConfig()
    recognizer: RecognizerConfig = RecognizerConfig()
    thinker: ThinkerConfig = ThinkerConfig()
    talker: TalkerConfig = TalkerConfig()
    playout: PlayoutConfig = PlayoutConfig()
    echo: EchoConfig = EchoConfig()
    camera: CameraConfig = CameraConfig()
    server: ServerConfig = ServerConfig()
    telephony: TelephonyConfig = TelephonyConfig()
    access: AccessConfig = AccessConfig()
    journal: JournalConfig = JournalConfig()
    log: LogConfig = LogConfig()
    interventions: list[dict[str, Any]] = Field(default_factory=list)
    """The intervention chain, in order: rag, safety, tools, python (intervention_config.py)."""


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"{key}: {msg}")
    return "; ".join(lines)


def parse_config(data: Any, source: str = "config") -> AgentConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of keys, not {type(data).__name__}"
        )
    try:
        config = AgentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{source}: {_describe(err)}") from None
    try:
        parse_interventions(config.interventions)
    except ValueError as err:
        raise ConfigError(f"{source}: {err}") from None
    return config


def load_config(path: str | Path | None) -> AgentConfig:
    """Load and validate a YAML config; None gives the embedded defaults."""
    if path is None:
        return AgentConfig()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{p}: cannot read ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{p}: not valid YAML{where}") from None
    return parse_config(data, str(p))
