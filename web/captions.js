// Live captions: the user's words (partial, greyed and updated in place, then final)
// and each agent reply as it is spoken, including what was cut off when interrupted.

import { el } from './dom.js';

const MAX_ENTRIES = 200;

/** Split `full` into [heard, unheard], `heard` being the server's heard_text prefix. */
export function splitHeard(full, heard) {
  const norm = (s) => s.replace(/\s+/g, ' ').trim();
  const f = norm(full);
  const h = norm(heard || '');
  if (f.startsWith(h)) return [h, f.slice(h.length).trim()];
  // The server's text differs from what we were shown (rewritten chunk): cut by words.
  const words = f.split(' ').filter(Boolean);
  const n = h.split(' ').filter(Boolean).length;
  return [words.slice(0, n).join(' '), words.slice(n).join(' ')];
}

export class Captions {
  constructor(list) {
    this.list = list;
    this.placeholder = list.querySelector('.empty');
    this.user = null; // the open user entry: partials update it until the turn ends
    this.ended = null; // the user entry whose turn ended and whose final is still to come
    this.lastUser = null; // the newest user entry, which a resumed turn continues
    this.replies = new Map(); // reply_id -> {li, text, chunks: [string], status}
    this.lastReply = null;
    // Follow new text unless the reader scrolled up to read something older.
    this.follow = true;
    list.addEventListener('scroll', () => {
      this.follow = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    });
  }

  clear() {
    this.list.replaceChildren(this.placeholder);
    this.user = null;
    this.ended = null;
    this.lastUser = null;
    this.replies.clear();
    this.lastReply = null;
  }

  // ---- user ------------------------------------------------------------------------

  openUser() {
    if (this.user) return this.user;
    const final = el('span', { class: 'final' });
    // Partials change several times a second: screen readers announce the final only.
    const partial = el('span', { class: 'partial', 'aria-hidden': 'true' });
    const li = el('li', { class: 'entry user', 'data-testid': 'caption-user' },
      el('span', { class: 'who' }, 'You'), el('p', { class: 'text' }, final, partial));
    this.user = { li, final, partial };
    this.add(li);
    return this.user;
  }

  partial(text) {
    const u = this.openUser();
    u.partial.textContent = (u.final.textContent ? ' ' : '') + text;
    u.li.classList.add('has-partial');
    this.scroll();
  }

  /** The recognizer's final for the whole turn. It usually lands just after the turn
   * ended (the agent's reply may already be showing), so it goes to that turn's entry. */
  final(text) {
    const u = this.ended || this.user || this.openUser();
    if (u === this.ended) this.ended = null;
    u.final.textContent = text;
    u.partial.textContent = '';
    u.li.classList.remove('has-partial');
    if (!text) { // noise: no words, no bubble
      u.li.remove();
      if (u === this.user) this.user = null;
    }
    this.scroll();
  }

  /** The user's turn is over: the next words start a new entry. */
  endUserTurn() {
    const u = this.user;
    this.user = null;
    if (!u) return;
    if (!u.final.textContent && !u.partial.textContent) {
      u.li.remove(); // a turn with no words (noise) leaves no empty bubble
      return;
    }
    this.ended = u;
    this.lastUser = u;
  }

  /** The agent took the turn too early and the user went on: their words continue the
   * same entry (the recognizer's partials and final cover the whole turn). */
  resumeUserTurn() {
    const u = this.lastUser;
    if (!u || !u.li.isConnected || this.user) return;
    this.ended = null;
    u.final.textContent = '';
    this.user = u;
  }

  // ---- agent -----------------------------------------------------------------------

  reply(replyId) {
    const id = String(replyId); // the Map key and the data-reply-id attribute agree
    let r = this.replies.get(id);
    if (r) return r;
    this.endUserTurn();
    const tag = el('span', { class: 'tag' }, 'thinking…');
    const text = el('p', { class: 'text' });
    const li = el('li', { class: 'entry agent', 'data-testid': 'caption-agent', dataset: { replyId: id, status: 'thinking' } },
      el('span', { class: 'who' }, 'Agent'), tag, text);
    r = { li, tag, text, chunks: [], status: 'thinking', sources: null };
    this.replies.set(id, r);
    this.lastReply = r;
    this.add(li);
    return r;
  }

