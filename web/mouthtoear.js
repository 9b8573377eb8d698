// Mouth-to-ear, as the person at this page hears it: from the end of their speech in what
// the microphone sends to the first sound of the agent's reply in what the page plays,
// both on the page's own audio clock (mouthtoear-worklet.js). It holds everything between
// the two: capture, encoding, the network both ways, the server's buffers and its own
// voice-to-voice, the browser's jitter buffer and decoder. It does not hold the sound
// card's own input and output latency. (AudioContext.outputLatency would tell the output
// side, but reading it in headless Firefox can block the page's main thread.)
//
// An agent onset counts only when the user spoke since the last one counted (pauses
// inside a reply and the greeting do not), and belongs to the reply whose
// `reply_audio_start` came within PAIR_MS of it.

const WORKLET_URL = new URL('./mouthtoear-worklet.js', import.meta.url);
const PAIR_MS = 3000;

export class MouthToEar {
  /** `onMeasure({replyId, ms})` for each reply measured. */
  constructor(onMeasure) {
    this.onMeasure = onMeasure;
    this.node = null;
    this.sink = null;
    this.ctx = null;
    this.inputs = [null, null];
    this.starting = null;
    this.reset();
  }

  reset() {
    this.lastCounted = -Infinity;
    this.pending = null; // {ms, at}: an onset waiting for its reply id
    this.reply = null; // {id, at}: the newest reply_audio_start not yet measured
    this.measured = new Set();
    this.connectAt = null; // when Connect was pressed, and the first agent sound after it
    this.firstOnset = null;
  }

  /** Connect was pressed: the first agent sound after this tells how soon audio flows. */
  markConnect(ctx) {
    this.connectAt = ctx.currentTime;
  }

  /** Ms from Connect to the first sound of the agent, or null before any. */
  firstAudioMs() {
    if (this.connectAt == null || this.firstOnset == null) return null;
    return (this.firstOnset - this.connectAt) * 1000;
  }

  /** Tap the microphone's source node (input 0) or the agent's (input 1). */
  async attach(ctx, index, sourceNode) {
    this.inputs[index] = sourceNode;
    if (!this.node) await this.start(ctx);
    if (this.node && this.inputs[index] === sourceNode) sourceNode.connect(this.node, 0, index);
  }

  async start(ctx) {
    if (this.starting) return this.starting;
    this.ctx = ctx;
    this.starting = ctx.audioWorklet.addModule(WORKLET_URL).then(() => {
      if (this.ctx !== ctx) return; // stopped while the module loaded
      this.node = new AudioWorkletNode(ctx, 'omnivox-mouth-to-ear', { numberOfInputs: 2, numberOfOutputs: 1 });
      this.node.port.onmessage = (e) => this.onset(e.data);
      // A silent path to the destination keeps the node pulled in every browser.
      this.sink = new GainNode(ctx, { gain: 0 });
      this.node.connect(this.sink).connect(ctx.destination);
      this.inputs.forEach((src, i) => { if (src) src.connect(this.node, 0, i); });
    });
    return this.starting;
  }

  stop() {
    if (this.node) {
      this.node.disconnect();
      this.sink.disconnect();
    }
    this.node = null;
    this.sink = null;
    this.ctx = null;
    this.starting = null;
    this.inputs = [null, null];
  }

  onset({ onset, speechEnd }) {
    if (this.firstOnset == null) this.firstOnset = onset;
    if (speechEnd == null || speechEnd <= this.lastCounted) return; // nobody spoke since
    this.lastCounted = onset;
    this.pending = { ms: (onset - speechEnd) * 1000, at: performance.now() };
    this.pair();
  }

  /** The server's `reply_audio_start` for `replyId` arrived. */
  replyAudioStart(replyId) {
    if (replyId == null || this.measured.has(String(replyId))) return;
    this.reply = { id: String(replyId), at: performance.now() };
    this.pair();
  }

  pair() {
    const { pending, reply } = this;
    if (!pending || !reply || Math.abs(pending.at - reply.at) > PAIR_MS) return;
    this.pending = null;
    this.reply = null;
    this.measured.add(reply.id);
    this.onMeasure({ replyId: reply.id, ms: pending.ms });
  }
}
