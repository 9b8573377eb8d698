// AudioWorklet processor: input 0 is what the microphone sends, input 1 what the agent's
// track plays. It keeps the end of the user's latest speech and reports each start of
// agent audio after a quiet spell, both on the AudioContext's clock, so the two ends of
// mouth-to-ear are measured on one clock in one place.

const LEVEL = 10 ** (-45 / 20); // speech is -30..-10 dBFS; decoded silence and a quiet room are far below
const QUIET_BEFORE_ONSET_S = 0.3; // shorter gaps are pauses inside one reply

function rms(channels) {
  if (!channels || channels.length === 0) return 0;
  let acc = 0;
  for (const ch of channels) for (let i = 0; i < ch.length; i++) acc += ch[i] * ch[i];
  return Math.sqrt(acc / (channels.length * channels[0].length));
}

class MouthToEarProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.speechEnd = null; // the end of the last loud quantum the microphone sent
    this.agentEnd = -Infinity; // the end of the last loud quantum the agent played
  }

  process(inputs) {
    const n = inputs[0]?.[0]?.length || inputs[1]?.[0]?.length || 128;
    const end = currentTime + n / sampleRate;
    if (rms(inputs[0]) > LEVEL) this.speechEnd = end;
    if (rms(inputs[1]) > LEVEL) {
      if (currentTime - this.agentEnd >= QUIET_BEFORE_ONSET_S) {
        this.port.postMessage({ onset: currentTime, speechEnd: this.speechEnd });
      }
      this.agentEnd = end;
    }
    return true;
  }
}

registerProcessor('omnivox-mouth-to-ear', MouthToEarProcessor);
