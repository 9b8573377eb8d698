// AudioWorklet processor: mono mixdown of its input, posted to the main thread in
// batches (one message per render quantum would be ~375 messages/s).

const BATCH = 4096;

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.buf = new Float32Array(BATCH);
    this.fill = 0;
    this.port.onmessage = (e) => {
      if (e.data === 'flush') {
        this.post();
        this.port.postMessage({ flushed: true });
      }
    };
  }

  post() {
    if (this.fill === 0) return;
    const out = this.buf.slice(0, this.fill);
    this.port.postMessage({ samples: out }, [out.buffer]);
    this.fill = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    // An unconnected or not-yet-started input has no channels: nothing was played.
    if (!channels || channels.length === 0) return true;
    const n = channels[0].length;
    const scale = 1 / channels.length;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let c = 0; c < channels.length; c++) s += channels[c][i];
      this.buf[this.fill++] = s * scale;
      if (this.fill === BATCH) this.post();
    }
    return true;
  }
}

registerProcessor('omnivox-capture', CaptureProcessor);
