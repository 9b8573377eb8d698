// Small status indicators: connection, presence (from the camera) and the error banner.

import { el } from './dom.js';

const CONNECTION_LABELS = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  new: 'Connecting…',
  connected: 'Connected',
  disconnected: 'Connection lost, retrying…',
  failed: 'Connection failed',
  closed: 'Call ended',
};

export function showConnection(node, state, detail = '') {
  node.dataset.state = state;
  node.textContent = (CONNECTION_LABELS[state] || state) + (detail ? ` · ${detail}` : '');
}

export function showPresence(node, present, facing) {
  const value = present ? (facing ? 'facing' : 'present') : 'absent';
  node.dataset.present = value;
  node.querySelector('.presence-text').textContent = {
    facing: 'Someone is here, facing the screen',
    present: 'Someone is here, looking away',
    absent: 'No one in view',
  }[value];
}

export class ErrorBanner {
  constructor(node) {
    this.node = node;
    this.list = node.querySelector('.banner-messages');
    node.querySelector('[data-testid="error-dismiss"]').addEventListener('click', () => this.dismiss());
  }

  show(message) {
    this.list.append(el('li', {}, message));
    while (this.list.children.length > 3) this.list.firstElementChild.remove();
    this.node.hidden = false;
  }

  dismiss() {
    this.list.replaceChildren();
    this.node.hidden = true;
  }
}
