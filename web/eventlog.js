// The raw event log: one compact line per event, inside a collapsed <details>.

import { el } from './dom.js';

const MAX_LINES = 500;

export class EventLog {
  constructor(details) {
    this.list = details.querySelector('.log-lines');
    this.count = details.querySelector('.log-count');
    this.total = 0;
  }

  add(ev) {
    const { type, t_ms: t, ...rest } = ev;
    const time = typeof t === 'number' ? `${(t / 1000).toFixed(2)} s` : '';
    const data = Object.keys(rest).length ? JSON.stringify(rest) : '';
    this.list.append(el('li', { dataset: { type } },
      el('span', { class: 'log-t' }, time), el('span', { class: 'log-type' }, type), el('code', {}, data)));
    while (this.list.children.length > MAX_LINES) this.list.firstElementChild.remove();
    this.total += 1;
    this.count.textContent = `(${this.total})`;
  }

  clear() {
    this.list.replaceChildren();
    this.total = 0;
    this.count.textContent = '(0)';
  }
}
