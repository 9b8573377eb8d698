// Level meters: an AnalyserNode per stream, read once per animation frame, shown on a
// -60..0 dBFS scale (speech sits around -30..-10, so a linear scale would look empty).

const FLOOR_DB = -60;

export class LevelMeter {
  /** `element` is the .meter div (role="meter") holding a .meter-fill child. */
  constructor(element) {
    this.element = element;
    this.fill = element.querySelector('.meter-fill');
    this.analyser = null;
    this.buf = null;
    this.raf = 0;
    this.lastShown = -1;
  }

  attach(ctx, sourceNode) {
    this.detach();
    this.analyser = new AnalyserNode(ctx, { fftSize: 1024 });
    this.buf = new Float32Array(this.analyser.fftSize);
    sourceNode.connect(this.analyser);
    const tick = () => {
      this.show(this.level());
      this.raf = requestAnimationFrame(tick);
    };
    this.raf = requestAnimationFrame(tick);
  }

  detach() {
    cancelAnimationFrame(this.raf);
    if (this.analyser) this.analyser.disconnect();
    this.analyser = null;
    this.show(0);
  }

  /** Current level, 0..100 on the dB scale. */
  level() {
    this.analyser.getFloatTimeDomainData(this.buf);
    let acc = 0;
    for (let i = 0; i < this.buf.length; i++) acc += this.buf[i] * this.buf[i];
    const rms = Math.sqrt(acc / this.buf.length);
    const db = rms > 0 ? 20 * Math.log10(rms) : FLOOR_DB;
    return Math.max(0, Math.min(100, ((db - FLOOR_DB) / -FLOOR_DB) * 100));
  }

  show(pct) {
    const rounded = Math.round(pct);
    if (rounded === this.lastShown) return;
    this.lastShown = rounded;
    // Clip rather than scale, so the colour scale stays put (green is always quiet).
    this.fill.style.clipPath = `inset(0 ${100 - rounded}% 0 0)`;
    this.element.setAttribute('aria-valuenow', String(rounded));
  }
}
