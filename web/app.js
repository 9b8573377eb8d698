// omnivox page: wires the call (rtc.js) to the views, and exposes `window.omnivox`
// for end-to-end tests (harmless in production: it only reads state or does what the
// buttons do).

import { AgentCapture } from './capture.js';
import { Captions } from './captions.js';
import { EventLog } from './eventlog.js';
import { ErrorBanner, showConnection, showPresence } from './indicators.js';
import { LevelMeter } from './meters.js';
import { MouthToEar } from './mouthtoear.js';
import { RtcSession } from './rtc.js';
import { TurnState } from './turnstate.js';
import { Waterfall } from './waterfall.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

const ui = {
  connect: $('connect'),
  speaker: $('speaker-toggle'),
  camera: $('camera-toggle'),
  selfView: $('self-view'),
  audio: $('agent-audio'),
  status: $('connection-status'),
  presence: $('presence'),
  vad: $('vad-indicator'),
};
const captions = new Captions($('captions'));
const waterfall = new Waterfall($('waterfall'));
const turn = new TurnState($('turn-state'), $('turn-badges'));
const log = new EventLog($('event-log'));
const errors = new ErrorBanner($('error-banner'));
const micMeter = new LevelMeter($('mic-meter'));
const agentMeter = new LevelMeter($('agent-meter'));
const capture = new AgentCapture(60);
const mouthToEars = []; // {replyId, ms} measured on this page
const mouthToEar = new MouthToEar((m) => {
  mouthToEars.push(m);
  waterfall.mouthToEar(m.replyId, m.ms);
  // The server logs it beside its own figures and echoes it as a `mouth_to_ear` event.
  rtc.send({ type: 'mouth_to_ear', reply_id: m.replyId, ms: Math.round(m.ms * 10) / 10 });
});

const events = [];
let state = 'idle';
let endReason = '';
let audioCtx = null;

/** One AudioContext for meters and capture, made on the Connect gesture (autoplay rules). */
function audioContext() {
  if (!audioCtx) audioCtx = new AudioContext();
  if (audioCtx.state === 'suspended') audioCtx.resume();
  return audioCtx;
}

const rtc = new RtcSession({
  onEvent: dispatch,
  onState: setState,
  onError: (message) => errors.show(message),
  onLocalStream: (stream) => {
    const ctx = audioContext();
    const source = ctx.createMediaStreamSource(stream);
    micMeter.attach(ctx, source);
    mouthToEar.attach(ctx, 0, source).catch((err) => console.warn('omnivox: mouth-to-ear off:', err));
  },
  onRemoteStream: (stream) => {
    // Chromium only decodes remote WebRTC audio that a media element plays, so the
    // element always plays it (muted or not); Web Audio taps the same stream.
    ui.audio.srcObject = stream;
    ui.audio.play().catch(() => {}); // autoplay refusal: the Connect click normally allows it
    const ctx = audioContext();
    const source = ctx.createMediaStreamSource(stream);
    agentMeter.attach(ctx, source);
    capture.start(ctx, source).catch((err) => console.warn('omnivox: agent audio capture off:', err));
    mouthToEar.attach(ctx, 1, source).catch((err) => console.warn('omnivox: mouth-to-ear off:', err));
  },
});

// ---- connection state ---------------------------------------------------------------

const LIVE = new Set(['connecting', 'new', 'connected', 'disconnected']);

function setState(next) {
  state = next;
  showConnection(ui.status, next, next === 'closed' ? endReason : '');
  const live = LIVE.has(next);
  ui.connect.textContent = live ? 'Hang up' : 'Connect';
  ui.connect.classList.toggle('danger', live);
  ui.camera.disabled = next !== 'connected';
  if (!live) teardownMedia();
}

function teardownMedia() {
  micMeter.detach();
  agentMeter.detach();
  capture.stop(); // keeps what was recorded, for agentAudio() after hang-up
  mouthToEar.stop();
  ui.audio.srcObject = null;
  showCamera(null);
  ui.vad.classList.remove('on');
  turn.set('idle');
}

async function connect() {
  if (LIVE.has(state)) throw new Error('Already connected: hang up first');
  endReason = '';
  events.length = 0;
  for (const view of [captions, waterfall, log, turn]) view.clear();
  capture.stop();
  capture.reset();
  mouthToEar.reset();
  mouthToEars.length = 0;
  errors.dismiss();
  mouthToEar.markConnect(audioContext());
  try {
    await rtc.connect();
  } catch (err) {
    errors.show(err.message);
    throw err;
  }
}

function hangup() {
  rtc.hangup();
}

// ---- speaker and camera -------------------------------------------------------------

// When a reply is cancelled, the audio of it already in the browser's jitter buffer would
// play on for a few hundred ms. Drop it: silence the agent until the next reply starts
// (the server counts only what was played before this as heard).
const FLUSH_MAX_MS = 1000;
let flushed = null; // {replyId, timer} while a cancelled reply's tail is being dropped

