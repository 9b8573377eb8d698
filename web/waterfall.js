// Per-turn latency waterfall from `turn_metrics` events, newest turn first.
//
// The stage figures are durations of consecutive steps (speech end -> endpoint ->
// recognizer final -> first token ... -> first audio), so each bar starts where the
// previous stage ended; what the stages leave of the voice-to-voice total shows as
// "Other"; the total bar spans from zero. All turns share one scale so they compare
// at a glance. A stage reported as null gets no bar and does not move the offset.

import { el, fmtMs } from './dom.js';

const MAX_TURNS = 20;
const BEFORE_INTERVENTIONS = [
  ['endpoint_ms', 'Endpoint', 'endpoint'],
  ['recognizer_final_ms', 'Recognizer final', 'recognizer'],
  ['thinker_first_token_ms', 'Thinker first token', 'thinker'],
];
const AFTER_INTERVENTIONS = [['talker_first_audio_ms', 'Talker first audio', 'talker']];

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
  return rows;
}

export class Waterfall {
  constructor(container) {
    this.container = container;
    this.placeholder = container.querySelector('.empty');
    this.turns = []; // newest first: {n, replyId, rows}
    this.count = 0;
  }

  clear() {
    this.turns = [];
    this.count = 0;
    this.container.replaceChildren(this.placeholder);
  }

  add(metrics) {
    this.count += 1;
    this.turns.unshift({ n: this.count, replyId: metrics.reply_id, rows: turnRows(metrics) });
    this.turns.length = Math.min(this.turns.length, MAX_TURNS);
    this.render();
  }

  render() {
    const scale = Math.max(1, ...this.turns.flatMap((t) => t.rows.map((r) => r.start + (r.ms ?? 0))));
    this.container.replaceChildren(...this.turns.map((t) => this.renderTurn(t, scale)));
  }

  renderTurn(turn, scale) {
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
      return el('tr', { class: r.kind === 'total' ? 'total' : '' },
        el('th', { scope: 'row', title: r.kind === 'other' ? 'Not in any measured stage: sentence chunking, playout queue' : null }, r.label),
        el('td', { class: 'track', 'aria-hidden': 'true' }, bar),
        el('td', { class: 'num' }, fmtMs(r.ms)));
    });
    return el('table', { class: 'wf-table', 'data-testid': 'waterfall-turn' }, caption, cols, el('tbody', {}, ...rows));
  }
}
