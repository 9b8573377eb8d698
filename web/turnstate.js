// Turn state display: who holds the floor, plus badges for the turn-taking decisions
// behind it (classifier scores, backchannels, interruptions).

import { el, fmtMs } from './dom.js';

const LABELS = {
  idle: 'Idle',
  listening: 'Listening',
  user_speaking: 'You are speaking',
  thinking: 'Thinking',
  agent_speaking: 'Speaking',
  overlap: 'Overlap',
  interrupted: 'Interrupted',
};
const MAX_BADGES = 4;
// turn_decision kinds: [badge class and test id, label].
const DECISIONS = {
  finished: ['finished', 'finished'],
  hold: ['hold', 'holding'],
  backchannel: ['backchannel', 'backchannel'],
  interruption: ['interruption', 'interruption'],
  false_interruption_resumed: ['resumed', 'false alarm · resumed'],
};
const PAUSE_KINDS = new Set(['finished', 'hold']);

export class TurnState {
  constructor(stateEl, badgesEl) {
    this.stateEl = stateEl;
    this.badgesEl = badgesEl;
  }

  set(state) {
    this.stateEl.dataset.state = state;
    this.stateEl.textContent = LABELS[state] || state.replace(/_/g, ' ');
  }

  clear() {
    this.set('idle');
    this.badgesEl.replaceChildren();
  }

  /** `turn_decision` {kind, probability, decision_ms}: what the turn policy concluded,
   * the classifier's probability behind it (of a take-over during overlap, of a
   * finished turn at a pause) and how long after the onset or pause it took. A pause
   * is scored every ~100 ms, so its badge is updated in place, not repeated. */
  decision(ev) {
    const [kind, label] = DECISIONS[ev.kind] || ['decision', String(ev.kind || 'decision')];
    const parts = [typeof ev.probability === 'number' ? `${label} ${ev.probability.toFixed(2)}` : label];
    if (typeof ev.decision_ms === 'number') parts.push(`in ${fmtMs(ev.decision_ms)}`);
    const from = Number(ev.t_ms) - Number(ev.decision_ms);
    const newest = this.badgesEl.firstElementChild;
    const samePause = PAUSE_KINDS.has(kind) && newest?.dataset.kind === 'hold'
      && Math.abs(Number(newest.dataset.from) - from) < 1;
    if (samePause) newest.remove();
    const title = PAUSE_KINDS.has(kind)
      ? 'classifier: probability that the user has finished; time since the pause began'
      : 'classifier: probability of a take-over; time since the user began to speak';
    this.badgesEl.prepend(el('li', {
      class: `badge ${kind}`, 'data-testid': `badge-${kind}`, dataset: { kind, from: String(from) }, title,
    }, parts.join(' · ')));
    while (this.badgesEl.children.length > MAX_BADGES) this.badgesEl.lastElementChild.remove();
  }
}
