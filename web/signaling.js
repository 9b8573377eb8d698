// HTTP signaling with the omnivox server: one offer, one answer, no trickle ICE.
//
// aiortc cannot take trickled candidates, so the offer must carry them all: we wait for
// ICE gathering to finish, but never longer than `iceTimeoutMs` (a slow STUN server
// must not block the call; host candidates are enough on a LAN).

const SESSIONS_URL = 'v1/sessions'; // relative, so the page also works behind a path prefix

/** Resolve when ICE gathering is complete or after `timeoutMs`, whichever comes first. */
export function waitForIceGathering(pc, timeoutMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onChange);
      resolve();
    };
    const onChange = () => { if (pc.iceGatheringState === 'complete') done(); };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', onChange);
  });
}

/** Turn a failed HTTP answer into an Error carrying the server's own message. */
async function httpError(resp, what) {
  let detail = '';
  try {
    const body = await resp.json();
    detail = body && typeof body.error === 'string' ? body.error : '';
  } catch {
    // Not JSON (a proxy's HTML error page, say): fall back to the status line.
  }
  return new Error(`${what} failed (HTTP ${resp.status}): ${detail || resp.statusText || 'no details'}`);
}

/**
 * POST the local description (after gathering) and return `{answer, sessionId}`.
 * `signal` aborts the request (hang-up while connecting).
 */
export async function exchangeOffer(pc, { iceTimeoutMs = 3000, requestTimeoutMs = 15000, signal } = {}) {
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await waitForIceGathering(pc, iceTimeoutMs);
  signal?.throwIfAborted();
  const local = pc.localDescription;

  const timeout = AbortSignal.timeout(requestTimeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let resp;
  try {
    resp = await fetch(SESSIONS_URL, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sdp: local.sdp, type: local.type }),
      signal: combined,
    });
  } catch (err) {
    if (timeout.aborted) throw new Error(`The server did not answer the offer within ${requestTimeoutMs / 1000} s`);
    if (signal && signal.aborted) throw err;
    throw new Error(`Could not reach the server: ${err.message}`);
  }
  if (!resp.ok) throw await httpError(resp, 'Starting the session');
  const body = await resp.json();
  if (!body || typeof body.sdp !== 'string' || body.type !== 'answer') {
    throw new Error('The server answered without an SDP answer');
  }
  return { answer: { type: 'answer', sdp: body.sdp }, sessionId: body.session_id || null };
}

/** Best-effort hang-up; `keepalive` lets it finish while the page unloads. */
export function deleteSession(sessionId) {
  if (!sessionId) return Promise.resolve();
  return fetch(`${SESSIONS_URL}/${encodeURIComponent(sessionId)}`, { method: 'DELETE', keepalive: true })
    .then(() => undefined, () => undefined);
}
