// The one DOM-building helper. Text always goes in as text nodes (never innerHTML):
// transcripts and server messages are untrusted.

/** el('li', {class: 'x', dataset: {id: '1'}}, 'text', childNode) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'class') node.className = value;
    else if (key === 'style') Object.assign(node.style, value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Format a millisecond figure for display; null/undefined as an em dash. */
export function fmtMs(ms) {
  return ms == null || !Number.isFinite(ms) ? '—' : `${Math.round(ms)} ms`;
}