function dropCancelledAudio(replyId) {
  if (flushed) clearTimeout(flushed.timer);
  flushed = { replyId: String(replyId), timer: setTimeout(endDrop, FLUSH_MAX_MS) };
  ui.audio.volume = 0;
  capture.gate(true);
}

function endDrop() {
  if (!flushed) return;
  clearTimeout(flushed.timer);
  flushed = null;
  ui.audio.volume = 1;
  capture.gate(false);
}

function setSpeakerMuted(muted) {
  ui.audio.muted = muted;
  // Toggle buttons keep one label; aria-pressed (and its style) carries the state.
  ui.speaker.setAttribute('aria-pressed', String(muted));
}

function showCamera(stream) {
  ui.selfView.srcObject = stream;
  ui.selfView.hidden = !stream;
  ui.camera.setAttribute('aria-pressed', String(Boolean(stream)));
}

async function setCamera(on) {
  ui.camera.disabled = true; // no double clicks while the camera starts
  try {
    showCamera(await rtc.setCamera(on));
  } catch (err) {
    errors.show(err.message);
    throw err;
  } finally {
    ui.camera.disabled = state !== 'connected';
  }
}

// ---- events from the server ---------------------------------------------------------

const text = (v) => (v == null ? '' : String(v));

const HANDLERS = {
  session_ended: (ev) => {
    endReason = text(ev.reason);
    rtc.hangup({ notifyServer: false });
  },
  vad_start: () => ui.vad.classList.add('on'),
  vad_stop: () => ui.vad.classList.remove('on'),
  transcript_partial: (ev) => captions.partial(text(ev.text)),
  transcript_final: (ev) => captions.final(text(ev.text)),
  user_turn_end: () => captions.endUserTurn(),
  turn_state: (ev) => turn.set(text(ev.state)),
  reply_start: (ev) => captions.replyStart(ev.reply_id),
  reply_text: (ev) => captions.replyText(ev.reply_id, text(ev.text)),
  reply_audio_start: (ev) => {
    if (flushed && String(ev.reply_id) !== flushed.replyId) endDrop();
    mouthToEar.replyAudioStart(ev.reply_id);
    captions.replyAudioStart(ev.reply_id);
  },
  reply_audio_end: (ev) => captions.replyAudioEnd(ev.reply_id),
  reply_done: (ev) => captions.replyDone(ev.reply_id),
  reply_cancelled: (ev) => {
    dropCancelledAudio(ev.reply_id);
    captions.replyCancelled(ev.reply_id, text(ev.heard_text), text(ev.reason));
  },
  turn_metrics: (ev) => waterfall.add(ev),
  // The page's own figure, as the server logged it (the same value, so idempotent).
  mouth_to_ear: (ev) => waterfall.mouthToEar(ev.reply_id, ev.mouth_to_ear_ms),
  // Also sent as `backchannel`, `interruption` and `false_interruption_resumed`
  // events (logged only: the same decision would show twice).
  turn_decision: (ev) => turn.decision(ev),
  presence: (ev) => showPresence(ui.presence, Boolean(ev.present), Boolean(ev.facing)),
  sources: (ev) => captions.sources(ev.items, ev.reply_id ?? null),
  reply_blocked: (ev) => captions.replyBlocked(ev.reply_id, text(ev.by)),
  error: (ev) => errors.show(text(ev.message) || 'The server reported an error'),
};

/** Handle one server event: record it, log it, render it if its type is known. */
function dispatch(ev) {
  events.push(ev);
  log.add(ev);
  const handler = HANDLERS[ev.type];
  if (!handler) return; // unknown types live in the event log only
  try {
    handler(ev);
  } catch (err) {
    errors.show(`Could not show a ${ev.type} event: ${err.message}`);
  }
}

// ---- controls and test hooks ---------------------------------------------------------

ui.connect.addEventListener('click', () => {
  if (LIVE.has(state)) hangup();
  else connect().catch(() => {}); // already shown in the banner
});
ui.speaker.addEventListener('click', () => setSpeakerMuted(!ui.audio.muted));
ui.camera.addEventListener('click', () => {
  setCamera(ui.camera.getAttribute('aria-pressed') !== 'true').catch(() => {});
});
window.addEventListener('pagehide', () => rtc.hangup());

window.omnivox = {
  events,
  get state() { return state; },
  connect,
  hangup,
  setCamera,
  /** Promise of {sampleRate, samples: base64 LE Float32 mono} played by the agent track. */
  agentAudio: () => capture.export(),
  /** Promise of the RMS of the captured agent audio (of the last `lastMs` if given). */
  agentAudioRms: (lastMs = null) => capture.rms(lastMs),
  /** Mouth-to-ear per reply, measured on this page: [{replyId, ms}]. */
  mouthToEars,
  /** Ms from Connect to the first sound of the agent on this page (null before it). */
  firstAgentAudioMs: () => mouthToEar.firstAudioMs(),
  _dispatch: dispatch,
};
