// HTTP signaling with the omnivox server: one offer, one answer, no trickle ICE.
//
// aiortc cannot take trickled candidates, so the offer must carry them all: we wait for
// ICE gathering to finish, but never longer than `iceTimeoutMs` (a slow STUN server
// must not block the call; host candidates are enough on a LAN).

import { authHeaders } from './auth.js';

const SESSIONS_URL = 'v1/sessions'; // relative, so the page also works behind a path prefix
const ICE_SERVERS_URL = 'v1/ice-servers';

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
 * `signal` aborts the request (hang-up while connecting); `options` go with the offer
 * (`{echo_cancel: true}`: the server cancels this call's echo).
 */
export async function exchangeOffer(pc, { iceTimeoutMs = 3000, requestTimeoutMs = 15000, signal, options = {} } = {}) {
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await waitForIceGathering(pc, iceTimeoutMs);
  signal?.throwIfAborted();
  const local = pc.localDescription;

  const timeout = AbortSignal.timeout(requestTimeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  const auth = await authHeaders();
  let resp;
  try {
    resp = await fetch(SESSIONS_URL, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...auth },
      body: JSON.stringify({ ...options, sdp: local.sdp, type: local.type }),
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
  return authHeaders()
    .then((headers) => fetch(`${SESSIONS_URL}/${encodeURIComponent(sessionId)}`, { method: 'DELETE', headers, keepalive: true }))
    .then(() => undefined, () => undefined);
}

/**
 * The server's RTCConfiguration: its STUN/TURN servers (TURN credentials minted for this
 * call, so never cached) and transport policy. Without it (an older server, a network
 * error) the call goes on with host candidates only, which is enough on a LAN.
 */
export async function fetchIceConfiguration(signal) {
  try {
    const resp = await fetch(ICE_SERVERS_URL, { headers: await authHeaders(), cache: 'no-store', signal });
    if (!resp.ok) throw await httpError(resp, 'Fetching the ICE servers');
    const body = await resp.json();
    const config = {};
    if (body && Array.isArray(body.iceServers)) config.iceServers = body.iceServers;
    if (body && (body.iceTransportPolicy === 'all' || body.iceTransportPolicy === 'relay')) {
      config.iceTransportPolicy = body.iceTransportPolicy;
    }
    return config;
  } catch (err) {
    if (signal && signal.aborted) throw err;
    console.warn('omnivox: no ICE servers from the server, using host candidates only:', err.message || err);
    return {};
  }
}
