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

  /** `turn_decision`: classifier probabilities and how long the decision took. */
  decision(ev) {
    const parts = [];
    if (typeof ev.p_finished === 'number') parts.push(`finished ${ev.p_finished.toFixed(2)}`);
    if (typeof ev.p_takeover === 'number') parts.push(`take-over ${ev.p_takeover.toFixed(2)}`);
    if (typeof ev.decision_ms === 'number') parts.push(`in ${fmtMs(ev.decision_ms)}`);
    this.badge('decision', parts.join(' · ') || 'decision');
  }

  /** A turn-taking outcome: backchannel | interruption | resumed. */
  badge(kind, text) {
    this.badgesEl.prepend(el('li', { class: `badge ${kind}`, 'data-testid': `badge-${kind}` }, text));
    while (this.badgesEl.children.length > MAX_BADGES) this.badgesEl.lastElementChild.remove();
  }
}
