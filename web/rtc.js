// One call: the RTCPeerConnection, its mic/camera tracks, the `events` data channel and
// the playout reports. UI-free; app.js wires it to the page through callbacks.

import { deleteSession, exchangeOffer, fetchIceConfiguration } from './signaling.js';

// Whose echo canceller runs: the browser's, or the server's (the browser's off), which has
// what a browser lacks, the exact reference of what it plays, and watches whether any echo
// comes back at all (with headphones it then passes the voice untouched). Firefox's own
// canceller erases the user's speech said over the agent's voice, even with no echo path,
// so Firefox uses the server's; Chromium's works, and keeps it. `?echo=server` or
// `?echo=browser` chooses for any browser.
const ECHO_PARAM = new URLSearchParams(window.location.search).get('echo');
const IS_FIREFOX = /\bFirefox\//.test(navigator.userAgent);
const SERVER_CANCELS_ECHO = ECHO_PARAM === 'server' || (ECHO_PARAM !== 'browser' && IS_FIREFOX);
const MIC_CONSTRAINTS = { echoCancellation: !SERVER_CANCELS_ECHO, noiseSuppression: true, autoGainControl: true };
const CAMERA_CONSTRAINTS = { width: { ideal: 640, max: 640 }, height: { ideal: 480, max: 480 } };
const PLAYOUT_REPORT_MS = 200;

/**
 * How long the agent's audio takes from the server to this browser's speaker, as far as
 * WebRTC stats tell: one-way network transit (half the round trip) plus the time samples
 * spent in the jitter buffer since the previous call. The server counts that much of a
 * cancelled reply as never heard. Null when the browser lacks these stats.
 */
class ReceiveDelay {
  constructor(receiver) {
    this.receiver = receiver;
    this.prev = null;
  }

  async ms() {
    const report = await this.receiver.getStats();
    let inbound = null;
    let rtt = 0;
    for (const s of report.values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') inbound = s;
      if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime) rtt = s.currentRoundTripTime;
    }
    if (!inbound || inbound.jitterBufferEmittedCount == null) return null;
    const now = { delay: inbound.jitterBufferDelay, emitted: inbound.jitterBufferEmittedCount };
    const prev = this.prev;
    this.prev = now;
    if (!prev || now.emitted <= prev.emitted) return null;
    const buffered = (now.delay - prev.delay) / (now.emitted - prev.emitted);
    return (buffered + rtt / 2) * 1000;
  }
}

/**
 * Ask the browser to play the agent as early as the network allows: no extra jitter-buffer
 * target on top of what its own adaptive buffer needs for the jitter it measures (which
 * still grows on a jittery network). Standard `jitterBufferTarget` (ms) where the browser
 * has it, else Chromium's older `playoutDelayHint` (s).
 */
function minimalPlayoutDelay(receiver) {
  try {
    if ('jitterBufferTarget' in receiver) receiver.jitterBufferTarget = 0;
    else if ('playoutDelayHint' in receiver) receiver.playoutDelayHint = 0;
  } catch (err) {
    console.warn('omnivox: cannot lower the playout delay:', err);
  }
}

/** The server looks at a few frames a second (2 by default): send no more than
 * SENT_CAMERA_FPS, which spares both ends encoding, decoding and bandwidth, while the
 * local preview keeps the camera's own rate. Browsers without the setting send all. */
const SENT_CAMERA_FPS = 5;

async function limitFrameRate(sender) {
  try {
    const params = sender.getParameters();
    if (!params.encodings || params.encodings.length === 0) params.encodings = [{}];
    params.encodings.forEach((e) => { e.maxFramerate = SENT_CAMERA_FPS; });
    await sender.setParameters(params);
  } catch (err) {
    console.warn('omnivox: cannot limit the camera frame rate:', err);
  }
}

export class RtcSession {
  /**
   * callbacks: onEvent(event), onState(state), onRemoteStream(stream),
   * onLocalStream(stream), onError(message).
   */
  constructor(callbacks) {
    this.cb = callbacks;
    this.pc = null;
    this.dc = null;
    this.mic = null;
    this.camera = null;
    this.videoSender = null;
    this.sessionId = null;
    this.abort = null;
    this.playoutTimer = 0;
  }

