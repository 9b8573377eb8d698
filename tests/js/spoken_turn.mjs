// One spoken turn through the official openai JavaScript SDK's Realtime client (Node's
// `ws` transport), driven by tests/integration/test_realtime_js.py:
//   node spoken_turn.mjs BASE_URL CA_PEM SPEECH_PCM
// SPEECH_PCM is raw 24 kHz PCM16 (little-endian). The microphone streams it in real time
// (20 ms appends, silence around it) until the answer's response.done; a JSON summary of
// what arrived goes to stdout.
import fs from 'node:fs';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';

const [baseURL, caPath, speechPath] = process.argv.slice(2);
const CHUNK = 960; // 20 ms of 24 kHz PCM16, in bytes
const speech = fs.readFileSync(speechPath);
const mic = Buffer.concat([Buffer.alloc(24000), speech, Buffer.alloc(48000 * 20)]);

const client = new OpenAI({ apiKey: 'sk-not-checked', baseURL });
const rt = new OpenAIRealtimeWS(
  { model: 'omnivox', options: { ca: fs.readFileSync(caPath) } },
  client,
);
const seen = [];
const errors = [];
let transcript = null;
let answer = '';
let audioBytes = 0;
let timer = null;
let finished = false;

const finish = (code, summary) => {
  if (finished) return;
  finished = true;
  clearInterval(timer);
  process.stdout.write(JSON.stringify(summary) + '\n');
  rt.close();
  setTimeout(() => process.exit(code), 200);
};

rt.on('error', (err) => errors.push(String(err.message || err)));
rt.on('event', (event) => seen.push(event.type));
rt.on('conversation.item.input_audio_transcription.completed', (e) => { transcript = e.transcript; });
rt.on('response.output_audio_transcript.done', (e) => { answer = e.transcript; });
rt.on('response.output_audio.delta', (e) => { audioBytes += Buffer.from(e.delta, 'base64').length; });
rt.on('response.done', (e) => finish(0, {
  status: e.response.status, transcript, answer, audioBytes, errors, seen,
}));

rt.socket.on('open', () => {
  rt.send({
    type: 'session.update',
    session: {
      type: 'realtime',
      audio: {
        input: { format: { type: 'audio/pcm', rate: 24000 }, turn_detection: { type: 'semantic_vad' } },
        output: { format: { type: 'audio/pcm', rate: 24000 } },
      },
    },
  });
  let sent = 0;
  const start = Date.now();
  timer = setInterval(() => {
    // Catch up to real time: a timer may fire late, the microphone does not fall behind.
    while (sent * 20 <= Date.now() - start && sent * CHUNK < mic.length) {
      const chunk = mic.subarray(sent * CHUNK, (sent + 1) * CHUNK);
      rt.send({ type: 'input_audio_buffer.append', audio: chunk.toString('base64') });
      sent += 1;
    }
  }, 10);
});
rt.socket.on('close', () => finish(1, { status: 'socket closed', errors, seen }));
setTimeout(() => finish(1, { status: 'timeout', transcript, answer, audioBytes, errors, seen }), 45000);
