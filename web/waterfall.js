// Per-turn latency waterfall from `turn_metrics` events, newest turn first.
//
// The stage figures are durations of consecutive steps (speech end -> endpoint ->
// recognizer final -> first token ... -> first audio), so each bar starts where the
// previous stage ended; what the stages leave of the voice-to-voice total shows as
// "Other"; the total bar spans from zero. All turns share one scale so they compare
// at a glance. A stage reported as null gets no bar and does not move the offset.
// Once the page has measured the turn's mouth-to-ear (mouthtoear.js), two rows follow the
// server's total: what the page and the network add, and mouth-to-ear itself.

import { el, fmtMs } from './dom.js';

const MAX_TURNS = 20;
const BEFORE_INTERVENTIONS = [
  ['endpoint_ms', 'Endpoint', 'endpoint'],
  ['recognizer_final_ms', 'Recognizer final', 'recognizer'],
  ['thinker_first_token_ms', 'Thinker first token', 'thinker'],
];
const AFTER_INTERVENTIONS = [['talker_first_audio_ms', 'Talker first audio', 'talker']];

const TITLES = {
  other: 'Not in any measured stage: sentence chunking, playout queue',
  client: 'Capture, encoding, the network both ways, jitter buffers and decoding: on this page, less the server\'s voice to voice',
  ear: 'End of your speech in what the microphone sent to the first sound of the reply this page played, on the page\'s clock (the sound card\'s own latency not included)',
};

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The rows of one turn: [{label, kind, start, ms}], stages then the total. */
export function turnRows(metrics) {
  const stages = [...BEFORE_INTERVENTIONS];
  const interventions = metrics.interventions && typeof metrics.interventions === 'object' ? metrics.interventions : {};
  for (const name of Object.keys(interventions)) stages.push([null, name, 'intervention', interventions[name]]);
  stages.push(...AFTER_INTERVENTIONS);

  const rows = [];
  let offset = 0;
  for (const [key, label, kind, direct] of stages) {
    const ms = num(key ? metrics[key] : direct);
    rows.push({ label, kind, start: offset, ms });
    if (ms != null) offset += ms;
  }
  const total = num(metrics.voice_to_voice_ms);
  // Time no stage claims (sentence chunking, the playout queue) closes the gap to the
  // total, so the stacked bars end where the total does.
  if (total != null && total - offset >= 1) rows.push({ label: 'Other', kind: 'other', start: offset, ms: total - offset });
  rows.push({ label: 'Voice to voice', kind: 'total', start: 0, ms: total });
  const ear = num(metrics.mouth_to_ear_ms);
  if (ear != null) {
    if (total != null) rows.push({ label: 'Page and network', kind: 'client', start: total, ms: Math.max(0, ear - total) });
    rows.push({ label: 'Mouth to ear', kind: 'ear', start: 0, ms: ear });
  }
  return rows;
}

export class Waterfall {
  constructor(container) {
    this.container = container;
    this.placeholder = container.querySelector('.empty');
    this.turns = []; // newest first: {n, replyId, metrics, rows}
    this.count = 0;
    this.ears = new Map(); // reply id -> mouth-to-ear ms measured before its metrics came
  }

  clear() {
    this.turns = [];
    this.count = 0;
    this.ears.clear();
    this.container.replaceChildren(this.placeholder);
  }

  add(metrics) {
    this.count += 1;
    const key = String(metrics.reply_id);
    const merged = this.ears.has(key) ? { ...metrics, mouth_to_ear_ms: this.ears.get(key) } : metrics;
    this.ears.delete(key);
    this.turns.unshift({ n: this.count, replyId: metrics.reply_id, metrics: merged, rows: turnRows(merged) });
    this.turns.length = Math.min(this.turns.length, MAX_TURNS);
    this.render();
  }

  /** The page measured the mouth-to-ear of reply `replyId`. */
  mouthToEar(replyId, ms) {
    const t = this.turns.find((x) => String(x.replyId) === String(replyId));
    if (!t) {
      this.ears.set(String(replyId), ms);
      return;
    }
    t.metrics = { ...t.metrics, mouth_to_ear_ms: ms };
    t.rows = turnRows(t.metrics);
    this.render();
  }

  render() {
    const scale = Math.max(1, ...this.turns.flatMap((t) => t.rows.map((r) => r.start + (r.ms ?? 0))));
    this.container.replaceChildren(...this.turns.map((t) => this.renderTurn(t, scale)));
  }

  renderTurn(turn, scale) {
    // The caption shows what the user heard when the page measured it.
    const total = turn.rows[turn.rows.length - 1].ms;
    const caption = el('caption', {}, el('div', { class: 'wf-head' },
      el('span', { class: 'wf-turn' }, `Turn ${turn.n}`),
      turn.replyId != null ? el('span', { class: 'muted' }, ` · ${turn.replyId}`) : '',
      el('span', { class: 'wf-total' }, fmtMs(total))));
    const cols = el('colgroup', {}, el('col', { class: 'wf-label' }), el('col'), el('col', { class: 'wf-num' }));
    const rows = turn.rows.map((r) => {
      const bar = r.ms == null ? '' : el('span', {
        class: `bar ${r.kind}`,
        style: { left: `${(100 * r.start) / scale}%`, width: `${Math.max(0.5, (100 * r.ms) / scale)}%` },
      });
      return el('tr', { class: r.kind === 'total' || r.kind === 'ear' ? 'total' : '' },
        el('th', { scope: 'row', title: TITLES[r.kind] ?? null }, r.label),
        el('td', { class: 'track', 'aria-hidden': 'true' }, bar),
        el('td', { class: 'num' }, fmtMs(r.ms)));
    });
    return el('table', { class: 'wf-table', 'data-testid': 'waterfall-turn' }, caption, cols, el('tbody', {}, ...rows));
  }
}