  async connect() {
    if (this.pc || this.abort) throw new Error('Already connected');
    const abort = new AbortController();
    this.abort = abort;
    this.cb.onState('connecting');
    try {
      this.mic = await navigator.mediaDevices.getUserMedia({ audio: MIC_CONSTRAINTS });
    } catch (err) {
      this.abort = null;
      this.cb.onState('idle');
      throw new Error(`Microphone unavailable: ${err.message || err.name}`);
    }
    if (abort.signal.aborted) { // hung up while the permission prompt was open
      this.mic.getTracks().forEach((t) => t.stop());
      this.mic = null;
      return;
    }
    this.cb.onLocalStream(this.mic);

    // Throws only when aborted: then hangup() has released the mic already.
    const iceConfig = await fetchIceConfiguration(abort.signal).catch(() => null);
    if (abort.signal.aborted || !iceConfig) return;
    const pc = new RTCPeerConnection(iceConfig);
    this.pc = pc;
    pc.addTransceiver(this.mic.getAudioTracks()[0], { direction: 'sendrecv', streams: [this.mic] });
    // Always offer a video m-line so the camera can come and go by replaceTrack(),
    // without renegotiation (which would need a second offer/answer round trip).
    this.videoSender = pc.addTransceiver('video', { direction: 'sendonly' }).sender;
    pc.ontrack = (e) => {
      if (e.track.kind !== 'audio') return;
      minimalPlayoutDelay(e.receiver);
      this.cb.onRemoteStream(e.streams[0] || new MediaStream([e.track]));
    };
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      this.cb.onState(pc.connectionState);
      if (pc.connectionState === 'failed') this.hangup({ state: 'failed' });
    };
    const dc = pc.createDataChannel('events');
    this.dc = dc;
    dc.onmessage = (e) => this.receive(e.data);
    dc.onopen = () => this.startPlayoutReports();
    // The server closing the session closes the channel at once; ICE would take ~30 s
    // to notice. (Our own hangup clears this.dc first, so it does not come back here.)
    dc.onclose = () => { if (this.dc === dc) this.hangup({ notifyServer: false }); };

    try {
      const options = SERVER_CANCELS_ECHO ? { echo_cancel: true } : {};
      const { answer, sessionId } = await exchangeOffer(pc, { signal: abort.signal, options });
      if (this.pc !== pc) return; // hung up while the offer was in flight
      this.sessionId = sessionId;
      await pc.setRemoteDescription(answer);
    } catch (err) {
      if (abort.signal.aborted) return; // the user hung up: not an error
      this.hangup({ notifyServer: false, state: 'failed' });
      throw err;
    }
  }

  receive(data) {
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      this.cb.onError(`Unreadable event from the server: ${String(data).slice(0, 80)}`);
      return;
    }
    if (!event || typeof event.type !== 'string') {
      this.cb.onError('Event from the server without a type');
      return;
    }
    this.cb.onEvent(event);
  }

  send(message) {
    if (this.dc && this.dc.readyState === 'open') this.dc.send(JSON.stringify(message));
  }

  startPlayoutReports() {
    const receiver = this.pc.getTransceivers().find((t) => t.receiver.track.kind === 'audio').receiver;
    const delay = new ReceiveDelay(receiver);
    let busy = false;
    this.playoutTimer = setInterval(async () => {
      if (busy) return; // getStats can be slow under load; never queue them up
      busy = true;
      try {
        const ms = await delay.ms();
        if (ms != null) this.send({ type: 'playout', delay_ms: Math.round(ms * 10) / 10 });
      } finally {
        busy = false;
      }
    }, PLAYOUT_REPORT_MS);
  }

  /** Camera on: capture and attach to the pre-negotiated video sender. Off: detach. */
  async setCamera(on) {
    if (!this.videoSender) throw new Error('Connect before turning the camera on');
    if (on && !this.camera) {
      let stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: CAMERA_CONSTRAINTS });
      } catch (err) {
        throw new Error(`Camera unavailable: ${err.message || err.name}`);
      }
      if (!this.videoSender) { // hung up meanwhile
        stream.getTracks().forEach((t) => t.stop());
        return null;
      }
      this.camera = stream;
      await this.videoSender.replaceTrack(stream.getVideoTracks()[0]);
      await limitFrameRate(this.videoSender);
    } else if (!on && this.camera) {
      await this.videoSender.replaceTrack(null);
      this.camera.getTracks().forEach((t) => t.stop());
      this.camera = null;
    }
    return this.camera;
  }

  /** Tear the call down. `notifyServer` sends DELETE (skip it when the server ended it). */
  hangup({ notifyServer = true, state = 'closed' } = {}) {
    const active = Boolean(this.pc || this.abort);
    if (this.abort) this.abort.abort();
    this.abort = null;
    clearInterval(this.playoutTimer);
    if (notifyServer) deleteSession(this.sessionId);
    this.sessionId = null;
    for (const stream of [this.mic, this.camera]) {
      if (stream) stream.getTracks().forEach((t) => t.stop());
    }
    this.mic = null;
    this.camera = null;
    this.videoSender = null;
    if (this.dc) this.dc.close();
    this.dc = null;
    if (this.pc) this.pc.close();
    this.pc = null;
    if (active) this.cb.onState(state);
  }
}