  setStatus(r, status, label) {
    r.status = status;
    r.li.dataset.status = status;
    r.tag.textContent = label;
  }

  replyStart(id) {
    this.reply(id);
    this.scroll();
  }

  replyText(id, chunk) {
    const r = this.reply(id);
    if (r.status === 'cancelled') return; // late chunk of a reply already cut off
    r.chunks.push(chunk);
    r.text.append(el('span', { class: 'chunk' }, (r.chunks.length > 1 ? ' ' : '') + chunk));
    if (r.status === 'thinking') this.setStatus(r, 'queued', 'about to speak');
    this.scroll();
  }

  replyAudioStart(id) {
    const r = this.reply(id);
    if (r.status !== 'cancelled') this.setStatus(r, 'speaking', 'speaking');
  }

  replyAudioEnd(id) {
    const r = this.reply(id);
    if (r.status === 'speaking') this.setStatus(r, 'spoken', '');
  }

  replyDone(id) {
    const r = this.reply(id);
    if (r.status !== 'cancelled') this.setStatus(r, 'done', '');
  }

  /** An intervention stopped the Thinker's answer; what follows is its replacement line. */
  replyBlocked(id, by) {
    const r = this.reply(id);
    r.li.dataset.blocked = by || 'intervention';
    r.li.append(el('p', { class: 'blocked', 'data-testid': 'reply-blocked' },
      `Answer stopped by ${by || 'an intervention'}; its replacement line follows.`));
    this.scroll();
  }

  replyCancelled(id, heardText, reason) {
    const r = this.reply(id);
    if (reason === 'user_resumed') this.resumeUserTurn();
    const [heard, rest] = splitHeard(r.chunks.join(' '), heardText);
    r.text.replaceChildren(
      heard ? el('span', { class: 'heard', 'data-testid': 'heard-text' }, heard) : '',
      heard && rest ? ' ' : '',
      rest ? el('s', { class: 'unheard', 'data-testid': 'unheard-text', title: 'Not spoken' }, rest) : '',
    );
    if (!heard && !rest) r.text.append(el('em', { class: 'muted' }, 'cancelled before speaking'));
    this.setStatus(r, 'cancelled', reason ? `cut off · ${reason}` : 'cut off');
    this.scroll();
  }

  /** A list of sources under a reply (its own, or the newest one). */
  sources(items, id = null) {
    const r = id != null ? this.reply(id) : this.lastReply;
    if (!r || !Array.isArray(items) || items.length === 0) return;
    const list = el('ul', { class: 'sources', 'data-testid': 'sources', 'aria-label': 'Sources' },
      ...items.map((item) => el('li', {}, sourceNode(item))));
    if (r.sources) r.sources.replaceWith(list);
    else r.li.append(list);
    r.sources = list;
    this.scroll();
  }

  // ---- list housekeeping -----------------------------------------------------------

  add(li) {
    this.placeholder.remove();
    this.list.append(li);
    while (this.list.children.length > MAX_ENTRIES) {
      const old = this.list.firstElementChild;
      const id = old.dataset.replyId;
      if (id != null && this.replies.get(id)?.li === old) this.replies.delete(id);
      old.remove();
    }
  }

  scroll() {
    if (this.follow) this.list.scrollTop = this.list.scrollHeight;
  }
}

function sourceNode(item) {
  if (typeof item === 'string') return item;
  if (!item || typeof item !== 'object') return String(item);
  const label = item.title || item.name || item.id || item.url || JSON.stringify(item);
  const url = typeof item.url === 'string' && /^https?:\/\//i.test(item.url) ? item.url : null;
  const main = url ? el('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, label) : el('span', {}, label);
  const extra = item.snippet || item.text || null;
  return extra ? el('span', {}, main, el('span', { class: 'muted' }, ` — ${extra}`)) : main;
}
