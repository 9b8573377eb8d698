// Records what the remote agent track plays (mono, the AudioContext's rate) so tests can
// check the agent's audio end to end. It taps the Web Audio graph, not the <audio>
// element, so it keeps recording while the speaker is muted. Only the newest
// `maxSeconds` are kept. While gated (the page is dropping a cancelled reply's tail) it
// records silence, as the speaker plays it.

const WORKLET_URL = new URL('./capture-worklet.js', import.meta.url);

export class AgentCapture {
  constructor(maxSeconds = 60) {
    this.maxSeconds = maxSeconds;
    this.node = null;
    this.sink = null;
    this.starting = null;
    this.sampleRate = 0;
    this.gated = false;
    this.reset();
  }

  gate(on) {
    this.gated = Boolean(on);
  }

  /** Forget everything recorded (a new call starts from zero). */
  reset() {
    this.chunks = [];
    this.kept = 0;
  }

  /** Start recording `sourceNode` (a MediaStreamAudioSourceNode) in `ctx`. */
  async start(ctx, sourceNode) {
    this.stop();
    this.reset();
    this.sampleRate = ctx.sampleRate;
    const token = {};
    this.starting = token;
    await ctx.audioWorklet.addModule(WORKLET_URL);
    if (this.starting !== token) return; // stopped (hung up) while the module loaded
    this.node = new AudioWorkletNode(ctx, 'omnivox-capture', { numberOfOutputs: 1 });
    this.node.port.onmessage = (e) => { if (e.data.samples) this.push(e.data.samples); };
    // A silent path to the destination keeps the node pulled in every browser.
    this.sink = new GainNode(ctx, { gain: 0 });
    sourceNode.connect(this.node).connect(this.sink).connect(ctx.destination);
  }

  stop() {
    this.starting = null;
    if (!this.node) return;
    this.node.port.postMessage('flush');
    this.node.disconnect();
    this.sink.disconnect();
    this.node = null;
    this.sink = null;
  }

  push(samples) {
    if (this.gated) samples = new Float32Array(samples.length);
    this.chunks.push(samples);
    this.kept += samples.length;
    const max = Math.round(this.maxSeconds * this.sampleRate);
    while (this.kept - this.chunks[0].length >= max) this.kept -= this.chunks.shift().length;
  }

  /** Ask the worklet for its partial batch so a snapshot includes the latest audio. */
  flush() {
    const node = this.node;
    if (!node) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(finish, 500); // a suspended context never answers
      function finish() {
        clearTimeout(timer);
        node.port.removeEventListener('message', onMsg);
        resolve();
      }
      function onMsg(e) { if (e.data.flushed) finish(); }
      node.port.addEventListener('message', onMsg);
      node.port.postMessage('flush');
    });
  }

  /** Everything kept, as one Float32Array (optionally only the last `lastMs`). */
  async samples(lastMs = null) {
    await this.flush();
    const all = new Float32Array(this.kept);
    let off = 0;
    for (const c of this.chunks) { all.set(c, off); off += c.length; }
    if (lastMs == null) return all;
    const n = Math.min(all.length, Math.round((lastMs / 1000) * this.sampleRate));
    return all.subarray(all.length - n);
  }

  /** `{sampleRate, samples}` with samples as base64 little-endian Float32 (test hook). */
  async export() {
    const pcm = await this.samples();
    return { sampleRate: this.sampleRate, samples: toBase64(littleEndianBytes(pcm)) };
  }

  /** RMS of the last `lastMs` (or of everything kept). */
  async rms(lastMs = null) {
    const pcm = await this.samples(lastMs);
    if (pcm.length === 0) return 0;
    let acc = 0;
    for (let i = 0; i < pcm.length; i++) acc += pcm[i] * pcm[i];
    return Math.sqrt(acc / pcm.length);
  }
}

function littleEndianBytes(f32) {
  const out = new DataView(new ArrayBuffer(f32.length * 4));
  for (let i = 0; i < f32.length; i++) out.setFloat32(i * 4, f32[i], true);
  return new Uint8Array(out.buffer);
}

function toBase64(bytes) {
  // btoa needs a binary string; build it in slices to stay under argument-count limits.
  let bin = '';
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + step));
  }
  return btoa(bin);
}
